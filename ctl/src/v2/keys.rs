//! The v2 keys API (`/v2/keys`) as the Go client calls it, its responses, and how etcdctl
//! prints them (`printResponseKey`: simple, extended, json).

use super::client::{Action, Client, EMPTY_BODY, INVALID_JSON, V2Error, keys_path, request_at};
use super::gourl::{Url, encode_values};
use super::http::{Request, Response};
use crate::print::json_escape;

const FORM: &str = "application/x-www-form-urlencoded";

/// A node of the v2 store, as the Go client decodes it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Node {
    /// Its key.
    pub key: String,
    /// A directory?
    pub dir: bool,
    /// Its value.
    pub value: String,
    /// Its children (`None` is Go's nil slice).
    pub nodes: Option<Vec<Node>>,
    /// Index of its creation.
    pub created_index: u64,
    /// Index of its last change.
    pub modified_index: u64,
    /// When it expires (RFC 3339).
    pub expiration: Option<String>,
    /// Seconds left.
    pub ttl: i64,
}

/// A keys response.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeysResponse {
    /// get, set, create, update, delete, compareAndSwap, compareAndDelete, expire.
    pub action: String,
    /// The node.
    pub node: Option<Node>,
    /// The node before the change.
    pub prev_node: Option<Node>,
    /// `X-Etcd-Index`.
    pub index: u64,
}

#[derive(serde::Deserialize)]
struct RawNode {
    key: Option<String>,
    dir: Option<bool>,
    value: Option<String>,
    nodes: Option<Vec<RawNode>>,
    #[serde(rename = "createdIndex")]
    created_index: Option<u64>,
    #[serde(rename = "modifiedIndex")]
    modified_index: Option<u64>,
    expiration: Option<String>,
    ttl: Option<i64>,
}

impl From<RawNode> for Node {
    fn from(raw: RawNode) -> Node {
        Node {
            key: raw.key.unwrap_or_default(),
            dir: raw.dir.unwrap_or(false),
            value: raw.value.unwrap_or_default(),
            nodes: raw.nodes.map(|nodes| nodes.into_iter().map(Node::from).collect()),
            created_index: raw.created_index.unwrap_or(0),
            modified_index: raw.modified_index.unwrap_or(0),
            expiration: raw.expiration.map(|e| go_time(&e)),
            ttl: raw.ttl.unwrap_or(0),
        }
    }
}

#[derive(serde::Deserialize)]
struct RawResponse {
    action: Option<String>,
    node: Option<RawNode>,
    #[serde(rename = "prevNode")]
    prev_node: Option<RawNode>,
}

#[derive(serde::Deserialize)]
struct RawError {
    #[serde(rename = "errorCode", alias = "ErrorCode", alias = "errorcode")]
    code: Option<i64>,
    #[serde(alias = "Message")]
    message: Option<String>,
    #[serde(alias = "Cause")]
    cause: Option<String>,
    #[serde(alias = "Index")]
    index: Option<u64>,
}

/// A time as Go re-marshals an RFC 3339 one: the fraction without trailing zeros, UTC as `Z`.
fn go_time(text: &str) -> String {
    let (stamp, zone) = match text.rfind(['Z', '+']).or_else(|| text.rfind('-').filter(|i| *i > 10)) {
        Some(i) => text.split_at(i),
        None => return text.to_owned(),
    };
    let zone = if zone == "+00:00" || zone == "-00:00" { "Z" } else { zone };
    let stamp = match stamp.split_once('.') {
        Some((whole, fraction)) => {
            let fraction = fraction.trim_end_matches('0');
            if fraction.is_empty() { whole.to_owned() } else { format!("{whole}.{fraction}") }
        }
        None => stamp.to_owned(),
    };
    format!("{stamp}{zone}")
}

