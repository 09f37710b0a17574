//! The in-memory key index: each key's generations of revisions, as etcd's
//! `treeIndex`. Pure: no I/O, tested on its own.

use std::collections::{BTreeMap, HashSet};
use std::ops::Bound;

use crate::{KeyRange, Revision};

/// One life of a key: from the put that created it to the delete that ended it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Generation {
    /// Puts in this generation, counting a closing tombstone.
    version: i64,
    created: Revision,
    /// Revisions of the generation in order; a closed generation's last one is
    /// its tombstone.
    revs: Vec<Revision>,
}

/// A key's history. The last generation is the open one (empty after a delete).
#[derive(Debug, Clone, PartialEq, Eq)]
struct KeyHistory {
    modified: Revision,
    generations: Vec<Generation>,
}

/// Where a key stood at some revision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyAt {
    /// The revision of the version that was current.
    pub modified: Revision,
    /// The revision that created its generation.
    pub created: Revision,
    /// The version: puts since creation, from 1.
    pub version: i64,
}

/// The tombstone of a key that does not exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("key not found")]
pub struct KeyNotFound;

impl KeyHistory {
    fn new() -> Self {
        KeyHistory { modified: Revision::default(), generations: vec![Generation::default()] }
    }

    fn put(&mut self, rev: Revision) {
        if self.generations.is_empty() {
            self.generations.push(Generation::default());
        }
        let g = self.generations.last_mut().expect("a generation was just ensured");
        if g.revs.is_empty() {
            g.created = rev;
            // Most keys are written once or a few times between compactions: start
            // with room for one revision rather than Vec's default of four.
            g.revs.reserve_exact(1);
        }
        g.revs.push(rev);
        g.version += 1;
        self.modified = rev;
    }

    fn tombstone(&mut self, rev: Revision) -> Result<(), KeyNotFound> {
        if self.generations.last().is_none_or(|g| g.revs.is_empty()) {
            return Err(KeyNotFound);
        }
        self.put(rev);
        self.generations.push(Generation::default());
        Ok(())
    }

    /// The generation that was live at `at`, if the key existed then.
    fn generation_at(&self, at: i64) -> Option<&Generation> {
        let last = self.generations.len().checked_sub(1)?;
        for (i, g) in self.generations.iter().enumerate().rev() {
            let (Some(first), Some(tomb)) = (g.revs.first(), g.revs.last()) else { continue };
            if i != last && tomb.main <= at {
                return None;
            }
            if first.main <= at {
                return Some(g);
            }
        }
        None
    }

    fn get(&self, at: i64) -> Option<KeyAt> {
        let g = self.generation_at(at)?;
        let n = g.revs.iter().rposition(|r| r.main <= at)?;
        Some(KeyAt { modified: g.revs[n], created: g.created, version: g.version - (g.revs.len() - n - 1) as i64 })
    }

    /// etcd's doCompact: the generation holding `at` (or the first after it) and
    /// the index of its newest revision at or before `at`, which is kept.
    fn compaction_point(&self, at: i64, keep: &mut HashSet<Revision>) -> (usize, Option<usize>) {
        let mut gi = 0;
        while gi + 1 < self.generations.len() {
            match self.generations[gi].revs.last() {
                Some(tomb) if tomb.main > at => break,
                _ => gi += 1,
            }
        }
        let g = &self.generations[gi];
        let ri = g.revs.iter().rposition(|r| r.main <= at);
        if let Some(ri) = ri {
            keep.insert(g.revs[ri]);
        }
        (gi, ri)
    }

    /// Drops history before `at`, keeping the newest revision at or before it
    /// (in `keep`) unless that is a tombstone.
    fn compact(&mut self, at: i64, keep: &mut HashSet<Revision>) {
        if self.generations.is_empty() {
            return;
        }
        let (mut gi, ri) = self.compaction_point(at, keep);
        let last = self.generations.len() - 1;
        let g = &mut self.generations[gi];
        if !g.revs.is_empty() {
            if let Some(ri) = ri {
                g.revs.drain(..ri);
            }
            if g.revs.len() == 1 && gi != last {
                // Only the tombstone is left: the generation is over.
                keep.remove(&g.revs[0]);
                gi += 1;
            }
        }
        self.generations.drain(..gi);
    }

