//! `WalStorage` answers raft's `Storage` calls like raft-rs's `MemStorage` (and
//! etcd's `MemoryStorage`) would, with errors where they would panic.

use cairn_wal::{Recovered, Wal, WalOptions, WalStorage};
use protobuf::Message;
use raft::eraftpb::{ConfState, Entry, HardState, Snapshot};
use raft::{Error as RaftError, GetEntriesContext, Storage, StorageError};

fn e(index: u64, term: u64) -> Entry {
    Entry { index, term, ..Default::default() }
}

fn snap(index: u64, term: u64, voters: Vec<u64>) -> Snapshot {
    let mut s = Snapshot::default();
    s.mut_metadata().index = index;
    s.mut_metadata().term = term;
    s.mut_metadata().mut_conf_state().voters = voters;
    s
}

/// A storage whose log is `entries` after a snapshot at the entry before them.
fn storage(entries: Vec<Entry>) -> WalStorage {
    let prev = entries[0].index - 1;
    let snapshot = Some(snap(prev, prev, vec![1, 2, 3]));
    WalStorage::new(Recovered { snapshot, entries, ..Recovered::default() })
}

fn ctx() -> GetEntriesContext {
    GetEntriesContext::empty(false)
}

fn err(e: StorageError) -> RaftError {
    RaftError::Store(e)
}

fn size(entry: &Entry) -> u64 {
    u64::from(entry.compute_size())
}

#[test]
fn term() {
    let s = storage(vec![e(4, 4), e(5, 5)]);
    assert_eq!(s.term(2), Err(err(StorageError::Compacted)));
    assert_eq!(s.term(3), Ok(3), "the snapshot's term stays known");
    assert_eq!(s.term(4), Ok(4));
    assert_eq!(s.term(5), Ok(5));
    assert_eq!(s.term(6), Err(err(StorageError::Unavailable)));
}

#[test]
fn entries() {
    let ents = vec![e(4, 4), e(5, 5), e(6, 6)];
    let s = storage(ents.clone());
    let max = u64::MAX;
    let cases: Vec<(u64, u64, u64, raft::Result<Vec<Entry>>)> = vec![
        (2, 6, max, Err(err(StorageError::Compacted))),
        (3, 4, max, Err(err(StorageError::Compacted))),
        (4, 5, max, Ok(vec![e(4, 4)])),
        (4, 6, max, Ok(vec![e(4, 4), e(5, 5)])),
        (4, 7, max, Ok(ents.clone())),
        (5, 5, max, Ok(vec![])),
        // Even with a limit of zero the first entry comes back.
        (4, 7, 0, Ok(vec![e(4, 4)])),
        (4, 7, size(&ents[0]) + size(&ents[1]), Ok(vec![e(4, 4), e(5, 5)])),
        (4, 7, size(&ents[0]) + size(&ents[1]) + size(&ents[2]) / 2, Ok(vec![e(4, 4), e(5, 5)])),
        (4, 7, size(&ents[0]) + size(&ents[1]) + size(&ents[2]) - 1, Ok(vec![e(4, 4), e(5, 5)])),
        (4, 7, size(&ents[0]) + size(&ents[1]) + size(&ents[2]), Ok(ents.clone())),
        // MemStorage panics past the last index + 1.
        (4, 8, max, Err(err(StorageError::Unavailable))),
    ];
    for (i, (low, high, max_size, want)) in cases.into_iter().enumerate() {
        assert_eq!(s.entries(low, high, max_size, ctx()), want, "case {i}: [{low}, {high}) max {max_size}");
    }
    assert_eq!(s.entries(4, 7, None, GetEntriesContext::empty(true)), Ok(ents));
}

#[test]
fn first_and_last_index() {
    let s = storage(vec![e(3, 3), e(4, 4), e(5, 5)]);
    assert_eq!((s.first_index(), s.last_index()), (Ok(3), Ok(5)));
    s.append(&[e(6, 5)]).expect("append");
    assert_eq!(s.last_index(), Ok(6));
    s.compact(4).expect("compact");
    assert_eq!(s.first_index(), Ok(4));
    let empty = WalStorage::default();
    assert_eq!((empty.first_index(), empty.last_index()), (Ok(1), Ok(0)));
    assert_eq!(empty.term(0), Ok(0));
}