/// `unmarshalHTTPResponse`.
pub fn decode(response: &Response) -> Result<KeysResponse, V2Error> {
    match response.status {
        200 | 201 => {
            if response.body.is_empty() {
                return Err(V2Error::text(EMPTY_BODY));
            }
            let raw: RawResponse = serde_json::from_slice(&response.body).map_err(|_| V2Error::text(INVALID_JSON))?;
            let index_header = response.header("X-Etcd-Index");
            let index = if index_header.is_empty() {
                0
            } else {
                index_header.parse().map_err(|_| {
                    V2Error::text(format!(
                        "strconv.ParseUint: parsing {}: invalid syntax",
                        crate::print::go_quote(&index_header)
                    ))
                })?
            };
            Ok(KeysResponse {
                action: raw.action.unwrap_or_default(),
                node: raw.node.map(Node::from),
                prev_node: raw.prev_node.map(Node::from),
                index,
            })
        }
        _ => {
            let raw: RawError = serde_json::from_slice(&response.body).map_err(|_| V2Error::text(INVALID_JSON))?;
            Err(V2Error::Etcd {
                code: raw.code.unwrap_or(0),
                message: raw.message.unwrap_or_default(),
                cause: raw.cause.unwrap_or_default(),
                index: raw.index.unwrap_or(0),
            })
        }
    }
}

/// `GetOptions`.
#[derive(Clone, Copy, Debug, Default)]
pub struct GetOptions {
    /// Children too.
    pub recursive: bool,
    /// Sorted children.
    pub sort: bool,
    /// A linearizable read.
    pub quorum: bool,
}

/// `PrevExistType`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PrevExist {
    /// No condition.
    #[default]
    Ignore,
    /// Must exist.
    Exist,
    /// Must not exist.
    NoExist,
}

/// `SetOptions`.
#[derive(Clone, Debug, Default)]
pub struct SetOptions {
    /// Compare with this value.
    pub prev_value: String,
    /// Compare with this index (0: none).
    pub prev_index: u64,
    /// Existence condition.
    pub prev_exist: PrevExist,
    /// Seconds to live (<= 0: none).
    pub ttl: i64,
    /// A directory.
    pub dir: bool,
}

/// `DeleteOptions`.
#[derive(Clone, Debug, Default)]
pub struct DeleteOptions {
    /// Compare with this value.
    pub prev_value: String,
    /// Compare with this index (0: none).
    pub prev_index: u64,
    /// Remove a directory.
    pub dir: bool,
    /// Remove a directory and what it holds.
    pub recursive: bool,
}

/// The keys API's requests.
#[derive(Clone, Debug)]
pub enum KeysAction {
    /// `getAction`.
    Get(String, GetOptions),
    /// `waitAction`: key, wait index, recursive.
    Wait(String, u64, bool),
    /// `setAction`.
    Set(String, String, SetOptions),
    /// `deleteAction`.
    Delete(String, DeleteOptions),
    /// `createInOrderAction`: directory, value, ttl.
    CreateInOrder(String, String, i64),
}

impl Action for KeysAction {
    fn request(&self, ep: &Url) -> Request {
        match self {
            KeysAction::Get(key, options) => {
                let query = encode_values(&[
                    ("recursive", options.recursive.to_string()),
                    ("sorted", options.sort.to_string()),
                    ("quorum", options.quorum.to_string()),
                ]);
                request_at(ep, "GET", keys_path(ep, key), query, None, None)
            }
            KeysAction::Wait(key, index, recursive) => {
                let query = encode_values(&[
                    ("wait", "true".to_owned()),
                    ("waitIndex", index.to_string()),
                    ("recursive", recursive.to_string()),
                ]);
                request_at(ep, "GET", keys_path(ep, key), query, None, None)
            }
            KeysAction::Set(key, value, options) => {
                let mut params = Vec::new();
                let mut form = Vec::new();
                if options.dir {
                    params.push(("dir", "true".to_owned()));
                } else {
                    if !options.prev_value.is_empty() {
                        params.push(("prevValue", options.prev_value.clone()));
                    }
                    form.push(("value", value.clone()));
                }
                if options.prev_index != 0 {
                    params.push(("prevIndex", options.prev_index.to_string()));
                }
                match options.prev_exist {
                    PrevExist::Ignore => {}
                    PrevExist::Exist => params.push(("prevExist", "true".to_owned())),
                    PrevExist::NoExist => params.push(("prevExist", "false".to_owned())),
                }
                if options.ttl > 0 {
                    form.push(("ttl", options.ttl.to_string()));
                }
                let body = encode_values(&form).into_bytes();
                request_at(ep, "PUT", keys_path(ep, key), encode_values(&params), Some(FORM), Some(body))
            }
            KeysAction::Delete(key, options) => {
                let mut params = Vec::new();
                if !options.prev_value.is_empty() {
                    params.push(("prevValue", options.prev_value.clone()));
                }
                if options.prev_index != 0 {
                    params.push(("prevIndex", options.prev_index.to_string()));
                }
                if options.dir {
                    params.push(("dir", "true".to_owned()));
                }
                if options.recursive {
                    params.push(("recursive", "true".to_owned()));
                }
                request_at(ep, "DELETE", keys_path(ep, key), encode_values(&params), Some(FORM), None)
            }
            KeysAction::CreateInOrder(dir, value, ttl) => {
                let mut form = vec![("value", value.clone())];
                if *ttl > 0 {
                    form.push(("ttl", ttl.to_string()));
                }
                let body = encode_values(&form).into_bytes();
                request_at(ep, "POST", keys_path(ep, dir), String::new(), Some(FORM), Some(body))
            }
        }
    }

