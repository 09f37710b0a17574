//! `/v3/lease/*` (and the older `/v3/kv/lease/*` aliases): the Lease service.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use cairn_mvcc::Backend;
use cairn_proto::etcdserverpb::lease_server::Lease;

use super::unary_route;
use crate::api::grpc::lease::LeaseService;
use crate::core::Core;

pub(super) fn routes<B: Backend>() -> axum::Router<Arc<Core<B>>> {
    axum::Router::new()
        .route("/v3/lease/grant", unary_route!(LeaseService, Lease, lease_grant))
        .route("/v3/lease/revoke", unary_route!(LeaseService, Lease, lease_revoke))
        .route("/v3/kv/lease/revoke", unary_route!(LeaseService, Lease, lease_revoke))
        .route("/v3/lease/timetolive", unary_route!(LeaseService, Lease, lease_time_to_live))
        .route("/v3/kv/lease/timetolive", unary_route!(LeaseService, Lease, lease_time_to_live))
        .route("/v3/lease/keepalive", axum::routing::post(keep_alive::<B>))
        .route("/v3/lease/leases", unary_route!(LeaseService, Lease, lease_leases))
        .route("/v3/kv/lease/leases", unary_route!(LeaseService, Lease, lease_leases))
}

/// `/v3/lease/keepalive`: each JSON `LeaseKeepAliveRequest` of the body is
/// answered with a `{"result": LeaseKeepAliveResponse}` line.
async fn keep_alive<B: Backend>(State(core): State<Arc<Core<B>>>, headers: HeaderMap, body: Body) -> Response {
    super::stream::bidi(body, true, |requests| async move {
        let service = LeaseService::new(core);
        <LeaseService<B> as Lease>::lease_keep_alive(&service, super::grpc_request(requests, &headers)).await
    })
    .await
}
