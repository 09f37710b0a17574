//! Saves, reopens, and the same log comes back.

mod common;

use cairn_wal::{Error, Wal, WalOptions};
use common::{Model, Rng, entries, entry, hard_state, options, random_save, segments};

#[test]
fn many_saves_with_overwrites_and_rotation_reopen_identically() {
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = WalOptions { prepare_next_segment: true, ..options(1024) };
    let (mut wal, recovered) = Wal::open(dir.path(), opts.clone()).expect("open");
    assert_eq!(recovered, Model::default().recovered());
    let mut model = Model::default();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for round in 0..400 {
        let (hs, new) = random_save(&mut rng, &model);
        wal.save(hs.as_ref(), &new).expect("save");
        model.save(hs.as_ref(), &new);
        assert_eq!(wal.last_index(), model.last_index());
        if round % 97 == 96 {
            drop(wal);
            let reopened = Wal::open(dir.path(), opts.clone()).expect("open");
            assert_eq!(reopened.1, model.recovered(), "after round {round}");
            wal = reopened.0;
        }
    }
    drop(wal);
    assert!(segments(dir.path()).len() > 10, "segments rotated: {}", segments(dir.path()).len());
    let (_, recovered) = Wal::open(dir.path(), opts.clone()).expect("open");
    assert_eq!(recovered, model.recovered());
    // Opening does not change what a second open finds.
    let (_, again) = Wal::open(dir.path(), opts).expect("open");
    assert_eq!(again, recovered);
}

#[test]
fn overwriting_a_suffix_replaces_it_across_segments() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut wal, _) = Wal::open(dir.path(), options(1024)).expect("open");
    wal.save(Some(&hard_state(1, 1, 0)), &entries(1, 30, 1, 100)).expect("save");
    assert!(segments(dir.path()).len() > 1);
    // A new leader at term 2 replaces entries from 12 on, then appends.
    wal.save(Some(&hard_state(2, 2, 11)), &entries(12, 14, 2, 10)).expect("save");
    wal.save(None, &entries(15, 15, 2, 10)).expect("save");
    assert_eq!(wal.last_index(), 15);
    drop(wal);
    let (_, recovered) = Wal::open(dir.path(), options(1024)).expect("open");
    let mut want = entries(1, 11, 1, 100);
    want.extend(entries(12, 15, 2, 10));
    assert_eq!(recovered.entries, want);
    assert_eq!(recovered.hard_state, hard_state(2, 2, 11));
}

#[test]
fn hard_state_alone_and_empty_saves() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut wal, _) = Wal::open(dir.path(), options(4096)).expect("open");
    let before = wal.position();
    wal.save(None, &[]).expect("save");
    assert_eq!(wal.position(), before, "an empty save writes nothing");
    wal.save(Some(&hard_state(3, 2, 0)), &[]).expect("save");
    wal.save(Some(&hard_state(4, 0, 0)), &[]).expect("save");
    drop(wal);
    let (_, recovered) = Wal::open(dir.path(), options(4096)).expect("open");
    assert_eq!(recovered.hard_state, hard_state(4, 0, 0));
    assert!(recovered.entries.is_empty());
}

#[test]
fn an_entry_larger_than_a_segment_gets_a_segment_of_its_own() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut wal, _) = Wal::open(dir.path(), options(1024)).expect("open");
    wal.save(None, &entries(1, 2, 1, 10)).expect("save");
    wal.save(None, &[entry(3, 1, 5000)]).expect("save");
    wal.save(None, &entries(4, 5, 1, 10)).expect("save");
    drop(wal);
    let (_, recovered) = Wal::open(dir.path(), options(1024)).expect("open");
    let mut want = entries(1, 2, 1, 10);
    want.push(entry(3, 1, 5000));
    want.extend(entries(4, 5, 1, 10));
    assert_eq!(recovered.entries, want);
}

#[test]
fn a_save_over_the_record_limit_is_split_and_an_oversized_entry_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = WalOptions { max_record_size: 2048, ..options(8192) };
    let (mut wal, _) = Wal::open(dir.path(), opts.clone()).expect("open");
    // 40 entries of ~300 bytes cannot share one 2 KiB record.
    wal.save(Some(&hard_state(1, 1, 40)), &entries(1, 40, 1, 300)).expect("save");
    let err = wal.save(None, &[entry(41, 1, 4000)]).expect_err("an error");
    assert!(matches!(err, Error::TooLarge { max: 2048, .. }), "{err}");
    // Nothing was written and the WAL still works.
    wal.save(None, &entries(41, 41, 1, 10)).expect("save");
    drop(wal);
    let (_, recovered) = Wal::open(dir.path(), opts).expect("open");
    let mut want = entries(1, 40, 1, 300);
    want.extend(entries(41, 41, 1, 10));
    assert_eq!(recovered.entries, want);
    assert_eq!(recovered.hard_state, hard_state(1, 1, 40));
}

#[test]
fn broken_contracts_are_refused_without_writing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut wal, _) = Wal::open(dir.path(), options(4096)).expect("open");
    wal.save(None, &entries(1, 3, 1, 10)).expect("save");
    let position = wal.position();
    let gap = wal.save(None, &entries(5, 6, 1, 10)).expect_err("an error");
    assert!(matches!(gap, Error::InvalidInput(_)), "{gap}");
    let holes = wal.save(None, &[entry(4, 1, 1), entry(6, 1, 1)]).expect_err("an error");
    assert!(matches!(holes, Error::InvalidInput(_)), "{holes}");
    assert!(matches!(wal.save(None, &[entry(0, 1, 1)]), Err(Error::InvalidInput(_))));
    assert_eq!(wal.position(), position);
    wal.save(None, &entries(4, 4, 1, 10)).expect("save");
    let bad = WalOptions { segment_size: 1001, ..WalOptions::default() };
    assert!(matches!(Wal::open(dir.path(), bad), Err(Error::InvalidInput(_))));
}

#[test]
fn background_preparation_leaves_no_stray_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = WalOptions { prepare_next_segment: true, ..options(1024) };
    let (mut wal, _) = Wal::open(dir.path(), opts.clone()).expect("open");
    for i in 0..20 {
        wal.save(None, &entries(i * 5 + 1, i * 5 + 5, 1, 50)).expect("save");
    }
    drop(wal);
    // A prepared, never used file may remain; the next open removes it.
    let (wal, recovered) = Wal::open(dir.path(), opts).expect("open");
    assert_eq!(recovered.entries.len(), 100);
    let names: Vec<_> = std::fs::read_dir(dir.path().join(cairn_wal::WAL_DIR))
        .expect("read dir")
        .map(|e| e.expect("dir entry").file_name().into_string().expect("into string"))
        .collect();
    assert!(names.iter().all(|n| n.ends_with(".wal") || n.ends_with(".wal.tmp")), "{names:?}");
    assert_eq!(wal.segment_paths(), segments(dir.path()));
}
