//! `cairn-storage-fjall`: cairn's storage [`Backend`] on [fjall](https://docs.rs/fjall) 3,
//! a log-structured (LSM-tree) key-value engine.
//!
//! One fjall database lives in the `fjall/` folder of the backend's directory. Each
//! bucket is one fjall keyspace, created by the first commit that puts a key in it.
//! A commit is one cross-keyspace fjall write batch, so it is atomic across buckets,
//! and a view is one cross-keyspace fjall snapshot. It is not an MVCC store of
//! revisions (that is `cairn-mvcc`) and adds no format of its own on top of fjall's:
//! keys and values are stored as given.
//!
//! Durability: fjall writes every batch to its journal first. With
//! [`Durability::Immediate`] each commit `fdatasync`s the journal before it returns;
//! with [`Durability::Relaxed`] commits stay in the journal's in-process buffer and
//! [`Backend::sync`] flushes and `fsync`s it. fjall's background workers only sync
//! the journal when they flush a full memtable, never per commit.
//!
//! Space: see [`FjallBackend`]'s `space` and `defrag`. Tables are stored uncompressed
//! so that the space numbers measure the data, as etcd's `dbSize` does.
//!
//! ```
//! use cairn_storage::{Backend, Options, Order, ReadView, WriteBatch};
//! use cairn_storage_fjall::FjallBackend;
//!
//! # fn main() -> Result<(), cairn_storage::Error> {
//! let dir = tempfile::tempdir()?;
//! let store = FjallBackend::open(dir.path(), &Options::default())?;
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
//! assert_eq!(now.buckets()?, ["key", "meta"]);
//! # Ok(())
//! # }
//! ```

mod space;
mod tuning;
mod view;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use cairn_storage::{
    Backend, BatchOp, Durability, Error, Options, Result, SpaceUsage, WriteBatch, claim_dir, validate_bucket,
};
use fjall::{Database, Keyspace, OwnedWriteBatch, PersistMode};
use parking_lot::{Mutex, RwLock};

pub use view::FjallView;

/// Bucket name to its keyspace. Shared by views, replaced whole when a bucket is created.
type Buckets = BTreeMap<String, Keyspace>;

/// The folder, inside the backend's directory, that holds the fjall database.
const DB_FOLDER: &str = "fjall";

/// A [`Backend`] on a fjall database: one keyspace per bucket.
///
/// `space()` reports as `allocated` the blocks the files of the directory take on
/// disk (fjall's journals, tables and manifests), and as `in_use` an estimate of the
/// live data: the bytes of each keyspace's tables, less the share that its
/// tombstones and the entries they shadow take (two entries per tombstone), plus
/// its memtables. Older versions of overwritten keys count as live until compacted.
///
/// `defrag()` flushes every memtable and rewrites each keyspace with a major
/// compaction, which drops tombstones and overwritten versions, then lets fjall
/// delete the replaced tables. It gives back what no view needs: a view open
/// during it pins the versions it can see (and the tables holding them) until it
/// is dropped, and the journal's disk space is only released when fjall rotates it
/// (after 64 MB of writes).
pub struct FjallBackend {
    db: Database,
    durability: Durability,
    dir: PathBuf,
    /// The keyspace of each bucket. The write guard is held across each commit, and
    /// the read guard while a view takes its snapshot: fjall publishes a commit's
    /// sequence number only after applying all of it, but a concurrent flush or
    /// compaction can publish a later one while a batch is half applied, so a
    /// snapshot taken during a commit could see part of it. The price: opening a
    /// view waits for the commit in progress, including its fsync (immediate
    /// durability) and any write stall fjall imposes when flushes fall behind.
    buckets: RwLock<Arc<Buckets>>,
    /// One defrag at a time: a second one would only redo the first's work.
    defrag_lock: Mutex<()>,
}

impl Backend for FjallBackend {
    const NAME: &'static str = "fjall";
    type View<'a> = FjallView;

    fn open(dir: &Path, options: &Options) -> Result<Self> {
        claim_dir(dir, Self::NAME)?;
        let db = tuning::database(&dir.join(DB_FOLDER)).open().map_err(engine)?;
        let mut buckets = Buckets::new();
        for name in db.list_keyspace_names() {
            // Skips the engine's own keyspaces, whose names no bucket can take.
            if validate_bucket(&name).is_ok() {
                let keyspace = db.keyspace(&name, tuning::keyspace).map_err(engine)?;
                buckets.insert(name.to_string(), keyspace);
            }
        }
        Ok(FjallBackend {
            db,
            durability: options.durability,
            dir: dir.to_path_buf(),
            buckets: RwLock::new(Arc::new(buckets)),
            defrag_lock: Mutex::new(()),
        })
    }

    fn view(&self) -> Result<FjallView> {
        let buckets = self.buckets.read();
        let snapshot = self.db.snapshot();
        Ok(FjallView::new(snapshot, Arc::clone(&buckets)))
    }

    fn commit(&self, batch: WriteBatch) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let persist = match self.durability {
            // fdatasync is enough: it also syncs a change of the journal's size, and
            // skips only its timestamps.
            Durability::Immediate => Some(PersistMode::SyncData),
            Durability::Relaxed => None,
        };
        let mut buckets = self.buckets.write();
        let mut native = OwnedWriteBatch::with_capacity(self.db.clone(), batch.len()).durability(persist);
        for op in batch.into_ops() {
            match op {
                BatchOp::Put { bucket, key, value } => {
                    if let Some(keyspace) = buckets.get(&*bucket) {
                        native.insert(keyspace, key, value);
                    } else {
                        native.insert(self.create_bucket(&mut buckets, &bucket)?, key, value);
                    }
                }
                BatchOp::Delete { bucket, key } => {
                    // A bucket that was never created holds no key to delete.
                    if let Some(keyspace) = buckets.get(&*bucket) {
                        native.remove(keyspace, key);
                    }
                }
            }
        }
        native.commit().map_err(engine)
    }

    fn sync(&self) -> Result<()> {
        self.db.persist(PersistMode::SyncAll).map_err(engine)
    }

    fn space(&self) -> Result<SpaceUsage> {
        let buckets = Arc::clone(&self.buckets.read());
        space::usage(&self.dir, buckets.values())
    }

    fn defrag(&self) -> Result<()> {
        let _one = self.defrag_lock.lock();
        let buckets = Arc::clone(&self.buckets.read());
        space::defrag(&self.db, &buckets)
    }
}

impl FjallBackend {
    /// Creates the keyspace of a new bucket and publishes it to later views. The
    /// caller holds the write guard, so no view can pick up the new map mid-commit.
    fn create_bucket<'m>(&self, buckets: &'m mut Arc<Buckets>, name: &str) -> Result<&'m Keyspace> {
        let keyspace = self.db.keyspace(name, tuning::keyspace).map_err(engine)?;
        Ok(Arc::make_mut(buckets).entry(name.to_owned()).or_insert(keyspace))
    }
}

/// Maps an error of fjall to cairn's.
fn engine(e: fjall::Error) -> Error {
    Error::engine(FjallBackend::NAME, e)
}
