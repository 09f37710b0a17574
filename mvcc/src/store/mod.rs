//! The MVCC key-value store over a [`Backend`].

mod compaction;
mod etcd_format;
mod types;
mod writer;

use std::collections::HashMap;
use std::sync::OnceLock;

use bytes::Bytes;
use cairn_storage::{Backend, Order, ReadView, WriteBatch};
use parking_lot::{Mutex, RwLock};

use crate::{Error, KeyIndex, KeyRange, KeyValue, Result, Revision};

pub use compaction::CompactionJob;
pub use types::*;
pub use writer::{WriteTxn, Writer};

/// Names of the buckets the store uses, as in etcd.
pub mod buckets {
    /// Revision -> key-value (tombstones marked in the key).
    pub const KEY: &str = "key";
    /// Consistent index and compaction progress.
    pub const META: &str = "meta";
}

const CONSISTENT_INDEX: &[u8] = b"consistent_index";
const SCHEDULED_COMPACT: &[u8] = b"scheduledCompactRev";
const FINISHED_COMPACT: &[u8] = b"finishedCompactRev";
/// Revisions deleted per backend commit by a compaction.
const COMPACTION_BATCH: usize = 1000;

#[derive(Debug, Clone, Copy)]
struct Revisions {
    /// The last revision whose writes are committed to the backend.
    current: i64,
    compacted: i64,
    consistent_index: u64,
}

/// Writes not yet committed to the backend.
struct Pending {
    batch: WriteBatch,
    /// Puts of the pending batch, for reads inside later transactions.
    values: HashMap<Revision, KeyValue>,
    /// The writer's revision: the last transaction's, committed or not.
    current: i64,
    events: Vec<RevisionEvents>,
}

type CommitHook<B> = Box<dyn Fn(&KvStore<B>, &[RevisionEvents]) + Send + Sync>;

/// etcd's MVCC key-value store over a [`Backend`].
///
/// Reads may run from any thread at any time; writes go through one [`Writer`]
/// at a time, in transactions that each take one main revision, and reach the
/// backend in one batch per [`Writer::commit`]. Readers see a revision only once
/// it is committed.
pub struct KvStore<B: Backend> {
    backend: B,
    index: RwLock<KeyIndex>,
    revisions: RwLock<Revisions>,
    pending: Mutex<Pending>,
    on_commit: OnceLock<CommitHook<B>>,
}

fn read_i64(view: &impl ReadView, key: &[u8]) -> Result<Option<i64>> {
    match view.get(buckets::META, key)? {
        None => Ok(None),
        Some(bytes) => {
            let arr: [u8; 8] = bytes.as_slice().try_into().map_err(|_| Error::Corrupt(format!("meta {key:?}")))?;
            Ok(Some(i64::from_be_bytes(arr)))
        }
    }
}

impl<B: Backend> KvStore<B> {
    /// Opens the store over `backend`: rebuilds the key index and the current and
    /// compacted revisions from it, and finishes a compaction that was
    /// interrupted.
    pub fn open(backend: B) -> Result<Self> {
        let loaded = load(&backend)?;
        let store = KvStore {
            backend,
            index: RwLock::new(loaded.index),
            revisions: RwLock::new(loaded.revisions),
            pending: Mutex::new(Pending {
                batch: WriteBatch::new(),
                values: HashMap::new(),
                current: loaded.revisions.current,
                events: Vec::new(),
            }),
            on_commit: OnceLock::new(),
        };
        store.finish_interrupted_compaction(loaded.scheduled, loaded.finished)?;
        Ok(store)
    }

    /// Rebuilds the index and revisions from the backend, after the caller
    /// replaced the backend's contents (e.g. with a raft snapshot). Pending,
    /// uncommitted writes are dropped. Watchers are not told; see
    /// [`WatchableStore::reload`](crate::WatchableStore::reload).
    pub fn reload(&self) -> Result<()> {
        let mut pending = self.pending.lock();
        let loaded = load(&self.backend)?;
        {
            let mut index = self.index.write();
            let mut revisions = self.revisions.write();
            *index = loaded.index;
            *revisions = loaded.revisions;
        }
        *pending = Pending {
            batch: WriteBatch::new(),
            values: HashMap::new(),
            current: loaded.revisions.current,
            events: Vec::new(),
        };
        drop(pending);
        self.finish_interrupted_compaction(loaded.scheduled, loaded.finished)
    }

