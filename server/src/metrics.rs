//! What `/metrics` shows, in Prometheus' text format under etcd's metric
//! names, so dashboards and alerts made for etcd work: leadership and
//! proposals (`etcd_server_*`), WAL fsync and backend commit latencies
//! (`etcd_disk_*`), the database size (`etcd_mvcc_*`), peer round trips
//! (`etcd_network_peer_round_trip_time_seconds`, measured by probing each
//! peer's `/version`), gRPC request counters (`grpc_server_*`) and the
//! process (`process_*`).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use bytes::Bytes;
use cairn_mvcc::Backend;
use cairn_raft::wal_metrics::{DISK_BUCKETS, Histogram, HistogramSnapshot};
use parking_lot::Mutex;

use crate::core::Core;

/// etcd's buckets for peer round trips: 0.0001 * 2^n seconds, n in 0..16.
const RTT_BUCKETS: &[f64] = &[
    0.0001, 0.0002, 0.0004, 0.0008, 0.0016, 0.0032, 0.0064, 0.0128, 0.0256, 0.0512, 0.1024, 0.2048, 0.4096, 0.8192,
    1.6384, 3.2768,
];

/// Leadership as this member has seen it.
#[derive(Debug, Default)]
struct Leadership {
    leader: Option<u64>,
    changes: u64,
    since: Option<Instant>,
}

/// Round trips to one peer.
#[derive(Debug)]
struct Peer {
    rtt: Histogram,
    success: u64,
    fail: u64,
    current: f64,
    sum: f64,
    sum_squares: f64,
    min: f64,
    max: f64,
}

impl Peer {
    fn new() -> Self {
        Peer {
            rtt: Histogram::new(RTT_BUCKETS),
            success: 0,
            fail: 0,
            current: 0.0,
            sum: 0.0,
            sum_squares: 0.0,
            min: f64::MAX,
            max: 0.0,
        }
    }
}

/// gRPC calls of one method.
#[derive(Debug, Default)]
struct Calls {
    started: u64,
    handled: BTreeMap<&'static str, u64>,
}

/// The server's counters and histograms.
pub struct Metrics {
    proposals_pending: AtomicI64,
    proposals_failed: AtomicU64,
    leadership: Mutex<Leadership>,
    /// How long each backend commit of an applied batch takes.
    pub backend_commit: Histogram,
    peers: Mutex<BTreeMap<u64, Peer>>,
    grpc: Mutex<BTreeMap<(&'static str, String, String), Calls>>,
    recv_appends: AtomicU64,
    send_appends: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            proposals_pending: AtomicI64::new(0),
            proposals_failed: AtomicU64::new(0),
            leadership: Mutex::new(Leadership::default()),
            backend_commit: Histogram::new(DISK_BUCKETS),
            peers: Mutex::new(BTreeMap::new()),
            grpc: Mutex::new(BTreeMap::new()),
            recv_appends: AtomicU64::new(0),
            send_appends: AtomicU64::new(0),
        }
    }
}

