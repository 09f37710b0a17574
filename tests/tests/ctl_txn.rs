//! cairnctl's `txn` prints what etcdctl 3.4 prints, byte for byte after ids and ports are
//! normalized, against cairn and against a real etcd: both branches, every output format, the
//! interactive prompts, etcdctl's line grammar with its quirks, and its errors (exit codes
//! included).

use cairn_tests::{Differ, Kind};

/// Compares on value / version / create / mod, both branches, nested requests in every format
/// (what tests/tests/txn_diff.rs drives against the servers).
fn txn_branches(kind: Kind) {
    let mut d = Differ::tools(kind);
    d.run(&["put", "a", "1"]);
    d.run(&["put", "a", "2"]);
    d.run(&["put", "b", "x"]);
    d.run(&["put", "foo/1", "f1"]);
    d.run(&["put", "foo/2", "f2"]);
    d.run_stdin(&["txn", "-i"], "value(\"a\") = \"2\"\nversion(\"a\") > \"1\"\n\nput a 3\nget a\n\nget b\n\n")
        .expect_etcd("SUCCESS");
    d.run_stdin(&["txn", "-i"], "value(\"a\") = \"9\"\n\nput a 9\n\nput b y\nget b\n\n").expect_etcd("FAILURE");
    d.run_stdin(
        &["txn", "--interactive", "-w", "json"],
        "create(\"a\") = \"2\"\nmod(\"b\") < \"100\"\n\nput c 1\ndel b\n\nget a\n\n",
    );
    d.run_stdin(&["txn", "-w", "json"], "mod(\"a\") = \"1\"\n\nput c 2\n\nget a\nget foo --prefix\n\n");
    d.run_stdin(&["txn", "-w", "fields"], "version(\"missing\") = \"0\"\n\nput m 1\nget m\n\nget a\n\n");
    d.run_stdin(
        &["txn"],
        "value(\"a\") != \"3\"\n\nput a never\n\nget foo --prefix --keys-only\ndel foo/1 --prev-kv\n\n",
    );
    d.run_stdin(
        &["txn", "-w", "json"],
        "create(\"c\") > \"0\"\nvalue(\"c\") < \"9\"\n\nget c\nput c 3 --prev-kv\n\n\n",
    );
    d.run_stdin(&["txn", "-w", "fields"], "\nput c 4 --prev-kv\nget c\nget a c\ndel c --prev-kv\n\n\n");
    d.run_stdin(&["txn", "-w", "protobuf"], "ver(\"a\") = \"5\"\n\nput p 1\n\nget a --rev=2\n\n");
    d.run_stdin(&["txn", "--hex"], "m(\"a\") > \"0\"\n\nget a\nput h \"\\x00\\xff\"\nget h\n\n\n");
    d.run_stdin(&["txn"], "\nput e 1\nput f 1\n\n\n");
    d.run_stdin(&["txn", "-w", "json"], "\n\n\n");
    d.run_stdin(&["txn", "-w", "table"], "\nput t 1\n\n\n").expect_etcd("table not supported as output format");
    // Values compared with back quotes, surrounding spaces, trailing words after the value.
    d.run_stdin(&["txn"], "  val(`x`)   =   ``  trailing\n\nput x 1\n\nput x 2\n\n");
    // Quoted and single-quoted arguments (a single-quoted one is cut by the number of arguments).
    d.run_stdin(
        &["txn", "-w", "json"],
        "\nput \"sp ace\" \"v\\tw\"\nput 'abc' v\nput 'abcd' v x\nget \"sp ace\"\n\n\n",
    );
    // Flags of the requests.
    d.run_stdin(
        &["txn", "-w", "json"],
        "\nget a --consistency=s\nget foo --prefix --limit=1 --order=DESCEND --sort-by=VALUE\nget \"\" --from-key --keys-only\ndel foo/ --prefix --prev-kv\nput a 5 --ignore-lease\n\n\n",
    );
    d.run(&["get", "", "--from-key", "-w", "json"]);
    d.finish();
}

#[test]
fn txn_branches_against_cairn() {
    txn_branches(Kind::Cairn);
}

#[test]
fn txn_branches_against_etcd() {
    txn_branches(Kind::Etcd);
}

