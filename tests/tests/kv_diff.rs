//! etcdctl put / get / del against etcd and cairn, compared step by step.

use cairn_tests::Differ;

/// put (plain, --prev-kv, --lease, --ignore-value, --ignore-lease) and every get flavour.
#[test]
fn put_and_get() {
    let mut d = Differ::start();
    d.run(&["put", "a", "1"]).expect_etcd("OK");
    d.run(&["put", "b", "2"]);
    d.run(&["put", "c", "3"]);
    d.run(&["put", "a", "11", "--prev-kv"]);
    d.run(&["put", "a", "111", "--prev-kv", "-w", "json"]);
    d.run(&["put", "b", "22", "-w", "fields"]);
    for (key, value) in [("foo/1", "x"), ("foo/2", "y"), ("foo/3", "z"), ("fop", "0"), ("foo/2", "yy")] {
        d.run(&["put", key, value]);
    }
    d.run(&["put", "c", "--ignore-value"]);
    d.run(&["put", "nokey", "--ignore-value"]).expect_etcd("etcdserver: key not found");
    d.run(&["put", "sp ace", "multi\nline value"]);
    d.run_stdin(&["put", "from-stdin"], "value from stdin");
    d.grant_lease("L1", 600);
    d.run(&["put", "leased", "v", "--lease=$L1"]);
    d.run(&["put", "leased", "v2", "--ignore-lease"]);
    d.run(&["get", "leased", "-w", "json"]);
    d.run(&["put", "leased2", "v", "--lease=$L1", "--prev-kv"]);
    d.run(&["put", "leased2", "w", "--lease=$L1", "--prev-kv", "-w", "json"]);

    d.run(&["get", "a"]);
    d.run(&["get", "missing"]);
    d.run(&["get", "missing", "-w", "json"]);
    d.run(&["get", "foo", "--prefix"]);
    d.run(&["get", "foo/2", "--from-key"]);
    d.run(&["get", "", "--from-key", "--keys-only"]);
    d.run(&["get", "a", "c"]);
    d.run(&["get", "a", "c", "-w", "json"]);
    d.run(&["get", "foo", "--prefix", "--limit", "2"]);
    d.run(&["get", "foo", "--prefix", "--limit", "2", "-w", "json"]);
    d.run(&["get", "a", "--rev", "1"]);
    d.run(&["get", "a", "--rev", "2"]);
    d.run(&["get", "a", "--rev", "4", "-w", "json"]);
    d.run(&["get", "foo", "--prefix", "--rev", "8"]);
    d.run(&["get", "foo", "--prefix", "--keys-only"]);
    // etcdctl 3.4 has no --count-only: it is a usage error (exit 1), printed by etcdctl itself.
    d.run(&["get", "foo", "--prefix", "--count-only"]).expect_etcd("unknown flag: --count-only");
    d.run(&["get", "foo", "--prefix", "--keys-only", "-w", "json"]);
    d.run(&["get", "foo", "--prefix", "--limit", "1", "--keys-only", "-w", "fields"]);
    // At most 12 keys: etcd sorts with Go's unstable sort.Sort, which is an insertion sort (so
    // ties keep key order, also for DESCEND) only up to 12 elements.
    for sort in ["KEY", "CREATE", "MODIFY", "VERSION", "VALUE"] {
        for order in ["ASCEND", "DESCEND"] {
            d.run(&["get", "", "--from-key", "--sort-by", sort, "--order", order]);
        }
        d.run(&["get", "foo", "--prefix", &format!("--sort-by={sort}"), "-w", "json"]);
    }
    d.run(&["get", "foo", "--prefix", "--order", "DESCEND", "--limit", "2"]);
    d.run(&["get", "foo", "--prefix", "--hex"]);
    d.run(&["get", "foo", "--prefix", "--hex", "-w", "json"]);
    d.run(&["get", "a", "--print-value-only"]);
    d.run(&["get", "foo", "--prefix", "--print-value-only"]);
    d.run(&["get", "sp ace"]);
    d.run(&["get", "foo", "--prefix", "-w", "json"]);
    d.run(&["get", "foo", "--prefix", "-w", "fields"]);
    d.run(&["get", "foo", "--prefix", "-w", "table"]).expect_etcd("table not supported as output format");
    d.run(&["get", "a", "--consistency=s"]);
    d.finish();
}

/// del of one key, a range, a prefix, --from-key, with --prev-kv, and the resulting revisions.
#[test]
fn delete() {
    let mut d = Differ::start();
    for key in ["a", "b", "c", "d", "foo/1", "foo/2", "foo/3", "fop", "x", "y", "z"] {
        d.run(&["put", key, &format!("{key}-value")]);
    }
    d.run(&["del", "a"]).expect_etcd("1");
    d.run(&["del", "a"]).expect_etcd("0");
    d.run(&["del", "b", "--prev-kv"]);
    d.run(&["del", "c", "e", "--prev-kv", "-w", "json"]);
    d.run(&["del", "foo", "--prefix", "-w", "fields"]);
    d.run(&["get", "", "--from-key", "-w", "json"]);
    d.run(&["put", "foo/1", "again"]);
    d.run(&["get", "foo/1", "-w", "json"]);
    d.run(&["del", "x", "--from-key", "--prev-kv"]);
    d.run(&["del", "nothing", "--prefix", "-w", "json"]);
    d.run(&["get", "", "--from-key"]);
    d.run(&["get", "b", "--rev", "13", "-w", "json"]);
    d.run(&["del", "", "--from-key"]);
    d.run(&["get", "", "--from-key", "-w", "json"]);
    d.finish();
}

/// compaction, reads below it (compacted), at it, and in the future.
#[test]
fn compaction_and_revisions() {
    let mut d = Differ::start();
    for i in 0..6 {
        d.run(&["put", "k", &format!("v{i}")]);
    }
    d.run(&["del", "k"]);
    d.run(&["put", "other", "o"]);
    d.run(&["get", "k", "--rev", "3", "-w", "json"]);
    d.run(&["endpoint", "hashkv", "-w", "json"]);
    d.run(&["compaction", "4"]).expect_etcd("compacted revision 4");
    d.run(&["get", "k", "--rev", "3"]).expect_etcd("required revision has been compacted");
    d.run(&["get", "k", "--rev", "4"]);
    d.run(&["get", "k", "--rev", "5", "-w", "json"]);
    d.run(&["get", "k", "--rev", "100"]).expect_etcd("required revision is a future revision");
    d.run(&["get", "k", "-w", "json"]);
    d.run(&["compaction", "3"]).expect_etcd("required revision has been compacted");
    d.run(&["compaction", "4"]);
    d.run(&["compaction", "100"]).expect_etcd("required revision is a future revision");
    d.run(&["compaction", "6", "--physical", "-w", "json"]);
    d.run(&["get", "k", "--rev", "5"]);
    d.run(&["get", "", "--from-key", "--rev", "8"]);
    d.run(&["endpoint", "hashkv"]);
    d.run(&["endpoint", "hashkv", "--rev", "8", "-w", "json"]);
    d.run(&["put", "k", "after"]);
    d.run(&["get", "k", "-w", "json"]);
    d.finish();
}
