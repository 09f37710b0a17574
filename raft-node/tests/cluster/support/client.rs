//! A client that retries what is safe to retry, and records what it knows.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use cairn_raft::{NodeHandle, ProposalError};
use parking_lot::Mutex;

use super::cluster::TICK;
use super::journal::{Journal, Log};

/// How often a proposal is retried after a definite drop before the test fails.
const ATTEMPTS: usize = 1000;

/// Proposes `data` through `handles`, moving to the next one after a definite drop
/// (no leader, transfer in progress, overwritten slot); returns the applied index,
/// or the error that leaves the outcome unknown (which must not be retried with the
/// same data, or it could be applied twice).
pub async fn propose(handles: &[NodeHandle<Journal>], data: &[u8]) -> Result<u64, ProposalError> {
    for attempt in 0..ATTEMPTS {
        let handle = &handles[attempt % handles.len()];
        if handle.is_stopped() {
            continue;
        }
        match tokio::time::timeout(Duration::from_secs(3), handle.propose(data.to_vec())).await {
            Ok(Ok(index)) => return Ok(index),
            Ok(Err(ProposalError::Dropped { .. })) => tokio::time::sleep(TICK).await,
            Ok(Err(error)) => return Err(error),
            Err(_elapsed) => return Err(ProposalError::Indeterminate),
        }
    }
    panic!("proposal {:?} dropped {ATTEMPTS} times", String::from_utf8_lossy(data));
}

/// What a client learned of its proposals.
#[derive(Debug, Default)]
pub struct Outcomes {
    /// Applied, with the index.
    pub acked: Vec<(Vec<u8>, u64)>,
    /// Outcome unknown.
    pub unknown: Vec<Vec<u8>>,
}

impl Outcomes {
    pub fn record(&mut self, data: Vec<u8>, result: Result<u64, ProposalError>) {
        match result {
            Ok(index) => self.acked.push((data, index)),
            Err(_) => self.unknown.push(data),
        }
    }

    /// Every acknowledged proposal is in `log` exactly once, at its index; every
    /// other at most once.
    pub fn check(&self, log: &Log) {
        for (data, index) in &self.acked {
            assert_eq!(
                log.count(data),
                1,
                "acked {:?} applied {} times",
                String::from_utf8_lossy(data),
                log.count(data)
            );
            assert!(log.entries.contains(&(*index, data.clone())), "acked {data:?} not at index {index}");
        }
        for data in &self.unknown {
            assert!(log.count(data) <= 1, "{:?} applied {} times", String::from_utf8_lossy(data), log.count(data));
        }
    }
}

/// The members a client proposes through (changed as members come and go).
pub type Members = Arc<Mutex<Vec<NodeHandle<Journal>>>>;

/// Proposes `bg-N` through the current members, starting at a different one each
/// time, until told to stop.
pub async fn keep_proposing(members: Members, stop: Arc<AtomicBool>) -> Outcomes {
    let mut outcomes = Outcomes::default();
    let mut n = 0usize;
    while !stop.load(Ordering::Relaxed) {
        let mut handles = members.lock().clone();
        let len = handles.len();
        handles.rotate_left(n % len);
        let data = format!("bg-{n}").into_bytes();
        let result = propose(&handles, &data).await;
        outcomes.record(data, result);
        n += 1;
    }
    outcomes
}
