//! [`ProposalWaiters`]: callers waiting for their proposals to be applied.
//!
//! A proposal is found again by the [`RequestId`] in its entry's context, whichever
//! node applies it. A proposal appended by this node as leader also knows its slot
//! (index): when that index is applied with another entry, a new leader overwrote
//! it, and the caller learns for certain that it was dropped. A proposal forwarded
//! to the leader has no slot; if the term changes before it is seen applied, its
//! fate is unknown.

use std::collections::{BTreeMap, HashMap};

use crate::command::Reply;
use crate::error::ProposalError;
use crate::request_id::RequestId;

struct Waiter<T> {
    reply: Reply<T>,
    slot: Option<u64>,
    term: u64,
}

/// Pending proposals whose result is a `T`.
pub(crate) struct ProposalWaiters<T> {
    by_id: HashMap<RequestId, Waiter<T>>,
    by_slot: BTreeMap<u64, RequestId>,
}

impl<T> Default for ProposalWaiters<T> {
    fn default() -> Self {
        ProposalWaiters { by_id: HashMap::new(), by_slot: BTreeMap::new() }
    }
}

impl<T> ProposalWaiters<T> {
    /// Registers a proposal appended at `slot` by this node as leader, or forwarded
    /// (`None`) while the term was `term`.
    pub fn insert(&mut self, id: RequestId, reply: Reply<T>, slot: Option<u64>, term: u64) {
        if let Some(slot) = slot {
            self.by_slot.insert(slot, id);
        }
        self.by_id.insert(id, Waiter { reply, slot, term });
    }

    /// Answers the caller of `id`, if one waits here.
    pub fn complete(&mut self, id: RequestId, result: Result<T, ProposalError>) {
        if let Some(waiter) = self.by_id.remove(&id) {
            if let Some(slot) = waiter.slot {
                self.by_slot.remove(&slot);
            }
            // The caller may have given up waiting; that is its business.
            let _ = waiter.reply.send(result);
        }
    }

    /// Fails every proposal whose slot is at or below `index` with `error`: the slot
    /// was applied (or covered by a snapshot) and its entry was not the proposal's.
    pub fn settle_through(&mut self, index: u64, error: &ProposalError) {
        let later = match index.checked_add(1) {
            Some(next) => self.by_slot.split_off(&next),
            None => BTreeMap::new(),
        };
        let settled = std::mem::replace(&mut self.by_slot, later);
        for id in settled.into_values() {
            if let Some(waiter) = self.by_id.remove(&id) {
                let _ = waiter.reply.send(Err(error.clone()));
            }
        }
    }

    /// The term moved to `term`: forwarded proposals of older terms may have been
    /// lost with the old leader, so their callers are told the outcome is unknown.
    pub fn on_new_term(&mut self, term: u64) {
        let stale: Vec<_> =
            self.by_id.iter().filter(|(_, w)| w.slot.is_none() && w.term < term).map(|(&id, _)| id).collect();
        for id in stale {
            self.complete(id, Err(ProposalError::Indeterminate));
        }
    }

    /// Forgets callers that stopped waiting.
    pub fn purge_abandoned(&mut self) {
        let by_slot = &mut self.by_slot;
        self.by_id.retain(|_, w| {
            let keep = !w.reply.is_closed();
            if let (false, Some(slot)) = (keep, w.slot) {
                by_slot.remove(&slot);
            }
            keep
        });
    }

    /// Answers everyone with `error`.
    pub fn fail_all(&mut self, error: &ProposalError) {
        self.by_slot.clear();
        for (_, waiter) in self.by_id.drain() {
            let _ = waiter.reply.send(Err(error.clone()));
        }
    }

    /// How many callers wait.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.by_id.len()
    }
}

#[cfg(test)]
mod tests {
    use tokio::sync::oneshot;

    use super::*;

    fn id(seq: u64) -> RequestId {
        RequestId { node: 1, seq }
    }

    type Rx = oneshot::Receiver<Result<u64, ProposalError>>;

    fn waiting(waiters: &mut ProposalWaiters<u64>, seq: u64, slot: Option<u64>, term: u64) -> Rx {
        let (tx, rx) = oneshot::channel();
        waiters.insert(id(seq), tx, slot, term);
        rx
    }

    const DROPPED: ProposalError = ProposalError::Dropped { leader: None, reason: "test" };

    #[test]
    fn applied_completes_and_overwritten_slots_are_dropped() {
        let mut w = ProposalWaiters::default();
        let mut applied = waiting(&mut w, 1, Some(5), 2);
        let mut overwritten = waiting(&mut w, 2, Some(6), 2);
        let mut later = waiting(&mut w, 3, Some(8), 2);
        w.complete(id(1), Ok(50));
        w.settle_through(7, &DROPPED);
        assert_eq!(applied.try_recv().expect("answered"), Ok(50));
        assert_eq!(overwritten.try_recv().expect("answered"), Err(DROPPED));
        assert!(later.try_recv().is_err(), "slot 8 is not applied yet");
        assert_eq!(w.len(), 1);
    }

    #[test]
    fn a_new_term_fails_only_older_forwarded_proposals() {
        let mut w = ProposalWaiters::default();
        let mut forwarded = waiting(&mut w, 1, None, 2);
        let mut current = waiting(&mut w, 2, None, 3);
        let mut local = waiting(&mut w, 3, Some(4), 2);
        w.on_new_term(3);
        assert_eq!(forwarded.try_recv().expect("answered"), Err(ProposalError::Indeterminate));
        assert!(current.try_recv().is_err());
        assert!(local.try_recv().is_err(), "its slot will tell");
        w.fail_all(&ProposalError::Stopped);
        assert_eq!(current.try_recv().expect("answered"), Err(ProposalError::Stopped));
        assert_eq!(local.try_recv().expect("answered"), Err(ProposalError::Stopped));
        assert_eq!(w.len(), 0);
    }

    #[test]
    fn abandoned_callers_are_forgotten() {
        let mut w = ProposalWaiters::default();
        drop(waiting(&mut w, 1, Some(3), 1));
        let _kept = waiting(&mut w, 2, None, 1);
        w.purge_abandoned();
        assert_eq!(w.len(), 1);
        assert!(w.by_slot.is_empty());
    }
}
