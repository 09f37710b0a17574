//! Folding records into the state of the log: pure, no files.
//!
//! The same rules serve recovery and the writer's checks: entries whose first index
//! is at or below the last index replace the log from there on; a snapshot marker
//! beyond the last index empties the log and moves it past the snapshot (a snapshot
//! received from the leader); a later hard state replaces an earlier one.

use raft::eraftpb::{Entry, HardState, SnapshotMetadata};

use crate::record::{Record, SegmentHeader};

/// The largest log index accepted, far beyond any real log, so that `index + 1`
/// never overflows on what a damaged or crafted record claims.
pub(crate) const MAX_INDEX: u64 = u64::MAX >> 1;

/// The log as the records so far describe it.
#[derive(Debug, Default)]
pub(crate) struct LogState {
    /// The latest hard state.
    pub hard_state: HardState,
    /// Snapshot markers in log order, without repeats.
    pub markers: Vec<SnapshotMetadata>,
    /// Index of `entries[0]`, or of the next entry when `entries` is empty.
    pub start: u64,
    /// Consecutive entries from `start`.
    pub entries: Vec<Entry>,
}

impl LogState {
    /// Index of the next entry to append.
    pub fn next_index(&self) -> u64 {
        self.start + self.entries.len() as u64
    }

    /// Index of the last entry (or of what precedes the first one).
    pub fn last_index(&self) -> u64 {
        self.next_index() - 1
    }

    /// Starts a segment. The first segment read sets where the log starts; each later
    /// one must begin right where the log ended when it was created.
    pub fn begin_segment(&mut self, header: &SegmentHeader, first: bool) -> Result<(), String> {
        if header.first_index == 0 || header.first_index > MAX_INDEX {
            return Err(format!("segment header has first index {}", header.first_index));
        }
        if first {
            self.start = header.first_index;
        } else if header.first_index != self.next_index() {
            return Err(format!(
                "segment starts at index {} but the log before it ends at {}",
                header.first_index,
                self.last_index()
            ));
        }
        Ok(())
    }

    /// Applies one record (not a header).
    pub fn apply(&mut self, record: Record) -> Result<(), String> {
        match record {
            Record::Header(_) => return Err("segment header in the middle of a segment".into()),
            Record::Entries { entries, hard_state } => {
                self.append(entries)?;
                if let Some(hs) = hard_state {
                    self.hard_state = hs;
                }
            }
            Record::HardState(hs) => self.hard_state = hs,
            Record::Snapshot(meta) => self.mark_snapshot(meta)?,
        }
        Ok(())
    }

    fn append(&mut self, entries: Vec<Entry>) -> Result<(), String> {
        let Some(first) = entries.first().map(|e| e.index) else { return Ok(()) };
        check_entries(&entries)?;
        if first > self.next_index() {
            return Err(format!("entries jump from index {} to {first}", self.last_index()));
        }
        if first < self.start {
            self.entries.clear();
            self.start = first;
        } else {
            self.entries.truncate((first - self.start) as usize);
        }
        self.entries.extend(entries);
        Ok(())
    }

    /// Records a marker; the log keeps entries at and below it (an older snapshot may
    /// still need them) unless the snapshot lies beyond the log.
    fn mark_snapshot(&mut self, meta: SnapshotMetadata) -> Result<(), String> {
        if meta.index == 0 || meta.index > MAX_INDEX {
            return Err(format!("snapshot marker with index {}", meta.index));
        }
        if meta.index > self.last_index() {
            self.entries.clear();
            self.start = meta.index + 1;
        }
        if !self.markers.iter().any(|m| m.index == meta.index && m.term == meta.term) {
            self.markers.push(meta);
        }
        Ok(())
    }

    /// The entries after `index`, if the log holds every one of them.
    pub fn entries_after(&mut self, index: u64) -> Option<Vec<Entry>> {
        let next = index.saturating_add(1);
        if next < self.start {
            return None;
        }
        let skip = usize::try_from(next - self.start).unwrap_or(usize::MAX).min(self.entries.len());
        Some(self.entries.split_off(skip))
    }
}

