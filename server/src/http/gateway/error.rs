//! Errors as etcd's grpc-gateway (v1) answers them: `{"error", "message",
//! "code"}` with the HTTP status grpc-gateway maps the gRPC code to.

use axum::http::StatusCode;
use axum::response::Response;
use serde::Serialize;
use tonic::{Code, Status};

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    message: &'a str,
    code: i32,
}

/// The body of a failed streaming call's line (`{"error": ...}`).
#[derive(Serialize)]
pub(super) struct StreamError<'a> {
    grpc_code: i32,
    http_code: u16,
    message: &'a str,
    http_status: &'a str,
}

impl<'a> StreamError<'a> {
    pub(super) fn new(status: &'a Status) -> Self {
        let http = http_status(status.code());
        StreamError {
            grpc_code: status.code() as i32,
            http_code: http.as_u16(),
            message: status.message(),
            http_status: http.canonical_reason().unwrap_or(""),
        }
    }
}

/// grpc-gateway v1's `HTTPStatusFromCode`.
pub(super) fn http_status(code: Code) -> StatusCode {
    match code {
        Code::Ok => StatusCode::OK,
        Code::Cancelled => StatusCode::REQUEST_TIMEOUT,
        Code::Unknown | Code::Internal | Code::DataLoss => StatusCode::INTERNAL_SERVER_ERROR,
        Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange => StatusCode::BAD_REQUEST,
        Code::DeadlineExceeded => StatusCode::GATEWAY_TIMEOUT,
        Code::NotFound => StatusCode::NOT_FOUND,
        Code::AlreadyExists | Code::Aborted => StatusCode::CONFLICT,
        Code::PermissionDenied => StatusCode::FORBIDDEN,
        Code::Unauthenticated => StatusCode::UNAUTHORIZED,
        Code::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
        Code::Unimplemented => StatusCode::NOT_IMPLEMENTED,
        Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
    }
}

/// The gateway's answer to a failed unary call.
pub(super) fn response(status: &Status) -> Response {
    let body = ErrorBody { error: status.message(), message: status.message(), code: status.code() as i32 };
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    super::json(http_status(status.code()), bytes)
}
