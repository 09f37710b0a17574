//! `/v3/watch`: a streaming `POST` whose body is a sequence of JSON
//! `WatchRequest`s and whose answer is one `{"result": WatchResponse}` line
//! per response (see [`super::stream`]).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use cairn_mvcc::Backend;
use cairn_proto::etcdserverpb::watch_server::Watch;

use crate::api::grpc::watch::WatchService;
use crate::core::Core;

pub(super) fn routes<B: Backend>() -> axum::Router<Arc<Core<B>>> {
    axum::Router::new().route("/v3/watch", axum::routing::post(watch::<B>))
}

async fn watch<B: Backend>(State(core): State<Arc<Core<B>>>, headers: HeaderMap, body: Body) -> Response {
    super::stream::bidi(body, false, |requests| async move {
        let service = WatchService::new(core);
        <WatchService<B> as Watch>::watch(&service, super::grpc_request(requests, &headers)).await
    })
    .await
}
