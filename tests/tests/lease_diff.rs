//! etcdctl lease commands against etcd and cairn, compared step by step.

use std::time::Duration;

use cairn_tests::Differ;

/// grant (incl. the minimum TTL), put --lease, timetolive [--keys], keep-alive --once, list,
/// revoke (keys go), expiry, and the not-found errors after a revoke.
#[test]
fn lease_lifecycle() {
    let mut d = Differ::start();
    d.grant_lease("L1", 600).expect_etcd("granted with TTL(600s)");
    // etcd raises a TTL below its minimum (1.5 x election timeout, rounded up: 2 s by default).
    d.grant_lease("SHORT", 1).expect_etcd("granted with TTL(2s)");
    d.grant_lease("L2", 900);
    d.grant_lease_with("J", &["lease", "grant", "60", "-w", "json"]);
    d.grant_lease_with("F", &["lease", "grant", "70", "-w", "fields"]);
    d.run(&["put", "k1", "v1", "--lease=$L1"]);
    d.run(&["put", "k2", "v2", "--lease=$L1"]);
    d.run(&["put", "k3", "v3", "--lease=$L2"]);
    d.run(&["put", "short", "s", "--lease=$SHORT"]);
    d.run(&["lease", "timetolive", "$L1"]);
    d.run(&["lease", "timetolive", "$L1", "--keys"]);
    d.run(&["lease", "timetolive", "$L1", "--keys", "-w", "json"]);
    d.run(&["lease", "timetolive", "$L2", "-w", "fields"]);
    d.run(&["lease", "keep-alive", "--once", "$L1"]).expect_etcd("keepalived with TTL(600)");
    d.run(&["lease", "keep-alive", "--once", "$L2", "-w", "json"]);
    d.run(&["get", "k", "--prefix", "-w", "json"]);

    // The short lease expires (etcd checks expiry every 500 ms): its key is deleted.
    std::thread::sleep(Duration::from_secs(4));
    d.run(&["get", "short"]);
    d.run(&["lease", "timetolive", "$SHORT"]).expect_etcd("already expired");
    d.run(&["get", "", "--from-key", "-w", "json"]);

    d.run(&["lease", "revoke", "$L1"]).expect_etcd("revoked");
    d.run(&["get", "k", "--prefix", "-w", "json"]);
    d.run(&["lease", "timetolive", "$L1", "--keys"]).expect_etcd("already expired");
    d.run(&["lease", "timetolive", "$L1", "-w", "json"]);
    d.run(&["lease", "revoke", "$L1"]).expect_etcd("requested lease not found");
    d.run(&["lease", "keep-alive", "--once", "$L1"]).expect_etcd("requested lease not found");
    d.run(&["put", "k4", "v", "--lease=$L1"]).expect_etcd("requested lease not found");
    d.run(&["lease", "revoke", "$L2", "-w", "json"]);
    d.run(&["get", "", "--from-key", "-w", "json"]);
    d.finish();
}

/// lease list after grants and a revoke (ordered by expiry, as etcd does).
#[test]
fn lease_list() {
    let mut d = Differ::start();
    d.run(&["lease", "list"]).expect_etcd("found 0 leases");
    d.grant_lease("A", 300);
    d.grant_lease("B", 100);
    d.grant_lease("C", 200);
    d.run(&["lease", "list"]).expect_etcd("found 3 leases");
    d.run(&["lease", "list", "-w", "json"]);
    d.run(&["lease", "revoke", "$B"]);
    d.run(&["lease", "list"]);
    d.run(&["lease", "list", "-w", "fields"]);
    d.finish();
}
