//! `cairn-storage-rocks`: cairn's storage [`Backend`] on RocksDB, [`RocksBackend`].
//!
//! RocksDB is a log-structured merge tree: commits append to a write-ahead log and a
//! memtable, flushes write sorted files, and compaction merges them and drops
//! deleted and overwritten entries. Each bucket is one column family (the bucket
//! `default` is RocksDB's default column family), a commit is one RocksDB write
//! batch across them, a view is a RocksDB snapshot, and [`Backend::defrag`] is a
//! full manual compaction.
//!
//! It is not a general RocksDB wrapper: the options are fixed for etcd's workload
//! (see `tuning.rs`), and nothing of RocksDB's own API is exposed.
//!
//! ```
//! use cairn_storage::{Backend, Options, Order, ReadView, WriteBatch};
//! use cairn_storage_rocks::RocksBackend;
//!
//! # fn main() -> Result<(), cairn_storage::Error> {
//! let dir = tempfile::tempdir()?;
//! let store = RocksBackend::open(dir.path(), &Options::default())?;
//! let mut batch = WriteBatch::new();
//! batch.put("key", b"a".to_vec(), b"1".to_vec())?;
//! batch.put("meta", b"applied".to_vec(), 7u64.to_be_bytes().to_vec())?;
//! store.commit(batch)?;
//!
//! let view = store.view()?;
//! assert_eq!(view.get("key", b"a")?, Some(b"1".to_vec()));
//! assert_eq!(view.range("key", b"", None, Order::Forward, 0)?.len(), 1);
//! assert_eq!(view.buckets()?, ["key", "meta"]);
//! # Ok(())
//! # }
//! ```

mod maintenance;
mod tuning;
mod view;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use cairn_storage::{Backend, BatchOp, Durability, Error, Options, Result, SpaceUsage, WriteBatch, claim_dir};
use parking_lot::RwLock;
use rocksdb::{BoundColumnFamily, ColumnFamilyDescriptor, DBWithThreadMode, MultiThreaded, WriteOptions};

pub use view::RocksView;

/// Multi-threaded mode lets a commit create a column family through `&self`.
type Db = DBWithThreadMode<MultiThreaded>;

/// Bytes a RocksDB write batch adds to each operation (tag, column family id, two
/// length varints) and to the whole batch (sequence number and count): used only
/// to size the batch buffer up front.
const BATCH_OP_OVERHEAD: usize = 16;
const BATCH_HEADER: usize = 12;

/// A [`Backend`] on RocksDB; see the crate documentation.
///
/// - **Atomicity**: a commit is one RocksDB `WriteBatch` over the buckets' column
///   families, written through the WAL, so it is applied whole or not at all, also
///   across a crash.
/// - **Durability**: with [`Durability::Immediate`] every commit is written with
///   `sync` (the WAL is fsynced before it returns); with [`Durability::Relaxed`] the
///   WAL is buffered and written and fsynced at [`Backend::sync`].
/// - **Buckets**: a column family is created by the first put into its bucket and
///   never dropped (an empty one costs a few KB of metadata); a bucket is listed
///   only while its column family holds a key.
/// - **Close**: dropping the backend flushes the memtables, so the next open has no
///   WAL to replay.
pub struct RocksBackend {
    db: Db,
    /// Options every new column family is created with (sharing the block cache).
    cf_options: rocksdb::Options,
    write_options: WriteOptions,
    durability: Durability,
    dir: PathBuf,
    /// The column families, sorted; the write lock also serializes their creation.
    names: RwLock<Vec<String>>,
}

fn engine_error(e: rocksdb::Error) -> Error {
    Error::engine(RocksBackend::NAME, e)
}

impl Backend for RocksBackend {
    const NAME: &'static str = "rocks";
    type View<'a> = RocksView<'a>;