    /// What compaction at `at` would keep, without compacting.
    fn keep(&self, at: i64, keep: &mut HashSet<Revision>) {
        if self.generations.is_empty() {
            return;
        }
        let (gi, ri) = self.compaction_point(at, keep);
        let g = &self.generations[gi];
        if let Some(ri) = ri
            && gi != self.generations.len() - 1
            && ri == g.revs.len() - 1
        {
            keep.remove(&g.revs[ri]);
        }
    }

    fn is_empty(&self) -> bool {
        self.generations.len() == 1 && self.generations[0].revs.is_empty()
    }
}

/// The key index: for every key, its generations of revisions.
///
/// It answers "which revision of which keys was current at revision R" without
/// touching the backend; the values live in the backend's `key` bucket under
/// those revisions.
#[derive(Debug, Clone, Default)]
pub struct KeyIndex {
    keys: BTreeMap<Box<[u8]>, KeyHistory>,
}

impl KeyIndex {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a put of `key` at `rev`.
    pub fn put(&mut self, key: &[u8], rev: Revision) {
        match self.keys.get_mut(key) {
            Some(history) => history.put(rev),
            None => {
                let mut history = KeyHistory::new();
                history.put(rev);
                self.keys.insert(key.into(), history);
            }
        }
    }

    /// Starts the history of a key not in the index from a stored version whose
    /// earlier revisions may be compacted away: its generation was created at
    /// `created` and has reached `version` at `modified`. Used when rebuilding.
    pub fn restore(&mut self, key: &[u8], created: Revision, modified: Revision, version: i64) {
        let generation = Generation { version, created, revs: vec![modified] };
        self.keys.insert(key.into(), KeyHistory { modified, generations: vec![generation] });
    }

    /// Whether the index has any history of `key`.
    pub fn contains(&self, key: &[u8]) -> bool {
        self.keys.contains_key(key)
    }

    /// Records a delete of `key` at `rev`, ending its generation.
    pub fn tombstone(&mut self, key: &[u8], rev: Revision) -> Result<(), KeyNotFound> {
        self.keys.get_mut(key).ok_or(KeyNotFound)?.tombstone(rev)
    }

    /// Where `key` stood at main revision `at`, if it existed.
    pub fn get(&self, key: &[u8], at: i64) -> Option<KeyAt> {
        self.keys.get(key)?.get(at)
    }

    /// Visits the keys of `range` that existed at `at`, in key order, until
    /// `visit` returns `false`.
    pub fn range(&self, range: &KeyRange, at: i64, mut visit: impl FnMut(&[u8], KeyAt) -> bool) {
        if let KeyRange::Single(key) = range {
            if let Some(found) = self.get(key, at) {
                visit(key, found);
            }
            return;
        }
        let upper = match range {
            KeyRange::Between(start, end) if end <= start => return,
            KeyRange::Between(_, end) => Bound::Excluded(end.as_ref()),
            _ => Bound::Unbounded,
        };
        for (key, history) in self.keys.range::<[u8], _>((Bound::Included(range.start()), upper)) {
            if let Some(found) = history.get(at)
                && !visit(key, found)
            {
                break;
            }
        }
    }

    /// Compacts every key's history at `at`; returns the revisions at or before
    /// `at` that must stay in the backend. Keys left with no history are dropped.
    pub fn compact(&mut self, at: i64) -> HashSet<Revision> {
        let mut keep = HashSet::new();
        self.keys.retain(|_, history| {
            history.compact(at, &mut keep);
            !history.is_empty()
        });
        keep
    }

    /// The revisions that [`KeyIndex::compact`] at `at` would keep.
    pub fn keep(&self, at: i64) -> HashSet<Revision> {
        let mut keep = HashSet::new();
        for history in self.keys.values() {
            history.keep(at, &mut keep);
        }
        keep
    }

