//! The `walBeforeFsync` failpoint's error action (feature `failpoints`): a save that
//! fails there leaves the WAL failed until reopened, like a real write error. (Its
//! `lose` and `tear` actions abort the process: `src/segment.rs` tests what they leave
//! on disk, the robustness suite a member that suffers them.)

#![cfg(feature = "failpoints")]

use cairn_wal::{Error, Wal, WalOptions};
use raft::eraftpb::{Entry, HardState};

fn entries(from: u64, to: u64) -> Vec<Entry> {
    (from..=to).map(|index| Entry { index, term: 1, data: b"put k v".to_vec().into(), ..Default::default() }).collect()
}

#[test]
fn an_error_before_fsync_fails_the_save_and_the_wal() {
    let scenario = fail::FailScenario::setup();
    let dir = tempfile::tempdir().expect("temp dir");
    let options = WalOptions { segment_size: 1 << 20, ..WalOptions::default() };
    let (mut wal, _) = Wal::open(dir.path(), options.clone()).expect("open");
    let hs = HardState { term: 1, vote: 1, commit: 3, ..Default::default() };
    wal.save(Some(&hs), &entries(1, 3)).expect("save");
    fail::cfg("walBeforeFsync", "1*return(disk on fire)").expect("configure the failpoint");
    match wal.save(None, &entries(4, 4)) {
        Err(Error::Io { source, .. }) => assert!(source.to_string().contains("disk on fire"), "{source}"),
        other => panic!("expected the injected I/O error, got {other:?}"),
    }
    assert!(matches!(wal.save(None, &entries(4, 4)), Err(Error::Failed)), "the WAL is failed after an I/O error");
    drop(wal);
    let (_, recovered) = Wal::open(dir.path(), options).expect("reopen");
    assert!(recovered.entries.len() >= 3 && recovered.hard_state == hs);
    scenario.teardown();
}
