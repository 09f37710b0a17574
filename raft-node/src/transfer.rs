//! [`LeaderTransfers`]: callers waiting for leadership to move.

use crate::command::TransferReply;
use crate::error::TransferError;

struct Pending {
    to: u64,
    deadline: u64,
    reply: TransferReply,
}

/// Leader transfers asked for and not yet seen through.
#[derive(Default)]
pub(crate) struct LeaderTransfers {
    pending: Vec<Pending>,
}

impl LeaderTransfers {
    /// Waits for `to` to lead, until tick `deadline`.
    pub fn push(&mut self, to: u64, deadline: u64, reply: TransferReply) {
        self.pending.push(Pending { to, deadline, reply });
    }

    /// Answers transfers that reached their transferee (`leader` is the known
    /// leader, 0 if none) or their deadline (`now`).
    pub fn poll(&mut self, leader: u64, now: u64) {
        let (done, pending) =
            std::mem::take(&mut self.pending).into_iter().partition(|p| p.to == leader || now >= p.deadline);
        self.pending = pending;
        for p in done {
            let result = if p.to == leader { Ok(()) } else { Err(TransferError::TimedOut) };
            let _ = p.reply.send(result);
        }
    }

    /// Answers every transfer with `error`.
    pub fn fail_all(&mut self, error: &TransferError) {
        for p in self.pending.drain(..) {
            let _ = p.reply.send(Err(error.clone()));
        }
    }
}

#[cfg(test)]
mod tests {
    use tokio::sync::oneshot;

    use super::*;

    #[test]
    fn answered_on_arrival_or_deadline() {
        let mut t = LeaderTransfers::default();
        let (tx, mut arrives) = oneshot::channel();
        t.push(2, 10, tx);
        let (tx, mut times_out) = oneshot::channel();
        t.push(3, 5, tx);
        t.poll(1, 4);
        assert!(arrives.try_recv().is_err() && times_out.try_recv().is_err());
        t.poll(1, 5);
        assert_eq!(times_out.try_recv(), Ok(Err(TransferError::TimedOut)));
        t.poll(2, 6);
        assert_eq!(arrives.try_recv(), Ok(Ok(())));
    }
}
