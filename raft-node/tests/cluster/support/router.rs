//! [`Router`]: an in-process network between nodes that can drop, delay (and so
//! reorder) and partition messages, like raft-rs's test harness network and
//! openraft's test router.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use cairn_raft::{NodeHandle, SnapshotStatus, Transport};
use parking_lot::Mutex;
use raft::eraftpb::{Message, MessageType};

use super::journal::Journal;

/// The default one-way delay of a message.
pub const LATENCY_MS: u64 = 1;

/// The network. Nodes are registered by id once started; a message to an
/// unregistered node is lost. Every message takes [`LATENCY_MS`] by default: with
/// paused time, that is what lets the clock advance (ticks fire) while clients keep
/// the nodes busy, instead of a zero-latency ping-pong that never lets the runtime
/// idle.
pub struct Router {
    inner: Mutex<Inner>,
}

struct Inner {
    nodes: HashMap<u64, NodeHandle<Journal>>,
    /// Directed links that lose everything.
    cut: HashSet<(u64, u64)>,
    drop_per_mille: u64,
    /// Each message is delayed by a uniformly random time in this range (ms).
    delay_ms: (u64, u64),
    rng: SplitMix64,
    sent: HashMap<(u64, MessageType), u64>,
}

impl Router {
    pub fn new(seed: u64) -> Arc<Self> {
        let inner = Inner {
            nodes: HashMap::new(),
            cut: HashSet::new(),
            drop_per_mille: 0,
            delay_ms: (LATENCY_MS, LATENCY_MS),
            rng: SplitMix64(seed),
            sent: HashMap::new(),
        };
        Arc::new(Router { inner: Mutex::new(inner) })
    }

    /// The transport of the node `id`.
    pub fn transport(self: &Arc<Self>) -> RouterTransport {
        RouterTransport { router: Arc::clone(self) }
    }

    pub fn register(&self, handle: NodeHandle<Journal>) {
        self.inner.lock().nodes.insert(handle.id(), handle);
    }

    pub fn unregister(&self, id: u64) {
        self.inner.lock().nodes.remove(&id);
    }

    /// Cuts every link between `id` and anyone else.
    pub fn isolate(&self, id: u64, all: &[u64]) {
        let mut inner = self.inner.lock();
        for &other in all.iter().filter(|&&o| o != id) {
            inner.cut.insert((id, other));
            inner.cut.insert((other, id));
        }
    }

    /// Cuts every link between `a` and `b`.
    pub fn partition(&self, a: &[u64], b: &[u64]) {
        let mut inner = self.inner.lock();
        for &x in a {
            for &y in b {
                inner.cut.insert((x, y));
                inner.cut.insert((y, x));
            }
        }
    }

    /// Restores every link.
    pub fn heal(&self) {
        self.inner.lock().cut.clear();
    }

    /// Loses each message with probability `per_mille / 1000`.
    pub fn set_drop(&self, per_mille: u64) {
        self.inner.lock().drop_per_mille = per_mille;
    }

    /// Delays each message by a random time in `min..=max` ms (so messages reorder).
    pub fn set_delay(&self, min: u64, max: u64) {
        self.inner.lock().delay_ms = (min, max);
    }

    /// How many messages of `kind` node `from` sent.
    pub fn sent(&self, from: u64, kind: MessageType) -> u64 {
        self.inner.lock().sent.get(&(from, kind)).copied().unwrap_or(0)
    }

    fn route(self: &Arc<Self>, message: Message) {
        let (from, to, kind) = (message.from, message.to, message.get_msg_type());
        let delay = {
            let mut inner = self.inner.lock();
            *inner.sent.entry((from, kind)).or_default() += 1;
            let drop_per_mille = inner.drop_per_mille;
            let lost = inner.cut.contains(&(from, to)) || inner.rng.below(1000) < drop_per_mille;
            if lost {
                drop(inner);
                self.lost(&message);
                return;
            }
            let (min, max) = inner.delay_ms;
            min + inner.rng.below(max - min + 1)
        };
        if delay == 0 {
            self.deliver(message);
        } else {
            let router = Arc::clone(self);
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(delay)).await;
                router.deliver(message);
            });
        }
    }

    /// Hands `message` over, unless its link was cut while it was in flight.
    fn deliver(&self, message: Message) {
        let (from, to, kind) = (message.from, message.to, message.get_msg_type());
        let target = {
            let inner = self.inner.lock();
            if inner.cut.contains(&(from, to)) { None } else { inner.nodes.get(&to).cloned() }
        };
        match target.map(|node| node.try_step(message.clone())) {
            Some(Ok(())) if kind == MessageType::MsgSnapshot => self.report(from, to, SnapshotStatus::Finish),
            Some(Ok(())) => {}
            _ => self.lost(&message),
        }
    }

    /// A lost snapshot must be reported, or the leader never sends another.
    fn lost(&self, message: &Message) {
        if message.get_msg_type() == MessageType::MsgSnapshot {
            self.report(message.from, message.to, SnapshotStatus::Failure);
        }
    }

    fn report(&self, leader: u64, to: u64, status: SnapshotStatus) {
        let Some(node) = self.inner.lock().nodes.get(&leader).cloned() else { return };
        tokio::spawn(async move {
            let _ = node.report_snapshot(to, status).await;
        });
    }
}

/// A node's end of the router.
pub struct RouterTransport {
    router: Arc<Router>,
}

impl Transport for RouterTransport {
    fn send(&self, messages: Vec<Message>) {
        for message in messages {
            self.router.route(message);
        }
    }
}

/// A small seeded generator (SplitMix64), so fault schedules are reproducible.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}
