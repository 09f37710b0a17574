//! `cairn-storage-lmdb`: cairn's default storage engine, [`LmdbBackend`], on LMDB
//! through `heed`.
//!
//! LMDB is a copy-on-write B+tree in one memory-mapped file: reads never block
//! and never copy until the caller asks for owned bytes, a read transaction is a
//! true snapshot, and one write transaction commits atomically across named
//! databases (our buckets). It is not a log-structured engine: deleted pages are
//! reused, never given back to the file system, so [`Backend::defrag`] rewrites the
//! live data into a new, compact file as etcd's defragment does.
//!
//! ```
//! use cairn_storage::{Backend, Options, ReadView, WriteBatch};
//! use cairn_storage_lmdb::LmdbBackend;
//!
//! # fn main() -> Result<(), cairn_storage::Error> {
//! let dir = tempfile::tempdir()?;
//! let store = LmdbBackend::open(dir.path(), &Options::default())?;
//! let mut batch = WriteBatch::new();
//! batch.put("key", b"k".to_vec(), b"v".to_vec())?;
//! store.commit(batch)?;
//! assert_eq!(store.view()?.get("key", b"k")?, Some(b"v".to_vec()));
//! # Ok(())
//! # }
//! ```

mod generation;
mod view;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use cairn_storage::{Backend, BatchOp, Options, Result, SpaceUsage, WriteBatch, claim_dir};
use parking_lot::{Mutex, RwLock};

use crate::generation::Generation;
pub use crate::view::LmdbView;

/// A [`Backend`] on LMDB.
///
/// The directory holds `ENGINE`, `CURRENT` (the name of the live generation) and
/// one generation folder `gen-N/` with LMDB's `data.mdb` and `lock.mdb`.
/// [`Backend::defrag`] writes `gen-N+1/`, points `CURRENT` at it and moves new views
/// and commits over; views still open on the old generation keep reading it until
/// they are dropped.
///
/// Durability: with [`cairn_storage::Durability::Immediate`] every commit is synced
/// by LMDB itself. With `Relaxed` the environment runs with `MDB_NOSYNC` and
/// [`Backend::sync`] flushes it: a process crash loses nothing committed, a power
/// failure may lose the commits since the last sync.
pub struct LmdbBackend {
    dir: PathBuf,
    options: Options,
    live: RwLock<Arc<Generation>>,
    /// Serializes commits and defrag: LMDB has one writer at a time anyway, and
    /// defrag must see no commit between its copy and the switch.
    writer: Mutex<()>,
}

const CURRENT: &str = "CURRENT";

impl Backend for LmdbBackend {
    const NAME: &'static str = "lmdb";
    type View<'a> = LmdbView;

    fn open(dir: &Path, options: &Options) -> Result<Self> {
        claim_dir(dir, Self::NAME)?;
        let number = match std::fs::read_to_string(dir.join(CURRENT)) {
            Ok(text) => generation::parse_name(text.trim()).ok_or_else(|| {
                std::io::Error::new(std::io::ErrorKind::InvalidData, format!("bad {CURRENT} file: {text:?}"))
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                generation::write_current(dir, 1)?;
                1
            }
            Err(e) => return Err(e.into()),
        };
        generation::remove_others(dir, number)?;
        let live = Generation::open(dir, number, options)?;
        Ok(LmdbBackend {
            dir: dir.to_path_buf(),
            options: options.clone(),
            live: RwLock::new(Arc::new(live)),
            writer: Mutex::new(()),
        })
    }

    fn view(&self) -> Result<LmdbView> {
        LmdbView::new(self.live.read().clone())
    }

    fn commit(&self, batch: WriteBatch) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let _writer = self.writer.lock();
        let live = self.live.read().clone();
        // Buckets are looked up (and new ones created, each in its own small
        // transaction) before the batch's transaction: LMDB has one writer.
        // Most batches touch one or two buckets, so consecutive ops share a lookup.
        let mut dbs = Vec::with_capacity(batch.len());
        let mut last: Option<(&str, generation::Db)> = None;
        for op in batch.ops() {
            let name = op.bucket();
            let db = match last {
                Some((cached, db)) if cached == name => db,
                _ => live.bucket_for_write(name)?,
            };
            last = Some((name, db));
            dbs.push(db);
        }
        let mut txn = live.env.write_txn().map_err(generation::lmdb)?;
        for (op, db) in batch.ops().iter().zip(dbs) {
            match op {
                BatchOp::Put { key, value, .. } => db.put(&mut txn, key, value).map_err(generation::lmdb)?,
                BatchOp::Delete { key, .. } => {
                    db.delete(&mut txn, key).map_err(generation::lmdb)?;
                }
            }
        }
        txn.commit().map_err(generation::lmdb)
    }

    fn sync(&self) -> Result<()> {
        self.live.read().clone().env.force_sync().map_err(generation::lmdb)
    }

    fn space(&self) -> Result<SpaceUsage> {
        self.live.read().clone().space()
    }

    fn defrag(&self) -> Result<()> {
        let _writer = self.writer.lock();
        let old = self.live.read().clone();
        let next = old.number + 1;
        // etcd's failpoints (feature `failpoints`): `return` fails the defrag.
        #[cfg(feature = "failpoints")]
        fail::fail_point!("defragBeforeCopy", |arg: Option<String>| Err(failpoint_error("defragBeforeCopy", arg)));
        let fresh = old.compact_into(&self.dir, next, &self.options)?;
        #[cfg(feature = "failpoints")]
        fail::fail_point!("defragBeforeRename", |arg: Option<String>| Err(failpoint_error("defragBeforeRename", arg)));
        generation::write_current(&self.dir, next)?;
        *self.live.write() = Arc::new(fresh);
        // Views on the old generation keep its mapping (and so its unlinked files)
        // alive until they are dropped.
        generation::remove(&self.dir, old.number)?;
        Ok(())
    }
}

/// The error a defrag failpoint's `return` action gives.
#[cfg(feature = "failpoints")]
fn failpoint_error(name: &str, arg: Option<String>) -> cairn_storage::Error {
    std::io::Error::other(format!("failpoint {name} returned an error ({})", arg.unwrap_or_default())).into()
}
