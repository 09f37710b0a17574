//! Snapshot files, markers, fallback to an older snapshot, and releasing old files.

mod common;

use std::fs;

use cairn_wal::{Error, Wal, WalOptions};
use common::{Model, entries, hard_state, options, segments, snapshot};

fn snap_files(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<_> = fs::read_dir(dir.join(cairn_wal::SNAP_DIR))
        .expect("read dir")
        .map(|e| e.expect("dir entry").file_name().into_string().expect("into string"))
        .collect();
    names.sort();
    names
}

#[test]
fn a_local_snapshot_is_recovered_with_the_entries_after_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut wal, _) = Wal::open(dir.path(), options(2048)).expect("open");
    let mut model = Model::default();
    let (hs, new) = (hard_state(2, 1, 15), entries(1, 20, 2, 50));
    wal.save(Some(&hs), &new).expect("save");
    model.save(Some(&hs), &new);
    let snap = snapshot(12, 2, b"state at 12");
    wal.save_snapshot(&snap).expect("save snapshot");
    model.save_snapshot(&snap);
    wal.save(None, &entries(21, 25, 2, 50)).expect("save");
    model.save(None, &entries(21, 25, 2, 50));
    drop(wal);

    assert_eq!(snap_files(dir.path()), ["0000000000000002-000000000000000c.snap"]);
    let (_, recovered) = Wal::open(dir.path(), options(2048)).expect("open");
    assert_eq!(recovered, model.recovered());
    assert_eq!(recovered.snapshot.as_ref(), Some(&snap));
    assert_eq!(recovered.entries.first().map(|e| e.index), Some(13));
    assert_eq!(recovered.last_index(), 25);
}

#[test]
fn a_snapshot_from_the_leader_replaces_the_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut wal, _) = Wal::open(dir.path(), options(2048)).expect("open");
    wal.save(Some(&hard_state(1, 1, 3)), &entries(1, 5, 1, 10)).expect("save");
    // A crash right after the snapshot: the hard state still says commit 3.
    wal.save_snapshot(&snapshot(100, 3, b"leader state")).expect("save snapshot");
    assert_eq!(wal.last_index(), 100);
    let gap = wal.save(None, &entries(102, 102, 3, 1)).expect_err("an error");
    assert!(matches!(gap, Error::InvalidInput(_)), "{gap}");
    let covered = wal.save(None, &entries(100, 100, 3, 1)).expect_err("an error");
    assert!(matches!(covered, Error::InvalidInput(_)), "{covered}");
    drop(wal);
    let (mut wal, recovered) = Wal::open(dir.path(), options(2048)).expect("open");
    assert!(recovered.entries.is_empty());
    assert_eq!(recovered.snapshot_metadata().index, 100);
    assert_eq!(recovered.hard_state, hard_state(3, 1, 100), "commit and term raised to the snapshot's");
    wal.save(Some(&hard_state(3, 1, 101)), &entries(101, 103, 3, 10)).expect("save");
    drop(wal);
    let (_, recovered) = Wal::open(dir.path(), options(2048)).expect("open");
    assert_eq!(recovered.entries, entries(101, 103, 3, 10));
    assert_eq!(recovered.hard_state, hard_state(3, 1, 101));
}

#[test]
fn a_corrupt_newest_snapshot_falls_back_to_an_older_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut wal, _) = Wal::open(dir.path(), options(2048)).expect("open");
    wal.save(Some(&hard_state(1, 1, 30)), &entries(1, 30, 1, 20)).expect("save");
    wal.save_snapshot(&snapshot(10, 1, b"at 10")).expect("save snapshot");
    wal.save_snapshot(&snapshot(20, 1, b"at 20")).expect("save snapshot");
    drop(wal);
    let newest = dir.path().join(cairn_wal::SNAP_DIR).join("0000000000000001-0000000000000014.snap");
    let mut bytes = fs::read(&newest).expect("read");
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    fs::write(&newest, bytes).expect("write");

    let (_, recovered) = Wal::open(dir.path(), options(2048)).expect("open");
    assert_eq!(recovered.snapshot, Some(snapshot(10, 1, b"at 10")));
    assert_eq!(recovered.entries, entries(11, 30, 1, 20));
    assert_eq!(recovered.skipped_snapshots.len(), 1);
    assert_eq!(recovered.skipped_snapshots[0].path, newest);
    assert!(recovered.skipped_snapshots[0].reason.contains("checksum"), "{:?}", recovered.skipped_snapshots);

    // With the older one missing too, the log from index 1 is still whole.
    fs::remove_file(dir.path().join(cairn_wal::SNAP_DIR).join("0000000000000001-000000000000000a.snap"))
        .expect("remove file");
    let (_, recovered) = Wal::open(dir.path(), options(2048)).expect("open");
    assert_eq!(recovered.snapshot, None);
    assert_eq!(recovered.entries, entries(1, 30, 1, 20));
    assert_eq!(recovered.skipped_snapshots.len(), 2);
}

