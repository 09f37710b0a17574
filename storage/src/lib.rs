//! `cairn-storage`: the storage engine interface under cairn's MVCC store.
//!
//! It is the [`Backend`] trait and its contract (named buckets, consistent read
//! views, atomic write batches, a durability point, space reporting and
//! reclamation, whole-store export and import in an engine-neutral
//! [`snapshot`] format), the in-memory reference [`MemBackend`], and, behind the
//! `testing` feature, the conformance suite every engine crate runs.
//!
//! It is not an engine and depends on none: `cairn-storage-lmdb`, `-sled`,
//! `-rocks` and `-fjall` implement the trait, and it knows nothing of revisions,
//! raft or etcd's data model (that is `cairn-mvcc`).
//!
//! ```
//! use cairn_storage::{Backend, MemBackend, Options, Order, ReadView, WriteBatch};
//!
//! # fn main() -> Result<(), cairn_storage::Error> {
//! let dir = tempfile::tempdir()?;
//! let store = MemBackend::open(dir.path(), &Options::default())?;
//! let before = store.view()?;
//!
//! let mut batch = WriteBatch::new();
//! batch.put("key", b"a".to_vec(), b"1".to_vec())?;
//! batch.put("meta", b"applied".to_vec(), 7u64.to_be_bytes().to_vec())?;
//! store.commit(batch)?;
//!
//! // A view opened earlier does not see the commit; a new one sees all of it.
//! assert_eq!(before.get("key", b"a")?, None);
//! let now = store.view()?;
//! assert_eq!(now.get("key", b"a")?, Some(b"1".to_vec()));
//! assert_eq!(now.range("key", b"", None, Order::Forward, 0)?.len(), 1);
//! # Ok(())
//! # }
//! ```

mod backend;
mod batch;
mod dir;
mod error;
mod mem;
pub mod snapshot;
#[cfg(feature = "testing")]
pub mod testing;

pub use backend::{Backend, Durability, Options, Order, ReadView, SpaceUsage};
pub use batch::{BatchOp, WriteBatch, validate_bucket};
pub use dir::{ENGINE_FILE, claim_dir};
pub use error::{Error, Result};
pub use mem::MemBackend;

/// The longest key a backend accepts (LMDB's limit, so that every engine agrees).
pub const MAX_KEY_LEN: usize = 511;
/// The largest value a backend accepts.
pub const MAX_VALUE_LEN: usize = 512 << 20;