    fn finish_interrupted_compaction(&self, scheduled: Option<i64>, finished: Option<i64>) -> Result<()> {
        if let Some(scheduled) = scheduled
            && finished.is_none_or(|f| f < scheduled)
        {
            // The last compaction did not finish: compact the index again and
            // delete what is left.
            let keep = self.index.write().compact(scheduled);
            CompactionJob::new(self, scheduled, keep).run()?;
        }
        Ok(())
    }

    /// The backend, for the caller's own buckets.
    pub fn backend(&self) -> &B {
        &self.backend
    }

    /// The last committed revision (1 in a new store).
    pub fn current_revision(&self) -> i64 {
        self.revisions.read().current
    }

    /// The revision the history was compacted at (0 if never).
    pub fn compacted_revision(&self) -> i64 {
        self.revisions.read().compacted
    }

    /// The consistent index last committed with a batch.
    pub fn consistent_index(&self) -> u64 {
        self.revisions.read().consistent_index
    }

    pub(crate) fn set_commit_hook(&self, hook: CommitHook<B>) -> bool {
        self.on_commit.set(hook).is_ok()
    }

    /// Checks a requested revision against the history; `rev <= 0` means current.
    fn resolve(revisions: &Revisions, rev: i64) -> Result<i64> {
        if rev <= 0 {
            return Ok(revisions.current);
        }
        if rev > revisions.current {
            return Err(Error::FutureRevision { current: revisions.current });
        }
        if rev < revisions.compacted {
            return Err(Error::Compacted { compacted: revisions.compacted });
        }
        Ok(rev)
    }

    /// Reads `range` at a committed revision.
    pub fn range(&self, range: &KeyRange, options: RangeOptions) -> Result<RangeResult> {
        // The index lock is held while the revision is checked and the view
        // opened, so a compaction cannot slip in between and remove what the read
        // needs: the view then holds the data for the rest of the read.
        let index = self.index.read();
        let (rev, view) = {
            let revisions = self.revisions.read();
            (Self::resolve(&revisions, options.revision)?, self.backend.view()?)
        };
        let found = collect(&index, range, rev, options.limit, options.count_only);
        drop(index);
        fetch(found, rev, options, |r| read_value(&view, r))
    }

    /// A job that deletes what a compaction at `revision` dropped, for a caller
    /// that ran [`Writer::compact`] and could not keep its job (e.g. to run it on
    /// another thread that owns the store through an `Arc`). Running it for a
    /// compaction already finished deletes nothing more.
    pub fn compaction_job(&self, revision: i64) -> CompactionJob<'_, B> {
        let keep = self.index.read().keep(revision);
        CompactionJob::new(self, revision, keep)
    }

    /// Takes the write lock: transactions and the commit of their batch.
    pub fn writer(&self) -> Writer<'_, B> {
        Writer { store: self, pending: self.pending.lock() }
    }

    /// Hashes the history up to `revision` (0 = current) as etcd's `HashKV`:
    /// revisions at or before the compaction point count only if compaction keeps
    /// them, so members with the same history agree whatever their progress in
    /// deleting compacted revisions.
    pub fn hash(&self, revision: i64) -> Result<HashKv> {
        let index = self.index.read();
        let (rev, compacted, view) = {
            let revisions = self.revisions.read();
            (Self::resolve(&revisions, revision)?, revisions.compacted, self.backend.view()?)
        };
        // As etcd: what compaction would keep at the hashed revision.
        let keep = index.keep(rev);
        drop(index);
        // etcd's hash: CRC-32C over "key", then each counted revision's key and
        // value in etcd's own encoding, so cairn and etcd agree on the same history.
        let mut hash = crc32c::crc32c(buckets::KEY.as_bytes());
        let end = Revision::lower_bound(rev + 1);
        let mut failed = None;
        view.scan(buckets::KEY, &[], Some(&end), Order::Forward, &mut |k, v| {
            match Revision::decode(k).map(|(r, tombstone)| (r, tombstone, KeyValue::decode(v))) {
                // As etcd, revisions at or before the compaction point count only
                // if compaction keeps them, unless it keeps none at all.
                Some((r, _, _)) if r.main <= compacted && !keep.is_empty() && !keep.contains(&r) => {}
                Some((r, tombstone, Ok(kv))) => {
                    hash = crc32c::crc32c_append(hash, &etcd_format::revision(r, tombstone));
                    hash = crc32c::crc32c_append(hash, &etcd_format::key_value(&kv, tombstone));
                }
                Some((_, _, Err(e))) => failed = Some(e),
                None => failed = Some(Error::Corrupt(format!("bad revision key {k:?}"))),
            }
            failed.is_none()
        })?;
        match failed {
            Some(e) => Err(e),
            None => Ok(HashKv { hash, revision: rev, compact_revision: compacted }),
        }
    }
}

