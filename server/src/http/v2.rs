//! etcd's v2 HTTP API on the client port, served with `--enable-v2` as in
//! etcd 3.4: the keys API (`/v2/keys/...`), `/v2/members`, `/v2/machines`
//! and `/v2/stats/{self,leader,store}`. Requests are parsed as etcd's
//! `parseKeyRequest` does (form body before query string, etcd's errors for
//! bad fields), writes go through raft, reads are local unless `quorum=true`.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use cairn_mvcc::Backend;
use cairn_proto::cairnpb::V2Request;
use cairn_proto::cairnpb::internal_request::Request as Internal;
use serde::Serialize;

use super::form::{Form, FormError};
use crate::apply::Applied;
use crate::core::Core;
use crate::v2::store::clean;
use crate::v2::{Code, Event, V2Error};

/// The v2 routes (404 for each unless `--enable-v2`).
pub fn routes<B: Backend>() -> axum::Router<Arc<Core<B>>> {
    axum::Router::new()
        .route("/v2/keys", any(keys::<B>))
        .route("/v2/keys/", any(keys::<B>))
        .route("/v2/keys/{*path}", any(keys::<B>))
        .route("/v2/members", get(members::<B>))
        .route("/v2/members/", get(members::<B>))
        .route("/v2/members/leader", get(members_leader::<B>))
        .route("/v2/machines", get(machines::<B>))
        .route("/v2/stats/self", get(stats_self::<B>))
        .route("/v2/stats/leader", get(stats_leader::<B>))
        .route("/v2/stats/store", get(stats_store::<B>))
}

/// Go's `http.NotFound`.
pub fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8"), (header::X_CONTENT_TYPE_OPTIONS, "nosniff")],
        "404 page not found\n",
    )
        .into_response()
}

