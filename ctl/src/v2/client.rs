//! etcd's v2 Go client (`go.etcd.io/etcd/client`) as etcdctl uses it: a cluster of endpoints
//! tried in turn from the pinned one, 5xx answers counted as a member without a leader, a
//! per-request header timeout, `Sync` from `/v2/members`, and its errors' texts.

use std::time::Duration;

use super::gourl::Url;
use super::http::{HttpError, Request, Response, Transport, read_body};

/// An error of the v2 client, printed as Go prints it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum V2Error {
    /// An etcd error answer (`client.Error`): `100: Key not found (/foo) [12]`.
    Etcd {
        /// The error code.
        code: i64,
        /// The message.
        message: String,
        /// The cause.
        cause: String,
        /// The store index.
        index: u64,
    },
    /// Every endpoint failed (`client.ClusterError`); each error with whether it is a
    /// connection error.
    Cluster(Vec<HttpError>),
    /// Any other error (a plain text in Go), and whether it is a connection error.
    Other(HttpError),
}

impl V2Error {
    /// A plain error.
    pub fn text(text: impl Into<String>) -> V2Error {
        V2Error::Other(HttpError { text: text.into(), connection: false })
    }

    /// Go's `isConnectionError`.
    pub fn is_connection(&self) -> bool {
        match self {
            V2Error::Cluster(errors) => errors.iter().all(|e| e.connection),
            V2Error::Other(e) => e.connection,
            V2Error::Etcd { .. } => false,
        }
    }

    /// `ClusterError.Detail()` for cluster errors.
    pub fn detail(&self) -> Option<String> {
        match self {
            V2Error::Cluster(errors) => {
                Some(errors.iter().enumerate().map(|(i, e)| format!("error #{i}: {}\n", e.text)).collect())
            }
            _ => None,
        }
    }
}

impl std::fmt::Display for V2Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            V2Error::Etcd { code, message, cause, index } => write!(f, "{code}: {message} ({cause}) [{index}]"),
            V2Error::Cluster(errors) => {
                write!(f, "client: etcd cluster is unavailable or misconfigured")?;
                for (i, e) in errors.iter().enumerate() {
                    writeln!(f, "; error #{i}: {}", e.text)?;
                }
                Ok(())
            }
            V2Error::Other(e) => f.write_str(&e.text),
        }
    }
}

/// `client.ErrInvalidJSON`.
pub const INVALID_JSON: &str =
    "client: response is invalid json. The endpoint is probably not valid etcd cluster endpoint";
/// `client.ErrEmptyBody`.
pub const EMPTY_BODY: &str = "client: response body is empty";
/// What a total timeout ends a call with.
pub const DEADLINE: &str = "context deadline exceeded";

/// An HTTP action: builds the request for an endpoint.
pub trait Action {
    /// The request against endpoint `ep`.
    fn request(&self, ep: &Url) -> Request;
    /// A long poll (no header timeout).
    fn is_wait(&self) -> bool {
        false
    }
}

/// The client: endpoints (the pinned one first), credentials, timeouts.
#[derive(Debug)]
pub struct Client {
    transport: Transport,
    endpoints: Vec<Url>,
    pinned: usize,
    credentials: Option<(String, String)>,
    header_timeout: Duration,
    debug: bool,
}

/// Go's `shuffleEndpoints` with a clock-seeded source.
fn shuffle(mut eps: Vec<Url>) -> Vec<Url> {
    let mut seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().subsec_nanos()
        as u64
        | 1;
    for i in (1..eps.len()).rev() {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let j = (seed % (i as u64 + 1)) as usize;
        eps.swap(i, j);
    }
    eps
}

impl Client {
    /// A client of `endpoints` (already parsed).
    pub fn new(
        transport: Transport,
        endpoints: Vec<Url>,
        credentials: Option<(String, String)>,
        header_timeout: Duration,
    ) -> Result<Client, V2Error> {
        if endpoints.is_empty() {
            return Err(V2Error::text("client: no endpoints available"));
        }
        Ok(Client { transport, endpoints: shuffle(endpoints), pinned: 0, credentials, header_timeout, debug: false })
    }

    /// Prints each request as a cURL command on stderr (`--debug`).
    pub fn enable_curl_debug(&mut self) {
        self.debug = true;
    }

    /// The endpoints, as `Endpoints()` lists them.
    pub fn endpoints(&self) -> Vec<String> {
        self.endpoints.iter().map(Url::string).collect()
    }

