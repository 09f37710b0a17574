//! `/v3/watch`: a streaming `POST` whose body is a sequence of JSON
//! `WatchRequest`s and whose answer is one `{"result": WatchResponse}` line
//! per response, as etcd's grpc-gateway streams it.
//!
//! The JSON requests are re-framed as gRPC messages and handed to the watch
//! service as its request stream. As in etcd, the end of the request body
//! does not end the watch: the response runs until the client goes away.

use std::convert::Infallible;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use cairn_mvcc::Backend;
use cairn_proto::etcdserverpb::watch_server::Watch;
use cairn_proto::etcdserverpb::{WatchRequest, WatchResponse};
use prost::Message;
use serde::Serialize;
use tokio::sync::mpsc;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Status;

use super::error::{self, StreamError};
use crate::api::grpc::watch::WatchService;
use crate::core::Core;

/// Requests buffered between the JSON reader and the watch service.
const REQUEST_BUFFER: usize = 16;

pub(super) fn routes<B: Backend>() -> axum::Router<Arc<Core<B>>> {
    axum::Router::new().route("/v3/watch", axum::routing::post(watch::<B>))
}

#[derive(Serialize)]
struct ResultLine<'a> {
    result: &'a WatchResponse,
}

#[derive(Serialize)]
struct ErrorLine<'a> {
    error: StreamError<'a>,
}

/// One gRPC message frame: uncompressed flag, big-endian length, message.
fn frame(request: &WatchRequest) -> Bytes {
    let message = request.encode_to_vec();
    let mut out = Vec::with_capacity(5 + message.len());
    out.push(0);
    out.extend_from_slice(&u32::try_from(message.len()).unwrap_or(u32::MAX).to_be_bytes());
    out.extend_from_slice(&message);
    Bytes::from(out)
}

/// Reads JSON `WatchRequest`s (concatenated, whitespace-separated) from `body`
/// and sends them as gRPC frames; stops at the end of the body or at a
/// request that does not parse.
async fn read_requests(body: Body, frames: mpsc::Sender<Result<Bytes, Infallible>>) {
    let mut chunks = body.into_data_stream();
    let mut buffer: Vec<u8> = Vec::new();
    while let Some(Ok(chunk)) = chunks.next().await {
        buffer.extend_from_slice(&chunk);
        let mut parsed = Vec::new();
        let mut consumed = 0;
        let mut stream = serde_json::Deserializer::from_slice(&buffer).into_iter::<WatchRequest>();
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

fn line(item: Result<WatchResponse, Status>) -> Result<Bytes, Infallible> {
    let mut out = match &item {
        Ok(response) => serde_json::to_vec(&ResultLine { result: response }),
        Err(status) => serde_json::to_vec(&ErrorLine { error: StreamError::new(status) }),
    }
    .unwrap_or_default();
    out.push(b'\n');
    Ok(Bytes::from(out))
}

async fn watch<B: Backend>(State(core): State<Arc<Core<B>>>, body: Body) -> Response {
    let (frames_tx, frames_rx) = mpsc::channel(REQUEST_BUFFER);
    tokio::spawn(read_requests(body, frames_tx.clone()));
    let requests = tonic::codec::Streaming::new_request(
        tonic_prost::ProstDecoder::<WatchRequest>::default(),
        Body::from_stream(ReceiverStream::new(frames_rx)),
        None,
        None,
    );
    let service = WatchService::new(core);
    match <WatchService<B> as Watch>::watch(&service, tonic::Request::new(requests)).await {
        Ok(response) => {
            // The request stream stays open while the response is streamed;
            // dropping the response (the client left) ends it, and the watch.
            let keep_open = frames_tx;
            let lines = response.into_inner().map(move |item| {
                let _ = &keep_open;
                line(item)
            });
            (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], Body::from_stream(lines)).into_response()
        }
        Err(status) => error::response(&status),
    }
}
