//! Segment files: their names, their creation, and appending to the active one.

use std::fs::{self, File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::error::{IoContext, Result};
use crate::fsutil::{self, TMP_SUFFIX};
use crate::prepare::Prepared;

/// A segment file's identity, as its name `{seq:016x}-{first_index:016x}.wal` says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SegmentFile {
    pub seq: u64,
    pub first_index: u64,
    pub path: PathBuf,
}

impl SegmentFile {
    pub fn new(dir: &Path, seq: u64, first_index: u64) -> Self {
        SegmentFile { seq, first_index, path: dir.join(format!("{seq:016x}-{first_index:016x}.wal")) }
    }

    fn parse(dir: &Path, name: &str) -> Option<Self> {
        let stem = name.strip_suffix(".wal")?;
        let (seq, first) = stem.split_once('-')?;
        if seq.len() != 16 || first.len() != 16 {
            return None;
        }
        let seq = u64::from_str_radix(seq, 16).ok()?;
        let first_index = u64::from_str_radix(first, 16).ok()?;
        Some(SegmentFile::new(dir, seq, first_index))
    }
}

/// The segment files in `dir`, by sequence number. Other files are ignored.
pub(crate) fn list(dir: &Path) -> Result<Vec<SegmentFile>> {
    let mut segments = Vec::new();
    for entry in fs::read_dir(dir).at(dir)? {
        let entry = entry.at(dir)?;
        if let Some(segment) = entry.file_name().to_str().and_then(|name| SegmentFile::parse(dir, name)) {
            segments.push(segment);
        }
    }
    segments.sort_by_key(|s| s.seq);
    Ok(segments)
}

/// Where an unfinished segment with sequence `seq` is prepared.
pub(crate) fn tmp_path(dir: &Path, seq: u64) -> PathBuf {
    dir.join(format!("{seq:016x}.wal{TMP_SUFFIX}"))
}

/// The segment being appended to.
#[derive(Debug)]
pub(crate) struct ActiveSegment {
    pub id: SegmentFile,
    file: File,
    /// Where the next frame goes.
    pub offset: u64,
    /// The file's length (preallocated; grows only for an oversized record).
    pub len: u64,
    /// Whether bytes were written since the last fsync.
    dirty: bool,
    /// `(offset, len)` at the last fsync: what a power loss would leave.
    #[cfg(feature = "failpoints")]
    pub synced: (u64, u64),
}

impl ActiveSegment {
    /// Creates segment `id`: takes a prepared zero-filled file (or makes one), writes
    /// `preamble` at its start and fsyncs it, and only then gives it its name (and
    /// fsyncs the directory), so a named segment always has its header.
    pub fn create(id: SegmentFile, preamble: &[u8], prepared: Option<Prepared>, size: u64) -> Result<Self> {
        let dir = id.path.parent().unwrap_or(Path::new("."));
        let Prepared { path: tmp, mut file } = match prepared {
            Some(prepared) => prepared,
            None => {
                let path = tmp_path(dir, id.seq);
                Prepared { file: fsutil::create_zeroed(&path, size).at(&path)?, path }
            }
        };
        file.seek(SeekFrom::Start(0)).at(&tmp)?;
        file.write_all(preamble).at(&tmp)?;
        file.sync_data().at(&tmp)?;
        let len = file.metadata().at(&tmp)?.len();
        fs::rename(&tmp, &id.path).at(&id.path)?;
        fsutil::sync_dir(dir)?;
        let offset = preamble.len() as u64;
        Ok(ActiveSegment {
            id,
            file,
            offset,
            len,
            dirty: false,
            #[cfg(feature = "failpoints")]
            synced: (offset, len),
        })
    }

    /// Opens an existing segment to append after its last whole record, which ends at
    /// `end`: zeroes its torn tail `end..garbage_end`, grows it back to `size` if it
    /// was cut short, and appends from `end` rounded up to the frame alignment.
    pub fn reopen(id: SegmentFile, end: u64, garbage_end: u64, size: u64) -> Result<Self> {
        let path = &id.path;
        let mut file = OpenOptions::new().read(true).write(true).open(path).at(path)?;
        let len = file.metadata().at(path)?.len();
        let offset = end.div_ceil(8) * 8;
        let target = len.max(size).max(offset);
        if garbage_end > end || len < target {
            fsutil::write_zeros(&mut file, end, garbage_end.max(end)).at(path)?;
            fsutil::write_zeros(&mut file, len, target).at(path)?;
            file.sync_all().at(path)?;
        }
        file.seek(SeekFrom::Start(offset)).at(path)?;
        Ok(ActiveSegment {
            id,
            file,
            offset,
            len: target,
            dirty: false,
            #[cfg(feature = "failpoints")]
            synced: (offset, target),
        })
    }

    /// Bytes left before the preallocated end.
    pub fn remaining(&self) -> u64 {
        self.len.saturating_sub(self.offset)
    }

    /// Appends `bytes` (whole frames) at the write position. Not durable until [`sync`](Self::sync).
    pub fn append(&mut self, bytes: &[u8]) -> Result<()> {
        self.dirty = true;
        self.file.write_all(bytes).at(&self.id.path)?;
        self.offset += bytes.len() as u64;
        self.len = self.len.max(self.offset);
        Ok(())
    }