    /// One exchange with one endpoint: the header timeout (not for long polls), then the body.
    async fn do_one(&self, ep: &Url, action: &dyn Action) -> Result<Response, HttpError> {
        let mut request = action.request(ep);
        request.basic_auth = self.credentials.clone();
        if self.debug {
            let mut command = format!("curl -X {} {}", request.method, request.url.string());
            if let Some(body) = &request.body {
                command.push_str(&format!(" -d {}", crate::print::go_quote_bytes(body)));
            }
            eprintln!("cURL Command: {command}");
        }
        let sent = if action.is_wait() || self.header_timeout.is_zero() {
            self.transport.send(&request).await
        } else {
            match tokio::time::timeout(self.header_timeout, self.transport.send(&request)).await {
                Ok(sent) => sent,
                Err(_) => {
                    return Err(HttpError {
                        text: format!("client: endpoint {} exceeded header timeout", ep.string()),
                        connection: false,
                    });
                }
            }
        };
        read_body(sent?).await
    }

    /// `httpClusterClient.Do`: each endpoint from the pinned one until one answers (a one-shot
    /// action stops at the first failure).
    pub async fn request(&mut self, action: &dyn Action, one_shot: bool) -> Result<Response, V2Error> {
        let count = self.endpoints.len();
        let mut errors = Vec::new();
        for i in self.pinned..self.pinned + count {
            let k = i % count;
            let ep = self.endpoints[k].clone();
            let error = match self.do_one(&ep, action).await {
                Err(e) => {
                    errors.push(e.clone());
                    e
                }
                Ok(response) if response.status / 100 == 5 => {
                    let text = match response.status {
                        500 | 503 => format!("client: etcd member {} has no leader", ep.string()),
                        other => {
                            format!("client: etcd member {} returns server error [{}]", ep.string(), status_text(other))
                        }
                    };
                    errors.push(HttpError { text, connection: false });
                    errors[0].clone()
                }
                Ok(response) => {
                    self.pinned = k;
                    return Ok(response);
                }
            };
            if one_shot {
                self.pinned = (k + 1) % count;
                return Err(V2Error::Other(error));
            }
        }
        Err(V2Error::Cluster(errors))
    }

    /// `Sync`: the members' client URLs become the endpoints.
    pub async fn sync(&mut self) -> Result<(), V2Error> {
        let members = members_list(self).await?;
        let mut urls = Vec::new();
        for member in &members {
            for url in &member.client_urls {
                urls.push(Url::parse(url).map_err(V2Error::text)?);
            }
        }
        if urls.is_empty() {
            return Err(V2Error::text("client: no endpoints available"));
        }
        let mut current = self.endpoints();
        let mut new: Vec<String> = urls.iter().map(Url::string).collect();
        current.sort();
        new.sort();
        if current != new {
            self.endpoints = shuffle(urls);
            self.pinned = 0;
        }
        Ok(())
    }
}

/// Go's `http.StatusText` for 5xx codes.
fn status_text(code: u16) -> &'static str {
    match code {
        501 => "Not Implemented",
        502 => "Bad Gateway",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        506 => "Variant Also Negotiates",
        507 => "Insufficient Storage",
        508 => "Loop Detected",
        510 => "Not Extended",
        511 => "Network Authentication Required",
        _ => "",
    }
}

/// A request to `path` (already joined) under an endpoint, with a query and a body.
pub fn request_at(
    ep: &Url,
    method: &'static str,
    path: String,
    query: String,
    content_type: Option<&'static str>,
    body: Option<Vec<u8>>,
) -> Request {
    let mut url = ep.clone();
    url.path = path;
    url.query = query;
    Request { method, url, content_type, body, basic_auth: None }
}

/// Go's `json.Unmarshal` syntax error for `body`, if it is not one valid JSON value.
pub fn json_syntax_error(body: &[u8]) -> Option<String> {
    let mut stream = serde_json::Deserializer::from_slice(body).into_iter::<serde_json::Value>();
    match stream.next() {
        None => Some("unexpected end of JSON input".to_owned()),
        Some(Ok(_)) => {
            let rest = &body[stream.byte_offset()..];
            rest.iter()
                .find(|b| !b.is_ascii_whitespace())
                .map(|b| format!("invalid character {} after top-level value", go_char(*b)))
        }
        Some(Err(e)) if e.is_eof() => Some("unexpected end of JSON input".to_owned()),
        Some(Err(_)) => {
            let first = body.iter().find(|b| !b.is_ascii_whitespace()).copied().unwrap_or(b' ');
            Some(format!("invalid character {} looking for beginning of value", go_char(first)))
        }
    }
}

