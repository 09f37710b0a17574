//! [`NodeHandle`]: how callers and the transport talk to a running node.

use std::fmt;

use raft::SnapshotStatus;
use raft::eraftpb::{ConfState, Message};
use tokio::sync::{mpsc, oneshot, watch};

use crate::command::{Command, Inbound};
use crate::error::{ProposalError, ReadError, StepError, TransferError};
use crate::membership::MembershipChange;
use crate::state_machine::StateMachine;
use crate::status::Status;

/// A clonable handle on a running [`RaftNode`](crate::RaftNode): propose, read,
/// change membership, step messages in, watch the status. Every method returns
/// promptly with a `Stopped` error once the node's loop has ended.
pub struct NodeHandle<S: StateMachine> {
    pub(crate) id: u64,
    pub(crate) max_proposal_bytes: usize,
    pub(crate) commands: mpsc::Sender<Command<S::Output>>,
    pub(crate) inbox: mpsc::Sender<Inbound>,
    pub(crate) status: watch::Receiver<Status>,
}

impl<S: StateMachine> Clone for NodeHandle<S> {
    fn clone(&self) -> Self {
        NodeHandle {
            id: self.id,
            max_proposal_bytes: self.max_proposal_bytes,
            commands: self.commands.clone(),
            inbox: self.inbox.clone(),
            status: self.status.clone(),
        }
    }
}

impl<S: StateMachine> fmt::Debug for NodeHandle<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NodeHandle").field("id", &self.id).finish_non_exhaustive()
    }
}

impl<S: StateMachine> NodeHandle<S> {
    /// This node's id.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Proposes `data` as a log entry and waits until this node applied it; returns
    /// what [`StateMachine::apply`] made of it (`TooLarge` beyond
    /// [`NodeConfig::max_proposal_bytes`](crate::NodeConfig::max_proposal_bytes)). On a follower the proposal is
    /// forwarded to the leader. Proposals that arrive together are appended and
    /// replicated as one batch, made durable with one fsync.
    ///
    /// It never times out by itself (a proposal on the minority side of a partition
    /// waits for the partition to heal, one made while no leader is known waits for
    /// an election); wrap it in `tokio::time::timeout` for a deadline. Dropping the
    /// future abandons the wait, and withdraws the proposal if no leader took it yet.
    pub async fn propose(&self, data: Vec<u8>) -> Result<S::Output, ProposalError> {
        self.check_size(data.len())?;
        let (reply, answer) = oneshot::channel();
        self.commands.send(Command::Propose { data, reply }).await.map_err(|_| ProposalError::Stopped)?;
        answer.await.map_err(|_| ProposalError::Stopped)?
    }

    /// Waits until a read of this node's state machine would be linearizable, and
    /// returns the read index, which the state machine has applied by then.
    ///
    /// Reads waiting at the same time share one ReadIndex round (one heartbeat round
    /// trip of the leader). Without a leader it waits, retrying each election
    /// timeout; wrap it in `tokio::time::timeout` for a deadline.
    pub async fn read_index(&self) -> Result<u64, ReadError> {
        let (reply, answer) = oneshot::channel();
        self.commands.send(Command::ReadIndex { reply }).await.map_err(|_| ReadError::Stopped)?;
        answer.await.map_err(|_| ReadError::Stopped)?
    }

    /// Proposes a membership change, on the leader, and waits until this node
    /// applied it; returns the new membership. One change is simple; several go
    /// through joint consensus. `context` reaches the state machine with it (etcd
    /// puts the member's attributes there). One change at a time: while one is in
    /// flight, another is `Dropped`.
    pub async fn change_membership(
        &self,
        changes: Vec<MembershipChange>,
        context: Vec<u8>,
    ) -> Result<ConfState, ProposalError> {
        self.check_size(context.len())?;
        let (reply, answer) = oneshot::channel();
        let command = Command::ChangeMembership { changes, context, reply };
        self.commands.send(command).await.map_err(|_| ProposalError::Stopped)?;
        answer.await.map_err(|_| ProposalError::Stopped)?
    }

