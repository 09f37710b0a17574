//! Opening a node's log: bootstrap a new cluster, or recover from the WAL, and bring
//! the state machine to where the log continues.

use cairn_wal::{Recovered, Wal, WalStorage};
use raft::eraftpb::{ConfState, HardState, Snapshot};
use slog::warn;

use crate::config::NodeConfig;
use crate::error::NodeError;
use crate::state_machine::StateMachine;

/// A log ready for a `RawNode`, and a state machine consistent with it.
pub(crate) struct Recovery {
    pub wal: Wal,
    pub storage: WalStorage,
    /// The state machine's applied index.
    pub applied: u64,
    /// The index of the snapshot the log continues from (0 if none).
    pub snapshot_index: u64,
    /// The hard state on disk.
    pub hard_state: HardState,
}

/// Opens the WAL in `config.dir`. A new directory with `initial_voters` is
/// bootstrapped; otherwise the state machine is restored from the latest snapshot if
/// it is behind it.
pub(crate) fn recover<S: StateMachine>(
    config: &NodeConfig,
    machine: &mut S,
    logger: &slog::Logger,
) -> Result<Recovery, NodeError> {
    let (mut wal, mut recovered) = Wal::open(&config.dir, config.wal.clone())?;
    for skipped in &recovered.skipped_snapshots {
        warn!(logger, "skipped a damaged snapshot"; "path" => %skipped.path.display(), "reason" => &skipped.reason);
    }
    let is_new =
        recovered.snapshot.is_none() && recovered.entries.is_empty() && recovered.hard_state == HardState::default();
    if is_new && !config.initial_voters.is_empty() {
        recovered = bootstrap(&mut wal, &config.initial_voters, machine)?;
    }
    let snapshot_index = recovered.snapshot_metadata().index;
    let last = recovered.last_index();
    if recovered.hard_state.commit > last {
        return Err(NodeError::CommitBeyondLog { commit: recovered.hard_state.commit, last });
    }
    let mut applied = machine.applied_index();
    if let Some(snapshot) = recovered.snapshot.as_ref().filter(|_| applied < snapshot_index) {
        machine.restore(snapshot).map_err(NodeError::state_machine)?;
        applied = snapshot_index;
    }
    if applied > last {
        return Err(NodeError::StateMachineAhead { applied, last });
    }
    let hard_state = recovered.hard_state.clone();
    Ok(Recovery { wal, storage: WalStorage::new(recovered), applied, snapshot_index, hard_state })
}

/// Starts the log of a new cluster the same way on every initial member: a snapshot
/// at index 1, term 1, of the empty state machine, whose membership is `voters`
/// (raft-rs has no `Bootstrap` like etcd's raft; this is its five-node example's
/// way). Members added later get this or a later snapshot from the leader.
fn bootstrap<S: StateMachine>(wal: &mut Wal, voters: &[u64], machine: &S) -> Result<Recovered, NodeError> {
    let applied = machine.applied_index();
    if applied != 0 {
        return Err(NodeError::StateMachineAhead { applied, last: 0 });
    }
    let mut voters = voters.to_vec();
    voters.sort_unstable();
    voters.dedup();
    let mut snapshot =
        Snapshot { data: machine.snapshot().map_err(NodeError::state_machine)?.into(), ..Default::default() };
    let meta = snapshot.mut_metadata();
    (meta.index, meta.term) = (1, 1);
    meta.set_conf_state(ConfState::from((voters, Vec::new())));
    wal.save_snapshot(&snapshot)?;
    let hard_state = HardState { term: 1, commit: 1, ..Default::default() };
    wal.save(Some(&hard_state), &[])?;
    Ok(Recovered { hard_state, snapshot: Some(snapshot), ..Default::default() })
}
