//! `/v3/kv/*`: the KV service.

use std::sync::Arc;

use cairn_mvcc::Backend;
use cairn_proto::etcdserverpb::kv_server::Kv;

use super::unary_route;
use crate::api::grpc::kv::KvService;
use crate::core::Core;

pub(super) fn routes<B: Backend>() -> axum::Router<Arc<Core<B>>> {
    axum::Router::new()
        .route("/v3/kv/range", unary_route!(KvService, Kv, range))
        .route("/v3/kv/put", unary_route!(KvService, Kv, put))
        .route("/v3/kv/deleterange", unary_route!(KvService, Kv, delete_range))
        .route("/v3/kv/txn", unary_route!(KvService, Kv, txn))
        .route("/v3/kv/compaction", unary_route!(KvService, Kv, compact))
}
