//! Bad requests over gRPC with the Rust `etcd-client` crate against etcd 3.4 and cairn: every
//! validation error comes back with etcd's exact gRPC code and message, and the server goes on
//! serving (etcdctl checks some of these itself before sending, so they are sent raw here).

use std::time::Duration;

use cairn_tests::{Kind, Server};
use etcd_client::{Client, Compare, CompareOp, GetOptions, LeaseGrantOptions, PutOptions, Txn, TxnOp};

/// The code and message of a call's error, or "ok".
fn outcome<T>(result: Result<T, etcd_client::Error>) -> String {
    match result {
        Ok(_) => "ok".to_owned(),
        Err(etcd_client::Error::GRpcStatus(status)) => format!("{:?}: {}", status.code(), status.message()),
        Err(other) => format!("client error: {other}"),
    }
}

/// Each bad request, in order, as `(what, code: message)`.
async fn bad_requests(endpoint: &str) -> Vec<(&'static str, String)> {
    let mut client = tokio::time::timeout(Duration::from_secs(10), Client::connect([endpoint], None))
        .await
        .expect("connect in time")
        .expect("connect");
    let c = &mut client;
    let mut seen = Vec::new();
    for i in 0..5 {
        c.put(format!("k{i}"), "v", None).await.expect("a put");
    }
    seen.push(("put of an empty key", outcome(c.put("", "v", None).await)));
    seen.push(("get of an empty key", outcome(c.get("", None).await)));
    seen.push(("delete of an empty key", outcome(c.delete("", None).await)));
    let big = vec![b'x'; 1_600_000];
    seen.push(("a put over the request limit", outcome(c.put("big", big, None).await)));
    let huge = vec![b'x'; 2 * 1024 * 1024 + 10];
    seen.push(("a put over the gRPC message limit", outcome(c.put("huge", huge, None).await)));
    let ops: Vec<TxnOp> = (0..129).map(|i| TxnOp::put(format!("t{i}"), "v", None)).collect();
    seen.push(("a txn of 129 ops", outcome(c.txn(Txn::new().and_then(ops)).await)));
    let dup = Txn::new().and_then([TxnOp::put("d", "1", None), TxnOp::put("d", "2", None)]);
    seen.push(("a txn putting a key twice", outcome(c.txn(dup).await)));
    let dup_range = Txn::new().and_then([
        TxnOp::put("k1", "1", None),
        TxnOp::delete("k", Some(etcd_client::DeleteOptions::new().with_prefix())),
    ]);
    seen.push(("a txn putting and deleting a key", outcome(c.txn(dup_range).await)));
    let cmp = Txn::new().when([Compare::value("k1", CompareOp::Equal, "v")]).and_then([TxnOp::get("k1", None)]);
    seen.push(("a valid txn", outcome(c.txn(cmp).await)));
    seen.push(("a get at a future revision", outcome(c.get("k1", Some(GetOptions::new().with_revision(1000))).await)));
    seen.push(("a compaction at a future revision", outcome(c.compact(1000, None).await)));
    seen.push(("a compaction", outcome(c.compact(3, None).await)));
    seen.push(("a get at a compacted revision", outcome(c.get("k1", Some(GetOptions::new().with_revision(2))).await)));
    seen.push(("a compaction at a compacted revision", outcome(c.compact(2, None).await)));
    seen.push(("a put on an unknown lease", outcome(c.put("l", "v", Some(PutOptions::new().with_lease(12345))).await)));
    seen.push(("a revoke of an unknown lease", outcome(c.lease_revoke(12345).await)));
    seen.push(("a time-to-live of an unknown lease", outcome(c.lease_time_to_live(12345, None).await)));
    seen.push(("a lease with too long a TTL", outcome(c.lease_grant(9_000_000_001, None).await)));
    let id = Some(LeaseGrantOptions::new().with_id(777));
    seen.push(("a lease with a chosen id", outcome(c.lease_grant(60, id.clone()).await)));
    seen.push(("the same id again", outcome(c.lease_grant(60, id).await)));
    let ignore = PutOptions::new().with_ignore_value();
    seen.push(("ignore_value on a missing key", outcome(c.put("missing", "", Some(ignore.clone())).await)));
    seen.push(("ignore_value with a value", outcome(c.put("k1", "v", Some(ignore)).await)));
    let lease = PutOptions::new().with_ignore_lease().with_lease(777);
    seen.push(("ignore_lease with a lease", outcome(c.put("k1", "v", Some(lease)).await)));
    seen.push(("remove of an unknown member", outcome(c.member_remove(1234).await)));
    seen.push(("add of a member with a bad URL", outcome(c.member_add(["bogus"], None).await)));
    seen.push(("promote of an unknown member", outcome(c.member_promote(1234).await)));
    seen.push(("get of an unknown user", outcome(c.user_get("nobody").await)));
    seen.push(("auth enable without root", outcome(c.auth_enable().await)));
    seen.push(("still serving", outcome(c.get("k1", None).await)));
    seen
}

#[test]
fn bad_requests_get_etcds_codes_and_messages() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a runtime");
    let servers = [Server::start(Kind::Etcd), Server::start(Kind::Cairn)];
    let [etcd, cairn] = [&servers[0], &servers[1]].map(|s| runtime.block_on(bad_requests(&s.endpoint())));
    assert_eq!(etcd.len(), cairn.len());
    let mut differences = Vec::new();
    for ((what, e), (_, c)) in etcd.iter().zip(&cairn) {
        if e != c {
            differences.push(format!("{what}:\n  etcd:  {e}\n  cairn: {c}"));
        }
    }
    // The run must have exercised the errors (not, say, failed to reach etcd at every step).
    assert!(etcd.iter().filter(|(_, e)| e.starts_with("InvalidArgument")).count() >= 5, "{etcd:#?}");
    assert_eq!(etcd.last().map(|(_, e)| e.as_str()), Some("ok"), "{etcd:#?}");
    assert!(
        differences.is_empty(),
        "{} of {} requests differ:\n{}",
        differences.len(),
        etcd.len(),
        differences.join("\n")
    );
}
