//! etcd 3.4's grpc-gateway JSON API on the client port: `POST /v3/kv/range`
//! and friends, protobuf JSON in and out (proto field names, 64-bit integers
//! as strings, bytes as base64, zero values omitted), answered by the same
//! service impls as gRPC.

mod auth;
mod cluster;
mod coordination;
mod error;
mod kv;
mod lease;
mod maintenance;
mod stream;
mod watch;

use std::future::Future;
use std::sync::Arc;

use axum::body::Bytes;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use cairn_mvcc::Backend;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tonic::Status;

use crate::core::Core;

/// The gateway's routes, with the server core as state.
pub fn routes<B: Backend>() -> axum::Router<Arc<Core<B>>> {
    axum::Router::new()
        .merge(kv::routes())
        .merge(lease::routes())
        .merge(maintenance::routes())
        .merge(cluster::routes())
        .merge(watch::routes())
        .merge(coordination::routes())
        .merge(auth::routes())
}

/// A JSON response with `status`.
fn json(status: StatusCode, body: Vec<u8>) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// Decodes a JSON request body; an empty body is the default request, as
/// grpc-gateway takes EOF.
fn parse_request<Req: DeserializeOwned + Default>(body: &[u8]) -> Result<Req, Status> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Req::default());
    }
    serde_json::from_slice(body).map_err(|e| Status::invalid_argument(e.to_string()))
}

/// Decodes `body` (see [`parse_request`]), calls the service and encodes its
/// answer or error.
async fn unary<Req, Resp, F, Fut>(body: Bytes, call: F) -> Response
where
    Req: DeserializeOwned + Default,
    Resp: Serialize,
    F: FnOnce(Req) -> Fut,
    Fut: Future<Output = Result<tonic::Response<Resp>, Status>>,
{
    let request = match parse_request(&body) {
        Ok(request) => request,
        Err(status) => return error::response(&status),
    };
    match call(request).await {
        Ok(response) => match serde_json::to_vec(response.get_ref()) {
            Ok(body) => json(StatusCode::OK, body),
            Err(e) => error::response(&Status::internal(e.to_string())),
        },
        Err(status) => error::response(&status),
    }
}

/// `message` as a gRPC request, with the HTTP `Authorization` header (the
/// token, as etcd's gateway takes it) as its `token` metadata.
pub(super) fn grpc_request<T>(message: T, headers: &axum::http::HeaderMap) -> tonic::Request<T> {
    let token = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    crate::api::grpc::authz::forwarded(message, token)
}

/// A `POST` route calling `<$svc<B> as $trait>::$method` through [`unary`].
macro_rules! unary_route {
    ($svc:ident, $trait:path, $method:ident) => {
        axum::routing::post(
            |axum::extract::State(core): axum::extract::State<std::sync::Arc<crate::core::Core<B>>>,
             headers: axum::http::HeaderMap,
             body: axum::body::Bytes| async move {
                super::unary(body, |request| async move {
                    let service = $svc::new(core);
                    <$svc<B> as $trait>::$method(&service, super::grpc_request(request, &headers)).await
                })
                .await
            },
        )
    };
}
use unary_route;
