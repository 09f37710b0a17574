//! The writer: group-committed saves, snapshot markers, segment rotation and release.

use std::fs;
use std::io;
use std::ops::Range;
use std::path::{Path, PathBuf};

use raft::eraftpb::{Entry, HardState, Snapshot, SnapshotMetadata};

use crate::error::{Error, IoContext, Result};
use crate::fsutil;
use crate::lock::DirLock;
use crate::options::WalOptions;
use crate::payload::{encode_entries, entries_overhead, entry_size};
use crate::prepare::Preparer;
use crate::record::{Record, SegmentHeader, begin_frame, encode_record, finish_frame, kind};
use crate::replay::{MAX_INDEX, check_entries};
use crate::segment::{ActiveSegment, SegmentFile};
use crate::snap::SnapDir;

/// The raft log on disk: an append-only sequence of segment files of CRC32C-framed
/// records in `<dir>/wal/`, plus snapshot files in `<dir>/snap/`.
///
/// One [`save`](Wal::save) per raft `Ready` writes the hard state and entries with one
/// `write` and one `fdatasync`; when it returns `Ok`, they survive a crash. Open with
/// [`Wal::open`], which also repairs a torn tail left by a crash.
///
/// Owned by the raft loop (`&mut self`): it is not meant to be shared. It holds the
/// directory's lock until dropped, so the directory has one writer at a time.
#[derive(Debug)]
pub struct Wal {
    wal_dir: PathBuf,
    snaps: SnapDir,
    options: WalOptions,
    /// Every segment, oldest first; the last one is `active`.
    segments: Vec<SegmentFile>,
    active: ActiveSegment,
    preparer: Preparer,
    tail: Tail,
    failed: bool,
    buf: Vec<u8>,
    frames: Vec<PendingFrame>,
    /// Last, so it is released after the files are closed and the preparing thread joined.
    _lock: DirLock,
}

/// What the writer knows about the end of the log.
#[derive(Debug, Default)]
pub(crate) struct Tail {
    pub last_index: u64,
    pub hard_state: HardState,
    /// The latest snapshot marker (index 0 when none).
    pub snapshot: SnapshotMetadata,
}

/// An encoded frame in `Wal::buf` and the log's last index once it is written.
#[derive(Debug)]
struct PendingFrame {
    range: Range<usize>,
    last_index: Option<u64>,
}

/// Where the next record will be written: a segment file and a byte offset in it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WalPosition {
    /// The active segment file.
    pub segment: PathBuf,
    /// The offset just past the last record written.
    pub offset: u64,
}

impl Wal {
    pub(crate) fn new(
        wal_dir: PathBuf,
        snaps: SnapDir,
        options: WalOptions,
        segments: Vec<SegmentFile>,
        active: ActiveSegment,
        tail: Tail,
        lock: DirLock,
    ) -> Self {
        let mut preparer = Preparer::default();
        if options.prepare_next_segment {
            preparer.start(&wal_dir, active.id.seq + 1, options.segment_size);
        }
        let buf = Vec::new();
        let frames = Vec::new();
        Wal { wal_dir, snaps, options, segments, active, preparer, tail, failed: false, buf, frames, _lock: lock }
    }

    /// Durably appends what one raft `Ready` produced: its hard state (if it changed)
    /// and its entries, with one `fdatasync` for all of it.
    ///
    /// Entries must be consecutive. The first may start at or below the last index
    /// (a new leader overwriting an uncommitted suffix: the log is cut there), but not
    /// past `last_index() + 1` and not at or below the latest snapshot. Entries and
    /// hard state go into one record, so after a crash either both are there or
    /// neither is. Saving nothing does nothing.
    ///
    /// Errors: [`Error::InvalidInput`] or [`Error::TooLarge`] (one entry larger than
    /// `max_record_size`) change nothing. [`Error::Io`] leaves the WAL
    /// [`Failed`](Error::Failed): reopen it.
    pub fn save(&mut self, hard_state: Option<&HardState>, entries: &[Entry]) -> Result<()> {
        self.check_usable()?;
        if let Some(first) = entries.first() {
            check_entries(entries).map_err(Error::InvalidInput)?;
            if first.index > self.tail.last_index + 1 {
                let last = self.tail.last_index;
                return Err(Error::InvalidInput(format!("entry {} leaves a gap after index {last}", first.index)));
            }
            if first.index <= self.tail.snapshot.index {
                let snap = self.tail.snapshot.index;
                return Err(Error::InvalidInput(format!("entry {} is covered by snapshot {snap}", first.index)));
            }
        }
        self.buf.clear();
        self.frames.clear();
        if !entries.is_empty() {
            self.encode_entry_records(entries, hard_state)?;
        } else if let Some(hs) = hard_state {
            self.encode(&Record::HardState(hs.clone()), None)?;
        } else {
            return Ok(());
        }
        self.write_frames()?;
        if let Some(hs) = hard_state {
            self.tail.hard_state = hs.clone();
        }
        Ok(())
    }

