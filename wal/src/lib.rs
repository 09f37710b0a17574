//! `cairn-wal`: cairn's raft log on disk.
//!
//! It is a write-ahead log of raft entries, hard states and snapshot markers in
//! segment files of CRC32C-framed records, group-committed with one `fdatasync` per
//! raft `Ready` into preallocated, zero-filled segments; torn-tail repair on open;
//! snapshot files with checksums; and [`WalStorage`], the `raft::Storage` view raft
//! reads from. It is not the state machine's storage (that is `cairn-storage`), and
//! it does not drive raft (that is `cairn-raft`).
//!
//! A directory holds `wal/{seq:016x}-{first_index:016x}.wal` segments,
//! `snap/{term:016x}-{index:016x}.snap` snapshots, and a `LOCK` file that an open
//! [`Wal`] holds an exclusive `flock` on, so that a second [`Wal::open`] of the
//! directory, in this process or another, fails with [`Error::Locked`].
//!
//! - A segment is preallocated to [`WalOptions::segment_size`] and zero-filled, and
//!   starts with a preamble: a [`Record::Header`], then the latest snapshot marker
//!   and hard state, so older segments can be deleted. A record never spans
//!   segments.
//! - A record is framed as `[len: u32][crc32c: u32][type: u8][payload]`, padded to
//!   8 bytes; `len` counts type and payload and is checked against
//!   [`WalOptions::max_record_size`] before anything is allocated; the checksum
//!   covers the length, type and payload. A zero length is the end of the data.
//!   [`decode_record`] is the pure decoder (and the fuzz target's entry point).
//! - One [`Wal::save`] is one record (several only if it exceeds the record limit)
//!   and one `fdatasync`; [`Wal::open`] cuts a torn tail off the last segment and
//!   refuses any other damage with [`Error::Corrupt`].
//! - With the `failpoints` feature, the failpoint `walBeforeFsync` sits between a
//!   save's write and its `fdatasync`: besides the `fail` crate's actions (`panic`,
//!   `sleep(ms)`, ...), `return` fails the save with an I/O error, `return(lose)`
//!   drops every byte written since the last fsync and aborts the process (a power
//!   loss), and `return(tear)` keeps a random subset of those bytes' 4 KiB pages
//!   before aborting (a power loss during writeback).
//!
//! ```
//! use cairn_wal::{Wal, WalOptions, WalStorage};
//! use raft::eraftpb::{Entry, HardState};
//! use raft::{GetEntriesContext, Storage};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let options = WalOptions { segment_size: 1 << 20, ..WalOptions::default() };
//!
//! let (mut wal, recovered) = Wal::open(dir.path(), options.clone())?;
//! assert!(recovered.entries.is_empty());
//! let entries: Vec<Entry> =
//!     (1..=3).map(|index| Entry { index, term: 1, data: b"put k v".to_vec().into(), ..Default::default() }).collect();
//! let hard_state = HardState { term: 1, vote: 1, commit: 2, ..Default::default() };
//! wal.save(Some(&hard_state), &entries)?; // one write, one fsync: durable now
//! drop(wal);
//!
//! let (_wal, recovered) = Wal::open(dir.path(), options)?;
//! assert_eq!(recovered.hard_state, hard_state);
//! assert_eq!(recovered.entries, entries);
//!
//! let storage = WalStorage::new(recovered);
//! assert_eq!(storage.last_index()?, 3);
//! assert_eq!(storage.entries(2, 4, None, GetEntriesContext::empty(false))?, entries[1..]);
//! # Ok(())
//! # }
//! ```

mod error;
#[cfg(feature = "failpoints")]
mod failpoints;
mod fsutil;
mod lock;
pub mod metrics;
mod options;
mod payload;
mod prepare;
mod record;
mod recover;
mod replay;
mod scan;
mod segment;
mod snap;
mod storage;
mod wal;

pub use error::{Error, Result};
pub use lock::LOCK_FILE;
pub use options::{DEFAULT_MAX_RECORD_SIZE, DEFAULT_SEGMENT_SIZE, MIN_RECORD_SIZE, MIN_SEGMENT_SIZE, WalOptions};
pub use record::{
    FRAME_HEADER_LEN, Record, RecordError, SegmentHeader, decode_record, decode_record_with_limit, encode_record,
};
pub use recover::{Recovered, SNAP_DIR, SkippedSnapshot, WAL_DIR};
pub use storage::WalStorage;
pub use wal::{Wal, WalPosition};
