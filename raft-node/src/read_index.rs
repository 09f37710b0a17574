//! [`ReadIndexBatcher`]: linearizable reads, coalesced into ReadIndex rounds.
//!
//! Reads that arrive while no round is in flight share the next round: one
//! `RawNode::read_index` call (one heartbeat round trip on the leader) under one
//! context. Reads arriving while a round is in flight wait for the next one, since
//! the read index must be taken after the read arrived. Once a round's read index
//! is known, each of its reads is answered as soon as the state machine has applied
//! it. A round that gets no answer (no leader, a leader change, a lost message) is
//! retried with a new context after a timeout, together with the reads queued since.

use crate::command::ReadReply;
use crate::error::ReadError;
use crate::request_id::RequestId;

struct Round {
    ctx: RequestId,
    readers: Vec<ReadReply>,
    started: u64,
}

/// Reads queued, in flight, and waiting for the state machine.
pub(crate) struct ReadIndexBatcher {
    queued: Vec<ReadReply>,
    in_flight: Option<Round>,
    /// Read index and its readers, waiting for `applied >= index`.
    waiting: Vec<(u64, Vec<ReadReply>)>,
    retry_ticks: u64,
}

impl ReadIndexBatcher {
    /// A batcher that retries a round after `retry_ticks` ticks without answer.
    pub fn new(retry_ticks: u64) -> Self {
        ReadIndexBatcher { queued: Vec::new(), in_flight: None, waiting: Vec::new(), retry_ticks }
    }

    /// Queues a read for the next round.
    pub fn push(&mut self, reply: ReadReply) {
        self.queued.push(reply);
    }

    /// Starts a round for all queued reads, unless one is in flight or none are
    /// queued; returns its context, for `RawNode::read_index`.
    pub fn start_round(&mut self, now: u64, ctx: impl FnOnce() -> RequestId) -> Option<RequestId> {
        self.queued.retain(|r| !r.is_closed());
        if self.in_flight.is_some() || self.queued.is_empty() {
            return None;
        }
        let ctx = ctx();
        self.in_flight = Some(Round { ctx, readers: std::mem::take(&mut self.queued), started: now });
        Some(ctx)
    }

    /// Whether reads are queued for a round.
    pub fn has_queued(&self) -> bool {
        !self.queued.is_empty()
    }

    /// raft answered the round `ctx` with `index`.
    pub fn on_read_state(&mut self, ctx: &[u8], index: u64, applied: u64) {
        let Some(round) = self.in_flight.take_if(|r| RequestId::decode(ctx) == Some(r.ctx)) else {
            return; // a round given up on, or another node's
        };
        if index <= applied {
            answer(round.readers, index);
        } else {
            self.waiting.push((index, round.readers));
        }
    }

    /// The state machine reached `applied`: answer the reads it satisfies.
    pub fn on_applied(&mut self, applied: u64) {
        let (ready, waiting) = std::mem::take(&mut self.waiting).into_iter().partition(|(index, _)| *index <= applied);
        self.waiting = waiting;
        for (index, readers) in ready {
            answer(readers, index);
        }
    }

    /// Gives up on a round unanswered for too long: its reads go back to the queue.
    pub fn on_tick(&mut self, now: u64) {
        if let Some(round) = self.in_flight.take_if(|r| now.saturating_sub(r.started) >= self.retry_ticks) {
            let mut readers = round.readers;
            readers.append(&mut self.queued);
            self.queued = readers;
        }
    }

    /// Answers every read with `error`.
    pub fn fail_all(&mut self, error: &ReadError) {
        let rounds = self.in_flight.take().map(|r| r.readers);
        let waiting = self.waiting.drain(..).map(|(_, r)| r);
        for reply in self.queued.drain(..).chain(rounds.into_iter().chain(waiting).flatten()) {
            let _ = reply.send(Err(error.clone()));
        }
    }
}

