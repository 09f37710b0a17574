//! etcd's plain HTTP endpoints on the client port, next to gRPC.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use support::Member;

/// A plain HTTP/1.1 GET; the status line and body.
fn get(endpoint: &str, path: &str) -> (String, String) {
    let mut stream = TcpStream::connect(endpoint).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {endpoint}\r\nConnection: close\r\n\r\n").expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    let status = response.lines().next().unwrap_or_default().to_string();
    let body = response.split("\r\n\r\n").nth(1).unwrap_or_default().to_string();
    (status, body)
}

#[test]
fn version_and_health_answer_like_etcd() {
    let member = Member::start(&[]);
    let (status, body) = get(&member.endpoint, "/version");
    assert!(status.contains("200"), "{status}");
    assert_eq!(body, r#"{"etcdserver":"3.4.23","etcdcluster":"3.4.0"}"#);
    // Healthy once the member serves (it serves once a leader is known).
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, body) = get(&member.endpoint, "/health");
        if status.contains("200") {
            assert_eq!(body, r#"{"health":"true"}"#);
            break;
        }
        assert!(Instant::now() < deadline, "never healthy: {status} {body}");
        std::thread::sleep(Duration::from_millis(100));
    }
}
