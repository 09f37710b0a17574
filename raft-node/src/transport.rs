//! [`Transport`]: how a node's messages reach its peers.

use raft::eraftpb::Message;

/// Carries raft messages to peers. The node calls [`send`](Transport::send) from its
/// loop with every message one `Ready` produced; the receiving side hands them to its
/// node with [`NodeHandle::step`](crate::NodeHandle::step).
///
/// Contract:
/// - `send` never blocks and never fails: it queues (or spawns) and returns. Raft
///   tolerates lost, duplicated, delayed and reordered messages, so a transport may
///   drop a message when a peer is unreachable or its queue is full. It should
///   then tell the sender's node with
///   [`NodeHandle::report_unreachable`](crate::NodeHandle::report_unreachable).
/// - A message of type `MsgSnapshot` must be reported once delivered or lost, with
///   [`NodeHandle::report_snapshot`](crate::NodeHandle::report_snapshot); until then
///   the leader sends that follower nothing else.
/// - Messages to one peer should keep their order (raft is correct without it, but
///   replication stalls less).
pub trait Transport: Send + Sync + 'static {
    /// Queues `messages` (to any peers, each naming its `to`) for delivery.
    fn send(&self, messages: Vec<Message>);
}
