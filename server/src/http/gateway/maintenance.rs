//! `/v3/maintenance/*`: the Maintenance service (`snapshot` streamed).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use cairn_mvcc::Backend;
use cairn_proto::etcdserverpb::maintenance_server::Maintenance;

use super::unary_route;
use crate::api::grpc::maintenance::MaintenanceService;
use crate::core::Core;

pub(super) fn routes<B: Backend>() -> axum::Router<Arc<Core<B>>> {
    axum::Router::new()
        .route("/v3/maintenance/alarm", unary_route!(MaintenanceService, Maintenance, alarm))
        .route("/v3/maintenance/status", unary_route!(MaintenanceService, Maintenance, status))
        .route("/v3/maintenance/defragment", unary_route!(MaintenanceService, Maintenance, defragment))
        // etcd 3.4 annotates both Hash and HashKV with this path; its gateway
        // serves Hash (registered first).
        .route("/v3/maintenance/hash", unary_route!(MaintenanceService, Maintenance, hash))
        .route("/v3/maintenance/transfer-leadership", unary_route!(MaintenanceService, Maintenance, move_leader))
        .route("/v3/maintenance/snapshot", axum::routing::post(snapshot::<B>))
}

/// `/v3/maintenance/snapshot`: the snapshot as `{"result": {"blob": <base64>, ...}}` lines.
async fn snapshot<B: Backend>(State(core): State<Arc<Core<B>>>, headers: HeaderMap, body: Bytes) -> Response {
    super::stream::server_stream(body, |request| async move {
        let service = MaintenanceService::new(core);
        <MaintenanceService<B> as Maintenance>::snapshot(&service, super::grpc_request(request, &headers)).await
    })
    .await
}
