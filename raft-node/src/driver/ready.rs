//! Handling one `Ready`: the order of sending, persisting, applying and advancing.
//!
//! 1. A leader's messages go out at once, before its own log is persisted (raft
//!    thesis 10.2.1): followers write in parallel, and the leader's entries count
//!    towards a quorum only once it reports them persisted by `advance`.
//! 2. A snapshot from the leader is saved to the WAL, installed in the storage and
//!    restored into the state machine.
//! 3. Read states are matched to their ReadIndex rounds.
//! 4. The hard state and new entries are written with ONE `Wal::save`, one fsync
//!    (group commit), then appended to the in-memory storage raft reads.
//! 5. A follower's or candidate's messages (acks, votes) go out only now, since
//!    they promise what was just made durable.
//! 6. `advance_append` reports the `Ready` persisted; its `LightReady` carries a new
//!    commit index and more messages (a leader's), sent at once.
//! 7. The committed entries of both (durable already) are applied in one go, the
//!    applied index reported with `advance_apply`, and a snapshot taken if due.
//!
//! Applying after `advance_append`, not before, matters for a leader that applies
//! its own removal: raft-rs 0.7 looks up the leader's own progress when told its
//! entries are persisted, and panics if the removal took it away already.

use raft::eraftpb::{Entry, HardState, Message};

use super::Driver;
use crate::error::NodeError;
use crate::state_machine::StateMachine;

impl<S: StateMachine> Driver<S> {
    pub(super) fn on_ready(&mut self) -> Result<(), NodeError> {
        let mut ready = self.raw.ready();
        if !ready.messages().is_empty() {
            failpoint!("raftBeforeLeaderSend");
        }
        self.send(ready.take_messages());
        if !ready.snapshot().is_empty() {
            self.install_snapshot(ready.snapshot().clone())?;
        }
        for state in ready.take_read_states() {
            self.reads.on_read_state(&state.request_ctx, state.index, self.applied);
        }
        let mut committed = ready.take_committed_entries();
        self.persist(ready.hs().cloned(), ready.entries())?;
        if !ready.persisted_messages().is_empty() {
            failpoint!("raftBeforeFollowerSend");
        }
        self.send(ready.take_persisted_messages());

        let mut light = self.raw.advance_append(ready);
        if let Some(commit) = light.commit_index() {
            let mut hard_state = self.storage.hard_state();
            hard_state.commit = commit;
            self.storage.set_hardstate(hard_state);
        }
        self.send(light.take_messages());
        committed.append(&mut light.take_committed_entries());
        self.apply(committed)?;
        self.raw.advance_apply();
        self.maybe_snapshot()
    }

    /// Makes the hard state and entries durable with one fsync, then visible to raft.
    fn persist(&mut self, hard_state: Option<HardState>, entries: &[Entry]) -> Result<(), NodeError> {
        // A commit index raised by a `LightReady` has no hard state of its own to
        // save; it rides along for free with entries saved anyway.
        let hard_state = hard_state.or_else(|| {
            let current = self.storage.hard_state();
            (!entries.is_empty() && current != self.saved_hard_state).then_some(current)
        });
        if hard_state.is_none() && entries.is_empty() {
            return Ok(());
        }
        failpoint!("raftBeforeSave");
        self.wal.save(hard_state.as_ref(), entries)?;
        failpoint!("raftAfterSave");
        self.storage.append(entries)?;
        if let Some(hard_state) = hard_state {
            self.saved_hard_state = hard_state.clone();
            self.storage.set_hardstate(hard_state);
        }
        Ok(())
    }

    fn send(&self, messages: Vec<Message>) {
        if !messages.is_empty() {
            self.transport.send(messages);
        }
    }
}
