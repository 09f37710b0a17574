//! etcd's plain HTTP endpoints on the client port: `/health`, `/version`,
//! `/metrics` and `/debug/vars` (load balancers, scripts and Prometheus use
//! them), the grpc-gateway JSON API (`/v3/...`, [`gateway`]) and, with
//! `--enable-v2`, the v2 API ([`v2`]). On the peer port: `/members` and
//! `/version`, as etcd's peer handler.

#[cfg(feature = "failpoints")]
pub mod failpoints;
pub mod form;
pub mod gateway;
pub mod v2;

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use cairn_mvcc::Backend;
use serde::Serialize;

use crate::api::grpc::maintenance::ETCD_VERSION;
use crate::core::Core;

/// The cluster version cairn reports (etcd 3.4's).
pub const CLUSTER_VERSION: &str = "3.4.0";

#[derive(Serialize)]
struct Version {
    etcdserver: &'static str,
    etcdcluster: &'static str,
}

#[derive(Serialize)]
struct Health {
    health: &'static str,
}

async fn version() -> Json<Version> {
    Json(Version { etcdserver: ETCD_VERSION, etcdcluster: CLUSTER_VERSION })
}

/// Healthy as etcd: a leader is known, no alarm is raised, and a linearizable
/// read completes within a second.
async fn health<B: Backend>(State(core): State<Arc<Core<B>>>) -> (StatusCode, Json<Health>) {
    let healthy = core.require_leader().is_ok()
        && core.state.alarms.read().is_empty()
        && matches!(tokio::time::timeout(Duration::from_secs(1), core.linearizable_read()).await, Ok(Ok(())));
    if healthy {
        (StatusCode::OK, Json(Health { health: "true" }))
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, Json(Health { health: "false" }))
    }
}

async fn metrics<B: Backend>(State(core): State<Arc<Core<B>>>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], crate::metrics::render(&core))
}

/// Go's expvar page: the command line, memory figures and `raft.status`.
async fn debug_vars<B: Backend>(State(core): State<Arc<Core<B>>>) -> impl IntoResponse {
    let status = core.node.status();
    let state = match status.role {
        cairn_raft::Role::Leader => "StateLeader",
        cairn_raft::Role::Candidate => "StateCandidate",
        cairn_raft::Role::PreCandidate => "StatePreCandidate",
        _ => "StateFollower",
    };
    let rss = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map_or(0, |kib| kib * 1024);
    let body = serde_json::json!({
        "cmdline": std::env::args().collect::<Vec<_>>(),
        "memstats": { "Sys": rss },
        "raft.status": {
            "id": format!("{:x}", status.id),
            "term": status.term,
            "commit": status.commit,
            "lead": format!("{:x}", status.leader_id.unwrap_or(0)),
            "raftState": state,
            "applied": status.applied,
            "voters": status.voters.iter().map(|v| format!("{v:x}")).collect::<Vec<_>>(),
            "learners": status.learners.iter().map(|v| format!("{v:x}")).collect::<Vec<_>>(),
        },
    });
    ([(header::CONTENT_TYPE, "application/json; charset=utf-8")], format!("{body}\n"))
}

/// Adds the HTTP endpoints to `router` (the gRPC services), and counts gRPC calls.
pub fn routes<B: Backend>(core: Arc<Core<B>>, router: axum::Router) -> axum::Router {
    let http = axum::Router::new()
        .route("/version", get(version))
        .route("/health", get(health::<B>))
        .route("/metrics", get(metrics::<B>))
        .route("/debug/vars", get(debug_vars::<B>))
        .merge(gateway::routes())
        .merge(v2::routes())
        .with_state(core.clone());
    #[cfg(feature = "failpoints")]
    let http = http.merge(failpoints::routes());
    let router = router.layer(axum::middleware::from_fn_with_state(
        core.clone(),
        crate::api::grpc::require_leader::require_leader::<B>,
    ));
    let app = router.merge(http).layer(axum::middleware::from_fn_with_state(core, crate::metrics::track_grpc::<B>));
    // etcd 3.4 also serves its gateway under `/v3beta/`, rewritten to `/v3/`.
    let beta = app.clone();
    app.route(
        "/v3beta/{*rest}",
        axum::routing::any(move |mut request: axum::extract::Request| {
            let mut app = beta.clone();
            async move {
                let path = request.uri().path_and_query().map_or("/", |p| p.as_str()).replacen("/v3beta/", "/v3/", 1);
                if let Ok(uri) = path.parse() {
                    *request.uri_mut() = uri;
                }
                match tower_service::Service::call(&mut app, request).await {
                    Ok(response) => response,
                    Err(never) => match never {},
                }
            }
        }),
    )
}

/// A member as the peer port's `/members` shows it (etcd's `membership.Member`).
#[derive(Serialize)]
struct PeerMember {
    id: u64,
    #[serde(rename = "peerURLs")]
    peer_urls: Vec<String>,
    #[serde(rename = "isLearner", skip_serializing_if = "std::ops::Not::not")]
    is_learner: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    name: String,
    #[serde(rename = "clientURLs", skip_serializing_if = "Vec::is_empty")]
    client_urls: Vec<String>,
}

async fn peer_members<B: Backend>(State(core): State<Arc<Core<B>>>) -> impl IntoResponse {
    let members: Vec<PeerMember> = core
        .state
        .members
        .read()
        .members
        .values()
        .map(|m| PeerMember {
            id: m.id,
            peer_urls: m.peer_urls.clone(),
            is_learner: m.is_learner,
            name: m.name.clone(),
            client_urls: m.client_urls.clone(),
        })
        .collect();
    let cluster_id = format!("{:x}", core.state.cluster_id());
    (
        [
            (header::CONTENT_TYPE, "application/json".to_owned()),
            (header::HeaderName::from_static("x-etcd-cluster-id"), cluster_id),
        ],
        format!("{}\n", serde_json::to_string(&members).unwrap_or_default()),
    )
}

/// Adds the peer port's HTTP endpoints to `router` (the peer gRPC services).
pub fn peer_routes<B: Backend>(core: Arc<Core<B>>, router: axum::Router) -> axum::Router {
    let http =
        axum::Router::new().route("/version", get(version)).route("/members", get(peer_members::<B>)).with_state(core);
    router.merge(http)
}
