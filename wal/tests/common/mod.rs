//! Helpers shared by the integration tests: entries, a model of the log, files.

#![allow(dead_code, reason = "each test binary uses a different part")]

pub mod arb;

use std::fs;
use std::path::{Path, PathBuf};

use cairn_wal::{Recovered, WalOptions};
use raft::eraftpb::{Entry, HardState, Snapshot};

/// Small segments so tests rotate often; no background preparation unless asked.
pub fn options(segment_size: u64) -> WalOptions {
    WalOptions { segment_size, prepare_next_segment: false, ..WalOptions::default() }
}

/// An entry whose data says where it came from.
pub fn entry(index: u64, term: u64, len: usize) -> Entry {
    let data: Vec<u8> = (0..len).map(|i| (index as usize * 31 + term as usize * 7 + i) as u8).collect();
    Entry { index, term, data: data.into(), ..Default::default() }
}

pub fn entries(from: u64, to: u64, term: u64, len: usize) -> Vec<Entry> {
    (from..=to).map(|i| entry(i, term, len)).collect()
}

pub fn hard_state(term: u64, vote: u64, commit: u64) -> HardState {
    HardState { term, vote, commit, ..Default::default() }
}

pub fn snapshot(index: u64, term: u64, data: &[u8]) -> Snapshot {
    let mut snap = Snapshot { data: data.to_vec().into(), ..Default::default() };
    snap.mut_metadata().index = index;
    snap.mut_metadata().term = term;
    snap.mut_metadata().mut_conf_state().voters = vec![1, 2, 3];
    snap
}

/// What the WAL should recover after a sequence of saves.
#[derive(Clone, Debug, Default)]
pub struct Model {
    pub hard_state: HardState,
    pub snapshot: Option<Snapshot>,
    /// Every entry from index 1 or from just after the snapshot that emptied the log.
    pub log: Vec<Entry>,
}

impl Model {
    pub fn last_index(&self) -> u64 {
        self.log.last().map_or_else(|| self.snapshot.as_ref().map_or(0, |s| s.get_metadata().index), |e| e.index)
    }

    pub fn save(&mut self, hs: Option<&HardState>, new: &[Entry]) {
        if let Some(first) = new.first() {
            self.log.retain(|e| e.index < first.index);
            self.log.extend_from_slice(new);
        }
        if let Some(hs) = hs {
            self.hard_state = hs.clone();
        }
    }

    pub fn save_snapshot(&mut self, snap: &Snapshot) {
        if snap.get_metadata().index > self.last_index() {
            self.log.clear();
        }
        self.snapshot = Some(snap.clone());
    }

    pub fn recovered(&self) -> Recovered {
        let (index, term) = self.snapshot.as_ref().map_or((0, 0), |s| (s.get_metadata().index, s.get_metadata().term));
        let mut hard_state = self.hard_state.clone();
        if self.snapshot.is_some() {
            hard_state.commit = hard_state.commit.max(index);
            hard_state.term = hard_state.term.max(term);
        }
        let entries = self.log.iter().filter(|e| e.index > index).cloned().collect();
        Recovered { hard_state, snapshot: self.snapshot.clone(), entries, skipped_snapshots: Vec::new() }
    }
}

/// A deterministic xorshift generator, so failures replay.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// One random save on top of `model`: sometimes only a hard state, sometimes an
/// overwrite of the last few entries by a new term.
pub fn random_save(rng: &mut Rng, model: &Model) -> (Option<HardState>, Vec<Entry>) {
    let last = model.last_index();
    let floor = model.snapshot.as_ref().map_or(0, |s| s.get_metadata().index);
    let term = model.hard_state.term.max(1);
    let roll = rng.below(10);
    let hs = (roll < 6).then(|| hard_state(term + u64::from(roll == 0), 1, last.saturating_sub(rng.below(3))));
    if roll == 9 {
        return (hs, Vec::new());
    }
    let back = if rng.below(8) == 0 { rng.below(4).min(last - floor) } else { 0 };
    let first = last + 1 - back;
    let count = 1 + rng.below(6);
    let len = rng.below(120) as usize;
    (hs, entries(first, first + count - 1, term + u64::from(back > 0), len))
}

/// A scratch directory: in memory where possible, since the thousands of fsyncs the
/// crash and corruption trials make prove nothing about the disk.
pub fn scratch_dir() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() { tempfile::tempdir_in(shm).expect("tempdir in") } else { tempfile::tempdir().expect("tempdir") }
}

/// Copies a WAL directory tree.
pub fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).expect("create dir all");
    for entry in fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("dir entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), target).expect("copy");
        }
    }
}

/// The segment files in `dir/wal`, oldest first.
pub fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<_> = fs::read_dir(dir.join(cairn_wal::WAL_DIR))
        .expect("read dir")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "wal"))
        .collect();
    found.sort();
    found
}