/// Checks that `entries` are consecutive and within `1..=MAX_INDEX`.
pub(crate) fn check_entries(entries: &[Entry]) -> Result<(), String> {
    let (first, last) = match (entries.first(), entries.last()) {
        (Some(first), Some(last)) => (first.index, last.index),
        _ => return Ok(()),
    };
    if first == 0 || last > MAX_INDEX {
        return Err(format!("entry indexes {first}..={last} out of range"));
    }
    for pair in entries.windows(2) {
        if pair[0].index.checked_add(1) != Some(pair[1].index) {
            return Err(format!("entries not consecutive: {} then {}", pair[0].index, pair[1].index));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(index: u64, term: u64) -> Entry {
        Entry { index, term, ..Default::default() }
    }

    fn batch(first: u64, last: u64, term: u64) -> Record {
        Record::Entries { entries: (first..=last).map(|i| e(i, term)).collect(), hard_state: None }
    }

    fn state() -> LogState {
        let mut s = LogState::default();
        s.begin_segment(&SegmentHeader { seq: 0, first_index: 1 }, true).expect("begin segment");
        s
    }

    fn terms(s: &LogState) -> Vec<(u64, u64)> {
        s.entries.iter().map(|e| (e.index, e.term)).collect()
    }

    #[test]
    fn later_entries_replace_a_conflicting_suffix() {
        let mut s = state();
        s.apply(batch(1, 5, 1)).expect("apply");
        s.apply(batch(3, 4, 2)).expect("apply");
        assert_eq!(terms(&s), [(1, 1), (2, 1), (3, 2), (4, 2)]);
        assert!(s.apply(batch(6, 6, 2)).is_err());
    }

    #[test]
    fn snapshot_beyond_the_log_empties_it() {
        let mut s = state();
        s.apply(batch(1, 3, 1)).expect("apply");
        s.apply(Record::Snapshot(SnapshotMetadata { index: 2, term: 1, ..Default::default() })).expect("apply");
        assert_eq!(s.entries.len(), 3);
        s.apply(Record::Snapshot(SnapshotMetadata { index: 10, term: 3, ..Default::default() })).expect("apply");
        assert!(s.entries.is_empty());
        assert_eq!(s.next_index(), 11);
        assert_eq!(s.markers.len(), 2);
        s.apply(batch(11, 12, 3)).expect("apply");
        assert_eq!(s.entries_after(10).expect("entries after").len(), 2);
    }

    #[test]
    fn entries_after_an_index_before_the_log_are_missing() {
        let mut s = LogState::default();
        s.begin_segment(&SegmentHeader { seq: 3, first_index: 20 }, true).expect("begin segment");
        s.apply(batch(20, 22, 4)).expect("apply");
        assert!(s.entries_after(10).is_none());
        assert_eq!(s.entries_after(19).expect("entries after").len(), 3);
    }

    fn index() -> impl proptest::strategy::Strategy<Value = u64> {
        use proptest::prelude::*;
        prop_oneof![any::<u64>(), Just(u64::MAX), Just(MAX_INDEX), Just(MAX_INDEX + 1), 0u64..100]
    }

    proptest::proptest! {
        /// Whatever indexes checksummed records claim, replay errs instead of panicking.
        #[test]
        fn any_records_replay_without_panicking(
            header in index(),
            ops in proptest::collection::vec((0u8..3, index(), 0u64..4), 0..20),
        ) {
            let mut s = LogState::default();
            if s.begin_segment(&SegmentHeader { seq: 0, first_index: header }, true).is_ok() {
                for (op, index, len) in ops {
                    let index = if op == 2 { s.next_index().saturating_sub(index % 3) } else { index };
                    let _ = match op {
                        0 => s.apply(Record::Snapshot(SnapshotMetadata { index, ..Default::default() })),
                        _ => s.apply(Record::Entries {
                            entries: (0..len).map(|k| e(index.wrapping_add(k), 1)).collect(),
                            hard_state: None,
                        }),
                    };
                    let _ = s.entries_after(index);
                }
            }
        }
    }

    #[test]
    fn a_later_segment_must_continue_the_log() {
        let mut s = state();
        s.apply(batch(1, 3, 1)).expect("apply");
        assert!(s.begin_segment(&SegmentHeader { seq: 1, first_index: 5 }, false).is_err());
        s.begin_segment(&SegmentHeader { seq: 1, first_index: 4 }, false).expect("begin segment");
    }
}
