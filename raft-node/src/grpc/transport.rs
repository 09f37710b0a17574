//! [`GrpcTransport`]: the [`Transport`] that carries a node's messages to its peers
//! over gRPC.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::{Arc, OnceLock};

use parking_lot::Mutex;
use raft::SnapshotStatus;
use raft::eraftpb::{Message, MessageType};
use tokio::runtime::Handle as Runtime;
use tokio::sync::{mpsc, watch};

use super::connect::endpoint;
use super::error::GrpcError;
use super::options::GrpcOptions;
use super::reporter::Reporter;
use super::snapshot::SnapshotSender;
use super::stream::{MessageStream, Outbox};
use crate::handle::NodeHandle;
use crate::state_machine::StateMachine;
use crate::transport::Transport;

/// Sends a raft node's messages to its peers over their `RaftPeer` gRPC service
/// (see [`PeerService`](super::PeerService)).
///
/// Per peer: a bounded queue that [`send`](Transport::send) never waits on (a
/// message that does not fit is dropped and the peer reported unreachable), a task
/// holding one long-lived `Send` stream that drains the queue in batches and
/// reconnects with exponential backoff, reporting the peer unreachable while it is
/// down, and a task that sends `MsgSnapshot` messages in chunks over their own
/// `Snapshot` streams and reports each one delivered or failed.
///
/// A clone is the same transport: give one to [`RaftNode::start`](crate::RaftNode::start),
/// keep one to [`connect`](Self::connect) it to the node and to change the peers as
/// membership changes. The tasks end once the transport and all its clones are
/// dropped, or their peer is removed.
///
/// ```no_run
/// # use cairn_raft::{GrpcOptions, GrpcTransport, NodeConfig, RaftNode, StateMachine};
/// # async fn run<S: StateMachine>(config: NodeConfig, machine: S) -> Result<(), Box<dyn std::error::Error>> {
/// let transport = GrpcTransport::new(config.id, 0xcafe, GrpcOptions::default());
/// transport.set_peer(2, vec!["http://10.0.0.2:2380".into()])?;
/// transport.set_peer(3, vec!["http://10.0.0.3:2380".into()])?;
/// let node = RaftNode::start(config, machine, transport.clone())?;
/// transport.connect(node.handle())?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct GrpcTransport {
    inner: Arc<Inner>,
}

struct Inner {
    id: u64,
    cluster_id: u64,
    options: Arc<GrpcOptions>,
    reporter: Reporter,
    /// Where peer tasks run, known once connected.
    runtime: OnceLock<Runtime>,
    peers: Mutex<HashMap<u64, Peer>>,
    /// Raft messages queued for peers.
    sent: std::sync::atomic::AtomicU64,
}

/// The transport's end of one peer's tasks.
struct Peer {
    queue: mpsc::Sender<Message>,
    snapshots: mpsc::UnboundedSender<Message>,
    urls: watch::Sender<Vec<String>>,
    /// The tasks, until they are spawned at `connect`.
    idle: Option<(MessageStream, SnapshotSender)>,
}

impl fmt::Debug for GrpcTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let peers: BTreeSet<u64> = self.inner.peers.lock().keys().copied().collect();
        f.debug_struct("GrpcTransport")
            .field("id", &self.inner.id)
            .field("cluster_id", &self.inner.cluster_id)
            .field("peers", &peers)
            .finish_non_exhaustive()
    }
}

impl GrpcTransport {
    /// A transport for member `id` of cluster `cluster_id`, with no peers yet.
    pub fn new(id: u64, cluster_id: u64, options: GrpcOptions) -> Self {
        let inner = Inner {
            id,
            cluster_id,
            options: Arc::new(options),
            reporter: Reporter::default(),
            runtime: OnceLock::new(),
            peers: Mutex::new(HashMap::new()),
            sent: std::sync::atomic::AtomicU64::new(0),
        };
        GrpcTransport { inner: Arc::new(inner) }
    }

    /// Gives the transport the node it reports to (unreachable peers, snapshot
    /// outcomes) and starts the peer tasks on the current tokio runtime. Call it
    /// right after [`RaftNode::start`](crate::RaftNode::start): messages the node
    /// sends before wait in the queues.
    pub fn connect<S: StateMachine>(&self, handle: &NodeHandle<S>) -> Result<(), GrpcError> {
        let runtime = Runtime::try_current().map_err(|_| GrpcError::NoRuntime)?;
        if !self.inner.reporter.set(handle.inbox.clone()) {
            return Err(GrpcError::AlreadyConnected);
        }
        let runtime = self.inner.runtime.get_or_init(|| runtime);
        for peer in self.inner.peers.lock().values_mut() {
            if let Some(tasks) = peer.idle.take() {
                spawn(runtime, tasks);
            }
        }
        Ok(())
    }

