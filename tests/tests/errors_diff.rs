//! Requests that etcd rejects: the same exit status and error text from cairn.

use cairn_tests::Differ;

/// Empty keys, too large requests, too many / duplicate txn ops, future revisions, missing leases.
#[test]
fn request_errors() {
    let mut d = Differ::start();
    d.run(&["put", "a", "1"]);
    d.run(&["put", "", "v"]).expect_etcd("etcdserver: key is not provided");
    d.run(&["get", ""]).expect_etcd("etcdserver: key is not provided");
    d.run(&["del", ""]).expect_etcd("etcdserver: key is not provided");
    // 2 MiB is over etcdctl's own gRPC send limit: rejected before it reaches the server.
    d.run_bytes(&["put", "big"], &vec![b'x'; 2 * 1024 * 1024]).expect_etcd("trying to send message larger than max");
    // Over the server's --max-request-bytes (1.5 MiB by default) but under the client limit.
    d.run_bytes(&["put", "big"], &vec![b'x'; 1_600_000]).expect_etcd("etcdserver: request is too large");
    // Just under the limit is fine.
    d.run_bytes(&["put", "big"], &vec![b'y'; 1_500_000]);
    d.run(&["get", "big", "--keys-only", "-w", "json"]);

    let ops = |n: usize| (0..n).map(|i| format!("put k{i} v\n")).collect::<String>();
    d.run_stdin(&["txn"], &format!("\n{}\n\n", ops(129))).expect_etcd("etcdserver: too many operations in txn request");
    d.run_stdin(&["txn"], &format!("\n\n{}\n", ops(129))).expect_etcd("too many operations in txn request");
    d.run_stdin(&["txn", "-w", "json"], &format!("\n{}\n\n", ops(128)));
    d.run_stdin(&["txn"], "\nput a 1\nput a 2\n\n\n").expect_etcd("etcdserver: duplicate key given in txn request");
    d.run_stdin(&["txn"], "\nput a 1\ndel a\n\n\n").expect_etcd("duplicate key given in txn request");
    d.run_stdin(&["txn"], "\nput k1 1\ndel k --prefix\n\n\n").expect_etcd("duplicate key given in txn request");
    d.run_stdin(&["txn"], "\nget a\nget a\nput b 1\n\n\n");
    d.run_stdin(&["txn"], "\n\nput a 1\nput a 2\n\n").expect_etcd("duplicate key given in txn request");

    d.run(&["get", "a", "--rev", "1000"]).expect_etcd("etcdserver: mvcc: required revision is a future revision");
    d.run(&["get", "a", "--rev", "-1"]);
    d.run(&["lease", "keep-alive", "--once", "1234"]).expect_etcd("etcdserver: requested lease not found");
    d.run(&["lease", "revoke", "1234"]).expect_etcd("etcdserver: requested lease not found");
    d.run(&["lease", "timetolive", "1234", "-w", "json"]);
    d.run(&["lease", "timetolive", "1234"]);
    d.run(&["put", "x", "v", "--lease=1234"]).expect_etcd("etcdserver: requested lease not found");
    d.grant_lease("ZERO", 0).expect_etcd("granted with TTL(2s)");
    d.grant_lease("MAX", 9_000_000_000).expect_etcd("granted with TTL(9000000000s)");
    d.run(&["lease", "grant", "9000000001"]).expect_etcd("etcdserver: too large lease TTL");
    d.run(&["lease", "grant", "-5"]);
    d.run(&["get", "", "--from-key", "--keys-only"]);
    d.finish();
}