/// Counts a proposal as pending until dropped.
pub struct Pending<'a>(&'a Metrics);

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        self.0.proposals_pending.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Metrics {
    /// A proposal is under way until the guard is dropped.
    pub fn pending(&self) -> Pending<'_> {
        self.proposals_pending.fetch_add(1, Ordering::Relaxed);
        Pending(self)
    }

    /// A proposal failed.
    pub fn proposal_failed(&self) {
        self.proposals_failed.fetch_add(1, Ordering::Relaxed);
    }

    /// Follows the leader this member knows (counting changes).
    pub fn observe_leader(&self, leader: Option<u64>) {
        let mut l = self.leadership.lock();
        if l.leader != leader {
            if leader.is_some() {
                l.changes += 1;
                l.since = Some(Instant::now());
            } else {
                l.since = None;
            }
            l.leader = leader;
        }
    }

    /// Since when the current leader has led, as this member saw it.
    pub fn leader_since(&self) -> Option<Instant> {
        self.leadership.lock().since
    }

    /// Raft messages received from peers (the peer service's count).
    pub fn recv_appends(&self) -> u64 {
        self.recv_appends.load(Ordering::Relaxed)
    }

    /// Raft messages sent to peers (the transport's count).
    pub fn send_appends(&self) -> u64 {
        self.send_appends.load(Ordering::Relaxed)
    }

    /// Sets the received and sent raft message counts.
    pub fn set_appends(&self, received: u64, sent: u64) {
        self.recv_appends.store(received, Ordering::Relaxed);
        self.send_appends.store(sent, Ordering::Relaxed);
    }

    /// Records a probe of peer `id`: its round trip, or a failure.
    pub fn observe_peer(&self, id: u64, rtt: Option<Duration>) {
        let mut peers = self.peers.lock();
        let peer = peers.entry(id).or_insert_with(Peer::new);
        match rtt {
            Some(rtt) => {
                let secs = rtt.as_secs_f64();
                peer.rtt.observe(rtt);
                peer.success += 1;
                peer.current = secs;
                peer.sum += secs;
                peer.sum_squares += secs * secs;
                peer.min = peer.min.min(secs);
                peer.max = peer.max.max(secs);
            }
            None => peer.fail += 1,
        }
    }

    /// Forgets peers no longer in the cluster.
    pub fn retain_peers(&self, ids: &[u64]) {
        self.peers.lock().retain(|id, _| ids.contains(id));
    }

    /// etcd's `LeaderStats` JSON (`/v2/stats/leader`, no trailing newline), latencies in milliseconds.
    pub fn leader_stats_json(&self, me: u64) -> String {
        #[derive(serde::Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Latency {
            current: f64,
            average: f64,
            standard_deviation: f64,
            minimum: f64,
            maximum: f64,
        }
        #[derive(serde::Serialize)]
        struct Counts {
            fail: u64,
            success: u64,
        }
        #[derive(serde::Serialize)]
        struct Follower {
            latency: Latency,
            counts: Counts,
        }
        #[derive(serde::Serialize)]
        struct LeaderStats {
            leader: String,
            followers: BTreeMap<String, Follower>,
        }
        let peers = self.peers.lock();
        let ms = |s: f64| s * 1000.0;
        let followers = peers
            .iter()
            .map(|(id, p)| {
                let n = p.success.max(1) as f64;
                let average = p.sum / n;
                let variance = (p.sum_squares / n - average * average).max(0.0);
                let latency = Latency {
                    current: ms(p.current),
                    average: ms(average),
                    standard_deviation: ms(variance.sqrt()),
                    minimum: if p.success == 0 { 0.0 } else { ms(p.min) },
                    maximum: ms(p.max),
                };
                (format!("{id:x}"), Follower { latency, counts: Counts { fail: p.fail, success: p.success } })
            })
            .collect();
        serde_json::to_string(&LeaderStats { leader: format!("{me:x}"), followers }).unwrap_or_default()
    }

    fn grpc_started(&self, kind: &'static str, service: &str, method: &str) {
        let mut grpc = self.grpc.lock();
        grpc.entry((kind, service.to_owned(), method.to_owned())).or_default().started += 1;
    }

    fn grpc_handled(&self, kind: &'static str, service: &str, method: &str, code: &'static str) {
        let mut grpc = self.grpc.lock();
        let calls = grpc.entry((kind, service.to_owned(), method.to_owned())).or_default();
        *calls.handled.entry(code).or_default() += 1;
    }
}

