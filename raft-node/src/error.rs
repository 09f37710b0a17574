//! Errors of the raft node, split by what the caller does with them.
//!
//! - [`NodeError`]: the node could not start, or its loop stopped on a fault (a WAL
//!   write, the state machine, a corrupt entry). The member must be restarted, or
//!   repaired by an operator.
//! - [`ProposalError`]: one proposal or membership change was not applied, or its
//!   outcome is unknown. The variant says whether retrying is safe.
//! - [`ReadError`], [`TransferError`], [`StepError`]: one read, leader transfer or
//!   incoming message.

use std::error::Error as StdError;

/// Why a node could not start, or why its loop stopped.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// The [`NodeConfig`](crate::NodeConfig) is impossible; nothing was touched.
    #[error("invalid node configuration: {0}")]
    Config(String),
    /// [`RaftNode::start`](crate::RaftNode::start) was called outside a tokio runtime.
    #[error("the raft node must be started inside a tokio runtime")]
    NoRuntime,
    /// Reading or writing the WAL failed. After a failed write the WAL is unusable
    /// until reopened, so the node stopped.
    #[error("wal: {0}")]
    Wal(#[from] cairn_wal::Error),
    /// raft-rs refused something (a broken invariant of the log or storage).
    #[error("raft: {0}")]
    Raft(#[from] raft::Error),
    /// The state machine failed to apply, snapshot or restore, or broke its contract.
    #[error("state machine: {0}")]
    StateMachine(Box<dyn StdError + Send + Sync>),
    /// The state machine says it applied entries that the log does not hold: its
    /// data and the WAL do not belong together.
    #[error("the state machine has applied index {applied}, but the log ends at {last}")]
    StateMachineAhead {
        /// [`StateMachine::applied_index`](crate::StateMachine::applied_index).
        applied: u64,
        /// The last index of the recovered log.
        last: u64,
    },
    /// The recovered hard state commits entries the log does not hold.
    #[error("the hard state commits index {commit}, but the log ends at {last}")]
    CommitBeyondLog {
        /// The recovered commit index.
        commit: u64,
        /// The last index of the recovered log.
        last: u64,
    },
    /// A committed entry could not be decoded.
    #[error("committed entry {index} is malformed: {reason}")]
    MalformedEntry {
        /// The entry's index.
        index: u64,
        /// What is wrong with it.
        reason: String,
    },
    /// The loop's task panicked or was cancelled.
    #[error("the raft loop panicked or was cancelled")]
    Aborted,
    /// A failpoint (feature `failpoints`) was told to return an error: a fault the
    /// robustness suite injected.
    #[error("failpoint {name} returned an error ({arg})")]
    Failpoint {
        /// The failpoint.
        name: &'static str,
        /// The argument of its `return` action.
        arg: String,
    },
}

impl NodeError {
    pub(crate) fn state_machine(error: impl StdError + Send + Sync + 'static) -> Self {
        NodeError::StateMachine(Box::new(error))
    }
}

/// Why a proposal or membership change got no result.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProposalError {
    /// It was definitely not applied and never will be: a leader transfer or
    /// another membership change was in progress, membership
    /// changes go to the leader only, or a new leader's entry took its place in the
    /// log. Retrying is safe, at `leader` if it is known.
    #[error("proposal dropped: {reason} (leader: {leader:?})")]
    Dropped {
        /// The leader this node knows of, if any.
        leader: Option<u64>,
        /// Why.
        reason: &'static str,
    },
    /// It was forwarded to a leader that lost its leadership before the entry was
    /// seen applied here: it may or may not be applied. Retrying may apply it twice
    /// (the same uncertainty as a timeout).
    #[error("leadership changed; the proposal may or may not be applied")]
    Indeterminate,
    /// The membership change is invalid (e.g. promoting a node that is not a
    /// learner, removing the last voter). Do not retry it.
    #[error("membership change rejected: {0}")]
    Rejected(String),
    /// The proposal is larger than [`NodeConfig::max_proposal_bytes`](crate::NodeConfig::max_proposal_bytes);
    /// nothing was proposed.
    #[error("proposal of {len} bytes exceeds the limit of {max} bytes")]
    TooLarge {
        /// The proposal's size.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The node stopped before answering; the proposal may or may not be applied.
    #[error("the raft node stopped")]
    Stopped,
}

/// Why a ReadIndex request got no read index.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    /// The node stopped before answering.
    #[error("the raft node stopped")]
    Stopped,
}

/// Why a leader transfer did not happen.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TransferError {
    /// Only the leader can hand leadership over.
    #[error("not the leader (leader: {leader:?})")]
    NotLeader {
        /// The leader this node knows of, if any.
        leader: Option<u64>,
    },
    /// The transferee is not a voter of the current configuration.
    #[error("node {0} is not a voter")]
    NotVoter(u64),
    /// The transferee did not take over within a few election timeouts (it may be
    /// unreachable or too far behind); raft aborted the transfer.
    #[error("the leader transfer timed out")]
    TimedOut,
    /// The node stopped before the transfer completed.
    #[error("the raft node stopped")]
    Stopped,
}

/// Why an incoming raft message was not handed to the node.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StepError {
    /// The node's inbox is full; the message was dropped (raft tolerates loss).
    #[error("the raft node's inbox is full")]
    Full,
    /// The node stopped.
    #[error("the raft node stopped")]
    Stopped,
}
