//! [`WalStorage`]: the `raft::Storage` view of the log, kept in memory.
//!
//! As in etcd (WAL + MemoryStorage), the WAL is the durable copy and this is what
//! raft reads: the latest snapshot, the hard and conf states, and the entries after
//! the snapshot. The raft loop updates both: it saves to the [`Wal`](crate::Wal)
//! first, then applies the same change here.

use std::sync::Arc;

use parking_lot::RwLock;
use protobuf::Message;
use raft::eraftpb::{ConfState, Entry, HardState, Snapshot};
use raft::{Error as RaftError, GetEntriesContext, NO_LIMIT, RaftState, Storage, StorageError};

use crate::recover::Recovered;

/// A clonable handle on the in-memory raft log; clones share it.
///
/// Mutators return raft's own errors where raft-rs's `MemStorage` would panic on a
/// broken contract, so a bug in the raft loop is an error, not a crash.
#[derive(Clone, Debug, Default)]
pub struct WalStorage {
    core: Arc<RwLock<Core>>,
}

#[derive(Debug, Default)]
struct Core {
    hard_state: HardState,
    conf_state: ConfState,
    /// The latest snapshot (index 0 when none).
    snapshot: Snapshot,
    /// Index and term of the entry just before `entries[0]`: the snapshot's, or the
    /// last compacted entry's. Raft may ask for this term.
    prev_index: u64,
    prev_term: u64,
    /// Consecutive entries from `prev_index + 1`.
    entries: Vec<Entry>,
    /// Raft asked for a snapshot the latest one cannot serve (too old, or from
    /// before the peer joined): the application should make a newer one.
    snapshot_wanted: bool,
}

impl Core {
    fn first_index(&self) -> u64 {
        self.prev_index + 1
    }

    fn last_index(&self) -> u64 {
        self.prev_index + self.entries.len() as u64
    }

    fn term(&self, index: u64) -> raft::Result<u64> {
        if index == self.prev_index {
            return Ok(self.prev_term);
        }
        if index < self.prev_index {
            return Err(RaftError::Store(StorageError::Compacted));
        }
        match self.entries.get((index - self.first_index()) as usize) {
            Some(entry) => Ok(entry.term),
            None => Err(RaftError::Store(StorageError::Unavailable)),
        }
    }
}

impl WalStorage {
    /// The storage raft starts from after [`Wal::open`](crate::Wal::open).
    pub fn new(recovered: Recovered) -> Self {
        let snapshot = recovered.snapshot.unwrap_or_default();
        let meta = snapshot.get_metadata();
        let core = Core {
            hard_state: recovered.hard_state,
            conf_state: meta.get_conf_state().clone(),
            prev_index: meta.index,
            prev_term: meta.term,
            snapshot,
            entries: recovered.entries,
            snapshot_wanted: false,
        };
        WalStorage { core: Arc::new(RwLock::new(core)) }
    }

    /// Appends entries saved to the WAL, replacing any entries from the first one's
    /// index on. `Compacted` if they start before the first index, `Unavailable` if
    /// they would leave a gap after the last index.
    pub fn append(&self, entries: &[Entry]) -> raft::Result<()> {
        let Some(first) = entries.first().map(|e| e.index) else { return Ok(()) };
        let mut core = self.core.write();
        if first < core.first_index() {
            return Err(RaftError::Store(StorageError::Compacted));
        }
        if first > core.last_index() + 1 {
            return Err(RaftError::Store(StorageError::Unavailable));
        }
        let keep = (first - core.first_index()) as usize;
        core.entries.truncate(keep);
        core.entries.extend_from_slice(entries);
        Ok(())
    }

    /// Replaces the hard state.
    pub fn set_hardstate(&self, hard_state: HardState) {
        self.core.write().hard_state = hard_state;
    }

    /// Replaces the conf state (after the application applied a conf change).
    pub fn set_conf_state(&self, conf_state: ConfState) {
        self.core.write().conf_state = conf_state;
    }

    /// The current hard state.
    pub fn hard_state(&self) -> HardState {
        self.core.read().hard_state.clone()
    }

    /// Replaces the whole log with a snapshot received from the leader: entries are
    /// dropped, the conf state is the snapshot's, and the hard state's commit and term
    /// are raised to it. `SnapshotOutOfDate` if it is below the first index.
    pub fn apply_snapshot(&self, snapshot: Snapshot) -> raft::Result<()> {
        let mut core = self.core.write();
        let meta = snapshot.get_metadata();
        if meta.index < core.first_index() {
            return Err(RaftError::Store(StorageError::SnapshotOutOfDate));
        }
        core.prev_index = meta.index;
        core.prev_term = meta.term;
        core.hard_state.commit = core.hard_state.commit.max(meta.index);
        core.hard_state.term = core.hard_state.term.max(meta.term);
        core.conf_state = meta.get_conf_state().clone();
        core.entries.clear();
        core.snapshot = snapshot;
        Ok(())
    }

