//! [`PeerService`]: the `RaftPeer` gRPC service, stepping what peers send into the
//! local node.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use cairn_proto::raftpeerpb::raft_peer_server::{RaftPeer, RaftPeerServer};
use cairn_proto::raftpeerpb::{MessageBatch, SendAck, SnapshotAck, SnapshotChunk};
use slog::{info, warn};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;
use tonic::{Request, Response, Status, Streaming};

use super::codec::{SnapshotAssembler, decode};
use super::error::SnapshotError;
use super::options::GrpcOptions;
use crate::command::Inbound;
use crate::handle::NodeHandle;
use crate::state_machine::StateMachine;

/// The receiving end of [`GrpcTransport`](super::GrpcTransport): the `RaftPeer`
/// service of one member. Messages from a `Send` stream are stepped into the node
/// in order, waiting while its inbox is full (the sender's queue then fills and it
/// drops instead); a `Snapshot` stream is put together and stepped in as one
/// `MsgSnapshot` once all its chunks came. Streams from another cluster are
/// refused. Streams end when the node stops, or when [`serve`] is shut down.
///
/// Serve it with [`serve`], or add [`into_server`](Self::into_server) to a
/// `tonic::transport::Server` of one's own.
#[derive(Clone)]
pub struct PeerService {
    cluster_id: u64,
    inbox: mpsc::Sender<Inbound>,
    options: Arc<GrpcOptions>,
    logger: slog::Logger,
    stats: Arc<Counters>,
    /// Turns true when [`serve`] is shut down.
    stopping: watch::Receiver<bool>,
}

/// What a [`PeerService`] received so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PeerStats {
    /// Raft messages handed to the node from `Send` streams.
    pub messages: u64,
    /// Snapshot messages put together and handed to the node.
    pub snapshots: u64,
    /// Chunks of those snapshots.
    pub snapshot_chunks: u64,
    /// Streams refused (another cluster, a malformed message, a bad snapshot).
    pub refused: u64,
}

#[derive(Debug, Default)]
struct Counters {
    messages: AtomicU64,
    snapshots: AtomicU64,
    snapshot_chunks: AtomicU64,
    refused: AtomicU64,
}

impl PeerService {
    /// The service of the node behind `handle`, a member of cluster `cluster_id`.
    pub fn new<S: StateMachine>(handle: &NodeHandle<S>, cluster_id: u64, options: GrpcOptions) -> Self {
        let logger = options.logger.new(slog::o!("raft_id" => handle.id()));
        PeerService {
            cluster_id,
            inbox: handle.inbox.clone(),
            options: Arc::new(options),
            logger,
            stats: Arc::default(),
            stopping: watch::channel(false).1,
        }
    }

    /// The tonic server for this service, accepting messages up to
    /// [`GrpcOptions::max_message_bytes`].
    pub fn into_server(self) -> RaftPeerServer<PeerService> {
        let limit = self.options.max_message_bytes;
        RaftPeerServer::new(self).max_decoding_message_size(limit)
    }

    /// What it received so far.
    pub fn stats(&self) -> PeerStats {
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        PeerStats {
            messages: load(&self.stats.messages),
            snapshots: load(&self.stats.snapshots),
            snapshot_chunks: load(&self.stats.snapshot_chunks),
            refused: load(&self.stats.refused),
        }
    }

    /// Resolves once the node stopped or the service is shutting down.
    async fn stopped(&self) {
        let mut stopping = self.stopping.clone();
        // Without `serve` nobody holds the sender: then only the node's end counts.
        let shutdown = async move {
            if stopping.wait_for(|stopping| *stopping).await.is_err() {
                std::future::pending::<()>().await;
            }
        };
        tokio::select! {
            () = self.inbox.closed() => {}
            () = shutdown => {}
        }
    }

    fn refuse(&self, what: &str, from: u64, reason: &dyn std::fmt::Display) {
        self.stats.refused.fetch_add(1, Ordering::Relaxed);
        warn!(self.logger, "refused a peer stream"; "stream" => what, "from" => from, "reason" => %reason);
    }

