//! `cairn-storage-sled`: cairn's storage [`Backend`] on [sled] 0.34 ([`SledBackend`]).
//!
//! All buckets live in one sled tree, keyed `bucket ++ 0x00 ++ key` (with `0xff`
//! bytes of keys escaped, around a sled iterator bug: see the `keys` module), so a
//! commit is one sled batch (atomic in the log) whatever buckets it spans. sled 0.34 has
//! no read snapshots, so views read the live tree through an undo log of the
//! values commits overwrite while views are open (see the `view` and `undo`
//! modules); with no view open, commits skip that work entirely. Defrag rebuilds
//! the store in a fresh sled database and swaps it in (see the `generation`
//! module), as sled cannot shrink its files in place.
//!
//! It is not a general sled wrapper: the directory layout (generations, the
//! `CURRENT` file, the key encoding) is private to this crate, and the store is
//! read and written only through the [`Backend`] and [`cairn_storage::ReadView`]
//! traits.
//!
//! ```
//! use cairn_storage::{Backend, Options, Order, ReadView, WriteBatch};
//! use cairn_storage_sled::SledBackend;
//!
//! # fn main() -> Result<(), cairn_storage::Error> {
//! let dir = tempfile::tempdir()?;
//! let store = SledBackend::open(dir.path(), &Options::default())?;
//! let before = store.view()?;
//!
//! let mut batch = WriteBatch::new();
//! batch.put("key", b"a".to_vec(), b"1".to_vec())?;
//! batch.put("meta", b"applied".to_vec(), 7u64.to_be_bytes().to_vec())?;
//! store.commit(batch)?;
//!
//! assert_eq!(before.get("key", b"a")?, None);
//! let now = store.view()?;
//! assert_eq!(now.get("key", b"a")?, Some(b"1".to_vec()));
//! assert_eq!(now.range("key", b"", None, Order::Forward, 0)?.len(), 1);
//! assert_eq!(now.buckets()?, ["key", "meta"]);
//! # Ok(())
//! # }
//! ```
//!
//! [sled]: https://docs.rs/sled/0.34.7

mod generation;
mod keys;
mod undo;
mod view;
mod write;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use cairn_storage::{Backend, Durability, Error, Options, Result, SpaceUsage, WriteBatch, claim_dir};
use parking_lot::{Mutex, RwLock};

use crate::generation::Generation;
use crate::undo::UndoLog;
pub use crate::view::SledView;

const NAME: &str = "sled";