    /// Makes a snapshot of the local state machine at `index` (applied there, with
    /// `conf_state`) the one raft sends to followers, keeping the log; returns it for
    /// [`Wal::save_snapshot`](crate::Wal::save_snapshot). `SnapshotOutOfDate` if
    /// `index` is not above the current snapshot, `Unavailable` past the last index,
    /// `Compacted` if its term is no longer known.
    pub fn create_snapshot(&self, index: u64, conf_state: ConfState, data: Vec<u8>) -> raft::Result<Snapshot> {
        let mut core = self.core.write();
        if index <= core.snapshot.get_metadata().index {
            return Err(RaftError::Store(StorageError::SnapshotOutOfDate));
        }
        let term = core.term(index)?;
        let mut snapshot = Snapshot { data: data.into(), ..Default::default() };
        let meta = snapshot.mut_metadata();
        (meta.index, meta.term) = (index, term);
        meta.set_conf_state(conf_state);
        core.snapshot = snapshot.clone();
        Ok(snapshot)
    }

    /// Whether raft asked for a snapshot newer than the latest (for a peer that
    /// joined since, or one far behind); clears the request.
    pub fn take_snapshot_request(&self) -> bool {
        std::mem::take(&mut self.core.write().snapshot_wanted)
    }

    /// Discards the entries before `index`, which becomes the first index (raft may
    /// still ask for the term of `index - 1`). Indexes at or below the first index
    /// change nothing; `Unavailable` past the last index + 1. Compact only what the
    /// state machine applied and a snapshot covers.
    pub fn compact(&self, index: u64) -> raft::Result<()> {
        let mut core = self.core.write();
        if index <= core.first_index() {
            return Ok(());
        }
        if index > core.last_index() + 1 {
            return Err(RaftError::Store(StorageError::Unavailable));
        }
        let prev_term = core.term(index - 1)?;
        let drop = (index - core.first_index()) as usize;
        core.entries.drain(..drop);
        core.prev_index = index - 1;
        core.prev_term = prev_term;
        Ok(())
    }
}

impl Storage for WalStorage {
    /// The hard state and conf state.
    fn initial_state(&self) -> raft::Result<RaftState> {
        let core = self.core.read();
        Ok(RaftState::new(core.hard_state.clone(), core.conf_state.clone()))
    }

    /// Entries `[low, high)`, at least one if any, then as many as fit in `max_size`
    /// bytes (protobuf sizes). `Compacted` below the first index; `Unavailable` past
    /// the last index + 1 (raft-rs's `MemStorage` panics there). Entries are always in
    /// memory, so the context's async option is never used.
    fn entries(
        &self,
        low: u64,
        high: u64,
        max_size: impl Into<Option<u64>>,
        _context: GetEntriesContext,
    ) -> raft::Result<Vec<Entry>> {
        let max_size = max_size.into().unwrap_or(NO_LIMIT);
        let core = self.core.read();
        if low < core.first_index() {
            return Err(RaftError::Store(StorageError::Compacted));
        }
        if high > core.last_index() + 1 || low > high {
            return Err(RaftError::Store(StorageError::Unavailable));
        }
        let from = (low - core.first_index()) as usize;
        let to = (high - core.first_index()) as usize;
        let mut size = 0u64;
        let mut out = Vec::new();
        for entry in &core.entries[from..to] {
            size = size.saturating_add(u64::from(entry.compute_size()));
            if !out.is_empty() && size > max_size {
                break;
            }
            out.push(entry.clone());
        }
        Ok(out)
    }

    /// The term of entry `idx`, for `idx` in `[first_index - 1, last_index]`;
    /// `Compacted` below, `Unavailable` above.
    fn term(&self, idx: u64) -> raft::Result<u64> {
        self.core.read().term(idx)
    }

    /// One past the snapshot or the last compacted entry.
    fn first_index(&self) -> raft::Result<u64> {
        Ok(self.core.read().first_index())
    }

    /// The last entry's index (the snapshot's when there are no entries).
    fn last_index(&self) -> raft::Result<u64> {
        Ok(self.core.read().last_index())
    }

    /// The latest snapshot. `SnapshotTemporarilyUnavailable` if it is older than
    /// `request_index` or does not reach the first index: the application should make
    /// a newer one with [`create_snapshot`](WalStorage::create_snapshot), and raft asks again.
    fn snapshot(&self, request_index: u64, to: u64) -> raft::Result<Snapshot> {
        let mut core = self.core.write();
        let meta = core.snapshot.get_metadata();
        let index = meta.index;
        // A peer that joined after the snapshot would ignore it: it is not in its
        // configuration.
        let conf = meta.get_conf_state();
        let knows_peer = to == 0
            || [conf.get_voters(), conf.get_learners(), conf.get_voters_outgoing(), conf.get_learners_next()]
                .iter()
                .any(|ids| ids.contains(&to));
        if index < request_index || index < core.prev_index || !knows_peer {
            core.snapshot_wanted = true;
            return Err(RaftError::Store(StorageError::SnapshotTemporarilyUnavailable));
        }
        Ok(core.snapshot.clone())
    }
}