/// etcdctl's own errors: malformed compares (with what Go's Sscanf got), bad requests (with
/// cobra's usage for a known command), the errors of get/put/del themselves, input ending
/// without an empty line, arguments, a failing txn, and the panics of clientv3.
fn txn_errors(kind: Kind) {
    let mut d = Differ::tools(kind);
    d.run(&["put", "a", "1"]);
    d.run_stdin(&["txn"], "bogus(\"a\") = \"1\"\n\n\n\n").expect_etcd("unknown target bogus");
    d.run_stdin(&["txn"], "value(\"a\")=\"1\"\n\n\n\n").expect_etcd("malformed comparison");
    d.run_stdin(&["txn"], "value\n\n\n\n").expect_etcd("malformed comparison: value");
    d.run_stdin(&["txn"], "ver(\"a) = \"1\"\n\n\n").expect_etcd("malformed comparison");
    d.run_stdin(&["txn"], "ver(a) = \"1\"\n\n\n");
    d.run_stdin(&["txn"], "ver(\"a\") =\n\n\n");
    d.run_stdin(&["txn"], "ver(\"a\") = 1\n\n\n");
    d.run_stdin(&["txn"], "ver(\"a\") = \"\\q\"\n\n\n");
    d.run_stdin(&["txn"], "c(\"a\") > \"x\"\n\n\n").expect_etcd("invalid txn compare request");
    d.run_stdin(&["txn"], "\nget\n\n\n").expect_etcd("invalid txn compare request: get");
    d.run_stdin(&["txn"], "\nfoo a\n\n\n").expect_etcd("invalid txn request: foo a");
    d.run_stdin(&["txn"], "\nget a --bogus\n\n\n").expect_etcd("Usage:");
    d.run_stdin(&["txn"], "\nput a b --lease\n\n\n").expect_etcd("Usage:");
    d.run_stdin(&["txn"], "\ndel a --prefix=maybe\n\n\n").expect_etcd("Usage:");
    d.run_stdin(&["txn"], "\nget a -w json\n\n\n");
    d.run_stdin(&["txn"], "\nput a\n\n\n").expect_etcd("put command needs 1 argument");
    d.run_stdin(&["txn"], "\nput a v --lease=zz\n\n\n").expect_etcd("bad lease ID");
    d.run_stdin(&["txn"], "\nget a --prefix --from-key\n\n\n").expect_etcd("cannot be set at the same time");
    d.run_stdin(&["txn"], "\nget a --order=x\n\n\n").expect_etcd("bad sort order");
    d.run_stdin(&["txn"], "\ndel a b c\n\n\n").expect_etcd("del command needs one argument");
    d.run_stdin(&["txn"], "\nput \"\\q\" v\n\n\n").expect_etcd("invalid syntax");
    d.run_stdin(&["txn"], "value(\"a\") = \"1\"").expect_etcd("EOF");
    d.run_stdin(&["txn"], "value(\"a\") = \"1\"\n\nput a 2\n").expect_etcd("EOF");
    d.run_stdin(&["txn", "-i"], "\n\nget a").expect_etcd("EOF");
    d.run_stdin(&["txn", "extra"], "\n\n\n").expect_etcd("txn command does not accept argument");
    d.run_stdin(&["txn", "-w", "bogus"], "\n\n\n");
    // The server refuses the txn: duplicate keys, a future revision.
    d.run_stdin(&["txn"], "\nput k 1\nput k 2\n\n\n").expect_etcd("duplicate key");
    d.run_stdin(&["txn"], "\nget a --rev=100\n\n\n").expect_etcd("future revision");
    // clientv3 panics on an unknown operator and on any lease compare; etcdctl on a
    // single-quoted argument cut outside itself. Go's goroutine trace is not reproduced.
    d.mask(r"(?s)\n(\ngoroutine \d+ \[running\]:\n.*)?\z", "");
    d.run_stdin(&["txn"], "value(\"a\") == \"1\"\n\n\n").expect_etcd("panic: Unknown result op");
    d.run_stdin(&["txn"], "lease(\"a\") = \"1\"\n\n\n").expect_etcd("panic: bad value");
    d.run_stdin(&["txn"], "lease(\"a\") ~ \"1\"\n\n\n").expect_etcd("panic: Unknown result op");
    d.run_stdin(&["txn"], "\nput 'a' v x y z\n\n\n").expect_etcd("slice bounds out of range");
    d.run_stdin(&["txn"], "\n'x'\n\n\n").expect_etcd("slice bounds out of range");
    d.run(&["get", "", "--from-key"]);
    d.finish();
}

#[test]
fn txn_errors_against_cairn() {
    txn_errors(Kind::Cairn);
}

#[test]
fn txn_errors_against_etcd() {
    txn_errors(Kind::Etcd);
}
