//! Snapshot files: `<dir>/snap/{term:016x}-{index:016x}.snap`.
//!
//! A file is `b"cairnsnp"`, format version `u32`, CRC32C `u32` of everything after
//! it, the `SnapshotMetadata` protobuf's length `u32` and bytes, then the snapshot's
//! data bytes to the end of the file. It is written under a temporary name, fsynced,
//! renamed, and the directory fsynced, so a named file is always whole.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use protobuf::Message;
use raft::eraftpb::{Snapshot, SnapshotMetadata};

use crate::error::{Error, IoContext, Result};
use crate::fsutil::{self, TMP_SUFFIX};

const MAGIC: &[u8; 8] = b"cairnsnp";
const VERSION: u32 = 1;
/// Magic, version, checksum, metadata length.
const HEADER_LEN: usize = 8 + 4 + 4 + 4;

/// The directory of snapshot files.
#[derive(Debug)]
pub(crate) struct SnapDir {
    dir: PathBuf,
}

impl SnapDir {
    /// Opens (creating) the directory and removes files a crash left unfinished.
    pub fn open(dir: PathBuf) -> Result<Self> {
        fsutil::create_dir(&dir)?;
        fsutil::remove_tmp_files(&dir)?;
        Ok(SnapDir { dir })
    }

    /// The file of the snapshot at `term` and `index`.
    pub fn path(&self, term: u64, index: u64) -> PathBuf {
        self.dir.join(format!("{term:016x}-{index:016x}.snap"))
    }

    /// Writes `snapshot` durably; returns its path.
    pub fn save(&self, snapshot: &Snapshot) -> Result<PathBuf> {
        let meta = snapshot.get_metadata();
        let path = self.path(meta.term, meta.index);
        let mut tmp = path.clone().into_os_string();
        tmp.push(TMP_SUFFIX);
        let tmp = PathBuf::from(tmp);
        let meta_bytes = meta.write_to_bytes()?;
        let meta_len = u32::try_from(meta_bytes.len())
            .map_err(|_| Error::TooLarge { len: meta_bytes.len() as u64, max: u64::from(u32::MAX) })?;
        let crc = [&meta_len.to_le_bytes()[..], &meta_bytes, &snapshot.data]
            .iter()
            .fold(0, |crc, part| crc32c::crc32c_append(crc, part));
        let file = File::create(&tmp).at(&tmp)?;
        let mut out = BufWriter::new(file);
        for part in [&MAGIC[..], &VERSION.to_le_bytes(), &crc.to_le_bytes(), &meta_len.to_le_bytes(), &meta_bytes] {
            out.write_all(part).at(&tmp)?;
        }
        out.write_all(&snapshot.data).at(&tmp)?;
        let file = out.into_inner().map_err(|e| e.into_error()).at(&tmp)?;
        file.sync_all().at(&tmp)?;
        fs::rename(&tmp, &path).at(&path)?;
        fsutil::sync_dir(&self.dir)?;
        Ok(path)
    }

    /// Reads and verifies the snapshot at `term` and `index`.
    pub fn load(&self, term: u64, index: u64) -> Result<Snapshot> {
        let path = self.path(term, index);
        let bytes = fs::read(&path).at(&path)?;
        let snapshot = decode(bytes).map_err(|reason| Error::CorruptSnapshot { path: path.clone(), reason })?;
        let meta = snapshot.get_metadata();
        if (meta.term, meta.index) != (term, index) {
            let reason = format!("holds term {} index {}, not what its name says", meta.term, meta.index);
            return Err(Error::CorruptSnapshot { path, reason });
        }
        Ok(snapshot)
    }

    /// `(term, index)` of every snapshot file, oldest first.
    pub fn list(&self) -> Result<Vec<(u64, u64)>> {
        let mut found = Vec::new();
        for entry in fs::read_dir(&self.dir).at(&self.dir)? {
            let name = entry.at(&self.dir)?.file_name();
            if let Some(id) = name.to_str().and_then(parse_name) {
                found.push(id);
            }
        }
        found.sort_by_key(|&(term, index)| (index, term));
        Ok(found)
    }

    /// Deletes all but the newest `keep` snapshot files, never `protect`.
    pub fn purge(&self, keep: usize, protect: (u64, u64)) -> Result<()> {
        let all = self.list()?;
        let excess = all.len().saturating_sub(keep);
        let doomed: Vec<_> = all[..excess].iter().filter(|&&id| id != protect).collect();
        for &&(term, index) in &doomed {
            let path = self.path(term, index);
            fs::remove_file(&path).at(&path)?;
        }
        if doomed.is_empty() { Ok(()) } else { fsutil::sync_dir(&self.dir) }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

fn parse_name(name: &str) -> Option<(u64, u64)> {
    let (term, index) = name.strip_suffix(".snap")?.split_once('-')?;
    if term.len() != 16 || index.len() != 16 {
        return None;
    }
    Some((u64::from_str_radix(term, 16).ok()?, u64::from_str_radix(index, 16).ok()?))
}

/// Verifies and decodes the bytes of a snapshot file.
pub(crate) fn decode(bytes: Vec<u8>) -> Result<Snapshot, String> {
    if bytes.len() < HEADER_LEN {
        return Err(format!("{} bytes is too short for a snapshot file", bytes.len()));
    }
    if &bytes[..8] != MAGIC {
        return Err("not a snapshot file (bad magic)".into());
    }
    let word = |at: usize| u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
    let version = word(8);
    if version != VERSION {
        return Err(format!("unsupported snapshot format version {version}"));
    }
    let (stored, computed) = (word(12), crc32c::crc32c(&bytes[16..]));
    if stored != computed {
        return Err(format!("checksum mismatch: stored {stored:#010x}, computed {computed:#010x}"));
    }
    let meta_end = HEADER_LEN
        .checked_add(word(16) as usize)
        .filter(|&end| end <= bytes.len())
        .ok_or_else(|| "metadata length exceeds the file".to_string())?;
    let meta = SnapshotMetadata::parse_from_bytes(&bytes[HEADER_LEN..meta_end]).map_err(|e| e.to_string())?;
    let mut snapshot = Snapshot { data: bytes.into(), ..Default::default() };
    snapshot.data = snapshot.data.slice(meta_end..);
    snapshot.set_metadata(meta);
    Ok(snapshot)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_load_round_trip_and_every_flip_is_caught() {
        let dir = tempfile::tempdir().expect("tempdir");
        let snaps = SnapDir::open(dir.path().join("snap")).expect("open");
        let mut snapshot = Snapshot { data: b"state machine".to_vec().into(), ..Default::default() };
        snapshot.mut_metadata().index = 9;
        snapshot.mut_metadata().term = 2;
        snapshot.mut_metadata().mut_conf_state().voters = vec![1, 2];
        let path = snaps.save(&snapshot).expect("save");
        assert_eq!(snaps.load(2, 9).expect("load"), snapshot);
        assert_eq!(snaps.list().expect("list"), [(2, 9)]);
        let good = fs::read(&path).expect("read");
        for i in 0..good.len() {
            let mut bad = good.clone();
            bad[i] ^= 1;
            assert!(decode(bad).is_err(), "flip at {i} went unnoticed");
        }
        assert!(decode(good[..good.len() - 1].to_vec()).is_err());
    }

    #[test]
    fn names_parse() {
        assert_eq!(parse_name("0000000000000002-0000000000000009.snap"), Some((2, 9)));
        assert_eq!(parse_name("0000000000000002-0000000000000009.snap.tmp"), None);
        assert_eq!(parse_name("2-9.snap"), None);
    }
}
