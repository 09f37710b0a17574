//! Crash tests: cut the last segment at every byte of its tail, the way a crash
//! mid-save leaves it, and check that what comes back is exactly the saves that had
//! returned (were fsynced) before the cut, and that the log goes on from there.

mod common;

use std::fs::{self, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::Path;

use cairn_wal::{Recovered, Wal, WalPosition, decode_record};
use common::{Model, Rng, copy_dir, entries, hard_state, options, random_save, scratch_dir, segments};

const SEGMENT: u64 = 2048;

/// Writes `saves` random saves; returns the directory, the model after each save
/// (index 0: before any) and the write position after each.
fn write_log(seed: u64, saves: usize) -> (tempfile::TempDir, Vec<Model>, Vec<WalPosition>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut wal, _) = Wal::open(dir.path(), options(SEGMENT)).expect("open");
    let mut rng = Rng(seed);
    let mut models = vec![Model::default()];
    let mut positions = vec![wal.position()];
    for _ in 0..saves {
        let model = models.last().expect("a model");
        let (hs, new) = random_save(&mut rng, model);
        wal.save(hs.as_ref(), &new).expect("save");
        let mut model = model.clone();
        model.save(hs.as_ref(), &new);
        models.push(model);
        positions.push(wal.position());
    }
    (dir, models, positions)
}

#[derive(Clone, Copy, Debug)]
enum Damage {
    /// The file ends at the offset.
    Truncate,
    /// Zeros from the offset on: the rest of the write never reached the disk.
    Zero,
    /// Different bytes from the offset to the end of the written data.
    Garble,
}

fn damage(segment: &Path, offset: u64, until: u64, how: Damage) {
    let mut file = OpenOptions::new().read(true).write(true).open(segment).expect("open");
    let len = file.metadata().expect("metadata").len();
    match how {
        Damage::Truncate => file.set_len(offset).expect("set len"),
        Damage::Zero => {
            file.seek(SeekFrom::Start(offset)).expect("seek");
            file.write_all(&vec![0; (len - offset) as usize]).expect("write all");
        }
        Damage::Garble => {
            let bytes = fs::read(segment).expect("read");
            let mut rng = Rng(offset + 1);
            let end = until.max(offset + 16).min(len);
            let garbage: Vec<u8> = (offset..end).map(|i| bytes[i as usize] ^ (1 + rng.below(255) as u8)).collect();
            file.seek(SeekFrom::Start(offset)).expect("seek");
            file.write_all(&garbage).expect("write all");
        }
    }
}

/// The saves that were durable before `offset` of the last segment: the index into
/// `models` of the longest durable prefix, and whether the next save may survive too
/// (the cut fell into its padding).
fn durable_before(positions: &[WalPosition], last: &Path, offset: u64) -> (usize, bool) {
    let durable =
        positions.iter().rposition(|p| p.segment != last || p.offset <= offset).expect("the empty log is durable");
    let padding_only = positions.get(durable + 1).is_some_and(|p| p.offset - offset < 8);
    (durable, padding_only)
}

/// Where each record of `segment` starts.
fn record_starts(segment: &Path) -> Vec<u64> {
    let bytes = fs::read(segment).expect("read");
    let mut starts = Vec::new();
    let mut at = 0;
    while let Some((_, used)) = decode_record(&bytes[at..]).expect("decode record") {
        starts.push(at as u64);
        at += used;
    }
    starts
}

fn check_recovery(seed: u64, saves: usize, tail_records: usize) {
    let (dir, models, positions) = write_log(seed, saves);
    let last = segments(dir.path()).pop().expect("a segment");
    assert_eq!(positions[saves].segment, last);
    // The tail: the records of the last few saves (in the last segment, past its
    // preamble) and a few bytes of the zeros after them.
    let first_in_last = positions.iter().position(|p| p.segment == last).expect("a save in the last segment");
    let first_save = first_in_last.max(saves + 1 - tail_records);
    let starts = record_starts(&last);
    let from = *starts.iter().filter(|&&s| s < positions[first_save].offset).max().expect("a record before it");
    let until = positions[saves].offset;
    assert!(until - from > 100, "the tail is too short to be interesting: {from}..{until}");
    let mut trials = 0;
    for offset in from..until + 24 {
        for how in [Damage::Truncate, Damage::Zero, Damage::Garble] {
            let copy = scratch_dir();
            copy_dir(dir.path(), copy.path());
            let segment = copy.path().join(cairn_wal::WAL_DIR).join(last.file_name().expect("file name"));
            damage(&segment, offset, until, how);
            let context = format!("seed {seed}, {how:?} at {offset} ({from}..{until})");

            let (mut wal, recovered) =
                Wal::open(copy.path(), options(SEGMENT)).unwrap_or_else(|e| panic!("{context}: {e}"));
            let (durable, maybe_next) = durable_before(&positions, &last, offset);
            let mut model = models[durable].clone();
            if recovered != model.recovered() && maybe_next {
                model = models[durable + 1].clone();
            }
            assert_eq!(recovered, model.recovered(), "{context}");
            assert_eq!(wal.last_index(), model.last_index(), "{context}");

            // The log goes on after the repair, and reopening (twice) finds it all.
            let next = model.last_index() + 1;
            let (hs, new) = (hard_state(9, 1, next), entries(next, next + 2, 9, 40));
            wal.save(Some(&hs), &new).unwrap_or_else(|e| panic!("{context}: {e}"));
            model.save(Some(&hs), &new);
            drop(wal);
            for _ in 0..2 {
                let reopened: Recovered = Wal::open(copy.path(), options(SEGMENT)).expect("open").1;
                assert_eq!(reopened, model.recovered(), "{context}, reopened");
            }
            trials += 1;
        }
    }
    assert!(trials > 300);
}

#[test]
fn torn_tail_at_every_byte_recovers_the_durable_prefix() {
    check_recovery(0x2545_f491_4f6c_dd1d, 60, 3);
}

#[test]
fn torn_tail_right_after_a_rotation() {
    // Find a seed whose last save started a new segment, so the cut hits the first
    // record after a preamble.
    let seed = (1..200u64)
        .find(|&seed| {
            let (dir, _, positions) = write_log(seed, 25);
            let rotated = positions[24].segment != positions[25].segment;
            drop(dir);
            rotated
        })
        .expect("some seed rotates on its last save");
    check_recovery(seed, 25, 1);
}
