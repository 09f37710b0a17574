//! Streaming calls through the gateway, as etcd's grpc-gateway streams them:
//! one `{"result": ...}` (or `{"error": ...}`) JSON line per response. For
//! server streams (`/v3/maintenance/snapshot`, `/v3/election/observe`) the body
//! is one JSON request; for bidirectional streams (`/v3/watch`,
//! `/v3/lease/keepalive`) it is a sequence of JSON requests, re-framed as gRPC
//! messages and handed to the service as its request stream. As in etcd, the
//! end of the request body does not end a bidirectional call: the response
//! runs until the service ends it or the client goes away.

use std::convert::Infallible;
use std::future::Future;

use axum::body::{Body, Bytes};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use prost::Message;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::{Stream, StreamExt};
use tonic::Status;
use tonic::codec::Streaming;

use super::error::{self, StreamError};

/// Requests buffered between the JSON reader and the service.
const REQUEST_BUFFER: usize = 16;

#[derive(Serialize)]
struct ResultLine<'a, T> {
    result: &'a T,
}

#[derive(Serialize)]
struct ErrorLine<'a> {
    error: StreamError<'a>,
}

/// One response as a JSON line.
fn line<T: Serialize>(item: Result<T, Status>) -> Result<Bytes, Infallible> {
    let mut out = match &item {
        Ok(response) => serde_json::to_vec(&ResultLine { result: response }),
        Err(status) => serde_json::to_vec(&ErrorLine { error: StreamError::new(status) }),
    }
    .unwrap_or_default();
    out.push(b'\n');
    Ok(Bytes::from(out))
}

fn lines<T, S>(responses: S) -> Response
where
    T: Serialize + Send + 'static,
    S: Stream<Item = Result<T, Status>> + Send + 'static,
{
    (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], Body::from_stream(responses.map(line)))
        .into_response()
}

/// A server-streaming call: `body` is one JSON request (empty: the default).
pub(super) async fn server_stream<Req, Resp, S, F, Fut>(body: Bytes, call: F) -> Response
where
    Req: DeserializeOwned + Default,
    Resp: Serialize + Send + 'static,
    S: Stream<Item = Result<Resp, Status>> + Send + 'static,
    F: FnOnce(Req) -> Fut,
    Fut: Future<Output = Result<tonic::Response<S>, Status>>,
{
    let request = match super::parse_request(&body) {
        Ok(request) => request,
        Err(status) => return error::response(&status),
    };
    match call(request).await {
        Ok(response) => lines(response.into_inner()),
        Err(status) => error::response(&status),
    }
}

/// A bidirectional call: the JSON requests of `body` become the request
/// stream, which ends with the body when `end_with_body` (the lease
/// keep-alive, as etcd's gateway) or stays open while the response is
/// streamed (the watch).
pub(super) async fn bidi<Req, Resp, S, F, Fut>(body: Body, end_with_body: bool, call: F) -> Response
where
    Req: DeserializeOwned + Message + Default + Send + 'static,
    Resp: Serialize + Send + 'static,
    S: Stream<Item = Result<Resp, Status>> + Send + 'static,
    F: FnOnce(Streaming<Req>) -> Fut,
    Fut: Future<Output = Result<tonic::Response<S>, Status>>,
{
    let (frames_tx, frames_rx) = mpsc::channel(REQUEST_BUFFER);
    let keep_open = (!end_with_body).then(|| frames_tx.clone());
    tokio::spawn(read_requests::<Req>(body, frames_tx));
    let requests = Streaming::new_request(
        tonic_prost::ProstDecoder::<Req>::default(),
        Body::from_stream(ReceiverStream::new(frames_rx)),
        None,
        None,
    );
    match call(requests).await {
        Ok(response) => {
            // The request stream stays open while the response is streamed;
            // dropping the response (the client left) ends it, and the call.
            lines(response.into_inner().map(move |item| {
                let _ = &keep_open;
                item
            }))
        }
        Err(status) => error::response(&status),
    }
}

/// One gRPC message frame: uncompressed flag, big-endian length, message.
fn frame<T: Message>(request: &T) -> Bytes {
    let message = request.encode_to_vec();
    let mut out = Vec::with_capacity(5 + message.len());
    out.push(0);
    out.extend_from_slice(&u32::try_from(message.len()).unwrap_or(u32::MAX).to_be_bytes());
    out.extend_from_slice(&message);
    Bytes::from(out)
}

/// Reads JSON requests (concatenated, whitespace-separated) from `body` and
/// sends them as gRPC frames; stops at the end of the body or at a request
/// that does not parse.
async fn read_requests<T: DeserializeOwned + Message>(body: Body, frames: mpsc::Sender<Result<Bytes, Infallible>>) {
    let mut chunks = body.into_data_stream();
    let mut buffer: Vec<u8> = Vec::new();
    while let Some(Ok(chunk)) = chunks.next().await {
        buffer.extend_from_slice(&chunk);
        let mut parsed = Vec::new();
        let mut consumed = 0;
        let mut stream = serde_json::Deserializer::from_slice(&buffer).into_iter::<T>();
        let mut failed = false;
        loop {
            match stream.next() {
                Some(Ok(request)) => {
                    consumed = stream.byte_offset();
                    parsed.push(request);
                }
                Some(Err(e)) if e.is_eof() => break,
                Some(Err(_)) => {
                    failed = true;
                    break;
                }
                None => break,
            }
        }
        buffer.drain(..consumed);
        for request in &parsed {
            if frames.send(Ok(frame(request))).await.is_err() {
                return;
            }
        }
        if failed {
            return;
        }
    }
}
