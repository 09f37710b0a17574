//! etcd's plain HTTP endpoints on the client port: `/health` and `/version`
//! (load balancers and scripts probe them with curl), and the grpc-gateway
//! JSON API (`/v3/...`, [`gateway`]).

pub mod gateway;

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
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

/// Adds the HTTP endpoints to `router` (the gRPC services).
pub fn routes<B: Backend>(core: Arc<Core<B>>, router: axum::Router) -> axum::Router {
    let http = axum::Router::new()
        .route("/version", get(version))
        .route("/health", get(health::<B>))
        .merge(gateway::routes())
        .with_state(core);
    router.merge(http)
}
