//! [`MessageStream`]: the task that carries one peer's messages over a long-lived
//! `Send` stream, reconnecting with backoff when it breaks.

use std::sync::Arc;

use cairn_proto::raftpeerpb::MessageBatch;
use cairn_proto::raftpeerpb::raft_peer_client::RaftPeerClient;
use raft::eraftpb::Message;
use slog::{info, warn};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Channel;

use super::backoff::Backoff;
use super::codec::encode;
use super::connect::connect;
use super::options::GrpcOptions;
use super::reporter::Reporter;

/// One peer's message queue and where to send it.
pub(super) struct MessageStream {
    pub peer: u64,
    pub outbox: Outbox,
    pub urls: watch::Receiver<Vec<String>>,
    pub reporter: Reporter,
    pub options: Arc<GrpcOptions>,
    pub logger: slog::Logger,
}

/// The messages queued for one peer, taken in batches.
pub(super) struct Outbox {
    pub peer: u64,
    pub from: u64,
    pub cluster_id: u64,
    pub max_batch_bytes: usize,
    pub queue: mpsc::Receiver<Message>,
    /// A message taken from the queue that did not fit in the last batch.
    pub pending: Option<Vec<u8>>,
    pub logger: slog::Logger,
}

/// Why a stream ended.
enum End {
    /// The peer was removed from the transport (or the transport dropped).
    Removed,
    /// The peer's URLs changed: reconnect at once.
    Moved,
    /// The connection failed or broke.
    Broken(String),
}

impl MessageStream {
    /// Keeps a stream to the peer open until the peer is removed. While it is down,
    /// queued messages are dropped and the node is told the peer is unreachable
    /// (once per failed attempt: raft then probes it at the heartbeat's pace).
    pub async fn run(mut self) {
        let mut backoff = Backoff::new(self.options.backoff_min, self.options.backoff_max);
        let mut up = true;
        loop {
            let urls = self.urls.borrow_and_update().clone();
            let end = match connect(&urls, &self.options).await {
                Ok(channel) => {
                    if !up {
                        info!(self.logger, "peer reachable again"; "peer" => self.peer);
                        up = true;
                    }
                    let opened = Instant::now();
                    let end = self.stream(channel).await;
                    if opened.elapsed() >= backoff.max() {
                        backoff.reset();
                    }
                    end
                }
                Err(reason) => End::Broken(reason),
            };
            match end {
                End::Removed => return,
                End::Moved => {
                    backoff.reset();
                    continue;
                }
                End::Broken(reason) => {
                    if up {
                        warn!(self.logger, "peer unreachable"; "peer" => self.peer, "reason" => reason);
                        up = false;
                    }
                    self.reporter.unreachable(self.peer);
                }
            }
            if !self.wait(backoff.next_wait()).await {
                return;
            }
        }
    }

    /// Sends batches over one `Send` stream until it ends.
    async fn stream(&mut self, channel: Channel) -> End {
        let mut client = RaftPeerClient::new(channel);
        // One batch in hand: while the stream is busy, messages gather in the queue
        // and go together in the next batch.
        let (batches, stream) = mpsc::channel(1);
        let call = client.send(ReceiverStream::new(stream));
        tokio::pin!(call);
        loop {
            let batch = tokio::select! {
                result = &mut call => return End::Broken(ended(result)),
                changed = self.urls.changed() => return if changed.is_ok() { End::Moved } else { End::Removed },
                batch = self.outbox.next_batch() => match batch {
                    Some(batch) => batch,
                    None => return End::Removed,
                },
            };
            tokio::select! {
                result = &mut call => return End::Broken(ended(result)),
                sent = batches.send(batch) => if sent.is_err() {
                    return End::Broken("the stream closed".into());
                },
            }
        }
    }

    /// Waits `wait` before reconnecting, dropping what is queued meanwhile; returns
    /// early if the peer's URLs change, false if the peer is removed.
    async fn wait(&mut self, wait: std::time::Duration) -> bool {
        self.outbox.pending = None;
        let sleep = tokio::time::sleep(wait);
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                () = &mut sleep => return true,
                changed = self.urls.changed() => return changed.is_ok(),
                message = self.outbox.queue.recv() => if message.is_none() {
                    return false;
                },
            }
        }
    }
}

impl Outbox {
    /// Waits for the next message, then takes whatever else is queued, up to
    /// `max_batch_bytes`. None once the peer is removed. Cancel-safe: it awaits only
    /// before taking anything.
    async fn next_batch(&mut self) -> Option<MessageBatch> {
        let first = match self.pending.take() {
            Some(first) => first,
            None => loop {
                let message = self.queue.recv().await?;
                if let Some(bytes) = self.encode(&message) {
                    break bytes;
                }
            },
        };
        let mut size = first.len();
        let mut messages = vec![first];
        while size < self.max_batch_bytes {
            let Ok(message) = self.queue.try_recv() else { break };
            let Some(bytes) = self.encode(&message) else { continue };
            if size + bytes.len() > self.max_batch_bytes {
                self.pending = Some(bytes);
                break;
            }
            size += bytes.len();
            messages.push(bytes);
        }
        Some(MessageBatch { from: self.from, cluster_id: self.cluster_id, messages })
    }

    fn encode(&self, message: &Message) -> Option<Vec<u8>> {
        match encode(message) {
            Ok(bytes) => Some(bytes),
            Err(error) => {
                warn!(self.logger, "dropped a message that does not encode"; "peer" => self.peer, "error" => %error);
                None
            }
        }
    }
}

/// Why a `Send` call ended: the receiver only answers once the stream is over.
fn ended(result: Result<tonic::Response<cairn_proto::raftpeerpb::SendAck>, tonic::Status>) -> String {
    match result {
        Ok(_) => "the receiver ended the stream".into(),
        Err(status) => format!("{:?}: {}", status.code(), status.message()),
    }
}
