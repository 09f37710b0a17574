//! The MVCC key-value store over a [`Backend`].

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use bytes::Bytes;
use cairn_storage::{Backend, Order, ReadView, WriteBatch};
use parking_lot::{Mutex, MutexGuard, RwLock};

use crate::{Error, KeyIndex, KeyRange, KeyValue, Result, Revision};

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

/// Options of a range read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RangeOptions {
    /// At most this many keys (0 = all).
    pub limit: usize,
    /// Read at this revision (0 or less = the current one).
    pub revision: i64,
    /// Count the keys, return none.
    pub count_only: bool,
    /// Return keys and metadata without values.
    pub keys_only: bool,
}

/// What a range read found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RangeResult {
    /// The key-values, in key order, at most `limit`.
    pub kvs: Vec<KeyValue>,
    /// The revision the read was made at.
    pub revision: i64,
    /// How many keys the range holds at that revision, ignoring the limit.
    pub count: usize,
    /// Whether keys were left out because of the limit.
    pub more: bool,
}

/// How a put treats the existing key.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PutOptions {
    /// Return the previous key-value.
    pub prev_kv: bool,
    /// Keep the current value (the key must exist).
    pub ignore_value: bool,
    /// Keep the current lease (the key must exist).
    pub ignore_lease: bool,
}

/// What a delete-range removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Deleted {
    /// How many keys were deleted.
    pub count: usize,
    /// The deleted key-values, when asked for.
    pub prev_kvs: Vec<KeyValue>,
}

/// Whether an event is a put or a delete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// A put.
    Put,
    /// A delete; the key-value has only `key` and `mod_revision`.
    Delete,
}

/// One change, as a watcher sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Put or delete.
    pub kind: EventKind,
    /// The key-value after the change.
    pub kv: KeyValue,
}

/// All changes of one revision, which watchers receive whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevisionEvents {
    /// The main revision.
    pub revision: i64,
    /// The changes, in sub-revision order.
    pub events: Vec<Event>,
}