    fn is_wait(&self) -> bool {
        matches!(self, KeysAction::Wait(..))
    }
}

/// Sends a keys action and decodes the answer (deletes and must-not-exist sets are one-shot).
pub async fn call(client: &mut Client, action: &KeysAction) -> Result<KeysResponse, V2Error> {
    let one_shot = match action {
        KeysAction::Delete(..) => true,
        KeysAction::Set(_, _, options) => options.prev_exist == PrevExist::NoExist,
        _ => false,
    };
    let response = client.request(action, one_shot).await?;
    decode(&response)
}

/// A v2 watcher (`httpWatcher`): each `next` long-polls from after the last event.
#[derive(Debug)]
pub struct Watcher {
    key: String,
    wait_index: u64,
    recursive: bool,
}

impl Watcher {
    /// A watcher of `key` from after `after_index` (0: from now).
    pub fn new(key: &str, after_index: u64, recursive: bool) -> Watcher {
        let wait_index = if after_index > 0 { after_index.wrapping_add(1) } else { 0 };
        Watcher { key: key.to_owned(), wait_index, recursive }
    }

    /// The next event (an empty answer is polled again).
    pub async fn next(&mut self, client: &mut Client) -> Result<KeysResponse, V2Error> {
        loop {
            let action = KeysAction::Wait(self.key.clone(), self.wait_index, self.recursive);
            match call(client, &action).await {
                Err(V2Error::Other(e)) if e.text == EMPTY_BODY => continue,
                Err(e) => return Err(e),
                Ok(response) => {
                    let modified = response.node.as_ref().map(|n| n.modified_index).unwrap_or(0);
                    self.wait_index = modified.wrapping_add(1);
                    return Ok(response);
                }
            }
        }
    }
}

fn node_json(node: &Node, out: &mut String) {
    out.push_str(&format!("{{\"key\":\"{}\"", json_escape(&node.key)));
    if node.dir {
        out.push_str(",\"dir\":true");
    }
    out.push_str(&format!(",\"value\":\"{}\",\"nodes\":", json_escape(&node.value)));
    match &node.nodes {
        None => out.push_str("null"),
        Some(nodes) => {
            out.push('[');
            for (i, child) in nodes.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                node_json(child, out);
            }
            out.push(']');
        }
    }
    out.push_str(&format!(",\"createdIndex\":{},\"modifiedIndex\":{}", node.created_index, node.modified_index));
    if let Some(expiration) = &node.expiration {
        out.push_str(&format!(",\"expiration\":\"{}\"", json_escape(expiration)));
    }
    if node.ttl != 0 {
        out.push_str(&format!(",\"ttl\":{}", node.ttl));
    }
    out.push('}');
}

