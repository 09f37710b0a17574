//! What handles send to the loop.

use raft::SnapshotStatus;
use raft::eraftpb::{ConfState, Message};
use tokio::sync::oneshot;

use crate::error::{ProposalError, ReadError, TransferError};
use crate::membership::MembershipChange;

/// Where a proposal's result goes.
pub(crate) type Reply<T> = oneshot::Sender<Result<T, ProposalError>>;
/// Where a read index goes.
pub(crate) type ReadReply = oneshot::Sender<Result<u64, ReadError>>;
/// Where a leader transfer's result goes.
pub(crate) type TransferReply = oneshot::Sender<Result<(), TransferError>>;

/// A request from a caller, through the bounded command queue.
pub(crate) enum Command<O> {
    Propose { data: Vec<u8>, reply: Reply<O> },
    ChangeMembership { changes: Vec<MembershipChange>, context: Vec<u8>, reply: Reply<ConfState> },
    ReadIndex { reply: ReadReply },
    TransferLeader { to: u64, reply: TransferReply },
}

/// Something from the network, through the bounded inbox (separate from commands,
/// so that a flood of proposals cannot starve heartbeats).
#[derive(Debug)]
pub(crate) enum Inbound {
    Message(Box<Message>),
    Unreachable(u64),
    Snapshot { to: u64, status: SnapshotStatus },
}
