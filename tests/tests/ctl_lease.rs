//! cairnctl's `lease` commands and `compaction` print what etcdctl 3.4 prints, byte for byte after
//! ids and ports are normalized, against cairn and against a real etcd.

use std::time::Duration;

use cairn_tests::{Differ, Kind};

/// grant (incl. the minimum TTL), put --lease, timetolive [--keys], keep-alive --once, list,
/// revoke (keys go), expiry, the not-found errors after a revoke, every output format
/// (what tests/tests/lease_diff.rs drives against the servers).
fn lease_lifecycle(kind: Kind) {
    let mut d = Differ::tools(kind);
    d.grant_lease("L1", 600).expect_etcd("granted with TTL(600s)");
    d.grant_lease("SHORT", 1).expect_etcd("granted with TTL(2s)");
    d.grant_lease("L2", 900);
    d.grant_lease_with("J", &["lease", "grant", "60", "-w", "json"]);
    d.grant_lease_with("F", &["lease", "grant", "70", "-w", "fields"]);
    // One key on L1: etcd lists a lease's keys in Go map order, which differs between the twins.
    d.run(&["put", "k1", "v1", "--lease=$L1"]);
    d.run(&["put", "k2", "v2", "--lease=$L2"]);
    d.run(&["put", "k3", "v3", "--lease=$L2"]);
    d.run(&["put", "short", "s", "--lease=$SHORT"]);
    for format in ["simple", "json", "fields", "protobuf", "table"] {
        // The remaining TTL is masked in text; in protobuf it is a varint that may differ by a
        // second between the twins (their leases were granted a moment apart).
        if format != "protobuf" {
            d.run(&["lease", "timetolive", "$L1", "-w", format]);
            d.run(&["lease", "timetolive", "$L1", "--keys", "-w", format]);
        }
        d.run(&["lease", "keep-alive", "--once", "$L2", "-w", format]);
        d.run(&["lease", "list", "-w", format]);
    }
    d.run(&["lease", "keep-alive", "--once", "$L1"]).expect_etcd("keepalived with TTL(600)");
    d.run(&["get", "k", "--prefix", "-w", "json"]);

    // The short lease expires (etcd checks expiry every 500 ms): its key is deleted.
    std::thread::sleep(Duration::from_secs(4));
    d.run(&["get", "short"]);
    d.run(&["lease", "timetolive", "$SHORT"]).expect_etcd("already expired");
    d.run(&["lease", "timetolive", "$SHORT", "-w", "json"]);

    d.run(&["lease", "revoke", "$L1"]).expect_etcd("revoked");
    d.run(&["get", "k", "--prefix", "-w", "json"]);
    d.run(&["lease", "timetolive", "$L1", "--keys"]).expect_etcd("already expired");
    d.run(&["lease", "timetolive", "$L1", "--keys", "-w", "fields"]);
    d.run(&["lease", "revoke", "$L1"]).expect_etcd("requested lease not found");
    d.run(&["lease", "revoke", "$L1", "-w", "json"]).expect_etcd("failed to revoke lease");
    d.run(&["lease", "keep-alive", "--once", "$L1"]).expect_etcd("requested lease not found");
    d.run(&["lease", "keep-alive", "--once", "$L1", "-w", "json"]);
    d.run(&["put", "k4", "v", "--lease=$L1"]).expect_etcd("requested lease not found");
    d.run(&["lease", "revoke", "$L2", "-w", "json"]);
    d.run(&["lease", "revoke", "$J", "-w", "fields"]);
    // etcdctl revokes, then cannot print clientv3's LeaseRevokeResponse as protobuf.
    d.run(&["lease", "revoke", "$F", "-w", "protobuf"]).expect_etcd("marshal unsupported");
    d.run(&["lease", "list"]);
    d.grant_lease("T", 30);
    d.run(&["lease", "revoke", "$T", "-w", "table"]).expect_etcd("table not supported");
    d.run(&["lease", "list", "-w", "fields"]);
    d.run(&["get", "", "--from-key", "-w", "json"]);
    // Granted, then not printable (its id is not learned: nothing prints it after this).
    d.run(&["lease", "grant", "30", "-w", "table"]).expect_etcd("table not supported");
    d.finish();
}

#[test]
fn lease_lifecycle_against_cairn() {
    lease_lifecycle(Kind::Cairn);
}

#[test]
fn lease_lifecycle_against_etcd() {
    lease_lifecycle(Kind::Etcd);
}

