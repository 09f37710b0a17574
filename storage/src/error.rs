//! Errors of the storage layer, split by what a caller does with them.

use std::path::PathBuf;

/// A result of a storage operation.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong in a storage operation.
///
/// `InvalidBucket`, `InvalidKey` and `ValueTooLarge` are the caller's mistake and
/// change nothing. `CorruptSnapshot` means a snapshot stream cannot be trusted and
/// nothing was imported. `EngineMismatch` means the directory belongs to another
/// engine. `Io` and `Engine` come from the disk or the engine: the store is left as
/// it was before the failed operation.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A bucket name that is empty, too long, or not `[A-Za-z0-9_]`.
    #[error("invalid bucket name {0:?}: want 1..=64 ASCII letters, digits or '_'")]
    InvalidBucket(String),
    /// A key that is empty or longer than [`crate::MAX_KEY_LEN`].
    #[error("invalid key length {len}: want 1..={max} bytes", max = crate::MAX_KEY_LEN)]
    InvalidKey {
        /// The length that was given.
        len: usize,
    },
    /// A value longer than [`crate::MAX_VALUE_LEN`].
    #[error("value of {len} bytes exceeds the limit of {max} bytes", max = crate::MAX_VALUE_LEN)]
    ValueTooLarge {
        /// The length that was given.
        len: usize,
    },
    /// A snapshot stream that is truncated, corrupted or not a snapshot at all.
    #[error("corrupt snapshot: {0}")]
    CorruptSnapshot(String),
    /// The directory was created by another engine.
    #[error("data directory {path} belongs to the {found} engine, not {expected}")]
    EngineMismatch {
        /// The directory.
        path: PathBuf,
        /// The engine recorded in the directory.
        found: String,
        /// The engine that tried to open it.
        expected: &'static str,
    },
    /// The import target already holds data.
    #[error("import target {0} already exists and is not empty")]
    TargetNotEmpty(PathBuf),
    /// An I/O error outside the engine.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    /// An error reported by the engine itself.
    #[error("{engine}: {source}")]
    Engine {
        /// Which engine.
        engine: &'static str,
        /// The engine's own error.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl Error {
    /// Wraps an engine's own error.
    pub fn engine(engine: &'static str, source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Error::Engine { engine, source: source.into() }
    }
}
