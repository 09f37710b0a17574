//! Cluster and maintenance commands against etcd and cairn: member list, endpoint
//! status / health / hashkv, alarms, defrag, snapshot save, move-leader.

use cairn_tests::Differ;

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
