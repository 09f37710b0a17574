//! Read views: an LMDB read transaction, which is a true snapshot.

use std::collections::HashMap;
use std::ops::Bound;
use std::sync::Arc;

use cairn_storage::{Order, ReadView, Result};
use heed::{RoTxn, WithoutTls};

use crate::generation::{Db, Generation, lmdb};

/// A read view of an [`crate::LmdbBackend`]: one LMDB read transaction.
///
/// It pins the pages it can see: LMDB cannot reuse them, so the file grows if a
/// view is held across many commits. Keep views short-lived.
pub struct LmdbView {
    // Declared before `generation` so the transaction ends before its environment
    // may be closed.
    txn: RoTxn<'static, WithoutTls>,
    buckets: Arc<HashMap<String, Db>>,
    _generation: Arc<Generation>,
}

impl LmdbView {
    pub(crate) fn new(generation: Arc<Generation>) -> Result<Self> {
        let (txn, buckets) = generation.begin_read()?;
        Ok(LmdbView { txn, buckets, _generation: generation })
    }
}

impl ReadView for LmdbView {
    fn get(&self, bucket: &str, key: &[u8]) -> Result<Option<Vec<u8>>> {
        if key.is_empty() {
            return Ok(None);
        }
        let Some(db) = self.buckets.get(bucket) else { return Ok(None) };
        Ok(db.get(&self.txn, key).map_err(lmdb)?.map(<[u8]>::to_vec))
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
        let Some(db) = self.buckets.get(bucket) else { return Ok(()) };
        let bounds: (Bound<&[u8]>, Bound<&[u8]>) = (
            // LMDB refuses zero-length keys, even as a seek target.
            if start.is_empty() { Bound::Unbounded } else { Bound::Included(start) },
            end.map_or(Bound::Unbounded, Bound::Excluded),
        );
        match order {
            Order::Forward => {
                for pair in db.range(&self.txn, &bounds).map_err(lmdb)? {
                    let (k, v) = pair.map_err(lmdb)?;
                    if !visit(k, v) {
                        break;
                    }
                }
            }
            Order::Reverse => {
                for pair in db.rev_range(&self.txn, &bounds).map_err(lmdb)? {
                    let (k, v) = pair.map_err(lmdb)?;
                    if !visit(k, v) {
                        break;
                    }
                }
            }
        }
        Ok(())
    }

    fn buckets(&self) -> Result<Vec<String>> {
        let mut names = Vec::new();
        for (name, db) in self.buckets.iter() {
            if db.len(&self.txn).map_err(lmdb)? > 0 {
                names.push(name.clone());
            }
        }
        names.sort_unstable();
        Ok(names)
    }
}
