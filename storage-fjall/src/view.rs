//! Read views: one fjall cross-keyspace snapshot each.

use std::ops::Bound;
use std::sync::Arc;

use cairn_storage::{Order, ReadView, Result};
use fjall::{Readable, Snapshot};

use crate::{Buckets, engine};

/// A consistent view of a [`crate::FjallBackend`]: a fjall snapshot, which reads every
/// keyspace as of the same sequence number, and the buckets that existed when it was
/// opened (a bucket created later holds nothing the snapshot can see).
///
/// While it is open, fjall keeps the versions of keys it can see, and the tables
/// holding them, out of compaction and defrag.
pub struct FjallView {
    snapshot: Snapshot,
    buckets: Arc<Buckets>,
}

impl FjallView {
    pub(crate) fn new(snapshot: Snapshot, buckets: Arc<Buckets>) -> Self {
        FjallView { snapshot, buckets }
    }
}

impl ReadView for FjallView {
    fn get(&self, bucket: &str, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let Some(keyspace) = self.buckets.get(bucket) else { return Ok(None) };
        let value = self.snapshot.get(keyspace, key).map_err(engine)?;
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
        let Some(keyspace) = self.buckets.get(bucket) else { return Ok(()) };
        if end.is_some_and(|end| end <= start) {
            return Ok(());
        }
        let upper = end.map_or(Bound::Unbounded, Bound::Excluded);
        let range = self.snapshot.range::<&[u8], _>(keyspace, (Bound::Included(start), upper));
        let mut visit_pair = |guard: fjall::Guard| -> Result<bool> {
            let (key, value) = guard.into_inner().map_err(engine)?;
            Ok(visit(&key, &value))
        };
        match order {
            Order::Forward => {
                for guard in range {
                    if !visit_pair(guard)? {
                        break;
                    }
                }
            }
            Order::Reverse => {
                for guard in range.rev() {
                    if !visit_pair(guard)? {
                        break;
                    }
                }
            }
        }
        Ok(())
    }

    fn buckets(&self) -> Result<Vec<String>> {
        let mut names = Vec::new();
        for (name, keyspace) in self.buckets.iter() {
            if let Some(first) = self.snapshot.first_key_value(keyspace) {
                first.key().map_err(engine)?;
                names.push(name.clone());
            }
        }
        Ok(names)
    }
}
