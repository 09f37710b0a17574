//! Tuning knobs of the WAL.

use crate::error::{Error, Result};

/// The default size of a segment file: 64 MiB, like etcd's.
pub const DEFAULT_SEGMENT_SIZE: u64 = 64 << 20;
/// The default bound on one record (its type byte and payload): 64 MiB.
pub const DEFAULT_MAX_RECORD_SIZE: u32 = 64 << 20;
/// The smallest segment size accepted (tests use tiny segments to rotate often).
pub const MIN_SEGMENT_SIZE: u64 = 512;
/// The smallest record limit accepted: a segment's preamble must always fit.
pub const MIN_RECORD_SIZE: u32 = 1024;

/// How a [`Wal`](crate::Wal) lays out and keeps its files.
///
/// Build one with struct update syntax:
/// `WalOptions { segment_size: 1 << 20, ..WalOptions::default() }`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WalOptions {
    /// Bytes every segment file is preallocated (zero-filled) to. A multiple of 8, at
    /// least [`MIN_SEGMENT_SIZE`]. A record never spans segments; one record larger
    /// than a whole segment gets a segment of its own that grows past this size.
    pub segment_size: u64,
    /// The largest record (type byte and payload) written or accepted when reading.
    /// Reading rejects a larger length field before allocating anything. Lowering it
    /// below the size of records already on disk makes them unreadable.
    pub max_record_size: u32,
    /// Zero-fill the next segment in a background thread, so rotation only renames it.
    pub prepare_next_segment: bool,
    /// How many of the segments that [`Wal::release_to`](crate::Wal::release_to) could
    /// delete it keeps anyway (the newest of them), so that the log behind an older
    /// snapshot survives if the newest snapshot file turns out damaged.
    pub keep_segments: usize,
    /// How many snapshot files `release_to` keeps, newest first (at least 1).
    pub keep_snapshots: usize,
}

impl Default for WalOptions {
    fn default() -> Self {
        WalOptions {
            segment_size: DEFAULT_SEGMENT_SIZE,
            max_record_size: DEFAULT_MAX_RECORD_SIZE,
            prepare_next_segment: true,
            keep_segments: 5,
            keep_snapshots: 5,
        }
    }
}

impl WalOptions {
    /// Checks the options, returning [`Error::InvalidInput`] for impossible values.
    pub fn validate(&self) -> Result<()> {
        if self.segment_size < MIN_SEGMENT_SIZE || self.segment_size & 7 != 0 {
            return Err(Error::InvalidInput(format!(
                "segment_size {} must be a multiple of 8 and at least {MIN_SEGMENT_SIZE}",
                self.segment_size
            )));
        }
        if self.max_record_size < MIN_RECORD_SIZE || self.max_record_size > u32::MAX - 8 {
            return Err(Error::InvalidInput(format!(
                "max_record_size {} must be between {MIN_RECORD_SIZE} and {}",
                self.max_record_size,
                u32::MAX - 8
            )));
        }
        if self.keep_snapshots == 0 {
            return Err(Error::InvalidInput("keep_snapshots must be at least 1".into()));
        }
        Ok(())
    }
}