fn answer(readers: Vec<ReadReply>, index: u64) {
    for reply in readers {
        let _ = reply.send(Ok(index));
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use tokio::sync::oneshot;

    use super::*;

    type Rx = oneshot::Receiver<Result<u64, ReadError>>;

    fn read(batcher: &mut ReadIndexBatcher) -> Rx {
        let (tx, rx) = oneshot::channel();
        batcher.push(tx);
        rx
    }

    fn ctx(seq: u64) -> RequestId {
        RequestId { node: 1, seq }
    }

    #[test]
    fn concurrent_reads_share_one_round_and_wait_for_apply() {
        let mut b = ReadIndexBatcher::new(10);
        let mut first: Vec<Rx> = (0..5).map(|_| read(&mut b)).collect();
        assert_eq!(b.start_round(0, || ctx(1)), Some(ctx(1)));
        let mut second = read(&mut b);
        assert_eq!(b.start_round(0, || ctx(2)), None, "one round in flight at a time");
        b.on_read_state(&ctx(1).encode(), 7, 5);
        assert!(first.iter_mut().all(|rx| rx.try_recv().is_err()), "not applied yet");
        b.on_applied(7);
        assert!(first.iter_mut().all(|rx| rx.try_recv() == Ok(Ok(7))));
        assert_eq!(b.start_round(1, || ctx(2)), Some(ctx(2)));
        b.on_read_state(&ctx(2).encode(), 7, 7);
        assert_eq!(second.try_recv(), Ok(Ok(7)));
    }

    #[test]
    fn an_unanswered_round_is_retried_with_later_reads() {
        let mut b = ReadIndexBatcher::new(10);
        let mut early = read(&mut b);
        b.start_round(0, || ctx(1));
        let mut late = read(&mut b);
        b.on_tick(9);
        assert_eq!(b.start_round(9, || ctx(2)), None);
        b.on_tick(10);
        assert_eq!(b.start_round(10, || ctx(2)), Some(ctx(2)));
        b.on_read_state(&ctx(1).encode(), 3, 9); // the abandoned round's late answer
        assert!(early.try_recv().is_err());
        b.on_read_state(&ctx(2).encode(), 4, 9);
        assert_eq!((early.try_recv(), late.try_recv()), (Ok(Ok(4)), Ok(Ok(4))));
    }

    #[test]
    fn fail_all_answers_everyone() {
        let mut b = ReadIndexBatcher::new(10);
        let mut a = read(&mut b);
        b.start_round(0, || ctx(1));
        let mut c = read(&mut b);
        b.fail_all(&ReadError::Stopped);
        assert_eq!(a.try_recv(), Ok(Err(ReadError::Stopped)));
        assert_eq!(c.try_recv(), Ok(Err(ReadError::Stopped)));
    }

    proptest! {
        /// Whatever happens, a read is answered at most once, only with the index of
        /// a round started after it arrived, and only once that index is applied.
        #[test]
        fn answers_are_linearizable(ops in prop::collection::vec(0u8..5, 1..200)) {
            let mut b = ReadIndexBatcher::new(3);
            let (mut now, mut applied, mut seq, mut commit) = (0u64, 0u64, 0u64, 0u64);
            let mut reads: Vec<(u64, Rx)> = Vec::new(); // (commit when it arrived, receiver)
            let mut rounds: Vec<(RequestId, u64)> = Vec::new();
            for op in ops {
                match op {
                    0 => reads.push((commit, read(&mut b))),
                    1 => if let Some(c) = b.start_round(now, || { seq += 1; ctx(seq) }) { rounds.push((c, commit)) },
                    2 => if let Some((c, index)) = rounds.pop() { b.on_read_state(&c.encode(), index, applied) },
                    3 => { commit += 1; if applied + 2 < commit { applied += 1; b.on_applied(applied) } },
                    _ => { now += 1; b.on_tick(now) },
                }
                for (arrived, rx) in &mut reads {
                    if let Ok(answer) = rx.try_recv() {
                        let index = answer.expect("never failed here");
                        prop_assert!(index >= *arrived && index <= applied);
                    }
                }
            }
        }
    }
}
