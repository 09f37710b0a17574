//! Proptest strategies for records.

use cairn_wal::{Record, SegmentHeader};
use proptest::prelude::*;
use raft::eraftpb::{Entry, EntryType, HardState, SnapshotMetadata};

pub fn arb_entry() -> impl Strategy<Value = Entry> {
    (any::<u64>(), any::<u64>(), any::<bool>(), prop::collection::vec(any::<u8>(), 0..64), any::<bool>()).prop_map(
        |(index, term, conf, data, sync_log)| Entry {
            index,
            term,
            entry_type: if conf { EntryType::EntryConfChangeV2 } else { EntryType::EntryNormal },
            data: data.clone().into(),
            context: data.into_iter().rev().collect::<Vec<_>>().into(),
            sync_log,
            ..Default::default()
        },
    )
}

pub fn arb_hard_state() -> impl Strategy<Value = HardState> {
    (any::<u64>(), any::<u64>(), any::<u64>()).prop_map(|(term, vote, commit)| HardState {
        term,
        vote,
        commit,
        ..Default::default()
    })
}

pub fn arb_record() -> impl Strategy<Value = Record> {
    prop_oneof![
        (any::<u64>(), any::<u64>()).prop_map(|(seq, first_index)| Record::Header(SegmentHeader { seq, first_index })),
        (prop::collection::vec(arb_entry(), 0..8), prop::option::of(arb_hard_state()))
            .prop_map(|(entries, hard_state)| Record::Entries { entries, hard_state }),
        arb_hard_state().prop_map(Record::HardState),
        (
            any::<u64>(),
            any::<u64>(),
            prop::collection::vec(prop::collection::vec(any::<u64>(), 0..5), 4),
            any::<bool>()
        )
            .prop_map(|(index, term, mut ids, auto_leave)| {
                let mut meta = SnapshotMetadata { index, term, ..Default::default() };
                let conf = meta.mut_conf_state();
                conf.learners_next = ids.pop().unwrap_or_default();
                conf.voters_outgoing = ids.pop().unwrap_or_default();
                conf.learners = ids.pop().unwrap_or_default();
                conf.voters = ids.pop().unwrap_or_default();
                conf.auto_leave = auto_leave;
                Record::Snapshot(meta)
            }),
    ]
}
