//! [`Journal`]: a state machine that records every entry applied to it, and fails
//! on a gap or a repeated index, so tests can check "exactly once, in order".

use std::sync::Arc;

use cairn_raft::{Committed, Payload, StateMachine};
use parking_lot::Mutex;
use raft::eraftpb::Snapshot;

/// What a journal holds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Log {
    /// The applied index.
    pub applied: u64,
    /// Every normal entry applied: index and data.
    pub entries: Vec<(u64, Vec<u8>)>,
    /// Indexes of membership changes applied (not part of snapshots).
    pub conf_changes: Vec<u64>,
    /// How many snapshots were restored (not part of snapshots).
    pub restores: u64,
}

impl Log {
    /// How many times `data` was applied.
    pub fn count(&self, data: &[u8]) -> usize {
        self.entries.iter().filter(|(_, d)| d == data).count()
    }
}

/// The state machine; clones share the log, so a test keeps one to inspect it and
/// to hand it to a restarted node (a state machine whose state survived).
#[derive(Clone, Debug, Default)]
pub struct Journal {
    pub log: Arc<Mutex<Log>>,
}

/// A broken contract or a bad snapshot.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("entry {got} applied after {applied}")]
    Gap { applied: u64, got: u64 },
    #[error("malformed snapshot")]
    Malformed,
}

impl Journal {
    /// A copy of the log.
    pub fn snapshot_log(&self) -> Log {
        self.log.lock().clone()
    }
}

impl StateMachine for Journal {
    type Output = u64;
    type Error = JournalError;

    fn apply(&mut self, entries: &[Committed<'_>]) -> Result<Vec<u64>, JournalError> {
        let mut log = self.log.lock();
        let mut outputs = Vec::with_capacity(entries.len());
        for entry in entries {
            if entry.index != log.applied + 1 {
                return Err(JournalError::Gap { applied: log.applied, got: entry.index });
            }
            match entry.payload {
                Payload::Normal(data) => log.entries.push((entry.index, data.to_vec())),
                Payload::ConfChange { .. } => log.conf_changes.push(entry.index),
                Payload::Empty => {}
            }
            log.applied = entry.index;
            outputs.push(entry.index);
        }
        Ok(outputs)
    }

    fn applied_index(&self) -> u64 {
        self.log.lock().applied
    }

    fn snapshot(&self) -> Result<Vec<u8>, JournalError> {
        let log = self.log.lock();
        let mut out = Vec::new();
        out.extend_from_slice(&log.applied.to_le_bytes());
        for (index, data) in &log.entries {
            out.extend_from_slice(&index.to_le_bytes());
            out.extend_from_slice(&(data.len() as u64).to_le_bytes());
            out.extend_from_slice(data);
        }
        Ok(out)
    }

    fn restore(&mut self, snapshot: &Snapshot) -> Result<(), JournalError> {
        let mut bytes = snapshot.get_data();
        let _applied_when_taken = word(&mut bytes)?;
        let mut entries = Vec::new();
        while !bytes.is_empty() {
            let index = word(&mut bytes)?;
            let len = usize::try_from(word(&mut bytes)?).map_err(|_| JournalError::Malformed)?;
            if len > bytes.len() {
                return Err(JournalError::Malformed);
            }
            let (data, rest) = bytes.split_at(len);
            entries.push((index, data.to_vec()));
            bytes = rest;
        }
        let mut log = self.log.lock();
        (log.applied, log.entries) = (snapshot.get_metadata().index, entries);
        log.restores += 1;
        Ok(())
    }
}

/// Takes a little-endian u64 off the front of `bytes`.
fn word(bytes: &mut &[u8]) -> Result<u64, JournalError> {
    let (head, rest) = bytes.split_first_chunk::<8>().ok_or(JournalError::Malformed)?;
    *bytes = rest;
    Ok(u64::from_le_bytes(*head))
}
