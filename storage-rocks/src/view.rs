//! Read views: RocksDB snapshots.

use cairn_storage::{Order, ReadView, Result};
use rocksdb::{ReadOptions, SnapshotWithThreadMode};

use crate::{Db, RocksBackend, engine_error};

/// A consistent view of a [`RocksBackend`]: a RocksDB snapshot, which pins the
/// sequence number it was taken at, so every bucket reads as of that moment.
///
/// Holding it keeps the versions it can see from being compacted away, so space
/// freed after it was opened is only given back once it is dropped.
pub struct RocksView<'a> {
    backend: &'a RocksBackend,
    /// Point reads reuse these options, set once to read at the snapshot.
    read_options: ReadOptions,
    snapshot: SnapshotWithThreadMode<'a, Db>,
}

impl<'a> RocksView<'a> {
    pub(crate) fn new(backend: &'a RocksBackend) -> Self {
        let snapshot = backend.db.snapshot();
        let mut read_options = ReadOptions::default();
        read_options.set_snapshot(&snapshot);
        RocksView { backend, read_options, snapshot }
    }

    /// Read options for one iterator over the snapshot: iterators take theirs by
    /// value, and the bounds let RocksDB stop at the range's ends (and skip files
    /// and tombstones outside it) rather than us checking every key.
    fn iterator_options(&self, lower: &[u8], upper: Option<&[u8]>) -> ReadOptions {
        let mut opts = ReadOptions::default();
        opts.set_snapshot(&self.snapshot);
        if !lower.is_empty() {
            opts.set_iterate_lower_bound(lower);
        }
        if let Some(upper) = upper {
            opts.set_iterate_upper_bound(upper);
        }
        opts
    }

    /// Whether `bucket` holds at least one key in this view.
    fn holds_keys(&self, bucket: &str) -> Result<bool> {
        let Some(cf) = self.backend.db.cf_handle(bucket) else { return Ok(false) };
        let mut iter = self.backend.db.raw_iterator_cf_opt(&cf, self.iterator_options(&[], None));
        iter.seek_to_first();
        if iter.valid() {
            return Ok(true);
        }
        iter.status().map_err(engine_error)?;
        Ok(false)
    }
}

impl ReadView for RocksView<'_> {
    fn get(&self, bucket: &str, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let Some(cf) = self.backend.db.cf_handle(bucket) else { return Ok(None) };
        let value = self.backend.db.get_pinned_cf_opt(&cf, key, &self.read_options).map_err(engine_error)?;
        Ok(value.map(|v| v.to_vec()))
    }

    fn scan(
        &self,
        bucket: &str,
        start: &[u8],
        end: Option<&[u8]>,
        order: Order,
        visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<()> {
        if end.is_some_and(|end| end <= start) {
            return Ok(());
        }
        let Some(cf) = self.backend.db.cf_handle(bucket) else { return Ok(()) };
        let mut iter = self.backend.db.raw_iterator_cf_opt(&cf, self.iterator_options(start, end));
        match order {
            Order::Forward => iter.seek_to_first(),
            // With an upper bound set, RocksDB seeks to the last key below it.
            Order::Reverse => iter.seek_to_last(),
        }
        while let Some((k, v)) = iter.item() {
            if !visit(k, v) {
                return Ok(());
            }
            match order {
                Order::Forward => iter.next(),
                Order::Reverse => iter.prev(),
            }
        }
        iter.status().map_err(engine_error)
    }

    fn buckets(&self) -> Result<Vec<String>> {
        // A column family outlives its last key; it is a bucket only while it holds one.
        let mut held = Vec::new();
        for name in self.backend.bucket_names() {
            if self.holds_keys(&name)? {
                held.push(name);
            }
        }
        Ok(held)
    }
}
