//! The lock that keeps a WAL directory to one writer.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

use crate::error::{Error, IoContext, Result};

/// The file in a WAL directory that an open [`Wal`](crate::Wal) holds locked.
pub const LOCK_FILE: &str = "LOCK";

/// An exclusive `flock` on `<dir>/LOCK`, held while this lives.
///
/// `flock` locks belong to the open file, not to the process: a second open in the
/// same process conflicts just as one in another process does, and the kernel drops
/// the lock when the file is closed or its process dies, so a crash never leaves a
/// directory locked. (It is advisory: it keeps out other `Wal`s, not other programs.)
#[derive(Debug)]
pub(crate) struct DirLock {
    _file: File,
}

impl DirLock {
    /// Takes the lock of `dir` (creating the lock file), or fails at once with
    /// [`Error::Locked`] if someone holds it.
    pub fn acquire(dir: &Path) -> Result<Self> {
        let path = dir.join(LOCK_FILE);
        let file = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path).at(&path)?;
        match file.try_lock() {
            Ok(()) => Ok(DirLock { _file: file }),
            Err(TryLockError::WouldBlock) => Err(Error::Locked { dir: absolute(dir) }),
            Err(TryLockError::Error(e)) => Err(e).at(&path),
        }
    }
}

/// `dir` made absolute for the error message, if it can be.
fn absolute(dir: &Path) -> PathBuf {
    std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf())
}
