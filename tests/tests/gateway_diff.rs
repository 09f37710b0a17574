//! etcd's grpc-gateway JSON API (`POST /v3/...` with curl) against etcd and cairn, compared
//! step by step: bodies are protobuf JSON (proto field names, 64-bit integers as strings, bytes
//! as base64, zero values omitted), errors `{"error", "message", "code"}`.

use std::time::Duration;

use cairn_tests::Differ;

// base64: "foo" Zm9v, "bar" YmFy, "foo1" Zm9vMQ==, "foo2" Zm9vMg==, "foo3" Zm9vMw==, "fop" Zm9w,
// "x" eA==, "y" eQ==.

/// put / range (range_end, limit, count_only, keys_only, revision), deleterange with prev_kv,
/// txn both ways, compaction, and the KV errors.
#[test]
fn gateway_kv() {
    let mut d = Differ::start();
    d.post("/v3/kv/put", r#"{"key":"Zm9v","value":"YmFy"}"#);
    d.post("/v3/kv/put", r#"{"key":"Zm9vMQ==","value":"eA=="}"#);
    d.post("/v3/kv/put", r#"{"key":"Zm9vMg==","value":"eQ==","prev_kv":true}"#);
    d.post("/v3/kv/put", r#"{"key":"Zm9vMg==","value":"eA==","prev_kv":true}"#).expect_etcd("prev_kv");
    d.post("/v3/kv/put", r#"{"key":"Zm9vMw==","value":""}"#);
    d.post("/v3/kv/range", r#"{"key":"Zm9v"}"#).expect_etcd(r#""count":"1""#);
    d.post("/v3/kv/range", r#"{"key":"Zm9v","range_end":"Zm9w"}"#);
    d.post("/v3/kv/range", r#"{"key":"Zm9v","range_end":"Zm9w","limit":2}"#).expect_etcd(r#""more":true"#);
    d.post("/v3/kv/range", r#"{"key":"Zm9v","range_end":"Zm9w","count_only":true}"#);
    d.post("/v3/kv/range", r#"{"key":"Zm9v","range_end":"Zm9w","keys_only":true,"sort_order":"DESCEND"}"#);
    d.post("/v3/kv/range", r#"{"key":"Zm9vMg==","revision":"3"}"#);
    d.post("/v3/kv/range", r#"{"key":"AA==","range_end":"AA=="}"#);
    d.post("/v3/kv/range", r#"{"key":"bm9uZQ=="}"#);
    d.post("/v3/kv/deleterange", r#"{"key":"Zm9vMQ==","prev_kv":true}"#).expect_etcd(r#""deleted":"1""#);
    d.post("/v3/kv/deleterange", r#"{"key":"bm9uZQ=="}"#);
    let txn = r#"{"compare":[{"key":"Zm9v","target":"VALUE","result":"EQUAL","value":"YmFy"}],
        "success":[{"request_put":{"key":"Zm9v","value":"eA=="}},{"request_range":{"key":"Zm9v"}}],
        "failure":[{"request_delete_range":{"key":"Zm9v"}}]}"#;
    d.post("/v3/kv/txn", txn).expect_etcd(r#""succeeded":true"#);
    d.post("/v3/kv/txn", txn).expect_etcd("response_delete_range");
    d.post("/v3/kv/txn", r#"{"compare":[{"key":"Zm9vMg==","target":"VERSION","result":"GREATER","version":"1"}],"success":[{"request_range":{"key":"Zm9vMg==","count_only":true}}]}"#);
    d.post("/v3/kv/range", r#"{"key":"AA==","range_end":"AA=="}"#);
    d.post("/v3/kv/compaction", r#"{"revision":"4"}"#);
    d.post("/v3/kv/compaction", r#"{"revision":"4","physical":true}"#).expect_etcd("compacted");
    d.post("/v3/kv/range", r#"{"key":"Zm9v","revision":"2"}"#).expect_etcd("compacted");

    // Errors.
    d.post("/v3/kv/put", r#"{"key":"","value":"eA=="}"#).expect_etcd(r#""code":3"#);
    d.post("/v3/kv/range", "").expect_etcd("key is not provided");
    d.post("/v3/kv/range", r#"{"key":"Zm9v","revision":"1000"}"#).expect_etcd("future revision");
    d.post("/v3/kv/compaction", r#"{"revision":"1000"}"#).expect_etcd("future revision");
    d.post("/v3/kv/put", r#"{"key":"Zm9v","value":"eA==","lease":"12345"}"#).expect_etcd("lease not found");
    d.post("/v3/kv/txn", r#"{"success":[{"request_put":{"key":"Zm9v"}},{"request_put":{"key":"Zm9v"}}]}"#)
        .expect_etcd("duplicate key");
    // Unknown fields are ignored, as by etcd's gateway.
    d.post("/v3/kv/range", r#"{"key":"Zm9v","no_such_field":1}"#);
    d.finish();
}

/// lease grant (given and server-chosen ids), timetolive with keys (both paths), leases, revoke,
/// and the not-found errors.
#[test]
fn gateway_lease() {
    let mut d = Differ::start();
    d.post("/v3/lease/grant", r#"{"TTL":"600","ID":"1000"}"#).expect_etcd(r#""ID":"1000""#);
    d.post_lease("L", "/v3/lease/grant", r#"{"TTL":"300"}"#);
    d.post("/v3/kv/put", r#"{"key":"Zm9v","value":"YmFy","lease":"$L_DEC"}"#);
    d.post("/v3/lease/timetolive", r#"{"ID":"$L_DEC","keys":true}"#).expect_etcd("grantedTTL");
    d.post("/v3/kv/lease/timetolive", r#"{"ID":"1000"}"#);
    d.post("/v3/lease/leases", "{}");
    d.post("/v3/kv/lease/leases", "");
    d.post("/v3/kv/range", r#"{"key":"Zm9v"}"#).expect_etcd("lease");
    d.post("/v3/lease/revoke", r#"{"ID":"$L_DEC"}"#);
    d.post("/v3/kv/range", r#"{"key":"Zm9v"}"#);
    d.post("/v3/lease/timetolive", r#"{"ID":"$L_DEC"}"#).expect_etcd(r#""TTL":"-1""#);
    d.post("/v3/lease/revoke", r#"{"ID":"$L_DEC"}"#).expect_etcd("requested lease not found");
    d.post("/v3/kv/lease/revoke", r#"{"ID":"1000"}"#);
    d.post("/v3/lease/leases", "{}");
    d.post("/v3/lease/grant", r#"{"TTL":"600","ID":"1000"}"#);
    d.post("/v3/lease/grant", r#"{"TTL":"600","ID":"1000"}"#).expect_etcd("lease already exists");
    d.finish();
}

/// maintenance status / alarm / defragment and member list (ids, sizes, versions normalized).
#[test]
fn gateway_maintenance_cluster() {
    let mut d = Differ::start();
    d.post("/v3/kv/put", r#"{"key":"Zm9v","value":"YmFy"}"#);
    d.post("/v3/maintenance/status", "{}").expect_etcd("dbSize");
    d.post("/v3/maintenance/alarm", r#"{"action":"GET"}"#);
    d.post("/v3/maintenance/defragment", "{}");
    d.post("/v3/cluster/member/list", "{}").expect_etcd("peerURLs");
    d.post("/v3/cluster/member/remove", r#"{"ID":"1"}"#).expect_etcd("member not found");
    d.finish();
}

/// A watch over the gateway: two watchers (one a range with prev_kv) created by one body, then
/// puts and deletes, streamed as `{"result": ...}` lines until curl's `--max-time`. The watchers
/// are disjoint: etcd does not order two watchers' events of one revision.
#[test]
fn gateway_watch() {
    let mut d = Differ::start();
    d.post("/v3/kv/put", r#"{"key":"Zm9v","value":"YmFy"}"#);
    let body = r#"{"create_request":{"key":"Zm9v"}}
        {"create_request":{"key":"Zm9vMQ==","range_end":"Zm9w","prev_kv":true}}"#;
    d.post_stream("/v3/watch", body, Duration::from_secs(4), |d| {
        d.post("/v3/kv/put", r#"{"key":"Zm9v","value":"eA=="}"#);
        d.post("/v3/kv/put", r#"{"key":"Zm9vMQ==","value":"eQ=="}"#);
        d.post("/v3/kv/put", r#"{"key":"Zm9vMQ==","value":"eA=="}"#);
        d.post("/v3/kv/deleterange", r#"{"key":"Zm9v"}"#);
        d.post("/v3/kv/deleterange", r#"{"key":"Zm9vMQ=="}"#);
    })
    .expect_etcd(r#""created":true"#)
    .expect_etcd(r#""type":"DELETE""#)
    .expect_etcd("Operation timed out");
    // From history: a start revision in the past.
    d.post_stream(
        "/v3/watch",
        r#"{"create_request":{"key":"Zm9v","start_revision":"2"}}"#,
        Duration::from_secs(3),
        |_| {},
    )
    .expect_etcd("events");
    d.finish();
}

/// The lease keep-alive stream (one answer per request, ended with the body), lock and unlock,
/// the election calls (campaign, leader, proclaim, observe, resign), and the `/v3beta/` prefix
/// etcd 3.4 still serves. "mylock" bXlsb2Nr, "mylock/4d" bXlsb2NrLzRk, "elect" ZWxlY3Q=,
/// "elect/4d" ZWxlY3QvNGQ=, "v1" djE=, "v2" djI=.
#[test]
fn gateway_keepalive_lock_election_and_v3beta() {
    let mut d = Differ::start();
    d.post("/v3/lease/grant", r#"{"TTL":"60","ID":"77"}"#);
    d.post("/v3/lease/keepalive", r#"{"ID":"77"}"#).expect_etcd(r#""TTL":"60""#);
    d.post("/v3/lease/keepalive", r#"{"ID":"77"} {"ID":"77"}"#);
    d.post("/v3/lease/keepalive", r#"{"ID":"78"}"#);
    d.post("/v3/lock/lock", r#"{"name":"bXlsb2Nr","lease":"77"}"#).expect_etcd("bXlsb2NrLzRk");
    d.post("/v3/kv/range", r#"{"key":"bXlsb2NrLzRk"}"#);
    d.post("/v3/lock/unlock", r#"{"key":"bXlsb2NrLzRk"}"#);
    d.post("/v3/lock/lock", r#"{"name":"bXlsb2Nr","lease":"12345"}"#).expect_etcd("lease not found");
    d.post("/v3/election/campaign", r#"{"name":"ZWxlY3Q=","lease":"77","value":"djE="}"#).expect_etcd("leader");
    d.post("/v3/election/leader", r#"{"name":"ZWxlY3Q="}"#).expect_etcd("djE=");
    d.post(
        "/v3/election/proclaim",
        r#"{"leader":{"name":"ZWxlY3Q=","key":"ZWxlY3QvNGQ=","rev":"4","lease":"77"},"value":"djI="}"#,
    );
    d.post_stream("/v3/election/observe", r#"{"name":"ZWxlY3Q="}"#, Duration::from_secs(3), |_| {}).expect_etcd("djI=");
    d.post("/v3/election/resign", r#"{"leader":{"name":"ZWxlY3Q=","key":"ZWxlY3QvNGQ=","rev":"4","lease":"77"}}"#);
    d.post("/v3/election/leader", r#"{"name":"ZWxlY3Q="}"#).expect_etcd("election: no leader");
    d.post("/v3beta/kv/put", r#"{"key":"Zm9v","value":"YmFy"}"#);
    d.post("/v3beta/kv/range", r#"{"key":"Zm9v"}"#).expect_etcd("YmFy");
    d.post("/v3beta/lease/leases", "{}");
    d.finish();
}

/// `/v3/maintenance/snapshot` streams the database as base64 `blob`s, the last one its SHA-256
/// (the contents are each engine's own format: only the shape is compared).
#[test]
fn gateway_snapshot_stream() {
    for server in
        [cairn_tests::Server::start(cairn_tests::Kind::Etcd), cairn_tests::Server::start(cairn_tests::Kind::Cairn)]
    {
        let out = std::process::Command::new("curl")
            .args(["-s", "-S", "--max-time", "30", "-X", "POST", "-d", "{}"])
            .arg(format!("http://{}/v3/maintenance/snapshot", server.endpoint()))
            .output()
            .expect("run curl");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let lines: Vec<serde_json::Value> = stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{:?}: {e}: {l}", server.kind())))
            .collect();
        assert!(lines.len() >= 2, "{:?}: {stdout}", server.kind());
        for line in &lines {
            assert!(line["result"]["blob"].is_string() && line["result"].get("header").is_none(), "{line}");
        }
        let sha = lines.last().and_then(|l| l["result"]["blob"].as_str()).unwrap_or_default();
        assert_eq!(sha.len(), 44, "{:?}: a base64 SHA-256 last: {sha}", server.kind());
    }
}
