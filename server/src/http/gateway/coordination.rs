//! `/v3/lock/*` and `/v3/election/*`: the Lock and Election services.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use cairn_mvcc::Backend;
use cairn_proto::v3electionpb::election_server::Election;
use cairn_proto::v3lockpb::lock_server::Lock;

use super::unary_route;
use crate::api::grpc::election::ElectionService;
use crate::api::grpc::lock::LockService;
use crate::core::Core;

pub(super) fn routes<B: Backend>() -> axum::Router<Arc<Core<B>>> {
    axum::Router::new()
        .route("/v3/lock/lock", unary_route!(LockService, Lock, lock))
        .route("/v3/lock/unlock", unary_route!(LockService, Lock, unlock))
        .route("/v3/election/campaign", unary_route!(ElectionService, Election, campaign))
        .route("/v3/election/proclaim", unary_route!(ElectionService, Election, proclaim))
        .route("/v3/election/leader", unary_route!(ElectionService, Election, leader))
        .route("/v3/election/resign", unary_route!(ElectionService, Election, resign))
        .route("/v3/election/observe", axum::routing::post(observe::<B>))
}

async fn observe<B: Backend>(State(core): State<Arc<Core<B>>>, headers: HeaderMap, body: Bytes) -> Response {
    super::stream::server_stream(body, |request| async move {
        let service = ElectionService::new(core);
        <ElectionService<B> as Election>::observe(&service, super::grpc_request(request, &headers)).await
    })
    .await
}