    fn open(dir: &Path, options: &Options) -> Result<Self> {
        claim_dir(dir, Self::NAME)?;
        let cf_options = tuning::db_options(options.durability);
        // RocksDB must be told every column family a store has; a new store has one.
        let mut names = if dir.join("CURRENT").try_exists()? {
            Db::list_cf(&cf_options, dir).map_err(engine_error)?
        } else {
            vec![rocksdb::DEFAULT_COLUMN_FAMILY_NAME.to_owned()]
        };
        names.sort();
        let descriptors = names.iter().map(|name| ColumnFamilyDescriptor::new(name.as_str(), cf_options.clone()));
        let db = Db::open_cf_descriptors(&cf_options, dir, descriptors).map_err(engine_error)?;
        Ok(RocksBackend {
            db,
            cf_options,
            write_options: tuning::write_options(options.durability),
            durability: options.durability,
            dir: dir.to_path_buf(),
            names: RwLock::new(names),
        })
    }

    fn view(&self) -> Result<RocksView<'_>> {
        Ok(RocksView::new(self))
    }

    fn commit(&self, batch: WriteBatch) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let capacity = batch.payload_bytes() + batch.len() * BATCH_OP_OVERHEAD + BATCH_HEADER;
        let mut write = rocksdb::WriteBatch::with_capacity_bytes(capacity);
        // Batches mostly touch one bucket after another: look each one up once.
        let mut current: Option<(&str, Arc<BoundColumnFamily<'_>>)> = None;
        for op in batch.ops() {
            let bucket = op.bucket();
            if current.as_ref().is_none_or(|(name, _)| *name != bucket) {
                let cf = match op {
                    BatchOp::Put { .. } => Some(self.column_family_or_create(bucket)?),
                    BatchOp::Delete { .. } => self.db.cf_handle(bucket),
                };
                // A delete in a bucket that never existed has nothing to remove.
                let Some(cf) = cf else { continue };
                current = Some((bucket, cf));
            }
            let Some((_, cf)) = &current else { continue };
            match op {
                BatchOp::Put { key, value, .. } => write.put_cf(cf, key, value),
                BatchOp::Delete { key, .. } => write.delete_cf(cf, key),
            }
        }
        self.db.write_opt(write, &self.write_options).map_err(engine_error)
    }

    fn sync(&self) -> Result<()> {
        match self.durability {
            // Every commit was synced before it returned.
            Durability::Immediate => Ok(()),
            Durability::Relaxed => self.db.flush_wal(true).map_err(engine_error),
        }
    }

    fn space(&self) -> Result<SpaceUsage> {
        maintenance::space(self)
    }

    fn defrag(&self) -> Result<()> {
        maintenance::defrag(self)
    }
}

impl RocksBackend {
    /// The names of every column family, in ascending order.
    fn bucket_names(&self) -> Vec<String> {
        self.names.read().clone()
    }

    /// The column family of `bucket`, created if this is its first put.
    fn column_family_or_create(&self, bucket: &str) -> Result<Arc<BoundColumnFamily<'_>>> {
        if let Some(cf) = self.db.cf_handle(bucket) {
            return Ok(cf);
        }
        let mut names = self.names.write();
        // Another commit may have created it while we waited for the lock.
        if let Some(cf) = self.db.cf_handle(bucket) {
            return Ok(cf);
        }
        self.db.create_cf(bucket, &self.cf_options).map_err(engine_error)?;
        if let Err(at) = names.binary_search_by(|name| name.as_str().cmp(bucket)) {
            names.insert(at, bucket.to_owned());
        }
        self.db
            .cf_handle(bucket)
            .ok_or_else(|| Error::engine(Self::NAME, format!("column family {bucket:?} missing right after creation")))
    }
}

impl Drop for RocksBackend {
    fn drop(&mut self) {
        // Everything committed is already in the WAL; flushing now only spares the
        // next open from replaying it, so a failure here loses nothing and is ignored.
        let _ = maintenance::flush_all(self);
    }
}
