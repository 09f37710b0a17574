//! `/v3/lease/*` (and the older `/v3/kv/lease/*` aliases): the Lease service.

use std::sync::Arc;

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
        .route("/v3/lease/leases", unary_route!(LeaseService, Lease, lease_leases))
        .route("/v3/kv/lease/leases", unary_route!(LeaseService, Lease, lease_leases))
}