/// Renders every metric of `core` in Prometheus' text format (0.0.4).
pub fn render<B: Backend>(core: &Core<B>) -> String {
    let m = &core.state.metrics;
    let status = core.node.status();
    let mut out = String::with_capacity(16 * 1024);
    let (changes, has_leader) = {
        let l = m.leadership.lock();
        (l.changes, status.leader_id.is_some())
    };
    gauge(
        &mut out,
        "etcd_server_has_leader",
        "Whether or not a leader exists. 1 is existence, 0 is not.",
        has_leader as u64,
    );
    gauge(
        &mut out,
        "etcd_server_is_leader",
        "Whether or not this member is a leader. 1 if is, 0 otherwise.",
        (status.role == cairn_raft::Role::Leader) as u64,
    );
    counter(&mut out, "etcd_server_leader_changes_seen_total", "The number of leader changes seen.", changes);
    gauge(
        &mut out,
        "etcd_server_proposals_committed_total",
        "The total number of consensus proposals committed.",
        status.commit,
    );
    gauge(
        &mut out,
        "etcd_server_proposals_applied_total",
        "The total number of consensus proposals applied.",
        status.applied,
    );
    gauge(
        &mut out,
        "etcd_server_proposals_pending",
        "The current number of pending proposals to commit.",
        m.proposals_pending.load(Ordering::Relaxed).max(0) as u64,
    );
    counter(
        &mut out,
        "etcd_server_proposals_failed_total",
        "The total number of failed proposals seen.",
        m.proposals_failed.load(Ordering::Relaxed),
    );
    header(
        &mut out,
        "etcd_server_id",
        "Server or member ID in hexadecimal format. 1 for 'server_id' label with current ID.",
        "gauge",
    );
    let _ = writeln!(out, "etcd_server_id{{server_id=\"{:x}\"}} 1", core.member_id);
    header(
        &mut out,
        "etcd_server_version",
        "Which version is running. 1 for 'server_version' label with current version.",
        "gauge",
    );
    let _ =
        writeln!(out, "etcd_server_version{{server_version=\"{}\"}} 1", crate::api::grpc::maintenance::ETCD_VERSION);
    header(
        &mut out,
        "etcd_cluster_version",
        "Which version is running. 1 for 'cluster_version' label with current cluster version",
        "gauge",
    );
    let _ = writeln!(out, "etcd_cluster_version{{cluster_version=\"3.4\"}} 1");
    histogram(
        &mut out,
        "etcd_disk_wal_fsync_duration_seconds",
        "The latency distributions of fsync called by WAL.",
        "",
        &cairn_raft::wal_metrics::fsync().snapshot(),
    );
    histogram(
        &mut out,
        "etcd_disk_backend_commit_duration_seconds",
        "The latency distributions of commit called by backend.",
        "",
        &m.backend_commit.snapshot(),
    );
    let space = core.state.store.backend().space().ok();
    gauge(
        &mut out,
        "etcd_mvcc_db_total_size_in_bytes",
        "Total size of the underlying database physically allocated in bytes.",
        space.map_or(0, |s| s.allocated),
    );
    gauge(
        &mut out,
        "etcd_mvcc_db_total_size_in_use_in_bytes",
        "Total size of the underlying database logically in use in bytes.",
        space.map_or(0, |s| s.in_use),
    );
    gauge(
        &mut out,
        "etcd_debugging_mvcc_current_revision",
        "The current revision of store.",
        core.state.store.current_revision().max(0) as u64,
    );
    gauge(
        &mut out,
        "etcd_debugging_mvcc_compact_revision",
        "The revision of the last compaction in store.",
        core.state.store.compacted_revision().max(0) as u64,
    );
    {
        let peers = m.peers.lock();
        // Like Prometheus' Go client, a family without series is left out (a single member).
        if !peers.is_empty() {
            header(
                &mut out,
                "etcd_network_peer_round_trip_time_seconds",
                "Round-Trip-Time histogram between peers",
                "histogram",
            );
        }
        for (id, peer) in peers.iter() {
            histogram_lines(
                &mut out,
                "etcd_network_peer_round_trip_time_seconds",
                &format!("To=\"{id:x}\""),
                &peer.rtt.snapshot(),
            );
        }
    }
    {
        let grpc = m.grpc.lock();
        header(&mut out, "grpc_server_started_total", "Total number of RPCs started on the server.", "counter");
        for ((kind, service, method), calls) in grpc.iter() {
            let _ = writeln!(
                out,
                "grpc_server_started_total{{grpc_method=\"{method}\",grpc_service=\"{service}\",grpc_type=\"{kind}\"}} {}",
                calls.started
            );
        }
        header(
            &mut out,
            "grpc_server_handled_total",
            "Total number of RPCs completed on the server, regardless of success or failure.",
            "counter",
        );
        for ((kind, service, method), calls) in grpc.iter() {
            for (code, n) in &calls.handled {
                let _ = writeln!(
                    out,
                    "grpc_server_handled_total{{grpc_code=\"{code}\",grpc_method=\"{method}\",grpc_service=\"{service}\",grpc_type=\"{kind}\"}} {n}"
                );
            }
        }
    }
    process_metrics(&mut out, core.started);
    out
}

fn header(out: &mut String, name: &str, help: &str, kind: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn gauge(out: &mut String, name: &str, help: &str, value: u64) {
    header(out, name, help, "gauge");
    let _ = writeln!(out, "{name} {value}");
}

fn counter(out: &mut String, name: &str, help: &str, value: u64) {
    header(out, name, help, "counter");
    let _ = writeln!(out, "{name} {value}");
}

fn histogram(out: &mut String, name: &str, help: &str, labels: &str, snapshot: &HistogramSnapshot) {
    header(out, name, help, "histogram");
    histogram_lines(out, name, labels, snapshot);
}

fn histogram_lines(out: &mut String, name: &str, labels: &str, s: &HistogramSnapshot) {
    let sep = if labels.is_empty() { "" } else { "," };
    for (bound, count) in &s.buckets {
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{bound}\"}} {count}");
    }
    let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}", s.count);
    let braces = if labels.is_empty() { String::new() } else { format!("{{{labels}}}") };
    let _ = writeln!(out, "{name}_sum{braces} {}", s.sum);
    let _ = writeln!(out, "{name}_count{braces} {}", s.count);
}

