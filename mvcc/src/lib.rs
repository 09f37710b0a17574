//! `cairn-mvcc`: etcd's data model over any cairn storage [`Backend`].
//!
//! - [`Revision`]s and their byte encoding, the key of the `key` bucket;
//! - the in-memory [`KeyIndex`]: each key's generations of revisions;
//! - the [`KvStore`]: range at a revision with etcd's range-end conventions,
//!   put, delete-range and multi-operation write transactions, compaction, a hash
//!   of the history, and reopening from the backend;
//! - the [`WatchableStore`]: watches on keys and ranges from any revision,
//!   delivered in order, whole per revision, caught up from history when late.
//!
//! It knows nothing of raft, gRPC or a particular engine: writes are gathered
//! into one backend batch that the caller commits with its consistent index (the
//! raft applied index, in cairn's server), so a restart knows where to resume.
//!
//! ```
//! use cairn_mvcc::{KeyRange, KvStore, PutOptions, RangeOptions};
//! use cairn_storage::{Backend, MemBackend, Options};
//!
//! # fn main() -> Result<(), cairn_mvcc::Error> {
//! let dir = tempfile::tempdir().map_err(cairn_storage::Error::from)?;
//! let store = KvStore::open(MemBackend::open(dir.path(), &Options::default())?)?;
//! assert_eq!(store.current_revision(), 1);
//!
//! let mut writer = store.writer();
//! let mut txn = writer.txn();
//! txn.put("foo", "bar", 0, PutOptions::default())?;
//! txn.put("foo", "baz", 0, PutOptions::default())?;
//! txn.end();
//! writer.commit(Some(1))?;
//!
//! let got = store.range(&KeyRange::new("foo", ""), RangeOptions::default())?;
//! assert_eq!(got.revision, 2); // the first write is revision 2
//! assert_eq!(got.kvs[0].value, "baz");
//! assert_eq!(got.kvs[0].version, 2);
//! # Ok(())
//! # }
//! ```

mod error;
mod key_index;
mod key_range;
mod kv;
mod revision;
mod store;
mod watch;

pub use cairn_storage::Backend;
pub use error::{Error, Result};
pub use key_index::{KeyAt, KeyIndex, KeyNotFound};
pub use key_range::{KeyRange, prefix_end};
pub use kv::KeyValue;
pub use revision::{REVISION_LEN, Revision};
pub use store::{
    CompactionJob, Deleted, Event, EventKind, HashKv, KvStore, PutOptions, RangeOptions, RangeResult, RevisionEvents,
    WriteTxn, Writer, buckets,
};
pub use watch::{WatchEvent, WatchFilter, WatchId, WatchRequest, WatchResponse, WatchableStore, Watcher};
