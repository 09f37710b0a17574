//! `/v3/cluster/member/*`: the Cluster service.

use std::sync::Arc;

use cairn_mvcc::Backend;
use cairn_proto::etcdserverpb::cluster_server::Cluster;

use super::unary_route;
use crate::api::grpc::cluster::ClusterService;
use crate::core::Core;

pub(super) fn routes<B: Backend>() -> axum::Router<Arc<Core<B>>> {
    axum::Router::new()
        .route("/v3/cluster/member/add", unary_route!(ClusterService, Cluster, member_add))
        .route("/v3/cluster/member/remove", unary_route!(ClusterService, Cluster, member_remove))
        .route("/v3/cluster/member/update", unary_route!(ClusterService, Cluster, member_update))
        .route("/v3/cluster/member/list", unary_route!(ClusterService, Cluster, member_list))
        .route("/v3/cluster/member/promote", unary_route!(ClusterService, Cluster, member_promote))
}