    /// Steps each message of `batch` into the node; the count stepped.
    async fn deliver(&self, batch: MessageBatch) -> Result<u64, Status> {
        if batch.cluster_id != self.cluster_id {
            let reason =
                format!("member {} is of cluster {:x}, not {:x}", batch.from, batch.cluster_id, self.cluster_id);
            self.refuse("send", batch.from, &reason);
            return Err(Status::failed_precondition(reason));
        }
        let count = batch.messages.len() as u64;
        for bytes in batch.messages {
            let message = decode(&bytes).map_err(|error| {
                self.refuse("send", batch.from, &error);
                Status::invalid_argument(format!("malformed raft message: {error}"))
            })?;
            self.inbox.send(Inbound::Message(Box::new(message))).await.map_err(|_| node_stopped())?;
        }
        self.stats.messages.fetch_add(count, Ordering::Relaxed);
        Ok(count)
    }

    /// Takes a snapshot stream's chunks and puts the message together.
    async fn assemble(
        &self,
        stream: &mut Streaming<SnapshotChunk>,
    ) -> Result<Result<SnapshotAssembler, SnapshotError>, Status> {
        let Some(first) = stream.message().await? else { return Ok(Err(SnapshotError::Empty)) };
        let mut assembler = match SnapshotAssembler::new(first, self.cluster_id, self.options.max_snapshot_bytes) {
            Ok(assembler) => assembler,
            Err(error) => return Ok(Err(error)),
        };
        while let Some(chunk) = stream.message().await? {
            if let Err(error) = assembler.push(chunk.data) {
                return Ok(Err(error));
            }
        }
        Ok(Ok(assembler))
    }
}

fn node_stopped() -> Status {
    Status::unavailable("the raft node stopped")
}

#[tonic::async_trait]
impl RaftPeer for PeerService {
    async fn send(&self, request: Request<Streaming<MessageBatch>>) -> Result<Response<SendAck>, Status> {
        let mut stream = request.into_inner();
        let mut delivered = 0;
        loop {
            let batch = tokio::select! {
                batch = stream.message() => batch?,
                () = self.stopped() => return Err(node_stopped()),
            };
            let Some(batch) = batch else { break };
            delivered += tokio::select! {
                count = self.deliver(batch) => count?,
                () = self.stopped() => return Err(node_stopped()),
            };
        }
        Ok(Response::new(SendAck { delivered }))
    }

    async fn snapshot(&self, request: Request<Streaming<SnapshotChunk>>) -> Result<Response<SnapshotAck>, Status> {
        let mut stream = request.into_inner();
        let assembled = tokio::select! {
            assembled = self.assemble(&mut stream) => assembled?,
            () = self.stopped() => return Err(node_stopped()),
        };
        let refused = |error: SnapshotError| {
            self.refuse("snapshot", 0, &error);
            Ok(Response::new(SnapshotAck { delivered: false, reason: error.to_string() }))
        };
        let assembler = match assembled {
            Ok(assembler) => assembler,
            Err(error) => return refused(error),
        };
        let chunks = assembler.chunks();
        let message = match assembler.finish() {
            Ok(message) => message,
            Err(error) => return refused(error),
        };
        let (from, index) = (message.from, message.get_snapshot().get_metadata().index);
        let bytes = message.get_snapshot().get_data().len();
        if self.inbox.send(Inbound::Message(Box::new(message))).await.is_err() {
            return Ok(Response::new(SnapshotAck { delivered: false, reason: "the raft node stopped".into() }));
        }
        self.stats.snapshots.fetch_add(1, Ordering::Relaxed);
        self.stats.snapshot_chunks.fetch_add(chunks, Ordering::Relaxed);
        info!(self.logger, "received a snapshot"; "from" => from, "index" => index, "bytes" => bytes, "chunks" => chunks);
        Ok(Response::new(SnapshotAck { delivered: true, reason: String::new() }))
    }
}

/// Serves `service` on `listener` (the member's `--listen-peer-urls`) until
/// `shutdown` resolves: then the listener is closed, open streams end, and this
/// returns once the connections are closed. Accepted connections use TCP_NODELAY
/// and HTTP/2 keepalive pings.
pub async fn serve(
    listener: TcpListener,
    mut service: PeerService,
    shutdown: impl Future<Output = ()>,
) -> Result<(), tonic::transport::Error> {
    let (stopping, stopping_rx) = watch::channel(false);
    service.stopping = stopping_rx;
    let options = Arc::clone(&service.options);
    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
    let signal = async move {
        shutdown.await;
        let _ = stopping.send(true);
    };
    Server::builder()
        .http2_keepalive_interval(Some(options.keepalive_interval))
        .http2_keepalive_timeout(Some(options.keepalive_timeout))
        .serve_with_incoming_shutdown(service.into_server(), incoming, signal)
        .await
}
