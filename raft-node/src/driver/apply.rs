//! Applying committed entries: membership changes to raft, everything to the state
//! machine in one batch, then answering the callers waiting for them.

use protobuf::Message as _;
use raft::eraftpb::{ConfChange, ConfChangeSingle, ConfChangeV2, ConfState, Entry, EntryType};

use super::Driver;
use crate::error::{NodeError, ProposalError};
use crate::request_id::RequestId;
use crate::state_machine::{Committed, Payload, StateMachine};

/// A committed membership change and what applying it to raft gave.
type Applied = Option<(ConfChangeV2, Result<ConfState, String>)>;

impl<S: StateMachine> Driver<S> {
    pub(super) fn apply(&mut self, entries: Vec<Entry>) -> Result<(), NodeError> {
        let Some(last) = entries.last().map(|e| e.index) else { return Ok(()) };
        let was_member = self.is_member();
        // Raft's membership is not in the state machine's data: after a restart raft
        // starts from the snapshot's, so it gets every change again, even those the
        // state machine has applied (as etcd does).
        let conf_changes = entries.iter().map(|e| self.apply_conf_change(e)).collect::<Result<Vec<_>, _>>()?;

        let fresh: Vec<usize> = (0..entries.len()).filter(|&k| entries[k].index > self.applied).collect();
        if !fresh.is_empty() {
            let batch: Vec<Committed<'_>> = fresh.iter().map(|&k| committed(&entries[k], &conf_changes[k])).collect();
            let outputs = self.machine.apply(&batch).map_err(NodeError::state_machine)?;
            if outputs.len() != batch.len() {
                let reason = format!("apply returned {} outputs for {} entries", outputs.len(), batch.len());
                return Err(NodeError::StateMachine(reason.into()));
            }
            for (&k, output) in fresh.iter().zip(outputs) {
                let Some(id) = RequestId::decode(&entries[k].context) else { continue };
                match &conf_changes[k] {
                    None => self.proposals.complete(id, Ok(output)),
                    Some((_, Ok(conf_state))) => self.conf_changes.complete(id, Ok(conf_state.clone())),
                    Some((_, Err(reason))) => {
                        self.conf_changes.complete(id, Err(ProposalError::Rejected(reason.clone())))
                    }
                }
            }
            self.applied = last;
        }
        // Whatever else was appended by this node up to `last` lost its slot to
        // another leader's entry.
        let overwritten = self.dropped("a new leader overwrote its log entry");
        self.proposals.settle_through(last, &overwritten);
        self.conf_changes.settle_through(last, &overwritten);
        self.reads.on_applied(self.applied);
        if was_member && conf_changes.iter().any(Option::is_some) && !self.is_member() {
            self.removed = true;
        }
        Ok(())
    }

    /// Applies `entry` to raft's membership if it is a membership change.
    fn apply_conf_change(&mut self, entry: &Entry) -> Result<Applied, NodeError> {
        let malformed =
            |e: protobuf::ProtobufError| NodeError::MalformedEntry { index: entry.index, reason: e.to_string() };
        let change = match entry.get_entry_type() {
            EntryType::EntryNormal => return Ok(None),
            EntryType::EntryConfChange => v1_to_v2(ConfChange::parse_from_bytes(&entry.data).map_err(malformed)?),
            EntryType::EntryConfChangeV2 => ConfChangeV2::parse_from_bytes(&entry.data).map_err(malformed)?,
        };
        // Every member refuses the same invalid change the same way, so refusing
        // (not calling raft) keeps them consistent.
        let result = self.raw.apply_conf_change(&change).map_err(|e| e.to_string());
        if let Ok(conf_state) = &result {
            self.storage.set_conf_state(conf_state.clone());
        }
        Ok(Some((change, result)))
    }
}

/// A (legacy, never proposed here) single conf change as a V2 one, as raft-proto's
/// `into_v2` does.
fn v1_to_v2(v1: ConfChange) -> ConfChangeV2 {
    let single = ConfChangeSingle { change_type: v1.change_type, node_id: v1.node_id, ..Default::default() };
    ConfChangeV2 { changes: vec![single].into(), context: v1.context, ..Default::default() }
}

fn committed<'a>(entry: &'a Entry, conf_change: &'a Applied) -> Committed<'a> {
    let payload = match conf_change {
        Some((change, Ok(conf_state))) => Payload::ConfChange { change, conf_state },
        Some((_, Err(_))) => Payload::Empty,
        // A new leader's entry; a user's proposal always has its id as context.
        None if entry.data.is_empty() && entry.context.is_empty() => Payload::Empty,
        None => Payload::Normal(&entry.data),
    };
    Committed { index: entry.index, term: entry.term, payload }
}
