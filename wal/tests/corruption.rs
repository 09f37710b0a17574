//! Damage a crash cannot explain is an error naming the segment and offset, never
//! silently skipped.

mod common;

use std::fs;
use std::path::Path;

use cairn_wal::{Error, Wal, decode_record};
use common::{Model, Rng, options, random_save, scratch_dir, segments};

const SEGMENT: u64 = 1024;

fn write_log(saves: usize) -> (tempfile::TempDir, Model) {
    let dir = scratch_dir();
    let (mut wal, _) = Wal::open(dir.path(), options(SEGMENT)).expect("open");
    let mut model = Model::default();
    let mut rng = Rng(99);
    for _ in 0..saves {
        let (hs, new) = random_save(&mut rng, &model);
        wal.save(hs.as_ref(), &new).expect("save");
        model.save(hs.as_ref(), &new);
    }
    (dir, model)
}

/// `(start, end)` of each record of a segment, padding included.
fn records(segment: &Path) -> Vec<(usize, usize)> {
    let bytes = fs::read(segment).expect("read");
    let mut found = Vec::new();
    let mut at = 0;
    while let Some((_, used)) = decode_record(&bytes[at..]).expect("decode record") {
        found.push((at, at + used));
        at += used;
    }
    found
}

fn flip(path: &Path, offset: usize) {
    let mut bytes = fs::read(path).expect("read");
    bytes[offset] ^= 0x40;
    fs::write(path, bytes).expect("write");
}

fn expect_corrupt(dir: &Path, segment: &Path, offset: usize) {
    match Wal::open(dir, options(SEGMENT)) {
        Err(Error::Corrupt { segment: s, offset: o, reason }) => {
            assert_eq!((s.as_path(), o), (segment, offset as u64), "{reason}");
        }
        Err(other) => panic!("expected Corrupt at {offset}, got {other}"),
        Ok(_) => panic!("damage at {offset} of {} went unnoticed", segment.display()),
    }
}

#[test]
fn a_flipped_byte_before_the_last_record_is_an_error() {
    let (dir, _) = write_log(40);
    let last = segments(dir.path()).pop().expect("a segment");
    let recs = records(&last);
    assert!(recs.len() >= 3, "{recs:?}");
    let (start, end) = recs[recs.len() - 2];
    flip(&last, (start + end) / 2);
    expect_corrupt(dir.path(), &last, start);
}

#[test]
fn every_flipped_byte_in_an_older_segment_is_an_error() {
    let (dir, model) = write_log(40);
    let all = segments(dir.path());
    assert!(all.len() >= 3);
    let older = &all[all.len() - 2];
    let recs = records(older);
    let written = recs.last().expect("a record").1;
    let pristine = fs::read(older).expect("read");
    for offset in 0..written + 16 {
        flip(older, offset);
        match Wal::open(dir.path(), options(SEGMENT)) {
            Err(Error::Corrupt { segment, .. }) => assert_eq!(&segment, older),
            Err(other) => panic!("offset {offset}: {other}"),
            // Padding is outside every checksum and carries nothing.
            Ok((_, recovered)) => {
                let padding = recs.iter().any(|&(s, e)| offset >= e - 7 && offset < e && offset > s + 8);
                assert!(padding, "flip at {offset} of an older segment went unnoticed");
                assert_eq!(recovered, model.recovered());
            }
        }
        fs::write(older, &pristine).expect("write");
    }
}

#[test]
fn a_huge_length_field_is_an_error_without_a_huge_allocation() {
    let (dir, _) = write_log(40);
    let last = segments(dir.path()).pop().expect("a segment");
    let recs = records(&last);
    let (start, _) = recs[recs.len() - 2];
    let mut bytes = fs::read(&last).expect("read");
    bytes[start..start + 4].copy_from_slice(&0xffff_fff0u32.to_le_bytes());
    fs::write(&last, bytes).expect("write");
    expect_corrupt(dir.path(), &last, start);
    match Wal::open(dir.path(), options(SEGMENT)) {
        Err(e) => assert!(e.to_string().contains("exceeds the limit"), "{e}"),
        Ok(_) => unreachable!(),
    }
}

#[test]
fn a_missing_segment_is_an_error() {
    let (dir, _) = write_log(40);
    let all = segments(dir.path());
    fs::remove_file(&all[1]).expect("remove file");
    expect_corrupt(dir.path(), &all[2], 0);
}

#[test]
fn a_renamed_segment_is_an_error() {
    let (dir, _) = write_log(40);
    let all = segments(dir.path());
    let name = all[1].file_name().expect("file name").to_str().expect("to str");
    let renamed = all[1].with_file_name(format!("{}ffff.wal", &name[..name.len() - 8]));
    fs::rename(&all[1], &renamed).expect("rename");
    expect_corrupt(dir.path(), &renamed, 0);
}

#[test]
fn a_segment_without_its_header_is_an_error() {
    let (dir, _) = write_log(40);
    let last = segments(dir.path()).pop().expect("a segment");
    let mut bytes = fs::read(&last).expect("read");
    bytes[..8].fill(0);
    fs::write(&last, bytes).expect("write");
    assert!(matches!(Wal::open(dir.path(), options(SEGMENT)), Err(Error::Corrupt { .. })));
}

#[test]
fn a_corrupt_log_stays_untouched() {
    let (dir, _) = write_log(40);
    let last = segments(dir.path()).pop().expect("a segment");
    let recs = records(&last);
    flip(&last, recs[1].0 + 9);
    let before = fs::read(&last).expect("read");
    assert!(Wal::open(dir.path(), options(SEGMENT)).is_err());
    assert_eq!(fs::read(&last).expect("read"), before, "a refused open must not repair anything");
}
