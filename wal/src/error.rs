//! Errors of the WAL, split by what a caller does with them.

use std::io;
use std::path::{Path, PathBuf};

/// A result of a WAL operation.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong in a WAL operation.
///
/// - `Io`: the disk or the OS failed. If it happened while appending, the WAL is
///   [`Failed`](Error::Failed) from then on and must be reopened.
/// - `Corrupt`, `CorruptSnapshot`: the files on disk cannot be trusted in a way a
///   crash cannot explain. Nothing is skipped silently; an operator has to look
///   (restore the member from a peer, or remove it and re-add it).
/// - `TooLarge`, `InvalidInput`: the caller's mistake. Nothing was written.
/// - `Failed`: an earlier append or fsync failed, so what the disk holds after the
///   last successful save is unknown; reopen the WAL to find out.
/// - `Locked`: another open `Wal`, in this process or another, owns the directory.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An I/O error on a file or directory of the WAL.
    #[error("i/o error on {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// A segment holds damaged or inconsistent data before its tail.
    #[error("corrupt WAL segment {segment} at offset {offset}: {reason}")]
    Corrupt {
        /// The segment file.
        segment: PathBuf,
        /// Byte offset of the bad record in the segment.
        offset: u64,
        /// What is wrong there.
        reason: String,
    },
    /// A snapshot file failed verification, and no older snapshot can replace it.
    #[error("corrupt snapshot {path}: {reason}")]
    CorruptSnapshot {
        /// The snapshot file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A record to write is larger than [`WalOptions::max_record_size`](crate::WalOptions::max_record_size).
    #[error("record of {len} bytes exceeds the limit of {max} bytes")]
    TooLarge {
        /// The size the record would have.
        len: u64,
        /// The configured limit.
        max: u64,
    },
    /// The caller broke the API's contract (e.g. entries with a gap); nothing was written.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// Another open [`Wal`](crate::Wal), in this process or another, holds the
    /// directory's lock file. Nothing was read or changed.
    #[error("WAL directory {dir} is locked: another process (or another Wal in this one) has it open")]
    Locked {
        /// The WAL directory.
        dir: PathBuf,
    },
    /// An earlier append or fsync failed; the WAL must be reopened.
    #[error("an earlier write or fsync of the WAL failed; reopen it to recover")]
    Failed,
    /// A raft message could not be encoded.
    #[error("cannot encode a raft message: {0}")]
    Encode(#[from] protobuf::ProtobufError),
}

/// Attaches the path an I/O error happened on.
pub(crate) trait IoContext<T> {
    /// Wraps the error as [`Error::Io`] on `path`.
    fn at(self, path: &Path) -> Result<T>;
}

impl<T> IoContext<T> for io::Result<T> {
    fn at(self, path: &Path) -> Result<T> {
        self.map_err(|source| Error::Io { path: path.to_path_buf(), source })
    }
}
