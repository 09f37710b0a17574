//! A [`WriteBatch`] turned into one native sled write.

use cairn_storage::{BatchOp, Result, WriteBatch};
use sled::IVec;

use crate::engine_error;
use crate::keys::StoredKey;

/// One sled write, and the stored keys it touches.
pub(crate) struct Prepared {
    write: Write,
    /// In batch order, with repeats; taken by [`Prepared::old_values`].
    keys: Vec<IVec>,
}

enum Write {
    /// A single put (`Some`) or delete: one sled operation is atomic by itself and
    /// cheaper than a batch, which takes sled's process-wide write lock.
    One(IVec, Option<IVec>),
    Batch(sled::Batch),
}

fn stored_key(bucket: &str, key: &[u8]) -> IVec {
    // The batch checked the bucket and key, so the stored key always fits.
    match StoredKey::new(bucket, key) {
        Some(stored) => IVec::from(stored.as_bytes()),
        None => IVec::from(crate::keys::stored(bucket.as_bytes(), key)),
    }
}

impl Prepared {
    pub(crate) fn new(batch: WriteBatch) -> Prepared {
        let single = batch.len() == 1;
        let mut keys = Vec::with_capacity(batch.len());
        let mut ops = batch.into_ops().into_iter().map(|op| match op {
            BatchOp::Put { bucket, key, value } => (stored_key(&bucket, &key), Some(IVec::from(value))),
            BatchOp::Delete { bucket, key } => (stored_key(&bucket, &key), None),
        });
        let write = if single && let Some((key, value)) = ops.next() {
            keys.push(key.clone());
            Write::One(key, value)
        } else {
            // sled's batch keeps the last write of each key, as a WriteBatch must.
            let mut batch = sled::Batch::default();
            for (key, value) in ops {
                keys.push(key.clone());
                match value {
                    Some(value) => batch.insert(key, value),
                    None => batch.remove(key),
                }
            }
            Write::Batch(batch)
        };
        Prepared { write, keys }
    }

    /// The values the keys hold before this write, one per distinct key.
    pub(crate) fn old_values(&mut self, tree: &sled::Tree) -> Result<Vec<(IVec, Option<IVec>)>> {
        let mut keys = std::mem::take(&mut self.keys);
        keys.sort_unstable();
        keys.dedup();
        keys.into_iter()
            .map(|key| {
                let old = tree.get(&key).map_err(engine_error)?;
                Ok((key, old))
            })
            .collect()
    }

    /// Applies the write, atomically.
    pub(crate) fn apply(self, tree: &sled::Tree) -> Result<()> {
        match self.write {
            Write::One(key, Some(value)) => tree.insert(key, value).map(drop),
            Write::One(key, None) => tree.remove(key).map(drop),
            Write::Batch(batch) => tree.apply_batch(batch),
        }
        .map_err(engine_error)
    }
}