#[test]
fn a_corrupt_snapshot_the_log_depends_on_is_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = WalOptions { keep_segments: 0, ..options(1024) };
    let (mut wal, _) = Wal::open(dir.path(), opts.clone()).expect("open");
    for i in 0..10 {
        wal.save(Some(&hard_state(1, 1, i * 5)), &entries(i * 5 + 1, i * 5 + 5, 1, 60)).expect("save");
    }
    wal.save_snapshot(&snapshot(40, 1, b"at 40")).expect("save snapshot");
    wal.release_to(40).expect("release to");
    drop(wal);
    let file = dir.path().join(cairn_wal::SNAP_DIR).join("0000000000000001-0000000000000028.snap");
    let mut bytes = fs::read(&file).expect("read");
    bytes[30] ^= 0xff;
    fs::write(&file, bytes).expect("write");
    match Wal::open(dir.path(), opts) {
        Err(Error::CorruptSnapshot { path, reason }) => {
            assert_eq!(path, file);
            assert!(reason.contains("checksum"), "{reason}");
        }
        Err(other) => panic!("expected CorruptSnapshot, got {other}"),
        Ok(_) => panic!("a corrupt snapshot went unnoticed"),
    }
}

#[test]
fn release_deletes_old_segments_and_snapshots_but_keeps_what_recovery_needs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = WalOptions { keep_segments: 1, keep_snapshots: 2, ..options(1024) };
    let (mut wal, _) = Wal::open(dir.path(), opts.clone()).expect("open");
    let mut model = Model::default();
    for i in 0..40 {
        let (hs, new) = (hard_state(1, 1, i * 4), entries(i * 4 + 1, i * 4 + 4, 1, 50));
        wal.save(Some(&hs), &new).expect("save");
        model.save(Some(&hs), &new);
        if i % 10 == 9 {
            let snap = snapshot(i * 4, 1, format!("at {}", i * 4).as_bytes());
            wal.save_snapshot(&snap).expect("save snapshot");
            model.save_snapshot(&snap);
        }
    }
    let before = segments(dir.path());
    assert!(before.len() > 10, "{}", before.len());
    // Nothing past the latest snapshot (at 156) is released, whatever is asked.
    wal.release_to(u64::MAX).expect("release to");
    let after = segments(dir.path());
    assert!(after.len() < before.len() - 5, "{} -> {}", before.len(), after.len());
    assert_eq!(wal.segment_paths(), after);
    assert_eq!(snap_files(dir.path()).len(), 2);
    let first_kept: u64 =
        u64::from_str_radix(&after[0].file_name().expect("file name").to_str().expect("to str")[17..33], 16)
            .expect("from str radix");
    assert!(first_kept <= 156, "the segment holding entry 157 and before is kept: {first_kept}");

    wal.save(None, &entries(161, 165, 1, 50)).expect("save");
    model.save(None, &entries(161, 165, 1, 50));
    drop(wal);
    let (wal, recovered) = Wal::open(dir.path(), opts).expect("open");
    assert_eq!(recovered, model.recovered());
    assert_eq!(recovered.snapshot_metadata().index, 156);
    assert_eq!(wal.last_index(), 165);
}

#[test]
fn keep_segments_retains_the_log_behind_older_snapshots() {
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = WalOptions { keep_segments: 100, ..options(1024) };
    let (mut wal, _) = Wal::open(dir.path(), opts.clone()).expect("open");
    wal.save(None, &entries(1, 60, 1, 60)).expect("save");
    wal.save_snapshot(&snapshot(50, 1, b"at 50")).expect("save snapshot");
    let before = segments(dir.path());
    wal.release_to(50).expect("release to");
    assert_eq!(segments(dir.path()), before);
}

#[test]
fn snapshot_index_must_not_go_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut wal, _) = Wal::open(dir.path(), options(2048)).expect("open");
    wal.save(None, &entries(1, 10, 1, 1)).expect("save");
    wal.save_snapshot(&snapshot(8, 1, b"")).expect("save snapshot");
    assert!(matches!(wal.save_snapshot(&snapshot(5, 1, b"")), Err(Error::InvalidInput(_))));
    assert!(matches!(wal.save_snapshot(&snapshot(0, 0, b"")), Err(Error::InvalidInput(_))));
    wal.save_snapshot(&snapshot(8, 1, b"")).expect("save snapshot");
}