/// Go's `json.Marshal` of a `client.Response`.
pub fn response_json(response: &KeysResponse) -> String {
    let mut out = format!("{{\"action\":\"{}\",\"node\":", json_escape(&response.action));
    match &response.node {
        Some(node) => node_json(node, &mut out),
        None => out.push_str("null"),
    }
    out.push_str(",\"prevNode\":");
    match &response.prev_node {
        Some(node) => node_json(node, &mut out),
        None => out.push_str("null"),
    }
    out.push('}');
    out
}

/// What Go prints when etcdctl dereferences a missing node.
pub const NIL_PANIC: &str = "panic: runtime error: invalid memory address or nil pointer dereference";

/// etcdctl's `printResponseKey`; `Err` when Go would panic on a missing node.
pub fn print_response_key(response: &KeysResponse, format: &str) -> Result<(), ()> {
    match format {
        "simple" => {
            if response.action != "delete" {
                println!("{}", response.node.as_ref().ok_or(())?.value);
            } else {
                println!("PrevNode.Value: {}", response.prev_node.as_ref().ok_or(())?.value);
            }
        }
        "extended" => {
            let node = response.node.as_ref().ok_or(())?;
            println!("Key: {}", node.key);
            println!("Created-Index: {}", node.created_index);
            println!("Modified-Index: {}", node.modified_index);
            if let Some(prev) = &response.prev_node {
                println!("PrevNode.Value: {}", prev.value);
            }
            println!("TTL: {}", node.ttl);
            println!("Index: {}", response.index);
            if response.action != "delete" {
                println!();
                println!("{}", node.value);
            }
        }
        "json" => println!("{}", response_json(response)),
        other => eprintln!("Unsupported output format: {other}"),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url() -> Url {
        Url::parse("http://127.0.0.1:2379").expect("parses")
    }

    #[test]
    fn requests_are_built_as_the_go_client_builds_them() {
        let get = KeysAction::Get("/message".into(), GetOptions::default()).request(&url());
        assert_eq!(get.url.string(), "http://127.0.0.1:2379/v2/keys/message?quorum=false&recursive=false&sorted=false");
        let options =
            SetOptions { prev_value: "a b".into(), ttl: 5, prev_exist: PrevExist::Exist, ..Default::default() };
        let set = KeysAction::Set("m".into(), "a b&c".into(), options).request(&url());
        assert_eq!(set.url.string(), "http://127.0.0.1:2379/v2/keys/m?prevExist=true&prevValue=a+b");
        assert_eq!(set.body.as_deref(), Some(&b"ttl=5&value=a+b%26c"[..]));
        let dir = SetOptions { dir: true, ..Default::default() };
        let mkdir = KeysAction::Set("/d".into(), String::new(), dir).request(&url());
        assert_eq!((mkdir.url.query.as_str(), mkdir.body.as_deref()), ("dir=true", Some(&b""[..])));
    }

    #[test]
    fn responses_marshal_as_go_marshals_them() {
        let body = br#"{"action":"get","node":{"key":"/t","value":"v<","createdIndex":5,"modifiedIndex":5,"expiration":"2026-11-24T13:03:28.938450420Z","ttl":100}}"#;
        let mut headers = hyper::HeaderMap::new();
        headers.insert("X-Etcd-Index", hyper::header::HeaderValue::from_static("7"));
        let response = Response { status: 200, headers, body: body.to_vec() };
        let decoded = decode(&response).expect("decodes");
        assert_eq!(decoded.index, 7);
        assert_eq!(
            response_json(&decoded),
            r#"{"action":"get","node":{"key":"/t","value":"v\u003c","nodes":null,"createdIndex":5,"modifiedIndex":5,"expiration":"2026-11-24T13:03:28.93845042Z","ttl":100},"prevNode":null}"#
        );
        let error = Response {
            status: 404,
            headers: hyper::HeaderMap::new(),
            body: br#"{"errorCode":100,"message":"Key not found","cause":"/nope","index":4}"#.to_vec(),
        };
        assert_eq!(decode(&error).expect_err("fails").to_string(), "100: Key not found (/nope) [4]");
        let page = Response { status: 404, headers: hyper::HeaderMap::new(), body: b"404 page not found\n".to_vec() };
        assert_eq!(decode(&page).expect_err("fails").to_string(), INVALID_JSON);
    }
}
