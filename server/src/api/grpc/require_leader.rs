//! Calls that require a leader, as etcd's interceptors serve them: a client
//! that sends the `hasleader: true` metadata (clientv3's `WithRequireLeader`,
//! which `etcdctl watch` uses) is refused with `etcdserver: no leader` while the
//! member knows no leader, and its streams are ended with that error once the
//! member has been without one for three election timeouts in a row.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use bytes::Bytes;
use cairn_mvcc::Backend;
use http_body::Frame;
use tokio::time::{Instant, Sleep};

use super::status::to_status;
use crate::core::Core;
use crate::error::RequestError;

/// The metadata key of clientv3's `WithRequireLeader`.
pub const REQUIRE_LEADER_KEY: &str = "hasleader";
/// Election timeouts without a leader after which a stream ends (etcd's `maxNoLeaderCnt`).
const MAX_NO_LEADER_TICKS: u32 = 3;

/// The middleware: refuses or watches calls that asked for a leader; passes the others.
pub async fn require_leader<B: Backend>(State(core): State<Arc<Core<B>>>, request: Request, next: Next) -> Response {
    let asked = request.headers().get(REQUIRE_LEADER_KEY).is_some_and(|v| v.as_bytes() == b"true");
    if !asked {
        return next.run(request).await;
    }
    if matches!(core.require_leader(), Err(RequestError::NoLeader)) {
        return no_leader().into_http();
    }
    let response = next.run(request).await;
    // A trailers-only response (an error, or a unary call's result already
    // complete in headers) needs no watching.
    if response.headers().contains_key("grpc-status") {
        return response;
    }
    let period = core.election_timeout;
    let has_leader = Box::new(move || !matches!(core.require_leader(), Err(RequestError::NoLeader)));
    let (parts, body) = response.into_parts();
    Response::from_parts(parts, Body::new(LeaderWatched::new(body, period, has_leader)))
}

/// The status etcd ends such calls with.
fn no_leader() -> tonic::Status {
    to_status(RequestError::NoLeader)
}

/// A response body that ends with `etcdserver: no leader` once `has_leader`
/// has said no at [`MAX_NO_LEADER_TICKS`] checks in a row, one check per `period`.
struct LeaderWatched {
    inner: Body,
    tick: Pin<Box<Sleep>>,
    period: Duration,
    misses: u32,
    has_leader: Box<dyn Fn() -> bool + Send + Sync>,
    ended: bool,
}

impl LeaderWatched {
    fn new(inner: Body, period: Duration, has_leader: Box<dyn Fn() -> bool + Send + Sync>) -> Self {
        let tick = Box::pin(tokio::time::sleep(period));
        LeaderWatched { inner, tick, period, misses: 0, has_leader, ended: false }
    }
}

impl http_body::Body for LeaderWatched {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = self.get_mut();
        if this.ended {
            return Poll::Ready(None);
        }
        while this.tick.as_mut().poll(cx).is_ready() {
            this.misses = if (this.has_leader)() { 0 } else { this.misses + 1 };
            if this.misses >= MAX_NO_LEADER_TICKS {
                this.ended = true;
                // Dropping the service's body cancels its stream.
                this.inner = Body::empty();
                let mut trailers = HeaderMap::new();
                // The message is plain ASCII, so the header cannot fail to build.
                let _ = no_leader().add_header(&mut trailers);
                return Poll::Ready(Some(Ok(Frame::trailers(trailers))));
            }
            let next = Instant::now() + this.period;
            this.tick.as_mut().reset(next);
        }
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        if matches!(polled, Poll::Ready(None)) {
            this.ended = true;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.ended || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use http_body::Body as _;

    use super::*;

    /// A body that never ends, like a watch stream with nothing to say.
    fn endless() -> Body {
        Body::from_stream(tokio_stream::pending::<Result<Bytes, std::io::Error>>())
    }

    /// An endless body watched every `period`, with a leader while the returned flag is set.
    fn watched(leader: bool, period: Duration) -> (LeaderWatched, Arc<AtomicBool>) {
        let flag = Arc::new(AtomicBool::new(leader));
        let seen = flag.clone();
        (LeaderWatched::new(endless(), period, Box::new(move || seen.load(Ordering::SeqCst))), flag)
    }

    /// The body's next frame.
    async fn next(body: &mut LeaderWatched) -> Option<Result<Frame<Bytes>, axum::Error>> {
        std::future::poll_fn(|cx| Pin::new(&mut *body).poll_frame(cx)).await
    }

    #[tokio::test(start_paused = true)]
    async fn a_stream_ends_with_no_leader_after_three_periods_without_one() {
        let period = Duration::from_millis(100);
        let (mut body, leader) = watched(true, period);
        // With a leader, it goes on (nothing within ten periods).
        let waited = tokio::time::timeout(period * 10, next(&mut body)).await;
        assert!(waited.is_err(), "the stream ended while a leader was known");
        leader.store(false, Ordering::SeqCst);
        let started = Instant::now();
        let frame = next(&mut body).await.expect("a frame").expect("no error");
        let trailers = frame.into_trailers().expect("trailers");
        let status = tonic::Status::from_header_map(&trailers).expect("a status in the trailers");
        assert_eq!((status.code(), status.message()), (tonic::Code::Unavailable, "etcdserver: no leader"));
        let took = started.elapsed();
        assert!(took >= period * 2 && took <= period * 4, "ended after {took:?}");
        assert!(next(&mut body).await.is_none(), "nothing after the trailers");
    }

    #[tokio::test(start_paused = true)]
    async fn a_leader_coming_back_resets_the_count() {
        let (mut body, leader) = watched(false, Duration::from_millis(100));
        // Checks at 100, 200 ms miss; at 300 a leader; at 400, 500 miss; at 600 a leader again.
        let flip = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(250)).await;
            leader.store(true, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(100)).await;
            leader.store(false, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(200)).await;
            leader.store(true, Ordering::SeqCst);
        });
        let waited = tokio::time::timeout(Duration::from_millis(1000), next(&mut body)).await;
        assert!(waited.is_err(), "the stream ended though the leader came back");
        flip.await.expect("flipper");
    }
}
