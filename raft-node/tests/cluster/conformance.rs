//! The journal used by these tests keeps the `StateMachine` contract.

use cairn_raft::conformance::check_state_machine;

use crate::support::journal::Journal;

#[test]
fn journal_passes_the_state_machine_suite() {
    let commands: Vec<Vec<u8>> = (0..10).map(|i| format!("command-{i}").into_bytes()).collect();
    check_state_machine(Journal::default, &commands, |a, b| {
        let (a, b) = (a.snapshot_log(), b.snapshot_log());
        (a.applied, a.entries) == (b.applied, b.entries)
    });
}
