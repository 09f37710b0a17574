//! Opening a WAL: replaying its segments, repairing a torn tail, picking a snapshot.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use raft::eraftpb::{Entry, HardState, Snapshot, SnapshotMetadata};

use crate::error::{Error, IoContext, Result};
use crate::fsutil;
use crate::lock::DirLock;
use crate::options::WalOptions;
use crate::record::{Record, SegmentHeader};
use crate::replay::LogState;
use crate::scan::scan_segment;
use crate::segment::{self, ActiveSegment, SegmentFile};
use crate::snap::SnapDir;
use crate::wal::{Tail, Wal, preamble};

/// The folder of segment files inside a WAL directory.
pub const WAL_DIR: &str = "wal";
/// The folder of snapshot files inside a WAL directory.
pub const SNAP_DIR: &str = "snap";

/// The state of the log found on disk, to build a raft node from.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Recovered {
    /// The latest hard state. Its commit (and term) is raised to the snapshot's if it
    /// lags behind it, as happens after a crash between saving a received snapshot
    /// and saving the `Ready`'s hard state.
    pub hard_state: HardState,
    /// The snapshot the log continues from, read from its file and verified: the
    /// newest one with a marker in the log, or an older one if the newer files are
    /// damaged or missing (see `skipped_snapshots`). `None` if none was ever saved,
    /// or if none is usable and the log still starts at index 1.
    pub snapshot: Option<Snapshot>,
    /// The entries after the snapshot (or from index 1), consecutive.
    pub entries: Vec<Entry>,
    /// Newer snapshots that could not be used, with the reason; worth a warning.
    pub skipped_snapshots: Vec<SkippedSnapshot>,
}

/// A snapshot file recovery passed over.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SkippedSnapshot {
    /// The file.
    pub path: PathBuf,
    /// Why it was not used.
    pub reason: String,
}

impl Recovered {
    /// The recovered snapshot's metadata (index 0 when there is none).
    pub fn snapshot_metadata(&self) -> SnapshotMetadata {
        self.snapshot.as_ref().map(|s| s.get_metadata().clone()).unwrap_or_default()
    }

    /// The index of the last recovered entry, or of the snapshot if there is none after it.
    pub fn last_index(&self) -> u64 {
        self.entries.last().map_or_else(|| self.snapshot_metadata().index, |e| e.index)
    }
}

impl Wal {
    /// Opens the WAL in `dir` (creating `dir/wal/` and `dir/snap/` if missing) and
    /// returns it with the state it holds.
    ///
    /// A torn tail of the last segment — an incomplete record, or one failing its
    /// checksum, followed by nothing intact — is what a crash mid-save leaves: it is
    /// cut off and zeroed, so appending continues after the last whole record. Damage
    /// anywhere else is [`Error::Corrupt`], never skipped.
    ///
    /// The returned `Wal` holds an exclusive lock on `dir/LOCK` until it is dropped:
    /// opening a directory that is already open, in this process or another, fails
    /// at once with [`Error::Locked`], before anything is read or repaired.
    pub fn open(dir: impl AsRef<Path>, options: WalOptions) -> Result<(Wal, Recovered)> {
        options.validate()?;
        let dir = dir.as_ref();
        fsutil::create_dir(dir)?;
        let lock = DirLock::acquire(dir)?;
        let wal_dir = dir.join(WAL_DIR);
        fsutil::create_dir(&wal_dir)?;
        fsutil::remove_tmp_files(&wal_dir)?;
        let snaps = SnapDir::open(dir.join(SNAP_DIR))?;
        let segments = segment::list(&wal_dir)?;
        if segments.is_empty() {
            let id = SegmentFile::new(&wal_dir, 0, 1);
            let tail = Tail::default();
            let preamble = preamble(&id, &tail, options.max_record_size)?;
            let active = ActiveSegment::create(id.clone(), &preamble, None, options.segment_size)?;
            let wal = Wal::new(wal_dir, snaps, options, vec![id], active, tail, lock);
            return Ok((wal, Recovered::default()));
        }
        check_sequence(&segments)?;

        let mut state = LogState::default();
        let (mut end, mut garbage_end) = (0, 0);
        for (k, segment) in segments.iter().enumerate() {
            let is_last = k + 1 == segments.len();
            (end, garbage_end) = replay_segment(segment, k == 0, is_last, &options, &mut state)?;
        }
        let newest_marker = state.markers.iter().max_by_key(|m| (m.index, m.term)).cloned().unwrap_or_default();
        let tail =
            Tail { last_index: state.last_index(), hard_state: state.hard_state.clone(), snapshot: newest_marker };
        let recovered = choose_snapshot(state, &snaps, &segments[0])?;

        let last = segments[segments.len() - 1].clone();
        let active = ActiveSegment::reopen(last, end as u64, garbage_end as u64, options.segment_size)?;
        Ok((Wal::new(wal_dir, snaps, options, segments, active, tail, lock), recovered))
    }
}

