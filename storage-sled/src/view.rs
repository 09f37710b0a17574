//! Read views: the live tree, corrected by the undo log to one commit's state.
//!
//! Why the correction is exact: a commit's undo record is in the log before the
//! commit touches the tree, and a view consults the log only after reading the tree.
//! So if a tree read shows the effect of any commit later than the view's, the log
//! read that follows holds that commit's record, and the earliest later record of
//! the key is the value the view must see. If the tree read shows no later commit
//! for the key, the tree value is the view's value, and any later record (of a
//! commit not yet applied there) holds that same value. A commit that records
//! nothing (no view was open) keeps views from opening until it is applied, so no
//! view older than it exists.
//!
//! A scan applies the same rule key by key: it merges the tree iterator with the
//! log's records for the range, and checks the log for growth after each step of
//! the iterator, once the iterator has decided every key up to its next one.

use std::collections::VecDeque;
use std::ops::Bound;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use cairn_storage::{Order, ReadView, Result, validate_bucket};
use sled::IVec;

use crate::generation::Generation;
use crate::keys::{self, StoredKey};
use crate::{SledBackend, engine_error};

/// A consistent view of a [`SledBackend`], as of the last commit that completed
/// before it was opened. Keep it short-lived: while it is open, commits keep the
/// values they overwrite in memory for it, and it keeps the generation it reads
/// from being removed after a defrag.
pub struct SledView<'a> {
    pub(crate) backend: &'a SledBackend,
    pub(crate) generation: Arc<Generation>,
    /// The number of the last commit this view sees.
    pub(crate) seq: u64,
}

impl Drop for SledView<'_> {
    fn drop(&mut self) {
        self.backend.release_view(self.seq);
    }
}

/// How many undo records a scan copies at a time.
const OVERLAY_CHUNK: usize = 64;

/// The undo records a scan reads beside the tree, copied from the log a chunk at a
/// time, so a short scan under a large log copies little.
struct Overlay<'a> {
    seq: u64,
    lo: &'a [u8],
    hi: Option<&'a [u8]>,
    forward: bool,
    /// The records after `passed`, in scan order, up to `reach`.
    ahead: VecDeque<(IVec, Option<IVec>)>,
    /// How far `ahead` holds every record: `None` to the end of the range.
    reach: Option<IVec>,
    /// `ahead` holds the records of every commit up to this one.
    complete_to: u64,
    /// The last stored key the scan handled, from the tree or from `ahead`.
    passed: Option<IVec>,
}

impl<'a> Overlay<'a> {
    fn new(seq: u64, lo: &'a [u8], hi: Option<&'a [u8]>, forward: bool) -> Self {
        // Records of commits up to `seq` do not concern the view: none are missing.
        Overlay { seq, lo, hi, forward, ahead: VecDeque::new(), reach: None, complete_to: seq, passed: None }
    }

    /// Re-reads the log past `passed` if commits recorded anything since it was read.
    fn sync(&mut self, backend: &SledBackend) {
        if backend.undo_latest.load(Ordering::Acquire) > self.complete_to {
            self.refill(backend);
        }
    }

    fn refill(&mut self, backend: &SledBackend) {
        let undo = backend.undo.read();
        self.complete_to = backend.undo_latest.load(Ordering::Acquire);
        let end = self.hi.map_or(Bound::Unbounded, Bound::Excluded);
        let (from, to) = match (&self.passed, self.forward) {
            (Some(passed), true) => (Bound::Excluded(&passed[..]), end),
            (Some(passed), false) => (Bound::Included(self.lo), Bound::Excluded(&passed[..])),
            (None, _) => (Bound::Included(self.lo), end),
        };
        self.ahead = undo.range_at(from, to, self.seq, !self.forward, OVERLAY_CHUNK).into();
        self.reach = match self.ahead.back() {
            Some((last, _)) if self.ahead.len() == OVERLAY_CHUNK => Some(last.clone()),
            _ => None,
        };
    }

    /// Whether `a` comes before `b` in scan order.
    fn before(&self, a: &IVec, b: &IVec) -> bool {
        if self.forward { a < b } else { a > b }
    }

    /// The next record if it comes before the tree's next key (`None`: the tree is
    /// exhausted).
    fn pop_before(&mut self, next: Option<&IVec>) -> Option<(IVec, Option<IVec>)> {
        let (key, _) = self.ahead.front()?;
        if next.is_some_and(|next| !self.before(key, next)) {
            return None;
        }
        self.ahead.pop_front()
    }