#[test]
fn compact() {
    // (compact to, first index, its term, entries left)
    for (i, (index, first, term, left)) in
        [(2, 3, 3, 3), (3, 3, 3, 3), (4, 4, 4, 2), (5, 5, 5, 1), (6, 6, 0, 0)].into_iter().enumerate()
    {
        let s = storage(vec![e(3, 3), e(4, 4), e(5, 5)]);
        s.compact(index).expect("compact");
        assert_eq!(s.first_index(), Ok(first), "case {i}");
        let got = s.entries(first, s.last_index().expect("last index") + 1, 100, ctx()).expect("entries");
        assert_eq!(got.first().map_or(0, |e| e.term), term, "case {i}");
        assert_eq!(got.len(), left, "case {i}");
        assert_eq!(s.term(first - 1), Ok(first - 1), "case {i}: the term before the first index is kept");
    }
    let s = storage(vec![e(3, 3), e(4, 4), e(5, 5)]);
    assert_eq!(s.compact(7), Err(err(StorageError::Unavailable)));
}

#[test]
fn append() {
    let base = vec![e(3, 3), e(4, 4), e(5, 5)];
    let cases: Vec<(Vec<Entry>, raft::Result<Vec<Entry>>)> = vec![
        (vec![e(3, 3), e(4, 4), e(5, 5)], Ok(vec![e(3, 3), e(4, 4), e(5, 5)])),
        (vec![e(3, 3), e(4, 6), e(5, 6)], Ok(vec![e(3, 3), e(4, 6), e(5, 6)])),
        (vec![e(3, 3), e(4, 4), e(5, 5), e(6, 5)], Ok(vec![e(3, 3), e(4, 4), e(5, 5), e(6, 5)])),
        // Overwriting compacted entries is refused (MemStorage panics).
        (vec![e(2, 3), e(3, 3), e(4, 5)], Err(err(StorageError::Compacted))),
        // Truncate the existing entries and append.
        (vec![e(4, 5)], Ok(vec![e(3, 3), e(4, 5)])),
        // Direct append.
        (vec![e(6, 6)], Ok(vec![e(3, 3), e(4, 4), e(5, 5), e(6, 6)])),
        // A gap is refused (MemStorage panics).
        (vec![e(7, 6)], Err(err(StorageError::Unavailable))),
        (vec![], Ok(base.clone())),
    ];
    for (i, (new, want)) in cases.into_iter().enumerate() {
        let s = storage(base.clone());
        let result = s.append(&new);
        let got = s.entries(3, s.last_index().expect("last index") + 1, None, ctx()).expect("entries");
        match want {
            Ok(want) => {
                result.expect("append");
                assert_eq!(got, want, "case {i}");
            }
            Err(want) => {
                assert_eq!(result, Err(want), "case {i}");
                assert_eq!(got, base, "case {i}: a refused append changes nothing");
            }
        }
    }
}

#[test]
fn apply_snapshot() {
    let s = WalStorage::default();
    s.set_hardstate(HardState { term: 1, commit: 2, ..Default::default() });
    s.apply_snapshot(snap(4, 4, vec![1, 2, 3])).expect("apply snapshot");
    assert_eq!((s.first_index(), s.last_index(), s.term(4)), (Ok(5), Ok(4), Ok(4)));
    let state = s.initial_state().expect("initial state");
    assert_eq!(state.conf_state.voters, [1, 2, 3]);
    assert_eq!((state.hard_state.term, state.hard_state.commit), (4, 4));
    assert_eq!(s.snapshot(0, 2), Ok(snap(4, 4, vec![1, 2, 3])));
    assert_eq!(s.apply_snapshot(snap(3, 3, vec![1])), Err(err(StorageError::SnapshotOutOfDate)));
    // A snapshot inside the log drops the log too: it came from the leader.
    s.append(&[e(5, 4), e(6, 4)]).expect("append");
    s.apply_snapshot(snap(5, 4, vec![1])).expect("apply snapshot");
    assert_eq!((s.first_index(), s.last_index()), (Ok(6), Ok(5)));
}

