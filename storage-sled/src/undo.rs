//! The undo log: the values commits overwrote while views were open.
//!
//! sled 0.34 has no read snapshots, so a view reads the live tree and corrects it
//! with this log. Commits are numbered; commit `n` records, before it touches the
//! tree, the value each key it writes had just before it (`None`: absent). A view
//! opened after commit `s` sees, for a key that a commit after `s` wrote, the value
//! the earliest such commit recorded, and the live tree for every other key.

use std::collections::{BTreeMap, VecDeque};
use std::ops::Bound;

use sled::IVec;

/// Old values by stored key, and which keys each commit recorded, oldest first.
#[derive(Default)]
pub(crate) struct UndoLog {
    /// For each stored key, `(commit, value before it)` in ascending commit order.
    by_key: BTreeMap<IVec, Vec<(u64, Option<IVec>)>>,
    /// The keys each commit recorded, so pruning does not walk `by_key`.
    commits: VecDeque<(u64, Vec<IVec>)>,
}

impl UndoLog {
    /// Records the values `old` (distinct stored keys) had before commit `seq`, which
    /// is later than every commit recorded so far.
    pub(crate) fn record(&mut self, seq: u64, old: Vec<(IVec, Option<IVec>)>) {
        let mut keys = Vec::with_capacity(old.len());
        for (key, value) in old {
            keys.push(key.clone());
            self.by_key.entry(key).or_default().push((seq, value));
        }
        self.commits.push_back((seq, keys));
    }

    /// Whether [`UndoLog::prune`] with `floor` would drop anything.
    pub(crate) fn holds_at_or_before(&self, floor: u64) -> bool {
        self.commits.front().is_some_and(|(seq, _)| *seq <= floor)
    }

    /// Drops the records of commits up to `floor`: no open view reads them, since a
    /// view opened after commit `s` only reads records of commits after `s`.
    pub(crate) fn prune(&mut self, floor: u64) {
        while let Some((seq, _)) = self.commits.front()
            && *seq <= floor
        {
            let Some((_, keys)) = self.commits.pop_front() else { break };
            for key in keys {
                if let Some(records) = self.by_key.get_mut(&key) {
                    let stale = records.partition_point(|(seq, _)| *seq <= floor);
                    records.drain(..stale);
                    if records.is_empty() {
                        self.by_key.remove(&key);
                    }
                }
            }
        }
    }

    /// The value `key` had after commit `seq`, if a later commit wrote it: `Some(None)`
    /// when it was absent then, `None` when the live tree still holds it as it was.
    pub(crate) fn value_at(&self, key: &[u8], seq: u64) -> Option<&Option<IVec>> {
        earliest_after(self.by_key.get(key)?, seq)
    }

    /// The first `limit` recorded keys in `(lo, hi)`, in ascending order or, with
    /// `reverse`, descending, with their values after commit `seq`, among the keys a
    /// later commit wrote.
    pub(crate) fn range_at(
        &self,
        lo: Bound<&[u8]>,
        hi: Bound<&[u8]>,
        seq: u64,
        reverse: bool,
        limit: usize,
    ) -> Vec<(IVec, Option<IVec>)> {
        let at_seq = |(key, records): (&IVec, &Vec<(u64, Option<IVec>)>)| {
            earliest_after(records, seq).map(|value| (key.clone(), value.clone()))
        };
        let range = self.by_key.range::<[u8], _>((lo, hi));
        if reverse {
            range.rev().filter_map(at_seq).take(limit).collect()
        } else {
            range.filter_map(at_seq).take(limit).collect()
        }
    }
}

/// The value recorded by the earliest commit after `seq`.
fn earliest_after(records: &[(u64, Option<IVec>)], seq: u64) -> Option<&Option<IVec>> {
    let first_after = records.partition_point(|(recorded, _)| *recorded <= seq);
    records.get(first_after).map(|(_, value)| value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iv(bytes: &[u8]) -> IVec {
        IVec::from(bytes)
    }

    #[test]
    fn a_view_reads_the_earliest_later_record() {
        let mut log = UndoLog::default();
        log.record(3, vec![(iv(b"a"), None), (iv(b"b"), Some(iv(b"b2")))]);
        log.record(5, vec![(iv(b"a"), Some(iv(b"a3")))]);
        assert_eq!(log.value_at(b"a", 2), Some(&None));
        assert_eq!(log.value_at(b"a", 3), Some(&Some(iv(b"a3"))));
        assert_eq!(log.value_at(b"a", 5), None);
        assert_eq!(log.value_at(b"b", 4), None);
        assert_eq!(log.value_at(b"c", 0), None);
        let all = log.range_at(Bound::Unbounded, Bound::Unbounded, 2, true, 10);
        assert_eq!(all, vec![(iv(b"b"), Some(iv(b"b2"))), (iv(b"a"), None)]);
        assert_eq!(log.range_at(Bound::Unbounded, Bound::Unbounded, 2, false, 1), vec![(iv(b"a"), None)]);
        let after_a = log.range_at(Bound::Excluded(b"a"), Bound::Unbounded, 3, false, 10);
        assert!(after_a.is_empty());
    }

    #[test]
    fn pruning_keeps_what_later_views_read() {
        let mut log = UndoLog::default();
        log.record(3, vec![(iv(b"a"), None)]);
        log.record(5, vec![(iv(b"a"), Some(iv(b"a3")))]);
        assert!(log.holds_at_or_before(3));
        log.prune(3);
        assert!(!log.holds_at_or_before(4));
        assert_eq!(log.value_at(b"a", 4), Some(&Some(iv(b"a3"))));
        log.prune(5);
        assert_eq!(log.value_at(b"a", 0), None);
        assert!(log.by_key.is_empty() && log.commits.is_empty());
    }
}
