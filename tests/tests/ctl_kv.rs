//! cairnctl's `put`, `get` and `del` print what etcdctl 3.4 prints, byte for byte after ids and
//! ports are normalized, against cairn and against a real etcd.

use cairn_tests::Differ;
use cairn_tests::Kind;

fn put_get_del(kind: Kind) {
    let mut d = Differ::tools(kind);
    d.run(&["put", "foo", "bar"]).expect_etcd("OK");
    d.run(&["put", "foo", "baz", "--prev-kv"]).expect_etcd("bar");
    d.run(&["put", "foo", "-w", "json"]);
    d.run(&["put", "foo", "qux", "--prev-kv", "-w", "fields"]);
    d.run(&["put", "foo", "qux", "-w", "protobuf"]);
    d.run(&["put", "foo", "x", "-w", "table"]).expect_etcd("table not supported as output format");
    d.run_stdin(&["put", "stdin-key"], "from stdin\n");
    d.run(&["put", "nostdin"]).expect_etcd("put command needs 1 argument");
    d.run(&["put"]).expect_etcd("put command needs 1 argument");
    d.run(&["put", "k", "v", "--lease=xyz"]).expect_etcd("bad lease ID");
    d.run(&["put", "k", "v", "--lease=1234"]).expect_etcd("requested lease not found");
    d.run(&["put", "k", "--ignore-value"]).expect_etcd("key not found");
    d.run(&["put", "foo", "v", "--ignore-value"]).expect_etcd("needs only 1 argument");
    d.run(&["put", "foo", "--ignore-value", "--prev-kv"]);
    d.run(&["put", "", "v"]).expect_etcd("key is not provided");
    for (k, v) in [("a", "1"), ("a/b", "2"), ("a/c", "3"), ("b", "4"), ("\u{e9}t\u{e9}", "\"quoted\"\t")] {
        d.run(&["put", k, v]);
    }
    d.run(&["get", "foo"]).expect_etcd("x");
    d.run(&["get", "a", "--prefix"]);
    d.run(&["get", "a", "--prefix", "--keys-only"]);
    d.run(&["get", "a", "--prefix", "--print-value-only"]);
    d.run(&["get", "a", "--prefix", "--print-value-only", "-w", "json"]).expect_etcd("print-value-only");
    d.run(&["get", "a", "c"]);
    d.run(&["get", "", "--from-key"]);
    d.run(&["get", "", "--prefix", "--limit=2"]);
    d.run(&["get", "a", "--prefix", "--order=DESCEND"]);
    d.run(&["get", "a", "--prefix", "--sort-by=VALUE", "--order=descend"]);
    d.run(&["get", "a", "--prefix", "--sort-by=bogus"]).expect_etcd("bad sort target");
    d.run(&["get", "a", "--prefix", "--order=bogus"]).expect_etcd("bad sort order");
    d.run(&["get", "a", "--consistency=s"]);
    d.run(&["get", "a", "--consistency=x"]).expect_etcd("unknown consistency flag");
    d.run(&["get", "a", "--rev=2"]);
    d.run(&["get", "a", "--rev=1000"]).expect_etcd("future revision");
    d.run(&["get", "a", "--prefix", "--from-key"]).expect_etcd("cannot be set at the same time");
    d.run(&["get", "a", "b", "--prefix"]).expect_etcd("too many arguments");
    d.run(&["get"]).expect_etcd("get command needs one argument");
    d.run(&["get", "", "--prefix", "-w", "json"]);
    d.run(&["get", "", "--prefix", "-w", "fields"]);
    d.run(&["get", "", "--prefix", "-w", "protobuf"]);
    d.run(&["get", "", "--prefix", "--hex"]);
    d.run(&["get", "a", "-w", "bogus"]).expect_etcd("unsupported output format");
    d.run(&["del", "a", "--prefix", "--prev-kv"]);
    d.run(&["del", "b", "-w", "json"]);
    d.run(&["del", "nothing", "-w", "fields"]);
    d.run(&["del", "", "--from-key", "--prev-kv", "-w", "fields"]);
    d.run(&["del"]).expect_etcd("del command needs one argument");
    d.run(&["del", "a", "b", "c"]).expect_etcd("del command needs one argument");
    d.run(&["get", "", "--prefix", "-w", "json"]);
    d.finish();
}

#[test]
fn put_get_del_against_cairn() {
    put_get_del(Kind::Cairn);
}

#[test]
fn put_get_del_against_etcd() {
    put_get_del(Kind::Etcd);
}
