//! A conformance suite for [`StateMachine`] implementations.
//!
//! Every state machine the raft node drives should pass
//! [`check_state_machine`] in its own tests, as every storage engine passes
//! `cairn-storage`'s suite.

use raft::eraftpb::{ConfChangeSingle, ConfChangeType, ConfChangeV2, ConfState, Snapshot};

use crate::state_machine::{Committed, Payload, StateMachine};

/// Checks the contract of [`StateMachine`] that the node relies on, panicking with
/// what is wrong:
///
/// - a new machine (from `new`) has applied nothing, and restoring its own snapshot
///   as the bootstrap snapshot of a new cluster (index 1) makes its applied index 1;
/// - `apply` returns one output per entry and advances `applied_index` to the last
///   one, for batches mixing `Normal` (each of `commands`), `Empty` and `ConfChange`
///   entries;
/// - `restore` of a `snapshot` into a new machine sets `applied_index` to the
///   snapshot's index and yields the same state (`same`), which keeps matching after
///   both apply the same further entries.
///
/// `same` compares two machines' states (e.g. their contents, or their snapshots if
/// those are deterministic).
pub fn check_state_machine<S: StateMachine>(
    mut new: impl FnMut() -> S,
    commands: &[Vec<u8>],
    same: impl Fn(&S, &S) -> bool,
) {
    let mut machine = new();
    assert_eq!(machine.applied_index(), 0, "a new state machine has applied nothing");

    let change = ConfChangeV2 {
        changes: vec![ConfChangeSingle { change_type: ConfChangeType::AddNode, node_id: 2, ..Default::default() }]
            .into(),
        ..Default::default()
    };
    let conf_state = ConfState::from((vec![1, 2], Vec::new()));
    let (half, rest) = commands.split_at(commands.len() / 2);

    // A new cluster starts from a snapshot of the empty state at index 1.
    let boot = snapshot_of(&machine, 1, &ConfState::from((vec![1], Vec::new())));
    machine.restore(&boot).unwrap_or_else(|e| panic!("restore of the bootstrap snapshot failed: {e}"));
    assert_eq!(machine.applied_index(), 1, "restore sets the applied index to the snapshot's");

    let mut next = 2;
    let mut first: Vec<Committed<'_>> = vec![entry(&mut next, Payload::Empty)];
    first.extend(half.iter().map(|c| entry(&mut next, Payload::Normal(c))));
    first.push(entry(&mut next, Payload::ConfChange { change: &change, conf_state: &conf_state }));
    apply(&mut machine, &first);

    let snapshot = snapshot_of(&machine, machine.applied_index(), &conf_state);
    let mut restored = new();
    restored.restore(&snapshot).unwrap_or_else(|e| panic!("restore failed: {e}"));
    assert_eq!(restored.applied_index(), machine.applied_index(), "restore sets the applied index");
    assert!(same(&machine, &restored), "a restored snapshot holds the same state");

    let second: Vec<Committed<'_>> = rest.iter().map(|c| entry(&mut next, Payload::Normal(c))).collect();
    apply(&mut machine, &second);
    apply(&mut restored, &second);
    assert!(same(&machine, &restored), "the same entries after the same state give the same state");
}

fn entry<'a>(next: &mut u64, payload: Payload<'a>) -> Committed<'a> {
    let index = *next;
    *next += 1;
    Committed { index, term: 2, payload }
}

fn apply<S: StateMachine>(machine: &mut S, entries: &[Committed<'_>]) {
    let Some(last) = entries.last() else { return };
    let outputs = machine.apply(entries).unwrap_or_else(|e| panic!("apply failed: {e}"));
    assert_eq!(outputs.len(), entries.len(), "apply returns one output per entry");
    assert_eq!(machine.applied_index(), last.index, "apply advances the applied index to the batch's last entry");
}

fn snapshot_of<S: StateMachine>(machine: &S, index: u64, conf_state: &ConfState) -> Snapshot {
    let data = machine.snapshot().unwrap_or_else(|e| panic!("snapshot failed: {e}"));
    let mut snapshot = Snapshot { data: data.into(), ..Default::default() };
    let meta = snapshot.mut_metadata();
    (meta.index, meta.term) = (index, 1);
    meta.set_conf_state(conf_state.clone());
    snapshot
}
