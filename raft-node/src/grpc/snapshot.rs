//! [`SnapshotSender`]: the task that sends one peer's snapshot messages, each in
//! chunks over a `Snapshot` stream of its own, and reports how each went.

use std::sync::Arc;

use cairn_proto::raftpeerpb::raft_peer_client::RaftPeerClient;
use raft::SnapshotStatus;
use raft::eraftpb::Message;
use slog::{info, warn};
use tokio::sync::{mpsc, watch};

use super::codec::snapshot_chunks;
use super::connect::connect;
use super::options::GrpcOptions;
use super::reporter::Reporter;

/// One peer's snapshot messages and where to send them.
pub(super) struct SnapshotSender {
    pub peer: u64,
    pub from: u64,
    pub cluster_id: u64,
    /// Unbounded, because raft has at most one snapshot in flight per follower.
    pub snapshots: mpsc::UnboundedReceiver<Message>,
    pub urls: watch::Receiver<Vec<String>>,
    pub reporter: Reporter,
    pub options: Arc<GrpcOptions>,
    pub logger: slog::Logger,
}

impl SnapshotSender {
    /// Sends each snapshot message, one at a time, and reports it `Finish`ed or
    /// `Failure`d, until the peer is removed (snapshots already queued then are
    /// still tried and reported).
    pub async fn run(mut self) {
        while let Some(message) = self.snapshots.recv().await {
            let index = message.get_snapshot().get_metadata().index;
            let size = message.get_snapshot().get_data().len();
            let result = match tokio::time::timeout(self.options.snapshot_timeout, self.send(message)).await {
                Ok(result) => result,
                Err(_) => Err("timed out".into()),
            };
            let status = match result {
                Ok(()) => {
                    info!(self.logger, "sent a snapshot"; "peer" => self.peer, "index" => index, "bytes" => size);
                    SnapshotStatus::Finish
                }
                Err(reason) => {
                    warn!(self.logger, "failed to send a snapshot"; "peer" => self.peer, "index" => index, "reason" => reason);
                    SnapshotStatus::Failure
                }
            };
            self.reporter.snapshot(self.peer, status).await;
        }
    }

    async fn send(&self, mut message: Message) -> Result<(), String> {
        if let Some(source) = self.options.snapshot_data.clone() {
            let metadata = message.get_snapshot().get_metadata().clone();
            let data = tokio::task::spawn_blocking(move || (source.0)(&metadata))
                .await
                .map_err(|e| format!("making the snapshot data: {e}"))??;
            message.mut_snapshot().set_data(data.into());
        }
        let urls = self.urls.borrow().clone();
        let channel = connect(&urls, &self.options).await?;
        let chunks = snapshot_chunks(self.from, self.cluster_id, message, self.options.snapshot_chunk_bytes)
            .map_err(|e| format!("encoding: {e}"))?;
        let ack = RaftPeerClient::new(channel)
            .snapshot(tokio_stream::iter(chunks))
            .await
            .map_err(|status| format!("{:?}: {}", status.code(), status.message()))?
            .into_inner();
        if ack.delivered { Ok(()) } else { Err(format!("refused: {}", ack.reason)) }
    }
}