    /// Durably saves `snapshot` (metadata and data) as a file in `<dir>/snap/`, then
    /// appends a marker record for it and fsyncs.
    ///
    /// Like etcd, call it before [`save`](Wal::save)ing the `Ready` that carried the
    /// snapshot. A snapshot beyond the last index (one received from the leader)
    /// empties the log: the next entries must follow it. Its index must not be below
    /// that of the latest snapshot already saved.
    pub fn save_snapshot(&mut self, snapshot: &Snapshot) -> Result<()> {
        self.check_usable()?;
        let meta = snapshot.get_metadata();
        if meta.index == 0 || meta.index > MAX_INDEX {
            return Err(Error::InvalidInput(format!("snapshot index {}", meta.index)));
        }
        if meta.index < self.tail.snapshot.index {
            let latest = self.tail.snapshot.index;
            return Err(Error::InvalidInput(format!("snapshot {} is older than snapshot {latest}", meta.index)));
        }
        self.snaps.save(snapshot)?;
        self.buf.clear();
        self.frames.clear();
        let last_index = (meta.index > self.tail.last_index).then_some(meta.index);
        self.encode(&Record::Snapshot(meta.clone()), last_index)?;
        self.write_frames()?;
        self.tail.snapshot = meta.clone();
        Ok(())
    }