pub(crate) fn engine_error(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Error {
    Error::engine(NAME, e)
}

/// cairn's [`Backend`] on sled 0.34.
///
/// Commits are serialized and numbered. A view records the number of the last
/// commit it sees; while views are open, each commit first saves the values it is
/// about to overwrite in an in-memory undo log, which views read to undo later
/// commits, and records are dropped once no open view is older than them. With no
/// view open, a commit saves nothing and instead makes views opened meanwhile wait
/// until it is applied.
pub struct SledBackend {
    dir: PathBuf,
    durability: Durability,
    /// Serializes commits and defrag.
    writer: Mutex<()>,
    state: Mutex<State>,
    undo: RwLock<UndoLog>,
    /// The number of the latest commit in `undo`, so a view that no commit since
    /// its own has recorded anything for reads the tree alone, without a lock.
    undo_latest: AtomicU64,
}

/// What a view takes when it opens, changed only under this lock.
struct State {
    /// The number of the last commit applied to the tree.
    committed: u64,
    /// The live generation.
    generation: Arc<Generation>,
    /// Open views: `(commit number, how many)`, ascending by number.
    views: Vec<(u64, usize)>,
}

impl State {
    /// Undo records of commits up to this number are read by no open view.
    fn undo_floor(&self) -> u64 {
        self.views.first().map_or(self.committed, |(seq, _)| *seq)
    }
}

impl Backend for SledBackend {
    const NAME: &'static str = NAME;
    type View<'a> = SledView<'a>;

    fn open(dir: &Path, options: &Options) -> Result<Self> {
        claim_dir(dir, Self::NAME)?;
        let generation = Generation::open_live(dir)?;
        Ok(SledBackend {
            dir: dir.to_path_buf(),
            durability: options.durability,
            writer: Mutex::new(()),
            state: Mutex::new(State { committed: 0, generation: Arc::new(generation), views: Vec::new() }),
            undo: RwLock::new(UndoLog::default()),
            undo_latest: AtomicU64::new(0),
        })
    }

    fn view(&self) -> Result<SledView<'_>> {
        let mut state = self.state.lock();
        let seq = state.committed;
        match state.views.last_mut() {
            Some((newest, count)) if *newest == seq => *count += 1,
            _ => state.views.push((seq, 1)),
        }
        Ok(SledView { backend: self, generation: Arc::clone(&state.generation), seq })
    }

    fn commit(&self, batch: WriteBatch) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut write = write::Prepared::new(batch);
        let writer = self.writer.lock();
        let mut state = self.state.lock();
        let generation = Arc::clone(&state.generation);
        let seq = state.committed + 1;
        let applied = if state.views.is_empty() {
            // Holding the state lock through the write keeps views from opening
            // until it is whole, so no view needs the old values.
            let applied = write.apply(&generation.db);
            state.committed = seq;
            applied
        } else {
            drop(state);
            // A view opening from here on sees commit `seq - 1`, so the old values
            // must be in the log before the tree changes (see the `view` module).
            let old = write.old_values(&generation.db)?;
            {
                let mut undo = self.undo.write();
                undo.record(seq, old);
                self.undo_latest.store(seq, Ordering::Release);
            }
            let applied = write.apply(&generation.db);
            let floor = {
                let mut state = self.state.lock();
                state.committed = seq;
                state.undo_floor()
            };
            self.prune_undo(floor);
            applied
        };
        drop(writer);
        applied?;
        if self.durability == Durability::Immediate {
            generation.db.flush().map_err(engine_error)?;
        }
        Ok(())
    }

    fn sync(&self) -> Result<()> {
        let generation = Arc::clone(&self.state.lock().generation);
        generation.db.flush().map_err(engine_error)?;
        Ok(())
    }

    /// `allocated` is the size of every file in the store's directory, including
    /// generations that views opened before a defrag still read. `in_use` is the
    /// bytes of stored keys (each with its bucket prefix) and values in the live
    /// generation, counted by a full scan: sled keeps no such number, and this is
    /// rarely asked. The scan is not one view, so with concurrent commits it is an
    /// estimate.
    fn space(&self) -> Result<SpaceUsage> {
        let generation = Arc::clone(&self.state.lock().generation);
        let mut in_use = 0u64;
        for pair in generation.db.iter() {
            let (key, value) = pair.map_err(engine_error)?;
            in_use += (key.len() + value.len()) as u64;
        }
        let allocated = generation::disk_usage(&self.dir)?;
        Ok(SpaceUsage { allocated, in_use })
    }

    /// Copies the live pairs into a new generation, makes it the one `CURRENT`
    /// names, and swaps it in. Commits wait for it; views opened before the swap keep
    /// reading the old generation, whose files are removed when the last of them is
    /// dropped.
    fn defrag(&self) -> Result<()> {
        let _writer = self.writer.lock();
        let old = Arc::clone(&self.state.lock().generation);
        let next = old.copy_to_next(&self.dir)?;
        let durable = next.make_live(&self.dir)?;
        if durable.is_ok() {
            old.retire();
        }
        let replaced = std::mem::replace(&mut self.state.lock().generation, Arc::new(next));
        // Closing the old database and removing its files happen here, outside the
        // state lock, unless a view still reads it.
        drop(replaced);
        drop(old);
        durable
    }
}

impl SledBackend {
    /// Forgets a view of commit `seq` and drops the undo records no view needs.
    fn release_view(&self, seq: u64) {
        let floor = {
            let mut state = self.state.lock();
            if let Ok(at) = state.views.binary_search_by_key(&seq, |(seq, _)| *seq) {
                state.views[at].1 -= 1;
                if state.views[at].1 == 0 {
                    state.views.remove(at);
                }
            }
            state.undo_floor()
        };
        self.prune_undo(floor);
    }

    /// Drops the undo records of commits up to `floor`. It is safe after the state
    /// lock is released: views opened since see at least `floor`.
    fn prune_undo(&self, floor: u64) {
        if self.undo.read().holds_at_or_before(floor) {
            self.undo.write().prune(floor);
        }
    }
}

#[cfg(test)]
mod tests {
    use cairn_storage::ReadView;

    use super::*;

    #[test]
    fn undo_log_is_emptied_once_views_close() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let store = SledBackend::open(dir.path(), &Options::relaxed())?;
        let mut batch = WriteBatch::new();
        batch.put("key", b"a".to_vec(), b"1".to_vec())?;
        store.commit(batch)?;
        let view = store.view()?;
        for i in 0..10u8 {
            let mut batch = WriteBatch::new();
            batch.put("key", b"a".to_vec(), vec![i])?;
            batch.delete("key", b"b".to_vec())?;
            store.commit(batch)?;
        }
        assert_eq!(view.get("key", b"a")?, Some(b"1".to_vec()));
        assert!(store.undo.read().holds_at_or_before(u64::MAX));
        drop(view);
        assert!(!store.undo.read().holds_at_or_before(u64::MAX));
        assert!(store.state.lock().views.is_empty());
        Ok(())
    }
}