    /// Makes everything appended durable: one `fdatasync`, cheap on a preallocated file.
    pub fn sync(&mut self) -> Result<()> {
        if self.dirty {
            let started = std::time::Instant::now();
            self.file.sync_data().at(&self.id.path)?;
            crate::metrics::fsync().observe(started.elapsed());
            self.dirty = false;
            #[cfg(feature = "failpoints")]
            {
                self.synced = (self.offset, self.len);
            }
        }
        Ok(())
    }

    /// Puts back what the file held at the last fsync, as a power loss would leave it
    /// (bytes past it were zeros, or not in the file): zeroes every unsynced byte
    /// except those in the 4 KiB pages `keep_page` keeps (a writeback that got
    /// that far), shrinks a grown file, and fsyncs that. Returns the bytes dropped.
    #[cfg(feature = "failpoints")]
    pub fn lose_unsynced(&mut self, mut keep_page: impl FnMut() -> bool) -> Result<u64> {
        const PAGE: u64 = 4096;
        let (synced_offset, synced_len) = self.synced;
        let path = self.id.path.clone();
        let mut dropped = 0;
        let mut at = synced_offset;
        while at < self.offset {
            let end = ((at / PAGE + 1) * PAGE).min(self.offset);
            if !keep_page() {
                fsutil::write_zeros(&mut self.file, at, end.min(synced_len).max(at)).at(&path)?;
                dropped += end - at;
            }
            at = end;
        }
        if self.len > synced_len {
            self.file.set_len(synced_len).at(&path)?;
        }
        self.file.sync_all().at(&path)?;
        self.file.seek(SeekFrom::Start(synced_offset)).at(&path)?;
        self.offset = synced_offset;
        self.len = synced_len;
        self.dirty = false;
        Ok(dropped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_strangers_are_ignored() {
        let dir = Path::new("/x");
        let s = SegmentFile::new(dir, 3, 0x2a);
        assert_eq!(s.path, Path::new("/x/0000000000000003-000000000000002a.wal"));
        assert_eq!(SegmentFile::parse(dir, "0000000000000003-000000000000002a.wal"), Some(s));
        assert_eq!(SegmentFile::parse(dir, "3-2a.wal"), None);
        assert_eq!(SegmentFile::parse(dir, "0000000000000003.wal.tmp"), None);
        assert_eq!(SegmentFile::parse(dir, "000000000000000g-000000000000002a.wal"), None);
    }

    #[cfg(feature = "failpoints")]
    #[test]
    fn losing_unsynced_bytes_leaves_what_the_last_fsync_made_durable() {
        use raft::eraftpb::{Entry, HardState};

        use crate::record::{Record, encode_record};
        use crate::{Wal, WalOptions};

        let max = crate::DEFAULT_MAX_RECORD_SIZE;
        let entries = |from: u64, to: u64, data: usize| -> Vec<u8> {
            let entries = (from..=to)
                .map(|index| Entry { index, term: 1, data: vec![0xab; data].into(), ..Default::default() })
                .collect();
            let mut out = Vec::new();
            encode_record(&Record::Entries { entries, hard_state: None }, max, &mut out).expect("encode");
            out
        };
        for tear in [false, true] {
            let dir = tempfile::tempdir().expect("temp dir");
            let wal_dir = dir.path().join(crate::WAL_DIR);
            fs::create_dir_all(&wal_dir).expect("wal dir");
            let id = SegmentFile::new(&wal_dir, 0, 1);
            let tail =
                crate::wal::Tail { hard_state: HardState { term: 1, ..Default::default() }, ..Default::default() };
            let preamble = crate::wal::preamble(&id, &tail, max).expect("preamble");
            let mut active = ActiveSegment::create(id, &preamble, None, 1 << 16).expect("create");
            active.append(&entries(1, 3, 10)).expect("append");
            active.sync().expect("sync");
            let durable = active.offset;
            // Unsynced: one save's record, over many pages and past the preallocated end.
            active.append(&entries(4, 5, 40_000)).expect("append");
            assert!(active.len > 1 << 16);
            let mut coin = false;
            let dropped = active
                .lose_unsynced(|| {
                    coin = !coin;
                    tear && coin
                })
                .expect("lose");
            let bytes = fs::read(&active.id.path).expect("read segment");
            assert_eq!(bytes.len(), 1 << 16, "the file is back to its synced length");
            if tear {
                assert!(dropped > 0 && bytes[durable as usize..].iter().any(|&b| b != 0), "some pages kept");
            } else {
                assert!(bytes[durable as usize..].iter().all(|&b| b == 0), "every unsynced byte dropped");
            }
            drop(active);
            let options = WalOptions { segment_size: 1 << 16, ..WalOptions::default() };
            let (_, recovered) = Wal::open(dir.path(), options).expect("the WAL opens after the loss");
            assert_eq!(recovered.entries.iter().map(|e| e.index).collect::<Vec<_>>(), [1, 2, 3]);
        }
    }
}
