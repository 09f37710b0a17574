//! etcdctl txn (interactive and not) against etcd and cairn, compared step by step.

use cairn_tests::Differ;

/// Compares on value / version / create / mod, both branches, nested output formats.
#[test]
fn txn_branches() {
    let mut d = Differ::start();
    d.run(&["put", "a", "1"]);
    d.run(&["put", "a", "2"]);
    d.run(&["put", "b", "x"]);
    d.run(&["put", "foo/1", "f1"]);
    d.run(&["put", "foo/2", "f2"]);

    // Success: value and version compares hold.
    d.run_stdin(&["txn", "-i"], "value(\"a\") = \"2\"\nversion(\"a\") > \"1\"\n\nput a 3\nget a\n\nget b\n\n")
        .expect_etcd("SUCCESS");
    // Failure: the value compare fails, the failure branch runs.
    d.run_stdin(&["txn", "-i"], "value(\"a\") = \"9\"\n\nput a 9\n\nput b y\nget b\n\n").expect_etcd("FAILURE");
    d.run_stdin(
        &["txn", "-i", "-w", "json"],
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
    // A read after a write of the same key inside one txn.
    d.run_stdin(&["txn", "-w", "json"], "\nput c 4\nget c\nget a c\n\n\n");
    // Empty compares: success branch always.
    d.run_stdin(&["txn"], "\nput e 1\nput f 1\n\n\n");
    d.run_stdin(&["txn", "-w", "json"], "\n\n\n");
    // etcdctl 3.4 panics on any `lease("k") = "id"` compare (clientv3.mustInt64orLeaseID gets a
    // string), so lease compares cannot be driven from etcdctl.
    d.run_stdin(&["txn"], "value(\"x\") = \"\"\n\nput x 1\n\nput x 2\n\n");
    // A malformed compare is etcdctl's own error.
    d.run_stdin(&["txn"], "bogus(\"a\") = \"1\"\n\n\n\n");
    d.run(&["get", "", "--from-key", "-w", "json"]);
    d.finish();
}
