//! The raft loop: one task owns the `RawNode`, the WAL and the state machine.
//!
//! Each turn it waits for one event (a tick, a peer message, a command), takes
//! whatever else is queued (up to `max_batch` of each), proposes the batch of
//! proposals as one raft message, starts a ReadIndex round for the reads queued
//! since the last one, then handles `Ready`s until raft has nothing more (see
//! `ready.rs` for their order), and publishes its [`Status`].

/// etcd's failpoint `$name` (the names of etcd 3.4's `gofail` comments in
/// `etcdserver/raft.go`), compiled only with the feature `failpoints`: besides the
/// `fail` crate's actions (`panic`, `sleep(ms)`, ...), `return` stops the raft loop
/// with [`NodeError::Failpoint`].
macro_rules! failpoint {
    ($name:literal) => {
        #[cfg(feature = "failpoints")]
        fail::fail_point!($name, |arg: Option<String>| Err($crate::error::NodeError::Failpoint {
            name: $name,
            arg: arg.unwrap_or_default()
        }));
    };
}

mod apply;
mod propose;
mod ready;
mod snapshot;

use std::time::Duration;

use cairn_wal::{Wal, WalStorage};
use raft::eraftpb::{ConfState, HardState};
use raft::{RawNode, StateRole};
use slog::debug;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::{self, MissedTickBehavior};

use crate::command::{Command, Inbound, Reply};
use crate::config::NodeConfig;
use crate::error::{NodeError, ProposalError, ReadError, TransferError};
use crate::membership::is_member;
use crate::read_index::ReadIndexBatcher;
use crate::recovery::Recovery;
use crate::request_id::RequestIds;
use crate::state_machine::StateMachine;
use crate::status::{Role, Status};
use crate::transfer::LeaderTransfers;
use crate::transport::Transport;
use crate::waiters::ProposalWaiters;

/// `Ready`s handled per turn before the loop looks at its queues again.
const MAX_READIES_PER_TURN: usize = 16;

/// The settings the loop uses after start.
pub(crate) struct Settings {
    pub tick_interval: Duration,
    pub election_ticks: u64,
    pub snapshot_count: u64,
    pub snapshot_catch_up_entries: u64,
    pub max_batch: usize,
}

impl Settings {
    pub fn new(config: &NodeConfig) -> Self {
        Settings {
            tick_interval: config.tick_interval,
            election_ticks: config.election_ticks as u64,
            snapshot_count: config.snapshot_count,
            snapshot_catch_up_entries: config.snapshot_catch_up_entries,
            max_batch: config.max_batch,
        }
    }
}

/// The receiving ends the loop listens on.
pub(crate) struct Channels<O> {
    pub commands: mpsc::Receiver<Command<O>>,
    pub inbox: mpsc::Receiver<Inbound>,
    pub shutdown: oneshot::Receiver<()>,
}

/// Everything the loop owns.
pub(crate) struct Driver<S: StateMachine> {
    id: u64,
    raw: RawNode<WalStorage>,
    /// The same storage as `raw`'s (clones share it).
    storage: WalStorage,
    wal: Wal,
    machine: S,
    transport: Box<dyn Transport>,
    settings: Settings,
    logger: slog::Logger,
    /// The state machine's applied index.
    applied: u64,
    snapshot_index: u64,
    /// The hard state last written to the WAL.
    saved_hard_state: HardState,
    /// The term proposals were last checked against.
    term: u64,
    ticks: u64,
    removed: bool,
    ids: RequestIds,
    /// Proposals taken this turn, proposed together at its end.
    batch: Vec<(Vec<u8>, Reply<S::Output>)>,
    proposals: ProposalWaiters<S::Output>,
    conf_changes: ProposalWaiters<ConfState>,
    reads: ReadIndexBatcher,
    transfers: LeaderTransfers,
    status: watch::Sender<Status>,
}

impl<S: StateMachine> Driver<S> {
    pub fn new(
        config: &NodeConfig,
        raw: RawNode<WalStorage>,
        recovery: Recovery,
        machine: S,
        transport: Box<dyn Transport>,
        status: watch::Sender<Status>,
        logger: slog::Logger,
    ) -> Self {
        let settings = Settings::new(config);
        let term = raw.raft.term;
        Driver {
            id: config.id,
            raw,
            storage: recovery.storage,
            wal: recovery.wal,
            machine,
            transport,
            reads: ReadIndexBatcher::new(settings.election_ticks),
            settings,
            logger,
            applied: recovery.applied,
            snapshot_index: recovery.snapshot_index,
            saved_hard_state: recovery.hard_state,
            term,
            ticks: 0,
            removed: false,
            ids: RequestIds::new(config.id),
            batch: Vec::new(),
            proposals: ProposalWaiters::default(),
            conf_changes: ProposalWaiters::default(),
            transfers: LeaderTransfers::default(),
            status,
        }
    }

    /// Runs until shut down, removed from the cluster, or failed. Every caller
    /// still waiting is then answered `Stopped`.
    pub async fn run(mut self, mut channels: Channels<S::Output>) -> Result<(), NodeError> {
        let mut ticker = time::interval(self.settings.tick_interval);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let result = loop {
            // Raft may have more work than one turn took (a long catch-up): come back
            // to it after letting other tasks run, rather than waiting for an event.
            let more = self.raw.has_ready();
            tokio::select! {
                biased;
                _ = &mut channels.shutdown => break Ok(()),
                _ = ticker.tick() => self.tick(),
                Some(inbound) = channels.inbox.recv() => self.on_inbound(inbound),
                Some(command) = channels.commands.recv() => self.on_command(command),
                () = tokio::task::yield_now(), if more => {}
            }
            self.drain(&mut channels);
            if let Err(error) = self.turn() {
                break Err(error);
            }
            if self.removed {
                break Ok(());
            }
        };
        self.proposals.fail_all(&ProposalError::Stopped);
        self.conf_changes.fail_all(&ProposalError::Stopped);
        for (_, reply) in self.batch.drain(..) {
            let _ = reply.send(Err(ProposalError::Stopped));
        }
        self.reads.fail_all(&ReadError::Stopped);
        self.transfers.fail_all(&TransferError::Stopped);
        result
    }