/// `process_*` from `/proc/self` (Linux; left out elsewhere).
fn process_metrics(out: &mut String, started: std::time::SystemTime) {
    if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
        let kib = |field: &str| {
            status
                .lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
        };
        if let Some(rss) = kib("VmRSS:") {
            gauge(out, "process_resident_memory_bytes", "Resident memory size in bytes.", rss * 1024);
        }
        if let Some(virt) = kib("VmSize:") {
            gauge(out, "process_virtual_memory_bytes", "Virtual memory size in bytes.", virt * 1024);
        }
    }
    if let Ok(fds) = std::fs::read_dir("/proc/self/fd") {
        gauge(out, "process_open_fds", "Number of open file descriptors.", fds.count() as u64);
    }
    let start = started.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0);
    header(out, "process_start_time_seconds", "Start time of the process since unix epoch in seconds.", "gauge");
    let _ = writeln!(out, "process_start_time_seconds {start}");
}

/// The gRPC method kind, as go-grpc-prometheus labels it.
fn grpc_type(service: &str, method: &str) -> &'static str {
    match (service, method) {
        ("etcdserverpb.Watch", "Watch") | ("etcdserverpb.Lease", "LeaseKeepAlive") => "bidi_stream",
        ("etcdserverpb.Maintenance", "Snapshot") | ("v3electionpb.Election", "Observe") => "server_stream",
        _ => "unary",
    }
}

/// The name of gRPC status code `code`.
fn code_name(code: &str) -> &'static str {
    match code.trim() {
        "0" => "OK",
        "1" => "Canceled",
        "2" => "Unknown",
        "3" => "InvalidArgument",
        "4" => "DeadlineExceeded",
        "5" => "NotFound",
        "6" => "AlreadyExists",
        "7" => "PermissionDenied",
        "8" => "ResourceExhausted",
        "9" => "FailedPrecondition",
        "10" => "Aborted",
        "11" => "OutOfRange",
        "12" => "Unimplemented",
        "13" => "Internal",
        "14" => "Unavailable",
        "15" => "DataLoss",
        "16" => "Unauthenticated",
        _ => "Unknown",
    }
}

/// Middleware counting gRPC calls: started when they arrive, handled with
/// their status code when the response (trailers included) is done.
pub async fn track_grpc<B: Backend>(State(core): State<Arc<Core<B>>>, mut request: Request, next: Next) -> Response {
    // The client certificate's common name, for auth: only the TLS layer may set it.
    request.headers_mut().remove(crate::api::grpc::authz::CLIENT_CN_HEADER);
    let common_name = request.extensions().get::<crate::tls::PeerIdentity>().and_then(|p| p.common_name.clone());
    if let Some(value) = common_name.and_then(|cn| axum::http::HeaderValue::from_str(&cn).ok()) {
        request.headers_mut().insert(crate::api::grpc::authz::CLIENT_CN_HEADER, value);
    }
    let is_grpc = request
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/grpc"));
    let names = is_grpc
        .then(|| {
            let mut parts = request.uri().path().trim_start_matches('/').splitn(2, '/');
            Some((parts.next()?.to_owned(), parts.next()?.to_owned()))
        })
        .flatten();
    let Some((service, method)) = names else { return plain_http(request, next).await };
    let kind = grpc_type(&service, &method);
    core.state.metrics.grpc_started(kind, &service, &method);
    let response = next.run(request).await;
    // A trailers-only response carries its status in the headers.
    if let Some(code) = response.headers().get("grpc-status").and_then(|v| v.to_str().ok()) {
        core.state.metrics.grpc_handled(kind, &service, &method, code_name(code));
        return response;
    }
    let (parts, body) = response.into_parts();
    let body = Counted { inner: body, done: Some(Done { core: core.clone(), kind, service, method }) };
    Response::from_parts(parts, Body::new(body))
}

