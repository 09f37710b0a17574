//! etcdctl watch against etcd and cairn: background watches with a bounded lifetime.

use cairn_tests::Differ;

/// Watches of a key, a prefix, a range, from history (--rev), with --prev-kv, as json, live, and
/// from a compacted revision (cancelled by the server).
#[test]
fn watch() {
    let mut d = Differ::start();
    d.run(&["put", "a", "1"]);
    d.run(&["put", "foo/1", "x"]);
    d.run(&["put", "a", "2"]);
    d.run(&["del", "a"]);
    d.run(&["put", "foo/2", "y"]);
    d.run(&["put", "foo/1", "xx"]);

    // From history: everything is already there, so no race with the start of the watch.
    let w = d.spawn_watch(&["watch", "a", "--rev", "1"]);
    d.collect_watch(w).expect_etcd("DELETE");
    let w = d.spawn_watch(&["watch", "foo", "--prefix", "--rev", "1", "--prev-kv"]);
    d.collect_watch(w);
    let w = d.spawn_watch(&["watch", "a", "foo/2", "--rev", "2", "-w", "json"]);
    d.collect_watch(w);

    // From the next revision (the future when created), then puts follow.
    let w = d.spawn_watch(&["watch", "foo", "--prefix", "--rev", "8", "--prev-kv"]);
    let w2 = d.spawn_live_watch(&["watch", "b", "--rev", "8", "-w", "json"]);
    d.run(&["put", "foo/3", "z"]);
    d.run(&["put", "b", "1"]);
    d.run(&["del", "foo", "--prefix"]);
    d.run(&["put", "b", "2"]);
    d.collect_watch(w);
    d.collect_watch(w2);

    // Live (no --rev).
    let w = d.spawn_live_watch(&["watch", "live", "--prev-kv"]);
    let w2 = d.spawn_live_watch(&["watch", "live", "-w", "json"]);
    d.run(&["put", "live", "1"]);
    d.run(&["put", "live", "2"]);
    d.run(&["del", "live"]);
    d.collect_watch(w);
    d.collect_watch(w2);

    // From a compacted revision: the server cancels the watch; etcdctl exits by itself.
    d.run(&["compaction", "5"]);
    let w = d.spawn_watch(&["watch", "a", "--rev", "2"]);
    d.collect_watch(w).expect_etcd("required revision has been compacted");
    let w = d.spawn_watch(&["watch", "a", "--rev", "2", "-w", "json"]);
    d.collect_watch(w);
    d.finish();
}