    fn tick(&mut self) {
        self.raw.tick();
        self.ticks += 1;
        self.reads.on_tick(self.ticks);
        if self.ticks.is_multiple_of(self.settings.election_ticks) {
            self.proposals.purge_abandoned();
            self.conf_changes.purge_abandoned();
        }
    }

    /// Takes what else is queued, up to a batch of each kind.
    fn drain(&mut self, channels: &mut Channels<S::Output>) {
        for _ in 0..self.settings.max_batch {
            match channels.inbox.try_recv() {
                Ok(inbound) => self.on_inbound(inbound),
                Err(_) => break,
            }
        }
        for _ in 0..self.settings.max_batch {
            match channels.commands.try_recv() {
                Ok(command) => self.on_command(command),
                Err(_) => break,
            }
        }
    }

    fn on_inbound(&mut self, inbound: Inbound) {
        match inbound {
            Inbound::Message(message) if message.to == self.id => {
                let kind = message.get_msg_type();
                if let Err(error) = self.raw.step(*message) {
                    debug!(self.logger, "dropped a message"; "type" => ?kind, "error" => %error);
                }
            }
            Inbound::Message(message) => {
                debug!(self.logger, "dropped a message for another node"; "to" => message.to);
            }
            Inbound::Unreachable(peer) => self.raw.report_unreachable(peer),
            Inbound::Snapshot { to, status } => self.raw.report_snapshot(to, status),
        }
    }

    fn on_command(&mut self, command: Command<S::Output>) {
        match command {
            Command::Propose { data, reply } => self.batch.push((data, reply)),
            Command::ChangeMembership { changes, context, reply } => {
                // Keep a caller's earlier proposals ahead of its membership change.
                self.flush_proposals();
                self.propose_conf_change(&changes, context, reply);
            }
            Command::ReadIndex { reply } => self.reads.push(reply),
            Command::TransferLeader { to, reply } => self.transfer_leader(to, reply),
        }
    }

    /// Proposes the batch, handles raft's work, and publishes the status.
    fn turn(&mut self) -> Result<(), NodeError> {
        self.flush_proposals();
        self.start_read_round();
        for _ in 0..MAX_READIES_PER_TURN {
            if self.removed || !self.raw.has_ready() {
                break;
            }
            self.on_ready()?;
            self.start_read_round();
        }
        let term = self.raw.raft.term;
        if term > self.term {
            self.term = term;
            self.proposals.on_new_term(term);
            self.conf_changes.on_new_term(term);
        }
        self.transfers.poll(self.raw.raft.leader_id, self.ticks);
        self.publish_status();
        Ok(())
    }

    /// Starts a ReadIndex round for the queued reads, if raft can serve one now
    /// (raft-rs silently drops a read on a leader that has not committed an entry
    /// of its term yet, or on a follower that knows no leader).
    fn start_read_round(&mut self) {
        if !self.reads.has_queued() {
            return;
        }
        let raft = &self.raw.raft;
        let can_read = match raft.state {
            StateRole::Leader => raft.commit_to_current_term(),
            _ => raft.leader_id != raft::INVALID_ID,
        };
        if !can_read {
            return;
        }
        let ids = &mut self.ids;
        if let Some(ctx) = self.reads.start_round(self.ticks, || ids.next_id()) {
            self.raw.read_index(ctx.encode());
        }
    }

    /// Publishes the node's status if it changed.
    pub(crate) fn publish_status(&mut self) {
        let raft = &self.raw.raft;
        let conf = raft.prs().conf().to_conf_state();
        let role = if self.removed {
            Role::Removed
        } else if conf.learners.contains(&self.id) {
            Role::Learner
        } else {
            match raft.state {
                StateRole::Leader => Role::Leader,
                StateRole::Candidate => Role::Candidate,
                StateRole::PreCandidate => Role::PreCandidate,
                StateRole::Follower => Role::Follower,
            }
        };
        let mut voters: Vec<u64> = conf.voters.iter().chain(&conf.voters_outgoing).copied().collect();
        voters.sort_unstable();
        voters.dedup();
        let mut learners: Vec<u64> = conf.learners.iter().chain(&conf.learners_next).copied().collect();
        learners.sort_unstable();
        learners.dedup();
        let status = Status {
            id: self.id,
            leader_id: (raft.leader_id != raft::INVALID_ID).then_some(raft.leader_id),
            term: raft.term,
            commit: raft.raft_log.committed,
            applied: self.applied,
            snapshot_index: self.snapshot_index,
            role,
            voters,
            learners,
            joint: !conf.voters_outgoing.is_empty(),
        };
        self.status.send_if_modified(|current| {
            let changed = *current != status;
            if changed {
                *current = status;
            }
            changed
        });
    }

    /// Whether this node is in the current configuration.
    fn is_member(&self) -> bool {
        is_member(&self.raw.raft.prs().conf().to_conf_state(), self.id)
    }

    /// The leader this node knows of.
    fn leader(&self) -> Option<u64> {
        let leader = self.raw.raft.leader_id;
        (leader != raft::INVALID_ID).then_some(leader)
    }
}