fn json_response(status: StatusCode, body: String, headers: &[(&'static str, String)]) -> Response {
    let mut response = (status, [(header::CONTENT_TYPE, "application/json")], body).into_response();
    for (name, value) in headers {
        if let Ok(value) = HeaderValue::from_str(value) {
            response.headers_mut().insert(*name, value);
        }
    }
    response
}

fn error_response(error: &V2Error, cluster_id: u64) -> Response {
    let status = StatusCode::from_u16(error.code.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
    json_response(
        status,
        error.to_json(),
        &[("x-etcd-cluster-id", format!("{cluster_id:x}")), ("x-etcd-index", error.index.to_string())],
    )
}

/// A parsed keys request (etcd's v2 `Request` before it is proposed).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct KeyRequest {
    /// The cleaned path under `/v2/keys`.
    pub path: String,
    /// `value`.
    pub value: String,
    /// `dir`.
    pub dir: bool,
    /// `prevValue`.
    pub prev_value: String,
    /// `prevIndex`.
    pub prev_index: u64,
    /// `prevExist`, when given.
    pub prev_exist: Option<bool>,
    /// `wait`.
    pub wait: bool,
    /// `waitIndex`.
    pub wait_index: u64,
    /// `recursive`.
    pub recursive: bool,
    /// `sorted`.
    pub sorted: bool,
    /// `quorum`.
    pub quorum: bool,
    /// `stream`.
    pub stream: bool,
    /// `refresh`.
    pub refresh: bool,
    /// `ttl` in seconds, when given.
    pub ttl: Option<u64>,
    /// `noValueOnSuccess`.
    pub no_value_on_success: bool,
}

fn invalid(code: Code, cause: &str) -> V2Error {
    V2Error::new(code, cause, 0)
}

/// Parses a keys request as etcd's `parseKeyRequest`: `raw_path` is the URL
/// path after `/v2/keys` (still percent-encoded).
pub fn parse_key_request(
    method: &Method,
    raw_path: &str,
    query: Option<&str>,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<KeyRequest, V2Error> {
    let form_error = |e: FormError| invalid(Code::InvalidForm, &e.to_string());
    let mut form = Form::default();
    let body_form = matches!(*method, Method::POST | Method::PUT)
        && content_type
            .is_some_and(|ct| ct.split(';').next().unwrap_or("").trim() == "application/x-www-form-urlencoded");
    if body_form {
        form.parse(body).map_err(form_error)?;
    }
    if let Some(query) = query {
        form.parse(query.as_bytes()).map_err(form_error)?;
    }
    let path = super::form::percent_decode(raw_path.as_bytes(), false).map_err(form_error)?;
    let path = clean(&String::from_utf8_lossy(&path));

    let uint = |key: &str, code: Code, cause: &str| -> Result<u64, V2Error> {
        match form.get(key) {
            Some(v) if !v.is_empty() => v.parse::<u64>().map_err(|_| invalid(code, cause)),
            _ => Ok(0),
        }
    };
    let boolean = |key: &str, cause: &str| -> Result<bool, V2Error> {
        match form.get(key) {
            Some(v) if !v.is_empty() => parse_go_bool(v).ok_or_else(|| invalid(Code::InvalidField, cause)),
            _ => Ok(false),
        }
    };
    let prev_index = uint("prevIndex", Code::IndexNaN, r#"invalid value for "prevIndex""#)?;
    let wait_index = uint("waitIndex", Code::IndexNaN, r#"invalid value for "waitIndex""#)?;
    let recursive = boolean("recursive", r#"invalid value for "recursive""#)?;
    let sorted = boolean("sorted", r#"invalid value for "sorted""#)?;
    let wait = boolean("wait", r#"invalid value for "wait""#)?;
    let dir = boolean("dir", r#"invalid value for "dir""#)?;
    let quorum = boolean("quorum", r#"invalid value for "quorum""#)?;
    let stream = boolean("stream", r#"invalid value for "stream""#)?;
    if wait && *method != Method::GET {
        return Err(invalid(Code::InvalidField, r#""wait" can only be used with GET requests"#));
    }
    let prev_value = form.get("prevValue").unwrap_or_default().to_owned();
    if form.has("prevValue") && prev_value.is_empty() {
        return Err(invalid(Code::PrevValueRequired, r#""prevValue" cannot be empty"#));
    }
    let no_value_on_success = boolean("noValueOnSuccess", r#"invalid value for "noValueOnSuccess""#)?;
    let ttl = match form.get("ttl") {
        Some(v) if !v.is_empty() => {
            Some(v.parse::<u64>().map_err(|_| invalid(Code::TtlNaN, r#"invalid value for "ttl""#))?)
        }
        _ => None,
    };
    let prev_exist =
        if form.has("prevExist") { Some(boolean("prevExist", "invalid value for prevExist")?) } else { None };
    let mut refresh = false;
    if form.has("refresh") {
        refresh = boolean("refresh", "invalid value for refresh")?;
        if refresh {
            if form.get("value").is_some_and(|v| !v.is_empty()) {
                return Err(invalid(Code::RefreshValue, "A value was provided on a refresh"));
            }
            if ttl.is_none() {
                return Err(invalid(Code::RefreshTtlRequired, "No TTL value set"));
            }
        }
    }
    Ok(KeyRequest {
        path,
        value: form.get("value").unwrap_or_default().to_owned(),
        dir,
        prev_value,
        prev_index,
        prev_exist,
        wait,
        wait_index,
        recursive,
        sorted,
        quorum,
        stream,
        refresh,
        ttl,
        no_value_on_success,
    })
}

/// Go's `strconv.ParseBool`.
fn parse_go_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

async fn keys<B: Backend>(
    State(core): State<Arc<Core<B>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !core.enable_v2 {
        return not_found();
    }
    let cluster_id = core.state.cluster_id();
    if !matches!(method, Method::HEAD | Method::GET | Method::PUT | Method::POST | Method::DELETE) {
        let mut response = (
            StatusCode::METHOD_NOT_ALLOWED,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8"), (header::X_CONTENT_TYPE_OPTIONS, "nosniff")],
            "Method Not Allowed\n",
        )
            .into_response();
        response.headers_mut().insert(header::ALLOW, HeaderValue::from_static("HEAD,GET,PUT,POST,DELETE"));
        return response;
    }
    let raw_path = uri.path().strip_prefix("/v2/keys").unwrap_or("");
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let request = match parse_key_request(&method, raw_path, uri.query(), content_type, &body) {
        Ok(request) => request,
        Err(e) => return error_response(&e, cluster_id),
    };
    let result = match method {
        Method::GET | Method::HEAD if request.wait => return watch(&core, &request, cluster_id),
        Method::GET | Method::HEAD => read(&core, &request).await,
        _ => write(&core, &method, &request).await,
    };
    match result {
        Ok(event) => event_response(&core, &event, request.no_value_on_success, cluster_id),
        Err(e) => error_response(&e, cluster_id),
    }
}

async fn read<B: Backend>(core: &Core<B>, request: &KeyRequest) -> Result<Event, V2Error> {
    if request.quorum {
        core.linearizable_read().await.map_err(|e| raft_error(core, &e))?;
    }
    let now = crate::v2::unix_nanos();
    core.state.v2.lock().get(&request.path, request.recursive, request.sorted, now)
}

fn raft_error<B: Backend>(core: &Core<B>, e: &crate::error::RequestError) -> V2Error {
    let _ = core;
    V2Error::new(Code::RaftInternal, e.to_string(), 0)
}

/// The replicated request a parsed keys write becomes, its TTL counted from `now`
/// (Unix nanoseconds).
pub fn proposal(method: &Method, request: &KeyRequest, now: i64) -> V2Request {
    let expiration = match request.ttl {
        Some(ttl) => {
            let ttl = i64::try_from(ttl).unwrap_or(i64::MAX).saturating_mul(1_000_000_000);
            now.saturating_add(ttl)
        }
        None => 0,
    };
    V2Request {
        method: method.as_str().to_owned(),
        path: request.path.clone(),
        val: request.value.clone(),
        dir: request.dir,
        prev_value: request.prev_value.clone(),
        prev_index: request.prev_index,
        prev_exist: match request.prev_exist {
            None => 0,
            Some(true) => 1,
            Some(false) => 2,
        },
        expiration,
        recursive: request.recursive,
        refresh: request.refresh,
        time: 0,
    }
}

async fn write<B: Backend>(core: &Core<B>, method: &Method, request: &KeyRequest) -> Result<Event, V2Error> {
    let proposal = proposal(method, request, crate::v2::unix_nanos());
    match core.propose(Internal::V2(proposal)).await {
        Ok(Applied::V2(result)) => *result,
        Ok(other) => Err(V2Error::new(Code::RaftInternal, format!("unexpected result {other:?}"), 0)),
        Err(e) => Err(raft_error(core, &e)),
    }
}

fn raft_headers<B: Backend>(core: &Core<B>, etcd_index: u64, cluster_id: u64) -> Vec<(&'static str, String)> {
    let (commit, term) = core.node.with_status(|s| (s.commit, s.term));
    vec![
        ("x-etcd-cluster-id", format!("{cluster_id:x}")),
        ("x-etcd-index", etcd_index.to_string()),
        ("x-raft-index", commit.to_string()),
        ("x-raft-term", term.to_string()),
    ]
}

fn event_response<B: Backend>(core: &Core<B>, event: &Event, no_value: bool, cluster_id: u64) -> Response {
    let status = if event.is_created() { StatusCode::CREATED } else { StatusCode::OK };
    let mut event = event.clone();
    if no_value && matches!(event.action, "set" | "compareAndSwap" | "create" | "update") {
        event.node = Default::default();
        event.prev_node = None;
    }
    let body = if no_value && event.node == Default::default() {
        // etcd drops the node (a nil pointer) altogether.
        #[derive(Serialize)]
        struct Bare<'a> {
            action: &'a str,
        }
        serde_json::to_string(&Bare { action: event.action })
    } else {
        serde_json::to_string(&event)
    };
    let mut body = body.unwrap_or_default();
    body.push('\n');
    json_response(status, body, &raft_headers(core, event.etcd_index, cluster_id))
}

/// A `wait=true` GET: the headers at once, then one event (or every event
/// with `stream=true`) as a JSON line each, until the client goes.
fn watch<B: Backend>(core: &Core<B>, request: &KeyRequest, cluster_id: u64) -> Response {
    let watched = core.state.v2.lock().watch(&request.path, request.recursive, request.stream, request.wait_index);
    let watched = match watched {
        Ok(w) => w,
        Err(e) => return error_response(&e, cluster_id),
    };
    let stream = request.stream;
    let start = watched.start_index;
    let mut watched = watched;
    let lines = async_stream_lines(move |tx| async move {
        while let Some(event) = watched.events.recv().await {
            let mut line = serde_json::to_string(&*event).unwrap_or_default();
            line.push('\n');
            if tx.send(Ok::<_, std::convert::Infallible>(Bytes::from(line))).await.is_err() || !stream {
                return;
            }
        }
    });
    let mut response = Response::new(Body::from_stream(lines));
    for (name, value) in raft_headers(core, start, cluster_id) {
        if let Ok(value) = HeaderValue::from_str(&value) {
            response.headers_mut().insert(name, value);
        }
    }
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// A stream fed by a task through a bounded channel.
fn async_stream_lines<F, Fut>(
    produce: F,
) -> tokio_stream::wrappers::ReceiverStream<Result<Bytes, std::convert::Infallible>>
where
    F: FnOnce(tokio::sync::mpsc::Sender<Result<Bytes, std::convert::Infallible>>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    tokio::spawn(produce(tx));
    tokio_stream::wrappers::ReceiverStream::new(rx)
}

/// A member as `/v2/members` shows it (etcd's `httptypes.Member`).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct V2Member {
    id: String,
    name: String,
    #[serde(rename = "peerURLs")]
    peer_urls: Vec<String>,
    #[serde(rename = "clientURLs")]
    client_urls: Vec<String>,
}

#[derive(Serialize)]
struct V2Members {
    members: Vec<V2Member>,
}

async fn members<B: Backend>(State(core): State<Arc<Core<B>>>) -> Response {
    if !core.enable_v2 {
        return not_found();
    }
    let members = core
        .state
        .members
        .read()
        .members
        .values()
        .map(|m| V2Member {
            id: format!("{:x}", m.id),
            name: m.name.clone(),
            peer_urls: m.peer_urls.clone(),
            client_urls: m.client_urls.clone(),
        })
        .collect();
    let cluster_id = format!("{:x}", core.state.cluster_id());
    let mut body = serde_json::to_string(&V2Members { members }).unwrap_or_default();
    body.push('\n');
    json_response(StatusCode::OK, body, &[("x-etcd-cluster-id", cluster_id)])
}

async fn members_leader<B: Backend>(State(core): State<Arc<Core<B>>>) -> Response {
    if !core.enable_v2 {
        return not_found();
    }
    let leader = core.node.status().leader_id.and_then(|id| core.state.members.read().members.get(&id).cloned());
    let Some(m) = leader else {
        return (StatusCode::SERVICE_UNAVAILABLE, "During election\n").into_response();
    };
    let member = V2Member {
        id: format!("{:x}", m.id),
        name: m.name.clone(),
        peer_urls: m.peer_urls.clone(),
        client_urls: m.client_urls.clone(),
    };
    let mut body = serde_json::to_string(&member).unwrap_or_default();
    body.push('\n');
    json_response(StatusCode::OK, body, &[("x-etcd-cluster-id", format!("{:x}", core.state.cluster_id()))])
}

async fn machines<B: Backend>(State(core): State<Arc<Core<B>>>) -> Response {
    if !core.enable_v2 {
        return not_found();
    }
    let urls: Vec<String> =
        core.state.members.read().members.values().flat_map(|m| m.client_urls.iter().cloned()).collect();
    urls.join(", ").into_response()
}

/// etcd's `ServerStats` JSON.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SelfStats {
    name: String,
    id: String,
    state: &'static str,
    start_time: String,
    leader_info: LeaderInfo,
    recv_append_request_cnt: u64,
    send_append_request_cnt: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LeaderInfo {
    leader: String,
    uptime: String,
    start_time: String,
}

async fn stats_self<B: Backend>(State(core): State<Arc<Core<B>>>) -> Response {
    if !core.enable_v2 {
        return not_found();
    }
    let status = core.node.status();
    let state = match status.role {
        cairn_raft::Role::Leader => "StateLeader",
        cairn_raft::Role::Candidate | cairn_raft::Role::PreCandidate => "StateCandidate",
        _ => "StateFollower",
    };
    let since = core.state.metrics.leader_since();
    let started = system_nanos(core.started);
    let stats = SelfStats {
        name: core.name.clone(),
        id: format!("{:x}", core.member_id),
        state,
        start_time: crate::v2::store::rfc3339_nanos(started),
        leader_info: LeaderInfo {
            leader: status.leader_id.map(|id| format!("{id:x}")).unwrap_or_default(),
            uptime: go_duration(since.map(|s| s.elapsed()).unwrap_or_default()),
            start_time: crate::v2::store::rfc3339_nanos(
                since.map_or(started, |s| crate::v2::unix_nanos() - i64::try_from(s.elapsed().as_nanos()).unwrap_or(0)),
            ),
        },
        recv_append_request_cnt: core.state.metrics.recv_appends(),
        send_append_request_cnt: core.state.metrics.send_appends(),
    };
    // etcd writes its stats without a trailing newline.
    let body = serde_json::to_string(&stats).unwrap_or_default();
    json_response(StatusCode::OK, body, &[])
}

async fn stats_leader<B: Backend>(State(core): State<Arc<Core<B>>>) -> Response {
    if !core.enable_v2 {
        return not_found();
    }
    if !core.is_leader() {
        return json_response(StatusCode::FORBIDDEN, "{\"message\":\"not current leader\"}\n".to_owned(), &[]);
    }
    let body = core.state.metrics.leader_stats_json(core.member_id);
    json_response(StatusCode::OK, body, &[])
}

async fn stats_store<B: Backend>(State(core): State<Arc<Core<B>>>) -> Response {
    if !core.enable_v2 {
        return not_found();
    }
    let stats = core.state.v2.lock().stats();
    let body = serde_json::to_string(&stats).unwrap_or_default();
    json_response(StatusCode::OK, body, &[])
}

fn system_nanos(at: std::time::SystemTime) -> i64 {
    at.duration_since(std::time::UNIX_EPOCH).map(|d| i64::try_from(d.as_nanos()).unwrap_or(0)).unwrap_or(0)
}

/// A duration as Go's `time.Duration.String` writes it (`1h2m3.5s`, `1.5ms`).
pub fn go_duration(d: Duration) -> String {
    let nanos = d.as_nanos();
    if nanos == 0 {
        return "0s".to_owned();
    }
    let frac = |value: u128, unit: u128| -> String {
        let whole = value / unit;
        let rest = value % unit;
        if rest == 0 {
            whole.to_string()
        } else {
            let width = unit.ilog10() as usize;
            let digits = format!("{rest:0width$}");
            format!("{whole}.{}", digits.trim_end_matches('0'))
        }
    };
    if nanos < 1_000 {
        return format!("{nanos}ns");
    }
    if nanos < 1_000_000 {
        return format!("{}µs", frac(nanos, 1_000));
    }
    if nanos < 1_000_000_000 {
        return format!("{}ms", frac(nanos, 1_000_000));
    }
    let secs_total = nanos / 1_000_000_000;
    let hours = secs_total / 3600;
    let minutes = (secs_total % 3600) / 60;
    let seconds = frac(nanos % 60_000_000_000, 1_000_000_000);
    match (hours, minutes) {
        (0, 0) => format!("{seconds}s"),
        (0, m) => format!("{m}m{seconds}s"),
        (h, m) => format!("{h}h{m}m{seconds}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(method: Method, path: &str, query: &str, body: &str) -> Result<KeyRequest, V2Error> {
        let ct = (!body.is_empty()).then_some("application/x-www-form-urlencoded");
        parse_key_request(&method, path, Some(query), ct, body.as_bytes())
    }

    #[test]
    fn fields_are_parsed_with_etcds_errors() {
        let r = parse(Method::PUT, "/a%20b/../c", "ttl=5&prevExist=false", "value=hello%2C+etcd&value=x").expect("ok");
        assert_eq!(
            (r.path.as_str(), r.value.as_str(), r.ttl, r.prev_exist),
            ("/c", "hello, etcd", Some(5), Some(false))
        );
        let e = parse(Method::PUT, "/k", "ttl=abc", "").expect_err("an error");
        assert_eq!((e.code, e.cause.as_str()), (Code::TtlNaN, r#"invalid value for "ttl""#));
        let e = parse(Method::PUT, "/k", "prevIndex=-1", "").expect_err("an error");
        assert_eq!(e.code, Code::IndexNaN);
        let e = parse(Method::PUT, "/k", "wait=true", "").expect_err("an error");
        assert_eq!(e.cause, r#""wait" can only be used with GET requests"#);
        let e = parse(Method::GET, "/k", "recursive=yes", "").expect_err("an error");
        assert_eq!((e.code, e.cause.as_str()), (Code::InvalidField, r#"invalid value for "recursive""#));
        let e = parse(Method::PUT, "/k", "prevValue=", "").expect_err("an error");
        assert_eq!(e.code, Code::PrevValueRequired);
        let e = parse(Method::PUT, "/k", "refresh=true", "").expect_err("an error");
        assert_eq!(e.code, Code::RefreshTtlRequired);
        let e = parse(Method::PUT, "/k", "refresh=true&ttl=1&value=v", "").expect_err("an error");
        assert_eq!(e.code, Code::RefreshValue);
        let e = parse(Method::GET, "/k", "a=%zz", "").expect_err("an error");
        assert_eq!((e.code, e.cause.as_str()), (Code::InvalidForm, r#"invalid URL escape "%zz""#));
        // A form body counts only for PUT and POST, and before the query.
        let r = parse(Method::DELETE, "/k", "prevValue=q", "prevValue=b").expect("ok");
        assert_eq!(r.prev_value, "q");
        let r = parse(Method::POST, "/k", "value=q", "value=b").expect("ok");
        assert_eq!(r.value, "b");
    }

    #[test]
    fn durations_print_as_go_does() {
        assert_eq!(go_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(go_duration(Duration::from_secs(3723)), "1h2m3s");
        assert_eq!(go_duration(Duration::from_micros(1500)), "1.5ms");
        assert_eq!(go_duration(Duration::from_secs(62) + Duration::from_nanos(5)), "1m2.000000005s");
    }
}