/// Sequence numbers must be consecutive: a hole means a segment went missing.
fn check_sequence(segments: &[SegmentFile]) -> Result<()> {
    for pair in segments.windows(2) {
        if pair[1].seq != pair[0].seq + 1 {
            let reason = format!("segment {} is missing before it", pair[0].seq + 1);
            return Err(Error::Corrupt { segment: pair[1].path.clone(), offset: 0, reason });
        }
    }
    Ok(())
}

/// Applies one segment's records; returns where its data ends and its garbage ends.
fn replay_segment(
    segment: &SegmentFile,
    first: bool,
    is_last: bool,
    options: &WalOptions,
    state: &mut LogState,
) -> Result<(usize, usize)> {
    let corrupt =
        |offset: usize, reason: String| Error::Corrupt { segment: segment.path.clone(), offset: offset as u64, reason };
    let bytes = fs::read(&segment.path).at(&segment.path)?;
    let scan = scan_segment(&bytes, is_last, options.max_record_size).map_err(|e| corrupt(e.offset, e.reason))?;
    let mut records = scan.records.into_iter();
    let expected = SegmentHeader { seq: segment.seq, first_index: segment.first_index };
    match records.next() {
        Some((_, Record::Header(header))) if header == expected => {
            state.begin_segment(&header, first).map_err(|reason| corrupt(0, reason))?
        }
        Some((_, Record::Header(header))) => {
            return Err(corrupt(0, format!("header says {header:?}, the file name says {expected:?}")));
        }
        _ => return Err(corrupt(0, "the segment does not start with a header".into())),
    }
    for (offset, record) in records {
        state.apply(record).map_err(|reason| corrupt(offset, reason))?;
    }
    Ok((scan.end, scan.garbage_end))
}

/// Picks the newest snapshot that has a marker in the log, a readable file, and the
/// whole log after it (or none, if the log still starts at index 1); the entries
/// after it go with it.
fn choose_snapshot(mut state: LogState, snaps: &SnapDir, first_segment: &SegmentFile) -> Result<Recovered> {
    let mut markers = std::mem::take(&mut state.markers);
    markers.sort_by_key(|m| (m.index, m.term));
    let mut skipped = Vec::new();
    for meta in markers.iter().rev() {
        let Some(entries) = state.entries_after(meta.index) else { break };
        match snaps.load(meta.term, meta.index) {
            Ok(snapshot) => {
                let mut hard_state = state.hard_state;
                hard_state.commit = hard_state.commit.max(meta.index);
                hard_state.term = hard_state.term.max(meta.term);
                let skipped_snapshots = skipped;
                return Ok(Recovered { hard_state, snapshot: Some(snapshot), entries, skipped_snapshots });
            }
            Err(Error::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
                let path = snaps.path(meta.term, meta.index);
                skipped.push(SkippedSnapshot { path, reason: "the file is missing".into() });
            }
            Err(Error::CorruptSnapshot { path, reason }) => skipped.push(SkippedSnapshot { path, reason }),
            Err(e) => return Err(e),
        }
        // Put the entries back for an older candidate.
        let mut all = std::mem::take(&mut state.entries);
        all.extend(entries);
        state.entries = all;
    }
    // Starting from index 1 is the oldest candidate of all, if the log still has it.
    if let Some(entries) = state.entries_after(0) {
        return Ok(Recovered { hard_state: state.hard_state, snapshot: None, entries, skipped_snapshots: skipped });
    }
    let Some(newest) = markers.last() else {
        return Err(Error::Corrupt {
            segment: first_segment.path.clone(),
            offset: 0,
            reason: format!("the log starts at index {} but no snapshot precedes it", state.start),
        });
    };
    let reasons: Vec<_> = skipped.iter().map(|s| format!("{}: {}", s.path.display(), s.reason)).collect();
    Err(Error::CorruptSnapshot {
        path: snaps.path(newest.term, newest.index),
        reason: format!(
            "no snapshot with a marker in the log is usable (the log before index {} was released; {})",
            state.start,
            if reasons.is_empty() { "no file tried".to_string() } else { reasons.join("; ") }
        ),
    })
}