/// Go's `quoteChar` in encoding/json's syntax errors.
fn go_char(b: u8) -> String {
    match b {
        b'\'' => "'\\''".to_owned(),
        b'"' => "'\"'".to_owned(),
        _ if b.is_ascii_graphic() || b == b' ' => format!("'{}'", b as char),
        _ => {
            let quoted = crate::print::go_quote_bytes(&[b]);
            format!("'{}'", &quoted[1..quoted.len() - 1])
        }
    }
}

/// Decodes `body` as Go's `json.Unmarshal` would into `T` (syntax errors worded as Go's).
pub fn go_unmarshal<T: serde::de::DeserializeOwned>(body: &[u8], type_name: &str) -> Result<T, String> {
    if let Some(e) = json_syntax_error(body) {
        return Err(e);
    }
    // Go names the mismatched field; serde does not know Go's names, so only the type is given.
    serde_json::from_slice(body).map_err(|_| format!("json: cannot unmarshal into Go value of type {type_name}"))
}

/// A v2 member, as `/v2/members` lists it.
#[derive(Clone, Debug, Default, serde::Deserialize)]
pub struct Member {
    /// Its id in hex.
    #[serde(default)]
    pub id: String,
    /// Its name (empty when not started).
    #[serde(default)]
    pub name: String,
    /// Peer URLs.
    #[serde(default, rename = "peerURLs")]
    pub peer_urls: Vec<String>,
    /// Client URLs.
    #[serde(default, rename = "clientURLs")]
    pub client_urls: Vec<String>,
}

/// `client.assertStatusCode`.
pub fn assert_status(got: u16, want: &[u16]) -> Result<(), V2Error> {
    if want.contains(&got) { Ok(()) } else { Err(V2Error::text(format!("unexpected status code {got}"))) }
}

struct MembersList;

impl Action for MembersList {
    fn request(&self, ep: &Url) -> Request {
        request_at(ep, "GET", super::gourl::join(&[&ep.path, "/v2/members"]), String::new(), None, None)
    }
}

struct MembersLeader;

impl Action for MembersLeader {
    fn request(&self, ep: &Url) -> Request {
        request_at(ep, "GET", super::gourl::join(&[&ep.path, "/v2/members", "/leader"]), String::new(), None, None)
    }
}

/// `membersAPI.List`.
pub async fn members_list(client: &mut Client) -> Result<Vec<Member>, V2Error> {
    #[derive(serde::Deserialize)]
    struct Collection {
        #[serde(default, alias = "Members")]
        members: Option<Vec<Member>>,
    }
    let response = client.request(&MembersList, false).await?;
    assert_status(response.status, &[200])?;
    let collection: Collection = go_unmarshal(&response.body, "client.memberCollection").map_err(V2Error::text)?;
    Ok(collection.members.unwrap_or_default())
}

/// `membersAPI.Leader`.
pub async fn members_leader(client: &mut Client) -> Result<Member, V2Error> {
    let response = client.request(&MembersLeader, false).await?;
    assert_status(response.status, &[200])?;
    go_unmarshal(&response.body, "client.Member").map_err(V2Error::text)
}

struct MemberChange {
    method: &'static str,
    id: Option<String>,
    peer_urls: Option<Vec<String>>,
}

impl Action for MemberChange {
    fn request(&self, ep: &Url) -> Request {
        let mut path = super::gourl::join(&[&ep.path, "/v2/members"]);
        if let Some(id) = &self.id {
            path = super::gourl::join(&[&path, id]);
        }
        let body = self.peer_urls.as_ref().map(|urls| {
            let list: Vec<String> = urls.iter().map(|u| format!("\"{}\"", crate::print::json_escape(u))).collect();
            format!("{{\"peerURLs\":[{}]}}", list.join(",")).into_bytes()
        });
        let content_type = body.as_ref().map(|_| "application/json");
        request_at(ep, self.method, path, String::new(), content_type, body)
    }
}