    /// How many raft messages (other than snapshots) were queued for peers.
    pub fn sent(&self) -> u64 {
        self.inner.sent.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Adds peer `id` reachable at `urls` (`http://host:port`, tried in order), or
    /// changes its URLs, reconnecting to it. This member's own id is ignored.
    pub fn set_peer(&self, id: u64, urls: Vec<String>) -> Result<(), GrpcError> {
        if urls.is_empty() {
            return Err(GrpcError::NoUrls(id));
        }
        for url in &urls {
            endpoint(url, &self.inner.options)?;
        }
        if id == self.inner.id {
            return Ok(());
        }
        let mut peers = self.inner.peers.lock();
        if let Some(peer) = peers.get(&id) {
            peer.urls.send_if_modified(|current| {
                let changed = *current != urls;
                *current = urls;
                changed
            });
            return Ok(());
        }
        let peer = self.new_peer(id, urls);
        peers.insert(id, peer);
        Ok(())
    }

    /// Removes peer `id` (removed from the cluster): its tasks stop, messages to it
    /// are dropped from now on.
    pub fn remove_peer(&self, id: u64) {
        self.inner.peers.lock().remove(&id);
    }

    /// The peers and their URLs, by id.
    pub fn peers(&self) -> Vec<(u64, Vec<String>)> {
        let peers = self.inner.peers.lock();
        let mut list: Vec<(u64, Vec<String>)> = peers.iter().map(|(id, p)| (*id, p.urls.borrow().clone())).collect();
        list.sort_unstable();
        list
    }

    fn new_peer(&self, id: u64, urls: Vec<String>) -> Peer {
        let inner = &self.inner;
        let (queue, queue_rx) = mpsc::channel(inner.options.queue.max(1));
        let (snapshots, snapshots_rx) = mpsc::unbounded_channel();
        let (urls, urls_rx) = watch::channel(urls);
        let logger = inner.options.logger.new(slog::o!("raft_id" => inner.id));
        let outbox = Outbox {
            peer: id,
            from: inner.id,
            cluster_id: inner.cluster_id,
            max_batch_bytes: inner.options.max_batch_bytes,
            queue: queue_rx,
            pending: None,
            logger: logger.clone(),
        };
        let stream = MessageStream {
            peer: id,
            outbox,
            urls: urls_rx.clone(),
            reporter: inner.reporter.clone(),
            options: Arc::clone(&inner.options),
            logger: logger.clone(),
        };
        let sender = SnapshotSender {
            peer: id,
            from: inner.id,
            cluster_id: inner.cluster_id,
            snapshots: snapshots_rx,
            urls: urls_rx,
            reporter: inner.reporter.clone(),
            options: Arc::clone(&inner.options),
            logger,
        };
        let mut idle = Some((stream, sender));
        if let Some(runtime) = inner.runtime.get()
            && let Some(tasks) = idle.take()
        {
            spawn(runtime, tasks);
        }
        Peer { queue, snapshots, urls, idle }
    }
}

fn spawn(runtime: &Runtime, (stream, sender): (MessageStream, SnapshotSender)) {
    runtime.spawn(stream.run());
    runtime.spawn(sender.run());
}

impl Transport for GrpcTransport {
    fn send(&self, messages: Vec<Message>) {
        let reporter = &self.inner.reporter;
        let mut unreachable = BTreeSet::new();
        let peers = self.inner.peers.lock();
        for message in messages {
            let to = message.to;
            let is_snapshot = message.get_msg_type() == MessageType::MsgSnapshot;
            let Some(peer) = peers.get(&to) else {
                unreachable.insert(to);
                if is_snapshot {
                    reporter.snapshot_soon(to, SnapshotStatus::Failure);
                }
                continue;
            };
            if is_snapshot {
                if peer.snapshots.send(message).is_err() {
                    reporter.snapshot_soon(to, SnapshotStatus::Failure);
                }
            } else if peer.queue.try_send(message).is_err() {
                unreachable.insert(to);
            } else {
                self.inner.sent.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
        drop(peers);
        for peer in unreachable {
            reporter.unreachable(peer);
        }
    }
}
