//! [`StateMachine`]: what committed entries are applied to.

use std::error::Error as StdError;

use raft::eraftpb::{ConfChangeV2, ConfState, Snapshot};

/// The replicated state: the raft node hands it every committed entry, in log
/// order, in batches, from its loop.
///
/// Contract:
/// - [`apply`](StateMachine::apply) gets consecutive entries, each index exactly
///   once in the life of the data (never one at or below
///   [`applied_index`](StateMachine::applied_index)). It applies the whole batch, or
///   fails and changes nothing that survives a restart; afterwards `applied_index`
///   is the batch's last index. A state machine that persists its state should write
///   the batch and the applied index atomically (etcd's consistent index): the WAL
///   is the source of durability, so the write need not be synced.
/// - `applied_index` is read once at start to resume where the state machine is: the
///   node restores the latest snapshot if the state machine is behind it, then
///   replays only entries after `applied_index`. An in-memory state machine starts
///   at 0 and is rebuilt from the snapshot and the log.
/// - [`snapshot`](StateMachine::snapshot) captures the state at `applied_index`;
///   [`restore`](StateMachine::restore) replaces the whole state with one, after
///   which `applied_index` is the snapshot's index.
/// - Errors are fatal to the node (like etcd, which panics): its loop stops with
///   [`NodeError::StateMachine`](crate::NodeError::StateMachine).
///
/// [`conformance::check_state_machine`](crate::conformance::check_state_machine)
/// tests an implementation against this contract.
pub trait StateMachine: Send + 'static {
    /// What applying one entry produces; a proposal's caller receives its entry's.
    type Output: Send + 'static;
    /// A failure to apply, snapshot or restore.
    type Error: StdError + Send + Sync + 'static;

    /// Applies `entries` (consecutive, committed) and returns exactly one output per
    /// entry, in order. Outputs of entries nobody waits for are dropped.
    fn apply(&mut self, entries: &[Committed<'_>]) -> Result<Vec<Self::Output>, Self::Error>;

    /// The index of the last entry applied (or of the snapshot restored), 0 if none.
    fn applied_index(&self) -> u64;

    /// The state at `applied_index`, serialized, for a snapshot that slow followers
    /// are sent and restarts begin from.
    fn snapshot(&self) -> Result<Vec<u8>, Self::Error>;

    /// Replaces the state with `snapshot`'s data (made by [`snapshot`](Self::snapshot)
    /// on some member). Its metadata gives the index, term and membership it is at;
    /// `applied_index` becomes the metadata's index. (Take it from there, not from
    /// the data: a new cluster starts from a snapshot of the empty state at index 1.)
    fn restore(&mut self, snapshot: &Snapshot) -> Result<(), Self::Error>;
}

/// One committed entry, as the state machine sees it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Committed<'a> {
    /// Its index in the log.
    pub index: u64,
    /// The term it was proposed in.
    pub term: u64,
    /// What it carries.
    pub payload: Payload<'a>,
}

/// What a committed entry carries.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Payload<'a> {
    /// Nothing to apply, only the index to advance past: a new leader's first
    /// entry, or a membership change that raft refused.
    Empty,
    /// The bytes given to [`NodeHandle::propose`](crate::NodeHandle::propose).
    Normal(&'a [u8]),
    /// A membership change, already in effect in raft. Its `context` is the one
    /// given to [`NodeHandle::change_membership`](crate::NodeHandle::change_membership)
    /// (e.g. a new member's peer URLs); an empty change with no context is raft
    /// leaving a joint configuration.
    ConfChange {
        /// The change.
        change: &'a ConfChangeV2,
        /// The membership once it is applied.
        conf_state: &'a ConfState,
    },
}