    /// How many keys the index tracks, live or with history.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the index tracks no key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(main: i64) -> Revision {
        Revision::new(main, 0)
    }

    /// etcd's own keyIndex example: puts at 2, 4, 6, delete at 8 (tombstone),
    /// puts at 10, 12, delete at 14, puts at 16.
    fn history() -> KeyIndex {
        let mut index = KeyIndex::new();
        for m in [2, 4, 6] {
            index.put(b"foo", r(m));
        }
        index.tombstone(b"foo", r(8)).expect("live key");
        for m in [10, 12] {
            index.put(b"foo", r(m));
        }
        index.tombstone(b"foo", r(14)).expect("live key");
        index.put(b"foo", r(16));
        index
    }

    #[test]
    fn get_walks_generations() {
        let mut index = history();
        assert_eq!(index.get(b"foo", 1), None);
        assert_eq!(index.get(b"foo", 2), Some(KeyAt { modified: r(2), created: r(2), version: 1 }));
        assert_eq!(index.get(b"foo", 7), Some(KeyAt { modified: r(6), created: r(2), version: 3 }));
        assert_eq!(index.get(b"foo", 8), None, "deleted at 8");
        assert_eq!(index.get(b"foo", 9), None);
        assert_eq!(index.get(b"foo", 11), Some(KeyAt { modified: r(10), created: r(10), version: 1 }));
        assert_eq!(index.get(b"foo", 13), Some(KeyAt { modified: r(12), created: r(10), version: 2 }));
        assert_eq!(index.get(b"foo", 15), None);
        assert_eq!(index.get(b"foo", 100), Some(KeyAt { modified: r(16), created: r(16), version: 1 }));
        assert_eq!(index.tombstone(b"bar", r(20)), Err(KeyNotFound));
    }

    #[test]
    fn compaction_keeps_the_newest_revision_at_or_before_the_point() {
        let cases: [(i64, &[i64]); 8] = [
            (1, &[]),
            (2, &[2]),
            (5, &[4]),
            (6, &[6]),
            (8, &[]), // the tombstone ends the generation: nothing is kept
            (11, &[10]),
            (14, &[]),
            (17, &[16]),
        ];
        for (at, kept) in cases {
            let mut index = history();
            let want: HashSet<Revision> = kept.iter().map(|&m| r(m)).collect();
            assert_eq!(index.keep(at), want, "keep at {at}");
            assert_eq!(index.compact(at), want, "compact at {at}");
            // Reads at or after the compaction point are unchanged.
            let full = history();
            for probe in at..20 {
                assert_eq!(index.get(b"foo", probe), full.get(b"foo", probe), "get {probe} after compact {at}");
            }
        }
    }

    #[test]
    fn compaction_drops_deleted_keys() {
        let mut index = KeyIndex::new();
        index.put(b"a", r(2));
        index.tombstone(b"a", r(3)).expect("live key");
        index.put(b"b", r(4));
        assert!(index.compact(3).is_empty());
        assert_eq!(index.len(), 1, "a is gone; b was created after the compaction point");
        assert_eq!(index.compact(5), [r(4)].into_iter().collect());
        assert_eq!(index.len(), 1);
    }

    #[test]
    fn ranges_at_a_revision() {
        let mut index = KeyIndex::new();
        index.put(b"a", r(2));
        index.put(b"b", r(3));
        index.put(b"c", r(4));
        index.tombstone(b"b", r(5)).expect("live key");
        let keys = |range: KeyRange, at| {
            let mut out = Vec::new();
            index.range(&range, at, |k, _| {
                out.push(k.to_vec());
                true
            });
            out
        };
        assert_eq!(keys(KeyRange::From("a".into()), 4), [b"a", b"b", b"c"]);
        assert_eq!(keys(KeyRange::From("a".into()), 5), [b"a", b"c"]);
        assert_eq!(keys(KeyRange::new("b", "c"), 3), [b"b"]);
        assert_eq!(keys(KeyRange::new("c", "a"), 9), Vec::<Vec<u8>>::new());
        assert_eq!(keys(KeyRange::Single("c".into()), 3), Vec::<Vec<u8>>::new());
    }
}