    /// Whether every record up to `next` is known (`None`: to the end of the range).
    fn reaches(&self, next: Option<&IVec>) -> bool {
        match (&self.reach, next) {
            _ if !self.ahead.is_empty() => true,
            (None, _) => true,
            (Some(reach), Some(next)) => !self.before(reach, next),
            (Some(_), None) => false,
        }
    }

    /// The recorded value of `key` if it is the next record.
    fn take(&mut self, key: &IVec) -> Option<Option<IVec>> {
        if self.ahead.front().is_some_and(|(recorded, _)| recorded == key) {
            return self.ahead.pop_front().map(|(_, old)| old);
        }
        None
    }
}

impl SledView<'_> {
    /// Whether a commit after this view's has recorded old values.
    fn log_is_relevant(&self) -> bool {
        self.backend.undo_latest.load(Ordering::Acquire) > self.seq
    }

    /// Visits the stored pairs in `[lo, hi)` (`hi = None`: to the end of the tree) as
    /// of this view's commit, in `order`, until `visit` returns `false`.
    pub(crate) fn scan_stored(
        &self,
        lo: &[u8],
        hi: Option<&[u8]>,
        order: Order,
        visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<()> {
        let forward = order == Order::Forward;
        let mut tree = match hi {
            Some(hi) => self.generation.db.range(lo..hi),
            None => self.generation.db.range(lo..),
        };
        let mut overlay = Overlay::new(self.seq, lo, hi, forward);
        loop {
            let pair = if forward { tree.next() } else { tree.next_back() };
            let pair = pair.transpose().map_err(engine_error)?;
            let next = pair.as_ref().map(|(key, _)| key);
            // The tree has now decided every key up to `next`, and the records of
            // the commits it showed are in the log.
            overlay.sync(self.backend);
            // Recorded keys before the tree's next one: absent from the tree now,
            // maybe present at this view's commit.
            loop {
                while let Some((key, old)) = overlay.pop_before(next) {
                    if let Some(value) = old
                        && !visit(&key, &value)
                    {
                        return Ok(());
                    }
                    overlay.passed = Some(key);
                }
                if overlay.reaches(next) {
                    break;
                }
                overlay.refill(self.backend);
            }
            let Some((key, value)) = pair else { return Ok(()) };
            let keep_going = match overlay.take(&key) {
                Some(old) => old.as_ref().is_none_or(|old| visit(&key, old)),
                None => visit(&key, &value),
            };
            if !keep_going {
                return Ok(());
            }
            overlay.passed = Some(key);
        }
    }
}

impl ReadView for SledView<'_> {
    fn get(&self, bucket: &str, key: &[u8]) -> Result<Option<Vec<u8>>> {
        if validate_bucket(bucket).is_err() {
            return Ok(None);
        }
        let Some(stored) = StoredKey::new(bucket, key) else { return Ok(None) };
        let live = self.generation.db.get(stored.as_bytes()).map_err(engine_error)?;
        if self.log_is_relevant()
            && let Some(old) = self.backend.undo.read().value_at(stored.as_bytes(), self.seq)
        {
            return Ok(old.as_deref().map(<[u8]>::to_vec));
        }
        Ok(live.map(|value| value.to_vec()))
    }

    fn scan(
        &self,
        bucket: &str,
        start: &[u8],
        end: Option<&[u8]>,
        order: Order,
        visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<()> {
        if validate_bucket(bucket).is_err() || end.is_some_and(|end| end <= start) {
            return Ok(());
        }
        let lo = keys::stored(bucket.as_bytes(), start);
        let hi = match end {
            Some(end) => keys::stored(bucket.as_bytes(), end),
            None => keys::bucket_end(bucket.as_bytes()),
        };
        let skip = bucket.len() + 1;
        let mut plain = Vec::new();
        self.scan_stored(&lo, Some(&hi), order, &mut |key, value| {
            visit(keys::unescape(&key[skip..], &mut plain), value)
        })
    }

    fn buckets(&self) -> Result<Vec<String>> {
        let mut names = Vec::new();
        let mut from = Vec::new();
        loop {
            let mut first = None;
            self.scan_stored(&from, None, Order::Forward, &mut |key, _| {
                first = Some(key.to_vec());
                false
            })?;
            let Some(first) = first else { return Ok(names) };
            let name = keys::bucket_of(&first)
                .ok_or_else(|| cairn_storage::Error::engine(crate::NAME, "a stored key has no bucket"))?;
            from = keys::bucket_end(name);
            names.push(String::from_utf8(name.to_vec()).map_err(engine_error)?);
        }
    }
}
