//! Physical deletion of compacted revisions, in bounded batches.

use std::collections::HashSet;

use cairn_storage::{Backend, Order, ReadView, WriteBatch};

use super::{COMPACTION_BATCH, FINISHED_COMPACT, KvStore, buckets};
use crate::{Result, Revision};

/// Deletes the revisions a compaction dropped, in bounded batches.
pub struct CompactionJob<'a, B: Backend> {
    store: &'a KvStore<B>,
    revision: i64,
    keep: HashSet<Revision>,
    next: Option<Vec<u8>>,
}

impl<'a, B: Backend> CompactionJob<'a, B> {
    pub(super) fn new(store: &'a KvStore<B>, revision: i64, keep: HashSet<Revision>) -> Self {
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
