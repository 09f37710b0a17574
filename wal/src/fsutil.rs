//! Small file-system steps the WAL and the snapshot directory share.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Seek, SeekFrom, Write};
use std::path::Path;

use crate::error::{IoContext, Result};

/// Suffix of files that are not finished yet; a crash may leave them behind.
pub(crate) const TMP_SUFFIX: &str = ".tmp";

static ZEROS: [u8; 64 << 10] = [0; 64 << 10];

/// Makes the entries of `dir` (creations, renames, deletions) durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir).and_then(|d| d.sync_all()).at(dir)
}

/// Creates `dir` (and its parents) if needed, making the new entry durable.
pub(crate) fn create_dir(dir: &Path) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    fs::create_dir_all(dir).at(dir)?;
    match dir.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => sync_dir(parent),
        _ => Ok(()),
    }
}

/// Creates (or truncates) `path` as `size` zero bytes, really written rather than a
/// sparse hole, so that later writes need no block allocation, and fsyncs it.
pub(crate) fn create_zeroed(path: &Path, size: u64) -> io::Result<File> {
    let mut file = OpenOptions::new().read(true).write(true).create(true).truncate(true).open(path)?;
    write_zeros(&mut file, 0, size)?;
    file.sync_all()?;
    Ok(file)
}

/// Writes zeros over `from..to` of `file` (growing it if needed); does not fsync.
pub(crate) fn write_zeros(file: &mut File, from: u64, to: u64) -> io::Result<()> {
    file.seek(SeekFrom::Start(from))?;
    let mut left = to.saturating_sub(from);
    while left > 0 {
        let n = left.min(ZEROS.len() as u64) as usize;
        file.write_all(&ZEROS[..n])?;
        left -= n as u64;
    }
    Ok(())
}

/// Deletes the unfinished files a crash left in `dir`.
pub(crate) fn remove_tmp_files(dir: &Path) -> Result<()> {
    let mut removed = false;
    for entry in fs::read_dir(dir).at(dir)? {
        let path = entry.at(dir)?.path();
        if path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.ends_with(TMP_SUFFIX)) {
            fs::remove_file(&path).at(&path)?;
            removed = true;
        }
    }
    if removed { sync_dir(dir) } else { Ok(()) }
}