/// The hash of the store's history, for etcd's `HashKV`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashKv {
    /// CRC32C over every revision up to `revision` that compaction keeps.
    pub hash: u32,
    /// The revision hashed up to.
    pub revision: i64,
    /// The compacted revision when hashed.
    pub compact_revision: i64,
}

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
        let mut index = KeyIndex::new();
        let mut current = 1;
        let (consistent_index, scheduled, finished) = {
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
            (consistent_index, read_i64(&view, SCHEDULED_COMPACT)?, read_i64(&view, FINISHED_COMPACT)?)
        };
        let compacted = scheduled.or(finished).unwrap_or(0);
        let current = current.max(compacted);
        let store = KvStore {
            backend,
            index: RwLock::new(index),
            revisions: RwLock::new(Revisions { current, compacted, consistent_index }),
            pending: Mutex::new(Pending {
                batch: WriteBatch::new(),
                values: HashMap::new(),
                current,
                events: Vec::new(),
            }),
            on_commit: OnceLock::new(),
        };
        if let Some(scheduled) = scheduled
            && finished.is_none_or(|f| f < scheduled)
        {
            // The last compaction did not finish: compact the index again and
            // delete what is left.
            let keep = store.index.write().compact(scheduled);
            CompactionJob::new(&store, scheduled, keep).run()?;
        }
        Ok(store)
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
        let keep = index.keep(compacted);
        drop(index);
        let mut hash = crc32c::crc32c(buckets::KEY.as_bytes());
        let end = Revision::lower_bound(rev + 1);
        let mut failed = None;
        view.scan(buckets::KEY, &[], Some(&end), Order::Forward, &mut |k, v| {
            match Revision::decode(k) {
                Some((r, _)) if r.main <= compacted && !keep.contains(&r) => {}
                Some(_) => {
                    hash = crc32c::crc32c_append(hash, k);
                    hash = crc32c::crc32c_append(hash, v);
                }
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

/// The single writer of a [`KvStore`]: runs write transactions and commits their
/// batch. Dropping it without [`Writer::commit`] keeps the pending writes for the
/// next writer; they are not visible to readers until committed.
pub struct Writer<'a, B: Backend> {
    store: &'a KvStore<B>,
    pending: MutexGuard<'a, Pending>,
}

impl<'a, B: Backend> Writer<'a, B> {
    /// Starts a write transaction: its changes share the next main revision.
    pub fn txn(&mut self) -> WriteTxn<'_, 'a, B> {
        let main = self.pending.current + 1;
        WriteTxn { writer: self, main, events: Vec::new() }
    }

    /// Commits every pending transaction to the backend in one batch, recording
    /// `consistent_index` if given, then makes them visible to readers and
    /// watchers. Returns the revision now current.
    pub fn commit(&mut self, consistent_index: Option<u64>) -> Result<i64> {
        let pending = &mut *self.pending;
        if let Some(ci) = consistent_index {
            pending.batch.put(buckets::META, CONSISTENT_INDEX.to_vec(), ci.to_be_bytes().to_vec())?;
        }
        if !pending.batch.is_empty() {
            self.store.backend.commit(std::mem::take(&mut pending.batch))?;
        }
        pending.values.clear();
        let events = std::mem::take(&mut pending.events);
        {
            let mut revisions = self.store.revisions.write();
            revisions.current = pending.current;
            if let Some(ci) = consistent_index {
                revisions.consistent_index = ci;
            }
        }
        if !events.is_empty()
            && let Some(hook) = self.store.on_commit.get()
        {
            hook(self.store, &events);
        }
        Ok(pending.current)
    }

    /// The revision of the last transaction, committed or not.
    pub fn revision(&self) -> i64 {
        self.pending.current
    }

    /// Compacts the history at `revision`: reads before it fail from now on, the
    /// key index forgets it, and the point is recorded in the pending batch. The
    /// returned job deletes the compacted revisions from the backend in small
    /// batches; run it on any thread, after committing the batch that records the
    /// compaction point. Pending writes are committed first. If it is interrupted,
    /// [`KvStore::open`] finishes it.
    pub fn compact(&mut self, revision: i64) -> Result<CompactionJob<'a, B>> {
        // Pending writes reach the backend first, so the job sees every revision
        // the compaction drops.
        if !self.pending.batch.is_empty() {
            self.commit(None)?;
        }
        let store = self.store;
        let mut index = store.index.write();
        {
            let revisions = store.revisions.read();
            if revision <= revisions.compacted {
                return Err(Error::Compacted { compacted: revisions.compacted });
            }
            if revision > self.pending.current {
                return Err(Error::FutureRevision { current: self.pending.current });
            }
        }
        let keep = index.compact(revision);
        store.revisions.write().compacted = revision;
        drop(index);
        self.pending.batch.put(buckets::META, SCHEDULED_COMPACT.to_vec(), revision.to_be_bytes().to_vec())?;
        Ok(CompactionJob::new(store, revision, keep))
    }
}

/// A write transaction: every put and delete in it shares one main revision, with
/// increasing sub-revisions, and its reads see its own writes.
pub struct WriteTxn<'w, 'a, B: Backend> {
    writer: &'w mut Writer<'a, B>,
    main: i64,
    events: Vec<Event>,
}

impl<'a, B: Backend> WriteTxn<'_, 'a, B> {
    /// The main revision this transaction writes at.
    pub fn revision(&self) -> i64 {
        self.main
    }

    fn next(&self) -> Revision {
        Revision::new(self.main, self.events.len() as i64)
    }

    /// The value at `rev`, from this batch's pending puts or the backend.
    fn value_at(&self, view: &mut Option<B::View<'a>>, rev: Revision) -> Result<KeyValue> {
        if let Some(kv) = self.writer.pending.values.get(&rev) {
            return Ok(kv.clone());
        }
        if view.is_none() {
            let store: &'a KvStore<B> = self.writer.store;
            *view = Some(store.backend.view()?);
        }
        match view {
            Some(v) => read_value(v, rev),
            None => Err(Error::Corrupt("no view".into())),
        }
    }

    /// Reads inside the transaction, at its revision (seeing its own writes) or,
    /// with `options.revision`, at an earlier one.
    pub fn range(&self, range: &KeyRange, options: RangeOptions) -> Result<RangeResult> {
        let store = self.writer.store;
        let rev = if options.revision <= 0 || options.revision >= self.main {
            self.main
        } else {
            let compacted = store.revisions.read().compacted;
            if options.revision < compacted {
                return Err(Error::Compacted { compacted });
            }
            options.revision
        };
        let found = collect(&store.index.read(), range, rev, options.limit, options.count_only);
        let mut view = None;
        let mut result = fetch(found, rev, options, |r| self.value_at(&mut view, r))?;
        // A transaction that has not written reports the revision it reads at.
        if self.events.is_empty() {
            result.revision = self.main - 1;
        }
        Ok(result)
    }

    /// Puts `key` = `value` with `lease` (0 = none); returns the previous
    /// key-value if the key existed and `options.prev_kv` asked for it.
    pub fn put(
        &mut self,
        key: impl Into<Bytes>,
        value: impl Into<Bytes>,
        lease: i64,
        options: PutOptions,
    ) -> Result<Option<KeyValue>> {
        let key = key.into();
        let store = self.writer.store;
        let existing = store.index.read().get(&key, self.main);
        if (options.ignore_value || options.ignore_lease) && existing.is_none() {
            return Err(Error::KeyNotFound);
        }
        // The previous value is read only when something needs it.
        let prev = match existing {
            Some(at) if options.prev_kv || options.ignore_value || options.ignore_lease => {
                Some(self.value_at(&mut None, at.modified)?)
            }
            _ => None,
        };
        let rev = self.next();
        let kv = KeyValue {
            create_revision: existing.map_or(self.main, |at| at.created.main),
            mod_revision: self.main,
            version: existing.map_or(1, |at| at.version + 1),
            value: match (&prev, options.ignore_value) {
                (Some(prev), true) => prev.value.clone(),
                _ => value.into(),
            },
            lease: match (&prev, options.ignore_lease) {
                (Some(prev), true) => prev.lease,
                _ => lease,
            },
            key,
        };
        let pending = &mut *self.writer.pending;
        pending.batch.put(buckets::KEY, rev.encode(false), kv.encode())?;
        store.index.write().put(&kv.key, rev);
        pending.values.insert(rev, kv.clone());
        self.events.push(Event { kind: EventKind::Put, kv });
        Ok(prev.filter(|_| options.prev_kv))
    }

    /// Deletes every key of `range`; returns how many, and with `prev_kv` the
    /// deleted key-values.
    pub fn delete_range(&mut self, range: &KeyRange, prev_kv: bool) -> Result<Deleted> {
        let store = self.writer.store;
        let found = collect(&store.index.read(), range, self.main, 0, false);
        let mut deleted = Deleted { count: found.keys.len(), prev_kvs: Vec::new() };
        let mut view = None;
        for (key, at) in found.keys {
            if prev_kv {
                let prev = self.value_at(&mut view, at)?;
                deleted.prev_kvs.push(prev);
            }
            let rev = self.next();
            let tombstone = KeyValue { key: key.clone(), mod_revision: self.main, ..KeyValue::default() };
            self.writer.pending.batch.put(buckets::KEY, rev.encode(true), tombstone.encode())?;
            store
                .index
                .write()
                .tombstone(&key, rev)
                .map_err(|_| Error::Corrupt(format!("deleting a missing key {key:?}")))?;
            self.events.push(Event { kind: EventKind::Delete, kv: tombstone });
        }
        Ok(deleted)
    }

    /// Ends the transaction. A transaction that changed something takes its
    /// revision; a read-only one leaves the revision as it was.
    pub fn end(self) -> i64 {
        if self.events.is_empty() {
            return self.main - 1;
        }
        let pending = &mut *self.writer.pending;
        pending.current = self.main;
        pending.events.push(RevisionEvents { revision: self.main, events: self.events });
        self.main
    }
}