/// Go's `types.NewURLs` check of peer URLs (each `scheme://host:port`, sorted).
fn peer_urls(urls: &[String]) -> Result<Vec<String>, V2Error> {
    let mut out = Vec::new();
    for raw in urls {
        let url = Url::parse(raw).map_err(V2Error::text)?;
        if url.scheme != "http" && url.scheme != "https" && url.scheme != "unix" && url.scheme != "unixs" {
            return Err(V2Error::text(format!("URL scheme must be http, https, unix, or unixs: {raw}")));
        }
        if !url.host.contains(':') {
            return Err(V2Error::text(format!("URL address does not have the form \"host:port\": {raw}")));
        }
        if !url.path.is_empty() {
            return Err(V2Error::text(format!("URL must not contain a path: {raw}")));
        }
        out.push(url.string());
    }
    out.sort();
    Ok(out)
}

fn members_error(body: &[u8]) -> V2Error {
    #[derive(serde::Deserialize)]
    struct MembersError {
        #[serde(default)]
        message: String,
    }
    match go_unmarshal::<MembersError>(body, "client.membersError") {
        Ok(e) => V2Error::text(e.message),
        Err(e) => V2Error::text(e),
    }
}

/// `membersAPI.Add`.
pub async fn members_add(client: &mut Client, peer_url: &str) -> Result<Member, V2Error> {
    let urls = peer_urls(&[peer_url.to_owned()])?;
    let response = client.request(&MemberChange { method: "POST", id: None, peer_urls: Some(urls) }, false).await?;
    assert_status(response.status, &[201, 409])?;
    if response.status != 201 {
        return Err(members_error(&response.body));
    }
    go_unmarshal(&response.body, "client.Member").map_err(V2Error::text)
}

/// `membersAPI.Update`.
pub async fn members_update(client: &mut Client, id: &str, urls: &[String]) -> Result<(), V2Error> {
    let urls = peer_urls(urls)?;
    let change = MemberChange { method: "PUT", id: Some(id.to_owned()), peer_urls: Some(urls) };
    let response = client.request(&change, false).await?;
    assert_status(response.status, &[204, 404, 409])?;
    if response.status != 204 {
        return Err(members_error(&response.body));
    }
    Ok(())
}

/// `membersAPI.Remove`.
pub async fn members_remove(client: &mut Client, id: &str) -> Result<(), V2Error> {
    let change = MemberChange { method: "DELETE", id: Some(id.to_owned()), peer_urls: None };
    let response = client.request(&change, false).await?;
    assert_status(response.status, &[204, 410])
}

/// A keys request path: `/v2/keys` + key, made canonical (`v2KeysURL`).
pub fn keys_path(ep: &Url, key: &str) -> String {
    let key = if !key.is_empty() && !key.starts_with('/') { format!("/{key}") } else { key.to_owned() };
    super::gourl::canonical(&format!("{}/v2/keys{key}", ep.path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_print_as_the_go_client_prints_them() {
        let etcd = V2Error::Etcd { code: 100, message: "Key not found".into(), cause: "/foo".into(), index: 12 };
        assert_eq!(etcd.to_string(), "100: Key not found (/foo) [12]");
        let refused = HttpError { text: "dial tcp 127.0.0.1:1: connect: connection refused".into(), connection: true };
        let cluster = V2Error::Cluster(vec![refused]);
        assert_eq!(
            cluster.to_string(),
            "client: etcd cluster is unavailable or misconfigured; error #0: dial tcp 127.0.0.1:1: connect: connection refused\n"
        );
        assert!(cluster.is_connection());
    }

    #[test]
    fn json_syntax_errors_read_as_gos() {
        assert_eq!(
            json_syntax_error(b"404 page not found\n").as_deref(),
            Some("invalid character 'p' after top-level value")
        );
        assert_eq!(json_syntax_error(b"").as_deref(), Some("unexpected end of JSON input"));
        assert_eq!(
            json_syntax_error(b"Method Not Allowed").as_deref(),
            Some("invalid character 'M' looking for beginning of value")
        );
        assert_eq!(json_syntax_error(b"{\"a\":1}\n"), None);
    }

    #[test]
    fn key_paths_are_canonical() {
        let ep = Url::parse("http://127.0.0.1:2379").expect("parses");
        assert_eq!(keys_path(&ep, "foo"), "/v2/keys/foo");
        assert_eq!(keys_path(&ep, "/dir/sub/"), "/v2/keys/dir/sub/");
        assert_eq!(keys_path(&ep, ""), "/v2/keys");
    }
}