/// What [`load`] reads back from a backend.
struct Loaded {
    index: KeyIndex,
    revisions: Revisions,
    scheduled: Option<i64>,
    finished: Option<i64>,
}

/// Rebuilds the key index and revisions from `backend`.
fn load<B: Backend>(backend: &B) -> Result<Loaded> {
    let mut index = KeyIndex::new();
    let mut current = 1;
    let view = backend.view()?;
    let mut failed = None;
    view.scan(buckets::KEY, &[], None, Order::Forward, &mut |k, v| {
        match restore(&mut index, k, v) {
            Ok(rev) => current = current.max(rev.main),
            Err(e) => failed = Some(e),
        }
        failed.is_none()
    })?;
    if let Some(e) = failed {
        return Err(e);
    }
    let consistent_index = read_i64(&view, CONSISTENT_INDEX)?.unwrap_or(0) as u64;
    let (scheduled, finished) = (read_i64(&view, SCHEDULED_COMPACT)?, read_i64(&view, FINISHED_COMPACT)?);
    let compacted = scheduled.or(finished).unwrap_or(0);
    let current = current.max(compacted);
    Ok(Loaded { index, revisions: Revisions { current, compacted, consistent_index }, scheduled, finished })
}

/// Adds one `key` bucket entry to the index being rebuilt.
fn restore(index: &mut KeyIndex, k: &[u8], v: &[u8]) -> Result<Revision> {
    let (rev, tombstone) = Revision::decode(k).ok_or_else(|| Error::Corrupt(format!("bad revision key {k:?}")))?;
    let kv = KeyValue::decode(v)?;
    if tombstone {
        // The key's earlier history may be compacted away: nothing to end then.
        let _ = index.tombstone(&kv.key, rev);
    } else if !index.contains(&kv.key) {
        index.restore(&kv.key, Revision::new(kv.create_revision, 0), rev, kv.version);
    } else {
        index.put(&kv.key, rev);
    }
    Ok(rev)
}

struct Found {
    keys: Vec<(Bytes, Revision)>,
    count: usize,
}

fn collect(index: &KeyIndex, range: &KeyRange, rev: i64, limit: usize, count_only: bool) -> Found {
    let mut keys = Vec::new();
    let mut count = 0;
    index.range(range, rev, |key, at| {
        count += 1;
        if !count_only && (limit == 0 || keys.len() < limit) {
            keys.push((Bytes::copy_from_slice(key), at.modified));
        }
        true
    });
    Found { keys, count }
}

fn read_value(view: &impl ReadView, rev: Revision) -> Result<KeyValue> {
    let bytes = view
        .get(buckets::KEY, &rev.encode(false))?
        .ok_or_else(|| Error::Corrupt(format!("revision {rev} is indexed but not stored")))?;
    KeyValue::decode(&bytes)
}

fn fetch(
    found: Found,
    rev: i64,
    options: RangeOptions,
    mut value_of: impl FnMut(Revision) -> Result<KeyValue>,
) -> Result<RangeResult> {
    let more = options.limit > 0 && found.count > options.limit;
    let mut kvs = Vec::with_capacity(found.keys.len());
    for (_, r) in found.keys {
        let mut kv = value_of(r)?;
        if options.keys_only {
            kv.value = Bytes::new();
        }
        kvs.push(kv);
    }
    Ok(RangeResult { kvs, revision: rev, count: found.count, more })
}
