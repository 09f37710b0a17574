//! The body of the `v2_request` fuzz target, shared with the stable test
//! `server/tests/fuzz_v2_request.rs`, so that CI checks the same properties without
//! nightly.
//!
//! The input is `[flags][path] 0x00 [query] 0x00 [body]`: the flags byte picks the
//! method (its low bits), whether the body is a form (`0x08`) and whether there is a
//! query string (`0x10`). For any input, [`check`] asserts that:
//! - `parse_key_request` does not panic, and its error renders as etcd's JSON;
//! - an accepted request has a clean absolute path (cleaning it again changes
//!   nothing), a refresh only with a TTL and no value, and `wait` only on a GET;
//! - percent-decoding inverts percent-encoding, for the path bytes as given;
//! - the request, proposed as the handler would, applies to a v2 store holding a few
//!   nodes (keys, directories, a key with a TTL) without a panic, and the event or
//!   error it gives renders as JSON.

use axum::http::Method;
use cairn_server::http::form::percent_decode;
use cairn_server::http::v2::{KeyRequest, parse_key_request, proposal};
use cairn_server::v2::store::clean;
use cairn_server::v2::{Store, apply};

const METHODS: [Method; 6] = [Method::GET, Method::PUT, Method::POST, Method::DELETE, Method::HEAD, Method::PATCH];
/// One second, in the store's Unix nanoseconds.
const SECOND: i64 = 1_000_000_000;
/// The store's clock when the input's request is applied.
const NOW: i64 = 1_700_000_000 * SECOND;

/// A store with a few nodes, as inputs' requests find it.
pub fn seeded_store() -> Store {
    let mut store = Store::default();
    let then = NOW - 10 * SECOND;
    for (path, dir, value, expire) in [
        ("/a", false, "1", None),
        ("/dir/b", false, "2", None),
        ("/dir/sub/c", false, "3", Some(NOW + 5 * SECOND)),
        ("/empty", true, "", None),
        ("/gone", false, "4", Some(NOW - SECOND)),
    ] {
        store.set(path, dir, value, expire, false, then).expect("seed the v2 store");
    }
    store
}

/// The parts of an input: method, path, query, content type, body.
pub struct Parts<'a> {
    /// The request method.
    pub method: Method,
    /// The path after `/v2/keys`, as a URI carries it.
    pub path: String,
    /// The query string, if any.
    pub query: Option<String>,
    /// The content type.
    pub content_type: Option<&'static str>,
    /// The body.
    pub body: &'a [u8],
}

/// Splits an input into request parts.
pub fn parts(data: &[u8]) -> Option<Parts<'_>> {
    let (&flags, rest) = data.split_first()?;
    let mut fields = rest.splitn(3, |b| *b == 0);
    let path = String::from_utf8_lossy(fields.next().unwrap_or_default()).into_owned();
    let query = String::from_utf8_lossy(fields.next().unwrap_or_default()).into_owned();
    let body = fields.next().unwrap_or_default();
    Some(Parts {
        method: METHODS[usize::from(flags & 0x07) % METHODS.len()].clone(),
        path,
        query: (flags & 0x10 != 0).then_some(query),
        content_type: (flags & 0x08 != 0).then_some("application/x-www-form-urlencoded"),
        body,
    })
}

/// Builds an input from its parts (the inverse of [`parts`] for inputs without NULs).
#[allow(dead_code, reason = "used by the stable test, not the fuzz target")]
pub fn input(method: u8, form: bool, path: &str, query: Option<&str>, body: &[u8]) -> Vec<u8> {
    let flags = method | if form { 0x08 } else { 0 } | if query.is_some() { 0x10 } else { 0 };
    let mut out = vec![flags];
    out.extend_from_slice(path.as_bytes());
    out.push(0);
    out.extend_from_slice(query.unwrap_or_default().as_bytes());
    out.push(0);
    out.extend_from_slice(body);
    out
}

/// Percent-encodes every byte but the unreserved ones.
pub fn percent_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 3);
    for &b in bytes {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Checks parsing and applying one input.
pub fn check(data: &[u8]) {
    let Some(p) = parts(data) else { return };
    for plus in [false, true] {
        let decoded =
            percent_decode(percent_encode(p.path.as_bytes()).as_bytes(), plus).expect("an encoded path decodes");
        assert_eq!(decoded, p.path.as_bytes(), "percent-decoding does not invert percent-encoding");
    }
    let parsed = parse_key_request(&p.method, &p.path, p.query.as_deref(), p.content_type, p.body);
    let request = match parsed {
        Ok(request) => request,
        Err(e) => {
            let json = e.to_json();
            assert!(serde_json::from_str::<serde_json::Value>(&json).is_ok(), "an error that is not JSON: {json}");
            return;
        }
    };
    check_fields(&p.method, &request);
    let mut store = seeded_store();
    let now = NOW;
    let result = match p.method {
        Method::GET | Method::HEAD if request.wait => {
            store.watch(&request.path, request.recursive, request.stream, request.wait_index).map(|_| None)
        }
        Method::GET | Method::HEAD => store.get(&request.path, request.recursive, request.sorted, now).map(Some),
        Method::PUT | Method::POST | Method::DELETE => {
            match apply(&mut store, &proposal(&p.method, &request, now), now) {
                Some(result) => result.map(Some),
                None => Ok(None),
            }
        }
        // The handler answers other methods itself, before anything is applied.
        _ => Ok(None),
    };
    match result {
        Ok(Some(event)) => {
            let json = serde_json::to_string(&event).expect("an event renders as JSON");
            assert!(json.starts_with('{'), "{json}");
        }
        Ok(None) => {}
        Err(e) => {
            let json = e.to_json();
            assert!(serde_json::from_str::<serde_json::Value>(&json).is_ok(), "an error that is not JSON: {json}");
        }
    }
    // Expiring everything, and what was just written, never panics either.
    store.delete_expired(now + 3600 * SECOND, now + 3600 * SECOND);
    let _ = store.take_dirty();
}

fn check_fields(method: &Method, request: &KeyRequest) {
    assert!(request.path.starts_with('/'), "a relative path {:?}", request.path);
    assert_eq!(clean(&request.path), request.path, "the path is not clean");
    if request.refresh {
        assert!(request.ttl.is_some() && request.value.is_empty(), "a refresh without a TTL or with a value");
    }
    if request.wait {
        assert_eq!(*method, Method::GET, "wait on a {method}");
    }
}
