//! Failpoints (feature `failpoints`): set from `FAILPOINTS` at start and through
//! `/debug/failpoints` on the client port, and a `panic` at one ends the member, as in
//! etcd. Without the feature there is no endpoint (`http.rs` runs either way).

#![cfg(feature = "failpoints")]

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use support::Member;

/// A plain HTTP/1.1 request; the status line and body.
fn request(endpoint: &str, method: &str, path: &str, body: &str) -> (String, String) {
    let mut stream = TcpStream::connect(endpoint).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {endpoint}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    let status = response.lines().next().unwrap_or_default().to_string();
    let body = response.split("\r\n\r\n").nth(1).unwrap_or_default().to_string();
    (status, body)
}

#[test]
fn failpoints_are_set_listed_and_removed_over_http() {
    let member = Member::start_with_env(&[], &[("FAILPOINTS", "afterCommit=sleep(1)")]);
    let e = &member.endpoint;
    let (status, body) = request(e, "GET", "/debug/failpoints", "");
    assert!(status.contains("200") && body == "afterCommit=sleep(1)\n", "{status}\n{body}");
    let (status, _) = request(e, "PUT", "/debug/failpoints/beforeCommit", "50%sleep(2)");
    assert!(status.contains("204"), "{status}");
    let (status, body) = request(e, "GET", "/debug/failpoints/beforeCommit", "");
    assert!(status.contains("200") && body == "50%sleep(2)\n", "{status}\n{body}");
    let (status, body) = request(e, "PUT", "/debug/failpoints/afterCommit", "sleep(");
    assert!(status.contains("400"), "a bad action is refused: {status}\n{body}");
    let (status, _) = request(e, "PUT", "/debug/failpoints/noSuchPoint", "panic");
    assert!(status.contains("404"), "{status}");
    for name in ["beforeCommit", "afterCommit"] {
        let (status, _) = request(e, "DELETE", &format!("/debug/failpoints/{name}"), "");
        assert!(status.contains("204"), "{status}");
    }
    let (status, body) = request(e, "GET", "/debug/failpoints", "");
    assert!(status.contains("200") && body.is_empty(), "{status}\n{body}");
}

#[test]
fn a_panic_at_a_failpoint_ends_the_member() {
    let mut member = Member::start(&[]);
    let e = member.endpoint.clone();
    let (status, _) = request(&e, "PUT", "/debug/failpoints/beforeCommit", "1*panic");
    assert!(status.contains("204"), "{status}");
    // A put through the JSON gateway reaches the backend commit.
    let _ = std::panic::catch_unwind(|| request(&e, "POST", "/v3/kv/put", r#"{"key":"YQ==","value":"Yg=="}"#));
    assert!(member.wait_exit(Duration::from_secs(20)), "the member survived a panic at beforeCommit");
}
