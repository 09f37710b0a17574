//! Turning commands into raft proposals: the batch of normal proposals, membership
//! changes, and leader transfers.

use raft::StateRole;
use raft::eraftpb::{ConfState, Entry, Message, MessageType};

use super::Driver;
use crate::command::{Reply, TransferReply};
use crate::error::{ProposalError, TransferError};
use crate::membership::{MembershipChange, conf_change, is_voter, validate};
use crate::state_machine::StateMachine;

impl<S: StateMachine> Driver<S> {
    /// Proposes the turn's proposals as ONE raft message: one append to the log and
    /// one broadcast for all of them (a follower forwards the whole batch).
    pub(super) fn flush_proposals(&mut self) {
        self.batch.retain(|(_, reply)| !reply.is_closed());
        // With no leader known raft would drop them: like etcd's, they wait for
        // one (an election), until their proposers give up on them.
        if self.batch.is_empty() || self.leader().is_none() {
            return;
        }
        let (data, replies): (Vec<_>, Vec<_>) = std::mem::take(&mut self.batch).into_iter().unzip();
        let ids: Vec<_> = replies.iter().map(|_| self.ids.next_id()).collect();
        let entries: Vec<Entry> = data
            .into_iter()
            .zip(&ids)
            .map(|(data, id)| Entry { data: data.into(), context: id.encode().into(), ..Default::default() })
            .collect();
        let count = entries.len() as u64;
        let mut message = Message { msg_type: MessageType::MsgPropose, from: self.id, ..Default::default() };
        message.set_entries(entries.into());
        if self.raw.step(message).is_err() {
            let error = self.dropped("raft refused it (a leader transfer is in progress)");
            for reply in replies {
                let _ = reply.send(Err(error.clone()));
            }
            return;
        }
        let raft = &self.raw.raft;
        let term = raft.term;
        // A leader appended them at the end of its log: remember their slots. A
        // follower forwarded them, and learns nothing of where they land.
        let first = (raft.state == StateRole::Leader).then(|| raft.raft_log.last_index() + 1 - count);
        for (k, (reply, id)) in replies.into_iter().zip(ids).enumerate() {
            self.proposals.insert(id, reply, first.map(|first| first + k as u64), term);
        }
    }

    /// Proposes a membership change, on the leader only, after checking it.
    pub(super) fn propose_conf_change(
        &mut self,
        changes: &[MembershipChange],
        context: Vec<u8>,
        reply: Reply<ConfState>,
    ) {
        if self.raw.raft.state != StateRole::Leader {
            let _ = reply.send(Err(self.dropped("membership changes are proposed on the leader")));
            return;
        }
        let conf = self.raw.raft.prs().conf().to_conf_state();
        // raft-rs would turn these into empty entries silently; refuse them here.
        if self.raw.raft.has_pending_conf() || !conf.voters_outgoing.is_empty() {
            let _ = reply.send(Err(self.dropped("another membership change is in progress")));
            return;
        }
        if let Err(reason) = validate(self.raw.raft.prs(), changes) {
            let _ = reply.send(Err(ProposalError::Rejected(reason)));
            return;
        }
        let id = self.ids.next_id();
        if self.raw.propose_conf_change(id.encode(), conf_change(changes, context)).is_err() {
            let _ = reply.send(Err(self.dropped("leader transfer in progress")));
            return;
        }
        let slot = self.raw.raft.raft_log.last_index();
        self.conf_changes.insert(id, reply, Some(slot), self.raw.raft.term);
    }

    /// Asks raft to hand leadership to `to`; answered when `to` leads, or after a
    /// few election timeouts.
    pub(super) fn transfer_leader(&mut self, to: u64, reply: TransferReply) {
        if self.raw.raft.state != StateRole::Leader {
            let _ = reply.send(Err(TransferError::NotLeader { leader: self.leader() }));
            return;
        }
        if to == self.id {
            let _ = reply.send(Ok(()));
            return;
        }
        if !is_voter(&self.raw.raft.prs().conf().to_conf_state(), to) {
            let _ = reply.send(Err(TransferError::NotVoter(to)));
            return;
        }
        self.raw.transfer_leader(to);
        self.transfers.push(to, self.ticks + 3 * self.settings.election_ticks, reply);
    }

    pub(super) fn dropped(&self, reason: &'static str) -> ProposalError {
        ProposalError::Dropped { leader: self.leader(), reason }
    }
}
