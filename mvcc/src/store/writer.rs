//! The single writer: write transactions and the commit of their batch.

use bytes::Bytes;
use cairn_storage::Backend;
use parking_lot::MutexGuard;

use super::{CONSISTENT_INDEX, KvStore, Pending, SCHEDULED_COMPACT, buckets, collect, fetch, read_value};
use crate::{
    CompactionJob, Deleted, Error, Event, EventKind, KeyRange, KeyValue, PutOptions, RangeOptions, RangeResult, Result,
    Revision, RevisionEvents,
};

/// The single writer of a [`KvStore`]: runs write transactions and commits their
/// batch. Dropping it without [`Writer::commit`] keeps the pending writes for the
/// next writer; they are not visible to readers until committed.
pub struct Writer<'a, B: Backend> {
    pub(super) store: &'a KvStore<B>,
    pub(super) pending: MutexGuard<'a, Pending>,
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

    /// The pending batch, for the caller's writes to its own buckets (leases,
    /// members, ...), committed atomically with the store's writes.
    pub fn batch(&mut self) -> &mut cairn_storage::WriteBatch {
        &mut self.pending.batch
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

    /// The revision a read in this transaction sees as current: its own if it
    /// has written, else the one before it.
    pub fn current_revision(&self) -> i64 {
        if self.events.is_empty() { self.main - 1 } else { self.main }
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