    /// Adds voter `id` (see [`change_membership`](Self::change_membership)).
    pub async fn add_voter(&self, id: u64, context: Vec<u8>) -> Result<ConfState, ProposalError> {
        self.change_membership(vec![MembershipChange::AddVoter(id)], context).await
    }

    /// Adds learner `id` (see [`change_membership`](Self::change_membership)).
    pub async fn add_learner(&self, id: u64, context: Vec<u8>) -> Result<ConfState, ProposalError> {
        self.change_membership(vec![MembershipChange::AddLearner(id)], context).await
    }

    /// Promotes learner `id` to voter (see [`change_membership`](Self::change_membership)).
    pub async fn promote_learner(&self, id: u64, context: Vec<u8>) -> Result<ConfState, ProposalError> {
        self.change_membership(vec![MembershipChange::PromoteLearner(id)], context).await
    }

    /// Removes member `id` (see [`change_membership`](Self::change_membership)).
    pub async fn remove_node(&self, id: u64, context: Vec<u8>) -> Result<ConfState, ProposalError> {
        self.change_membership(vec![MembershipChange::Remove(id)], context).await
    }

    /// Asks this node, the leader, to hand leadership to voter `to`, and waits until
    /// `to` leads (etcd's move-leader). Proposals are dropped while it is under way.
    pub async fn transfer_leader(&self, to: u64) -> Result<(), TransferError> {
        let (reply, answer) = oneshot::channel();
        self.commands.send(Command::TransferLeader { to, reply }).await.map_err(|_| TransferError::Stopped)?;
        answer.await.map_err(|_| TransferError::Stopped)?
    }

    /// The node's latest status.
    pub fn status(&self) -> Status {
        self.status.borrow().clone()
    }

    /// Reads the latest status without copying it (for hot paths that need one
    /// field, e.g. the term for a response header).
    pub fn with_status<T>(&self, read: impl FnOnce(&Status) -> T) -> T {
        read(&self.status.borrow())
    }

    /// A receiver of every status change; its `changed` fails once the node stopped.
    pub fn watch_status(&self) -> watch::Receiver<Status> {
        self.status.clone()
    }

    /// Hands a message from a peer to the node, waiting while its inbox is full.
    pub async fn step(&self, message: Message) -> Result<(), StepError> {
        self.inbox.send(Inbound::Message(Box::new(message))).await.map_err(|_| StepError::Stopped)
    }

    /// Hands a message from a peer to the node, or drops it if the inbox is full.
    pub fn try_step(&self, message: Message) -> Result<(), StepError> {
        self.inbox.try_send(Inbound::Message(Box::new(message))).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => StepError::Full,
            mpsc::error::TrySendError::Closed(_) => StepError::Stopped,
        })
    }

    /// Tells the node that messages to `peer` could not be delivered, so the leader
    /// probes it rather than streaming appends into the void.
    pub async fn report_unreachable(&self, peer: u64) -> Result<(), StepError> {
        self.inbox.send(Inbound::Unreachable(peer)).await.map_err(|_| StepError::Stopped)
    }

    /// Tells the node, the leader, whether its snapshot message to `to` was
    /// delivered (`Finish`) or lost (`Failure`, so that it sends another).
    pub async fn report_snapshot(&self, to: u64, status: SnapshotStatus) -> Result<(), StepError> {
        self.inbox.send(Inbound::Snapshot { to, status }).await.map_err(|_| StepError::Stopped)
    }

    fn check_size(&self, len: usize) -> Result<(), ProposalError> {
        let max = self.max_proposal_bytes;
        if len > max { Err(ProposalError::TooLarge { len, max }) } else { Ok(()) }
    }

    /// Whether the node's loop has ended.
    pub fn is_stopped(&self) -> bool {
        self.commands.is_closed()
    }
}
