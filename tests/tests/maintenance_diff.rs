//! Cluster and maintenance commands against etcd and cairn: member list, endpoint
//! status / health / hashkv, alarms, defrag, snapshot save, move-leader.

use cairn_tests::{Differ, Etcdctl};

/// member list and endpoint status / health / hashkv in every output format.
#[test]
fn member_and_endpoint_info() {
    let mut d = Differ::start();
    d.run(&["put", "a", "1"]);
    d.run(&["put", "b", "2"]);
    d.run(&["del", "a"]);
    for format in ["simple", "table", "json", "fields"] {
        d.run(&["member", "list", "-w", format]);
        d.run(&["endpoint", "status", "-w", format]);
        d.run(&["endpoint", "health", "-w", format]);
        d.run(&["endpoint", "hashkv", "-w", format]);
    }
    d.run(&["endpoint", "hashkv", "--rev", "2"]);
    d.run(&["endpoint", "hashkv", "--rev", "3", "-w", "json"]);
    d.run(&["endpoint", "status", "--cluster"]);
    d.run(&["endpoint", "health", "--cluster", "-w", "json"]);
    d.finish();
}

/// alarm list / disarm, defrag, snapshot save, move-leader on a single member.
#[test]
fn maintenance() {
    let mut d = Differ::start();
    d.run(&["put", "a", "1"]);
    d.run(&["alarm", "list"]);
    d.run(&["alarm", "list", "-w", "json"]);
    d.run(&["alarm", "disarm"]);
    d.run(&["alarm", "disarm", "-w", "json"]);
    d.run(&["defrag"]).expect_etcd("Finished defragmenting etcd member");
    d.run(&["defrag", "--cluster"]);
    d.run(&["compaction", "2", "--physical"]);
    d.run(&["defrag"]);
    d.run(&["snapshot", "save", "snap.db"]).expect_etcd("Snapshot saved at snap.db");
    d.run(&["get", "a", "-w", "json"]);
    // Leadership to itself succeeds; to an id that is not a member fails.
    d.run(&["move-leader", "$MEMBER"]).expect_etcd("Leadership transferred from");
    d.run(&["move-leader", "1234"]).expect_etcd("bad leader transferee");
    d.run(&["move-leader", "zz"]);
    d.run(&["put", "b", "2", "-w", "json"]);
    d.finish();
}