    /// Deletes what is no longer needed once the state machine is safely at `index`
    /// (usually the index of the snapshot just saved; it is capped at the latest
    /// snapshot): segments whose entries are all at or below it, except the newest
    /// [`keep_segments`](WalOptions::keep_segments) of them and the active segment,
    /// and snapshot files beyond the newest [`keep_snapshots`](WalOptions::keep_snapshots).
    pub fn release_to(&mut self, index: u64) -> Result<()> {
        let index = index.min(self.tail.snapshot.index);
        let releasable = self.segments.windows(2).take_while(|pair| pair[1].first_index <= index + 1).count();
        let doomed = releasable.saturating_sub(self.options.keep_segments);
        for segment in self.segments.drain(..doomed) {
            match fs::remove_file(&segment.path) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e).at(&segment.path),
                _ => {}
            }
            // One at a time, so that a crash can only leave a prefix deleted: the
            // remaining sequence numbers stay consecutive.
            fsutil::sync_dir(&self.wal_dir)?;
        }
        self.snaps.purge(self.options.keep_snapshots, (self.tail.snapshot.term, self.tail.snapshot.index))
    }

    /// The index of the last entry in the log (or of the snapshot it starts after).
    pub fn last_index(&self) -> u64 {
        self.tail.last_index
    }

    /// Where the next record goes. After a successful save, everything before it is durable.
    pub fn position(&self) -> WalPosition {
        WalPosition { segment: self.active.id.path.clone(), offset: self.active.offset }
    }

    /// The segment files, oldest first.
    pub fn segment_paths(&self) -> Vec<PathBuf> {
        self.segments.iter().map(|s| s.path.clone()).collect()
    }

    /// The directory of snapshot files.
    pub fn snap_dir(&self) -> &Path {
        self.snaps.dir()
    }

    fn check_usable(&self) -> Result<()> {
        if self.failed { Err(Error::Failed) } else { Ok(()) }
    }

    /// Encodes `entries` as few records as the size limit allows (one, normally), the
    /// hard state going with the last.
    fn encode_entry_records(&mut self, entries: &[Entry], hard_state: Option<&HardState>) -> Result<()> {
        let max = u64::from(self.options.max_record_size);
        let overhead = 1 + entries_overhead(hard_state);
        let (mut from, mut size) = (0, overhead);
        for (i, entry) in entries.iter().enumerate() {
            let raw = (entry.data.len() + entry.context.len()) as u64;
            // Checked before protobuf computes a size that could overflow its u32.
            let entry_len = if raw > max { raw } else { entry_size(entry) };
            if overhead + entry_len > max {
                return Err(Error::TooLarge { len: overhead + entry_len, max });
            }
            if i > from && size + entry_len > max {
                self.encode_entry_frame(&entries[from..i], None)?;
                (from, size) = (i, overhead);
            }
            size += entry_len;
        }
        self.encode_entry_frame(&entries[from..], hard_state)
    }

    fn encode_entry_frame(&mut self, entries: &[Entry], hard_state: Option<&HardState>) -> Result<()> {
        let start = begin_frame(&mut self.buf, kind::ENTRIES);
        encode_entries(&mut self.buf, entries, hard_state)?;
        finish_frame(&mut self.buf, start, self.options.max_record_size)?;
        let last_index = entries.last().map(|e| e.index);
        self.frames.push(PendingFrame { range: start..self.buf.len(), last_index });
        Ok(())
    }

    fn encode(&mut self, record: &Record, last_index: Option<u64>) -> Result<()> {
        let start = self.buf.len();
        encode_record(record, self.options.max_record_size, &mut self.buf)?;
        self.frames.push(PendingFrame { range: start..self.buf.len(), last_index });
        Ok(())
    }

    /// Writes the pending frames and fsyncs; any failure leaves the WAL failed, since
    /// what reached the disk is then unknown.
    fn write_frames(&mut self) -> Result<()> {
        let result = self.write_frames_unguarded();
        if result.is_err() {
            self.failed = true;
        }
        result
    }

    fn write_frames_unguarded(&mut self) -> Result<()> {
        let (mut i, mut rotated) = (0, false);
        while i < self.frames.len() {
            let start = self.frames[i].range.start;
            let room = usize::try_from(self.active.remaining()).unwrap_or(usize::MAX);
            let mut j = i;
            while j < self.frames.len() && self.frames[j].range.end - start <= room {
                j += 1;
            }
            if j == i {
                if !rotated {
                    self.rotate()?;
                    rotated = true;
                    continue;
                }
                // Larger than a whole segment: it has this fresh one to itself, grown.
                j = i + 1;
            }
            self.active.append(&self.buf[start..self.frames[j - 1].range.end])?;
            if let Some(last) = self.frames[i..j].iter().rev().find_map(|f| f.last_index) {
                self.tail.last_index = last;
            }
            (i, rotated) = (j, false);
        }
        #[cfg(feature = "failpoints")]
        fail::fail_point!("walBeforeFsync", |arg| crate::failpoints::before_fsync(&mut self.active, arg));
        self.active.sync()
    }

    /// Starts the next segment. What the old one holds is made durable first, so an
    /// older segment never has a torn tail.
    fn rotate(&mut self) -> Result<()> {
        self.active.sync()?;
        let seq = self.active.id.seq + 1;
        let id = SegmentFile::new(&self.wal_dir, seq, self.tail.last_index + 1);
        let preamble = preamble(&id, &self.tail, self.options.max_record_size)?;
        let prepared = self.preparer.take(seq)?;
        self.active = ActiveSegment::create(id.clone(), &preamble, prepared, self.options.segment_size)?;
        self.segments.push(id);
        if self.options.prepare_next_segment {
            self.preparer.start(&self.wal_dir, seq + 1, self.options.segment_size);
        }
        Ok(())
    }
}

/// The records a segment starts with: its header, then the latest snapshot marker and
/// hard state, so that older segments can be deleted without losing them.
pub(crate) fn preamble(id: &SegmentFile, tail: &Tail, max_len: u32) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    encode_record(&Record::Header(SegmentHeader { seq: id.seq, first_index: id.first_index }), max_len, &mut out)?;
    if tail.snapshot.index > 0 {
        encode_record(&Record::Snapshot(tail.snapshot.clone()), max_len, &mut out)?;
    }
    if tail.hard_state != HardState::default() {
        encode_record(&Record::HardState(tail.hard_state.clone()), max_len, &mut out)?;
    }
    Ok(out)
}