#[test]
fn create_snapshot_and_snapshot() {
    let s = storage(vec![e(3, 3), e(4, 4), e(5, 5)]);
    let cs = ConfState { voters: vec![1, 2, 3], ..Default::default() };
    assert_eq!(s.snapshot(0, 1), Ok(snap(2, 2, vec![1, 2, 3])), "the recovered snapshot");
    assert_eq!(s.snapshot(4, 1), Err(err(StorageError::SnapshotTemporarilyUnavailable)));
    let made = s.create_snapshot(4, cs.clone(), b"data".to_vec()).expect("create snapshot");
    let mut want = snap(4, 4, vec![1, 2, 3]);
    want.data = b"data".to_vec().into();
    assert_eq!(made, want);
    assert_eq!(s.snapshot(4, 1), Ok(want.clone()));
    assert_eq!(s.snapshot(5, 1), Err(err(StorageError::SnapshotTemporarilyUnavailable)));
    // The log is kept until compacted.
    assert_eq!((s.first_index(), s.last_index()), (Ok(3), Ok(5)));
    assert_eq!(s.create_snapshot(4, cs.clone(), vec![]), Err(err(StorageError::SnapshotOutOfDate)));
    assert_eq!(s.create_snapshot(6, cs.clone(), vec![]), Err(err(StorageError::Unavailable)));
    // Compacted past the snapshot: raft must wait for a newer one.
    s.compact(6).expect("compact");
    assert_eq!(s.snapshot(0, 1), Err(err(StorageError::SnapshotTemporarilyUnavailable)));
    s.create_snapshot(5, cs, vec![]).expect("create snapshot");
    assert_eq!(s.snapshot(0, 1).map(|s| s.get_metadata().index), Ok(5));
}

#[test]
fn clones_share_the_log() {
    let s = storage(vec![e(3, 3)]);
    let other = s.clone();
    s.append(&[e(4, 3)]).expect("append");
    s.set_conf_state(ConfState { voters: vec![7], ..Default::default() });
    assert_eq!(other.last_index(), Ok(4));
    assert_eq!(other.initial_state().expect("initial state").conf_state.voters, [7]);
}

/// The raft loop's order: save to the WAL, then apply to the storage; a restart
/// rebuilds the same storage from what the WAL recovers.
#[test]
fn storage_rebuilt_from_the_wal_matches_the_live_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = WalOptions { segment_size: 4096, prepare_next_segment: false, ..WalOptions::default() };
    let (mut wal, recovered) = Wal::open(dir.path(), opts.clone()).expect("open");
    let live = WalStorage::new(recovered);
    let cs = ConfState { voters: vec![1], ..Default::default() };
    live.set_conf_state(cs.clone());
    let mut term = 1;
    for i in 1..=50u64 {
        if i % 13 == 0 {
            term += 1;
        }
        let hs = HardState { term, vote: 1, commit: i.saturating_sub(2), ..Default::default() };
        let new = vec![Entry { index: i, term, data: vec![i as u8; 40].into(), ..Default::default() }];
        wal.save(Some(&hs), &new).expect("save");
        live.append(&new).expect("append");
        live.set_hardstate(hs);
        if i == 30 {
            let snapshot = live.create_snapshot(28, cs.clone(), b"applied to 28".to_vec()).expect("create snapshot");
            wal.save_snapshot(&snapshot).expect("save snapshot");
            live.compact(28).expect("compact");
        }
    }
    drop(wal);
    let (_, recovered) = Wal::open(dir.path(), opts).expect("open");
    let rebuilt = WalStorage::new(recovered);
    // The rebuilt log starts right after the snapshot; the live one was compacted to 28.
    assert_eq!(rebuilt.first_index(), Ok(29));
    assert_eq!(rebuilt.last_index(), live.last_index());
    assert_eq!(
        rebuilt.initial_state().expect("initial state").hard_state,
        live.initial_state().expect("initial state").hard_state
    );
    assert_eq!(rebuilt.initial_state().expect("initial state").conf_state, cs);
    assert_eq!(rebuilt.entries(29, 51, None, ctx()), live.entries(29, 51, None, ctx()));
    assert_eq!(rebuilt.term(28), live.term(28));
    assert_eq!(rebuilt.snapshot(0, 1), live.snapshot(0, 1));
}
