//! Snapshots: taking one every `snapshot_count` applied entries, and installing one
//! sent by the leader.

use raft::eraftpb::Snapshot;

use super::Driver;
use crate::error::{NodeError, ProposalError};
use crate::state_machine::StateMachine;

impl<S: StateMachine> Driver<S> {
    /// Takes a snapshot of the state machine if `snapshot_count` entries were applied
    /// since the last one: saved to the WAL, made the one raft sends to followers,
    /// and the log before it released (minus the catch-up entries kept in memory).
    pub(super) fn maybe_snapshot(&mut self) -> Result<(), NodeError> {
        let count = self.settings.snapshot_count;
        // After a restart the state machine may be ahead of what raft has handed out
        // again; snapshot once raft caught up, so compaction never drops an entry
        // raft has yet to deliver.
        let raft_applied = self.raw.raft.raft_log.applied;
        let due = count != 0 && self.applied >= self.snapshot_index.saturating_add(count);
        // Raft needs a newer snapshot than the latest for some peer (one that joined
        // after it, whose configuration it lacks): make one now.
        let requested = self.storage.take_snapshot_request() && self.applied > self.snapshot_index;
        if !(due || requested) || self.applied > raft_applied {
            return Ok(());
        }
        let index = self.applied;
        let data = self.machine.snapshot().map_err(NodeError::state_machine)?;
        let conf_state = self.raw.raft.prs().conf().to_conf_state();
        let snapshot = self.storage.create_snapshot(index, conf_state, data)?;
        self.wal.save_snapshot(&snapshot)?;
        self.snapshot_index = index;
        let first_kept = (index + 1).saturating_sub(self.settings.snapshot_catch_up_entries);
        self.storage.compact(first_kept)?;
        self.wal.release_to(index)?;
        Ok(())
    }

    /// Installs a snapshot the leader sent: durable first, then raft's storage, then
    /// the state machine.
    pub(super) fn install_snapshot(&mut self, snapshot: Snapshot) -> Result<(), NodeError> {
        let index = snapshot.get_metadata().index;
        failpoint!("raftBeforeSaveSnap");
        self.wal.save_snapshot(&snapshot)?;
        failpoint!("raftAfterSaveSnap");
        failpoint!("raftBeforeApplySnap");
        self.storage.apply_snapshot(snapshot.clone())?;
        if index > self.applied {
            self.machine.restore(&snapshot).map_err(NodeError::state_machine)?;
            self.applied = index;
        }
        failpoint!("raftAfterApplySnap");
        self.snapshot_index = self.snapshot_index.max(index);
        // Entries this node appended as leader up to there may or may not be in it.
        self.proposals.settle_through(index, &ProposalError::Indeterminate);
        self.conf_changes.settle_through(index, &ProposalError::Indeterminate);
        self.reads.on_applied(self.applied);
        self.wal.release_to(index)?;
        failpoint!("raftAfterWALRelease");
        Ok(())
    }
}