/// Argument checks (before connecting), list ordering, protobuf of the embedded header, and
/// keep-alive without --once: one renewal per third of the TTL until the lease is gone.
fn lease_arguments_and_keep_alive(kind: Kind) {
    let mut d = Differ::tools(kind);
    d.run(&["lease", "grant"]).expect_etcd("lease grant command needs TTL argument");
    d.run(&["lease", "grant", "1", "2"]).expect_etcd("lease grant command needs TTL argument");
    d.run(&["lease", "grant", "x"]).expect_etcd("bad TTL");
    d.run(&["lease", "grant", "10", "-w", "bogus"]);
    d.run(&["lease", "grant", "99999999999"]).expect_etcd("too large lease TTL");
    d.run(&["lease", "revoke"]).expect_etcd("lease revoke command needs 1 argument");
    d.run(&["lease", "revoke", "zz"]).expect_etcd("bad lease ID arg");
    d.run(&["lease", "timetolive"]).expect_etcd("lease timetolive command needs lease ID as argument");
    d.run(&["lease", "timetolive", "zz"]).expect_etcd("bad lease ID arg");
    d.run(&["lease", "timetolive", "1234"]).expect_etcd("already expired");
    d.run(&["lease", "keep-alive"]).expect_etcd("lease keep-alive command needs lease ID as argument");
    d.run(&["lease", "keep-alive", "1234"]).expect_etcd("expired or revoked");
    d.run(&["lease", "keep-alive", "1234", "-w", "json"]);
    d.run(&["lease", "list"]).expect_etcd("found 0 leases");
    d.run(&["lease", "list", "-w", "json"]);
    d.grant_lease("A", 300);
    d.grant_lease("B", 100);
    d.grant_lease("C", 200);
    d.run(&["lease", "list"]).expect_etcd("found 3 leases");
    d.run(&["lease", "list", "-w", "json"]);
    d.run(&["lease", "revoke", "$B"]);
    d.run(&["lease", "list", "-w", "fields"]);
    // A long TTL: the first renewal only, then the process is killed.
    let w = d.spawn_watch(&["lease", "keep-alive", "$A"]);
    d.collect_watch(w).expect_etcd("keepalived with TTL(300)");
    let w = d.spawn_watch(&["lease", "keep-alive", "$C", "-w", "fields"]);
    d.collect_watch(w);
    // A short TTL renews every second or so; the lease is revoked under it.
    d.grant_lease("S", 3);
    let w = d.spawn_live_watch(&["lease", "keep-alive", "$S"]);
    d.run(&["lease", "revoke", "$S"]);
    // The next renewal (within a second) finds the lease gone.
    std::thread::sleep(Duration::from_millis(2500));
    d.mask(r"(lease <LEASE:S> keepalived with TTL\(3\)\n)+", "<RENEWALS>");
    d.collect_watch(w).expect_etcd("expired or revoked");
    d.finish();
}

#[test]
fn lease_arguments_and_keep_alive_against_cairn() {
    lease_arguments_and_keep_alive(Kind::Cairn);
}

#[test]
fn lease_arguments_and_keep_alive_against_etcd() {
    lease_arguments_and_keep_alive(Kind::Etcd);
}

/// compaction: the message, `--physical`, its errors, and what a compacted revision does to reads.
fn compaction(kind: Kind) {
    let mut d = Differ::tools(kind);
    for i in 0..6 {
        d.run(&["put", "k", &i.to_string()]);
    }
    d.run(&["compaction"]).expect_etcd("compaction command needs 1 argument");
    d.run(&["compaction", "1", "2"]).expect_etcd("compaction command needs 1 argument");
    d.run(&["compaction", "x"]).expect_etcd("invalid syntax");
    d.run(&["compaction", "100"]).expect_etcd("future revision");
    d.run(&["compaction", "3"]).expect_etcd("compacted revision 3");
    d.run(&["compaction", "3"]).expect_etcd("required revision has been compacted");
    d.run(&["compaction", "--physical", "5"]).expect_etcd("compacted revision 5");
    d.run(&["compaction", "--physical=true", "4"]);
    d.run(&["get", "k", "--rev=4"]).expect_etcd("required revision has been compacted");
    d.run(&["get", "k", "--rev=5", "-w", "json"]);
    d.finish();
}

#[test]
fn compaction_against_cairn() {
    compaction(Kind::Cairn);
}

#[test]
fn compaction_against_etcd() {
    compaction(Kind::Etcd);
}