/// etcd's handling of plain HTTP on the client port: CORS headers allowing
/// any origin (etcd's default `--cors=*`) and `OPTIONS` answered at once.
async fn plain_http(request: Request, next: Next) -> Response {
    let mut response = if request.method() == axum::http::Method::OPTIONS {
        Response::new(Body::empty())
    } else {
        next.run(request).await
    };
    let headers = response.headers_mut();
    headers.insert("access-control-allow-methods", HeaderValue::from_static("POST, GET, OPTIONS, PUT, DELETE"));
    headers.insert("access-control-allow-origin", HeaderValue::from_static("*"));
    headers.insert("access-control-allow-headers", HeaderValue::from_static("accept, content-type, authorization"));
    response
}

struct Done<B: Backend> {
    core: Arc<Core<B>>,
    kind: &'static str,
    service: String,
    method: String,
}

impl<B: Backend> Done<B> {
    fn finish(self, code: &'static str) {
        self.core.state.metrics.grpc_handled(self.kind, &self.service, &self.method, code);
    }
}

/// A response body that reports the call's status once its trailers pass
/// (or `Canceled` if the client goes first).
struct Counted<B: Backend> {
    inner: Body,
    done: Option<Done<B>>,
}

impl<B: Backend> http_body::Body for Counted<B> {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(trailers) = frame.trailers_ref()
                    && let Some(done) = this.done.take()
                {
                    let code = trailers.get("grpc-status").and_then(|v| v.to_str().ok()).unwrap_or("0");
                    done.finish(code_name(code));
                }
            }
            Poll::Ready(None) => {
                if let Some(done) = this.done.take() {
                    done.finish("OK");
                }
            }
            Poll::Ready(Some(Err(_))) => {
                if let Some(done) = this.done.take() {
                    done.finish("Unknown");
                }
            }
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

impl<B: Backend> Drop for Counted<B> {
    fn drop(&mut self) {
        if let Some(done) = self.done.take() {
            done.finish("Canceled");
        }
    }
}

/// Probes each peer's `/version` on its peer URL every `every`, recording
/// round trips (etcd's prober does the same over its peer HTTP).
pub async fn probe_peers<B: Backend>(
    core: Arc<Core<B>>,
    every: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            _ = tick.tick() => {}
        }
        let peers: Vec<(u64, String)> = core
            .state
            .members
            .read()
            .members
            .values()
            .filter(|m| m.id != core.member_id)
            .filter_map(|m| m.peer_urls.first().map(|u| (m.id, u.clone())))
            .collect();
        core.state.metrics.retain_peers(&peers.iter().map(|(id, _)| *id).collect::<Vec<_>>());
        for (id, url) in peers {
            let rtt = probe(&url).await;
            core.state.metrics.observe_peer(id, rtt);
        }
    }
}

/// One HTTP/1.1 `GET /version` to a peer URL's host; the time to the full answer.
async fn probe(url: &str) -> Option<Duration> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = url.strip_prefix("http://")?.trim_end_matches('/');
    let started = Instant::now();
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(host).await.ok()?;
        let request = format!("GET /version HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.ok()?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await.ok()?;
        answer.starts_with(b"HTTP/1.1 200").then_some(())
    };
    tokio::time::timeout(Duration::from_secs(1), exchange).await.ok()??;
    Some(started.elapsed())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_render_cumulative_buckets() {
        let h = Histogram::new(RTT_BUCKETS);
        h.observe(Duration::from_micros(150));
        let mut out = String::new();
        histogram_lines(&mut out, "x", "To=\"a\"", &h.snapshot());
        assert!(out.contains("x_bucket{To=\"a\",le=\"0.0001\"} 0\n"));
        assert!(out.contains("x_bucket{To=\"a\",le=\"0.0002\"} 1\n"));
        assert!(out.contains("x_bucket{To=\"a\",le=\"+Inf\"} 1\nx_sum{To=\"a\"} 0.00015\nx_count{To=\"a\"} 1\n"));
    }

    #[test]
    fn leader_stats_have_etcds_shape() {
        let m = Metrics::default();
        m.observe_peer(0xab, Some(Duration::from_millis(2)));
        m.observe_peer(0xab, Some(Duration::from_millis(4)));
        m.observe_peer(0xab, None);
        let v: serde_json::Value = serde_json::from_str(&m.leader_stats_json(1)).expect("ok");
        assert_eq!(v["leader"], "1");
        let f = &v["followers"]["ab"];
        assert_eq!((f["counts"]["success"].as_u64(), f["counts"]["fail"].as_u64()), (Some(2), Some(1)));
        assert!((f["latency"]["average"].as_f64().expect("ok") - 3.0).abs() < 1e-9);
        assert!((f["latency"]["standardDeviation"].as_f64().expect("ok") - 1.0).abs() < 1e-9);
    }
}