/// Deletes the revisions a compaction dropped, in bounded batches.
pub struct CompactionJob<'a, B: Backend> {
    store: &'a KvStore<B>,
    revision: i64,
    keep: HashSet<Revision>,
    next: Option<Vec<u8>>,
}

impl<'a, B: Backend> CompactionJob<'a, B> {
    fn new(store: &'a KvStore<B>, revision: i64, keep: HashSet<Revision>) -> Self {
        CompactionJob { store, revision, keep, next: Some(Vec::new()) }
    }

    /// The revision compacted at.
    pub fn revision(&self) -> i64 {
        self.revision
    }

    /// Deletes the next batch of at most 1000 compacted revisions in one backend
    /// commit; returns whether the job is done (and recorded as finished).
    pub fn step(&mut self) -> Result<bool> {
        let Some(start) = self.next.take() else { return Ok(true) };
        let end = Revision::lower_bound(self.revision + 1);
        let mut batch = WriteBatch::new();
        let mut last: Option<Vec<u8>> = None;
        let mut seen = 0;
        let mut failed = None;
        self.store.backend.view()?.scan(buckets::KEY, &start, Some(&end), Order::Forward, &mut |k, _| {
            seen += 1;
            match Revision::decode(k) {
                Some((rev, _)) if !self.keep.contains(&rev) => {
                    if let Err(e) = batch.delete(buckets::KEY, k.to_vec()) {
                        failed = Some(e);
                    }
                }
                Some(_) => {}
                None => failed = Some(cairn_storage::Error::CorruptSnapshot(format!("bad revision key {k:?}"))),
            }
            last = Some(k.to_vec());
            failed.is_none() && seen < COMPACTION_BATCH
        })?;
        if let Some(e) = failed {
            return Err(e.into());
        }
        let done = seen < COMPACTION_BATCH;
        if done {
            batch.put(buckets::META, FINISHED_COMPACT.to_vec(), self.revision.to_be_bytes().to_vec())?;
        } else if let Some(mut last) = last {
            last.push(0);
            self.next = Some(last);
        }
        self.store.backend.commit(batch)?;
        Ok(done)
    }

    /// Runs the job to the end.
    pub fn run(mut self) -> Result<()> {
        while !self.step()? {}
        Ok(())
    }
}
