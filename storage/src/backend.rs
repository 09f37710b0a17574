//! The `Backend` trait and the read-view trait, with their contract.

use std::io::{Read, Write};
use std::path::Path;

use crate::{Result, WriteBatch, snapshot};

/// When a committed batch reaches the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// Every [`Backend::commit`] is durable when it returns.
    #[default]
    Immediate,
    /// Commits need not reach the disk until [`Backend::sync`]; a crash may lose the
    /// commits made since the last sync, but never part of one commit. This is the
    /// mode cairn's server uses: its write-ahead log is the source of durability.
    Relaxed,
}

/// How to open a backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// When commits become durable.
    pub durability: Durability,
    /// The largest the store may grow, in bytes, for engines that reserve address
    /// space up front (LMDB's map size). Others ignore it.
    pub max_size: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options { durability: Durability::Immediate, max_size: 64 << 30 }
    }
}

impl Options {
    /// Options with relaxed durability: commits are durable at [`Backend::sync`].
    pub fn relaxed() -> Self {
        Options { durability: Durability::Relaxed, ..Options::default() }
    }
}

/// The order of a range scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// Ascending byte order of keys.
    Forward,
    /// Descending byte order of keys.
    Reverse,
}

/// Space the store takes, as etcd reports `dbSize` and `dbSizeInUse`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpaceUsage {
    /// Bytes the store has allocated on disk (or in memory, for `MemBackend`).
    pub allocated: u64,
    /// Bytes holding live data; `allocated - in_use` is what
    /// [`Backend::defrag`] can give back. Engines that can only estimate it say so.
    pub in_use: u64,
}

/// A consistent, read-only snapshot of the whole store.
///
/// Contract:
/// - Everything a view returns reflects exactly the commits that completed before
///   the view was opened, across all buckets, and it stays so while other threads
///   commit: a view never sees part of a batch, nor any later batch.
/// - A bucket that does not exist reads as empty; a bucket exists while it holds
///   at least one key.
/// - Keys compare as unsigned bytes (`0x00` first, `0xff` last, a prefix before its
///   extensions).
/// - A view may hold back space reclamation in some engines; keep it short-lived.
pub trait ReadView: Send {
    /// The value of `key` in `bucket`, if any.
    fn get(&self, bucket: &str, key: &[u8]) -> Result<Option<Vec<u8>>>;

    /// Visits the pairs of `bucket` whose keys are in `[start, end)` (`end = None`:
    /// to the end of the bucket) in `order`, until `visit` returns `false`.
    fn scan(
        &self,
        bucket: &str,
        start: &[u8],
        end: Option<&[u8]>,
        order: Order,
        visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<()>;

    /// The names of the buckets that hold at least one key, in ascending order.
    fn buckets(&self) -> Result<Vec<String>>;

    /// The pairs of `bucket` in `[start, end)` in `order`, at most `limit` of them
    /// (`0` = no limit).
    fn range(
        &self,
        bucket: &str,
        start: &[u8],
        end: Option<&[u8]>,
        order: Order,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let mut out = Vec::new();
        self.scan(bucket, start, end, order, &mut |k, v| {
            out.push((k.to_vec(), v.to_vec()));
            limit == 0 || out.len() < limit
        })?;
        Ok(out)
    }
}

/// A storage engine: named buckets of ordered binary keys, consistent read views,
/// atomic write batches, a durability point, space reporting and reclamation, and
/// whole-store export and import.
///
/// Contract:
/// - **Buckets** are named by 1..=64 ASCII letters, digits or `_`; a bucket exists
///   while it holds a key. Keys are 1..=[`crate::MAX_KEY_LEN`] bytes;
///   values are at most [`crate::MAX_VALUE_LEN`] bytes. [`WriteBatch`] enforces
///   both when an operation is added.
/// - **Atomicity**: [`Backend::commit`] applies a whole batch or nothing, across
///   buckets. Views opened after it returns `Ok` see all of it; views opened
///   before see none of it. Commits are serialized: concurrent callers are
///   applied one after the other.
/// - **Durability**: with [`Durability::Immediate`] a commit is durable when it
///   returns; with [`Durability::Relaxed`] it is durable once a later
///   [`Backend::sync`] returns. A crash never leaves part of a batch.
/// - **Concurrency**: a backend is shared between threads by reference; views may
///   be opened and read on any thread while commits run.
/// - **Directory**: a backend owns its directory. The directory records the engine
///   that made it, and another engine refuses to open it
///   ([`crate::Error::EngineMismatch`]).
pub trait Backend: Sized + Send + Sync + 'static {
    /// The engine's name, as `--backend` spells it: `mem`, `lmdb`, `sled`, `rocks`, `fjall`.
    const NAME: &'static str;

    /// A read view; see [`ReadView`].
    type View<'a>: ReadView
    where
        Self: 'a;

    /// Opens the store in `dir`, creating it if it does not exist.
    fn open(dir: &Path, options: &Options) -> Result<Self>;

    /// A consistent view of everything committed so far.
    fn view(&self) -> Result<Self::View<'_>>;

    /// Applies `batch` atomically; see the trait's contract.
    fn commit(&self, batch: WriteBatch) -> Result<()>;

    /// Makes every commit that returned before this call durable.
    fn sync(&self) -> Result<()>;

    /// The space the store takes; see [`SpaceUsage`].
    fn space(&self) -> Result<SpaceUsage>;

    /// Gives back space freed by deletes (etcd's defragment). Views stay readable
    /// while it runs; commits may wait for it. Afterwards `allocated` is close to
    /// `in_use`, as far as the engine allows.
    fn defrag(&self) -> Result<()>;

    /// Streams the whole store, as one consistent view, into `out` in cairn's
    /// snapshot format (see [`crate::snapshot`]), ending with its checksum.
    fn export(&self, out: &mut dyn Write) -> Result<snapshot::Summary> {
        let view = self.view()?;
        snapshot::write(&view, out)
    }

    /// Builds a new store in `dir` from a snapshot made by [`Backend::export`] (by any
    /// engine). `dir` must not exist or be empty. The store is built beside `dir` and
    /// moved into place only once the whole stream was read and its checksum
    /// matched: a truncated or corrupted snapshot is an error that leaves no `dir`.
    fn import(dir: &Path, options: &Options, input: &mut dyn Read) -> Result<(Self, snapshot::Summary)> {
        snapshot::import(dir, options, input)
    }
}