/// member add / update / promote / remove with etcd's limits on them (one learner, a quorum of
/// started voters), then a member that lost its quorum to a voter that never starts: what
/// etcdctl shows while there is no leader.
#[test]
fn member_changes_and_a_lost_quorum() {
    let mut d = Differ::start();
    d.run(&["put", "a", "1"]);
    // Members come in id order, and added ids differ between the sides.
    d.mask(r#"ETCD_INITIAL_CLUSTER="[^"]*""#, r#"ETCD_INITIAL_CLUSTER="<members in id order>""#);
    d.add_member("L", &["member", "add", "l1", "--learner", "--peer-urls=http://127.0.0.1:23901"])
        .expect_etcd(r#"ETCD_INITIAL_ADVERTISE_PEER_URLS="http://127.0.0.1:23901""#);
    d.run_unordered(&["member", "list"]).expect_etcd("unstarted, , http://127.0.0.1:23901, , true");
    d.run(&["member", "add", "l2", "--learner", "--peer-urls=http://127.0.0.1:23902"])
        .expect_etcd("etcdserver: too many learner members in cluster");
    // (Another URL with it, so the derived id differs from the learner's: no "ID already exist".)
    d.run(&["member", "add", "v", "--peer-urls=http://127.0.0.1:23901,http://127.0.0.1:23909"])
        .expect_etcd("Peer URLs already exists");
    d.run(&["member", "promote", "$L"]).expect_etcd("can only promote a learner member which is in sync with leader");
    d.run(&["member", "promote", "$MEMBER"]).expect_etcd("can only promote a learner member");
    d.run_unordered(&["member", "list", "-w", "table"]);
    d.run(&["member", "update", "$L", "--peer-urls=http://127.0.0.1:23903"]).expect_etcd("updated in cluster");
    // etcd 3.4 forgets that an updated member is a learner (etcd-io/etcd#21694, fixed in 3.5 and
    // 3.6): cairn keeps it one, as raft does.
    let listed = Etcdctl::new(&d.cairn().endpoint()).run(&["member", "list"]);
    assert!(listed.stdout.contains("unstarted, , http://127.0.0.1:23903, , true"), "{listed:?}");
    d.run(&["member", "remove", "$L"]).expect_etcd("removed from cluster");
    d.run(&["member", "remove", "$L"]);
    d.run(&["member", "list"]);

    // A second voter that never starts: one started voter of two is no quorum.
    d.add_member("V", &["member", "add", "v2", "--peer-urls=http://127.0.0.1:23904"]).expect_etcd("added to cluster");
    d.run(&["member", "add", "v3", "--peer-urls=http://127.0.0.1:23905"])
        .expect_etcd("re-configuration failed due to not enough started members");
    d.run(&["member", "remove", "1234"]).expect_etcd("re-configuration failed due to not enough started members");
    // Check-quorum makes the leader step down within an election timeout (1 s).
    std::thread::sleep(std::time::Duration::from_secs(3));
    // Who runs out of time first, the client or the server, is a race on both: either way it
    // is the client's deadline.
    d.mask(r"rpc error: code = \w+ desc = context deadline exceeded", "context deadline exceeded");
    d.run(&["put", "b", "2", "--command-timeout=2s"]).expect_etcd("Error: context deadline exceeded");
    d.run(&["get", "a", "--command-timeout=2s"]).expect_etcd("Error: context deadline exceeded");
    d.run(&["get", "a", "--consistency=s"]).expect_etcd("a\n1");
    d.run(&["endpoint", "status"]).expect_etcd("etcdserver: no leader");
    d.run(&["endpoint", "status", "-w", "json"]);
    d.run(&["endpoint", "health", "--command-timeout=2s"]).expect_etcd("unhealthy");
    d.run(&["lease", "grant", "10", "--command-timeout=2s"]).expect_etcd("failed to grant lease");
    // etcdctl watch asks for a leader (clientv3.WithRequireLeader).
    d.run(&["watch", "a"]).expect_etcd("watch was canceled (etcdserver: no leader)");
    d.finish();
}

/// Alarms raised (through the gateway: etcdctl cannot raise one) and disarmed: NOSPACE refuses
/// writes and lease grants but not reads or deletes; CORRUPT refuses deletes and compactions too
/// (reads still work, as in etcd 3.4); both are listed,
/// shown by endpoint status and health, and disarming lets writes in again.
#[test]
fn alarms() {
    let mut d = Differ::start();
    d.run(&["put", "a", "1"]);
    d.run(&["put", "z", "26"]);
    d.post("/v3/maintenance/alarm", r#"{"action":"ACTIVATE","memberID":"$MEMBER_DEC","alarm":"NOSPACE"}"#);
    d.run(&["alarm", "list"]).expect_etcd("alarm:NOSPACE");
    d.run(&["alarm", "list", "-w", "json"]);
    d.run(&["put", "b", "2"]).expect_etcd("etcdserver: mvcc: database space exceeded");
    d.run_stdin(&["txn", "-i"], "\nput b 2\n\n\n").expect_etcd("database space exceeded");
    d.run(&["lease", "grant", "10"]).expect_etcd("database space exceeded");
    d.run(&["get", "a"]).expect_etcd("a\n1");
    d.run(&["del", "z"]).expect_etcd("1");
    d.run(&["endpoint", "status"]).expect_etcd("alarm:NOSPACE");
    // (etcdctl 3.4 does not look at alarms for health; 3.5 does.)
    d.run(&["endpoint", "health"]).expect_etcd("is healthy");
    d.run(&["alarm", "disarm"]).expect_etcd("alarm:NOSPACE");
    d.run(&["alarm", "list"]);
    d.run(&["put", "b", "2"]).expect_etcd("OK");
    d.post("/v3/maintenance/alarm", r#"{"action":"ACTIVATE","memberID":"$MEMBER_DEC","alarm":"CORRUPT"}"#);
    d.run(&["alarm", "list"]).expect_etcd("alarm:CORRUPT");
    d.run(&["put", "c", "3"]).expect_etcd("corrupt cluster");
    // etcd 3.4 serves reads from its base applier, past the alarm.
    d.run(&["get", "a"]).expect_etcd("a\n1");
    d.run(&["del", "a"]).expect_etcd("corrupt cluster");
    d.run(&["compaction", "2"]).expect_etcd("corrupt cluster");
    d.run(&["alarm", "disarm", "-w", "json"]);
    d.run(&["get", "a"]).expect_etcd("a\n1");
    d.run(&["put", "c", "3", "-w", "json"]);
    d.finish();
}
