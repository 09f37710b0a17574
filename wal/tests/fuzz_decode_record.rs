//! The `decode_record` fuzz target's checks (`wal/fuzz/checks/decode_record.rs`) on
//! stable, so CI holds the decoder to them without nightly: over the seed corpus in
//! `wal/fuzz/seeds/decode_record`, over records proptest generates, and over those
//! records mutated. Inputs the fuzzer found are frozen below as named tests.
//!
//! `CAIRN_BLESS_SEEDS=1 cargo test -p cairn-wal --test fuzz_decode_record` rewrites
//! the generated seeds (after a format change); otherwise they must be up to date.

mod common;

#[path = "../fuzz/checks/decode_record.rs"]
mod decode_record;

use std::fs;
use std::path::PathBuf;

use cairn_wal::{FRAME_HEADER_LEN, Record, RecordError, SegmentHeader, decode_record, encode_record};
use common::arb::arb_record;
use decode_record::{check, frame};
use proptest::prelude::*;
use raft::eraftpb::{ConfChangeType, ConfChangeV2, Entry, EntryType, HardState, SnapshotMetadata};

#[global_allocator]
static ALLOC: decode_record::CountingAlloc = decode_record::CountingAlloc;

const MAX: u32 = cairn_wal::DEFAULT_MAX_RECORD_SIZE;

fn seeds_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz").join("seeds").join("decode_record")
}

fn encode(record: &Record) -> Vec<u8> {
    let mut buf = Vec::new();
    encode_record(record, MAX, &mut buf).expect("encode record");
    buf
}

/// The type byte and payload of an encoded frame: what `check` also frames itself.
fn body(frame: &[u8]) -> Vec<u8> {
    let len = u32::from_le_bytes([frame[0], frame[1], frame[2], frame[3]]) as usize;
    frame[FRAME_HEADER_LEN..FRAME_HEADER_LEN + len].to_vec()
}

fn entry(index: u64, term: u64, data: &[u8]) -> Entry {
    Entry { index, term, data: data.to_vec().into(), ..Default::default() }
}

/// One record of each shape the WAL writes, at ordinary and extreme values.
fn seed_records() -> Vec<(&'static str, Record)> {
    let hs = HardState { term: 5, vote: 2, commit: 41, ..Default::default() };
    let max_hs = HardState { term: u64::MAX, vote: u64::MAX, commit: u64::MAX, ..Default::default() };
    let mut conf_change = ConfChangeV2::default();
    conf_change.mut_changes().push(Default::default());
    conf_change.changes[0].set_change_type(ConfChangeType::AddLearnerNode);
    conf_change.changes[0].node_id = 4;
    let conf_entry = Entry {
        entry_type: EntryType::EntryConfChangeV2,
        data: protobuf::Message::write_to_bytes(&conf_change).expect("encode conf change").into(),
        context: b"http://127.0.0.1:2380".to_vec().into(),
        ..entry(43, 5, b"")
    };
    let mut meta = SnapshotMetadata { index: 40, term: 4, ..Default::default() };
    meta.mut_conf_state().voters = vec![1, 2, 3];
    let mut joint = SnapshotMetadata { index: u64::MAX, term: u64::MAX, ..Default::default() };
    let conf = joint.mut_conf_state();
    (conf.voters, conf.learners, conf.voters_outgoing, conf.learners_next) = (vec![1, 4], vec![5], vec![1, 2], vec![2]);
    conf.auto_leave = true;
    vec![
        ("header", Record::Header(SegmentHeader { seq: 3, first_index: 42 })),
        ("header-max", Record::Header(SegmentHeader { seq: u64::MAX, first_index: u64::MAX })),
        ("entries-none", Record::Entries { entries: vec![], hard_state: None }),
        ("entries-one", Record::Entries { entries: vec![entry(42, 5, b"put k v")], hard_state: None }),
        (
            "entries-batch",
            Record::Entries {
                entries: vec![entry(41, 4, b""), entry(42, 5, &[0xab; 256]), conf_entry],
                hard_state: Some(hs.clone()),
            },
        ),
        ("entries-default-hard-state", Record::Entries { entries: vec![], hard_state: Some(HardState::default()) }),
        ("hard-state", Record::HardState(hs)),
        ("hard-state-default", Record::HardState(HardState::default())),
        ("hard-state-max", Record::HardState(max_hs)),
        ("snapshot", Record::Snapshot(meta)),
        ("snapshot-joint", Record::Snapshot(joint)),
    ]
}

/// Seed files: each record as a frame and as a bare body, two records in a row
/// followed by zeros (a segment's tail), a torn frame, and the empty input.
fn seeds() -> Vec<(String, Vec<u8>)> {
    let mut seeds = Vec::new();
    for (name, record) in seed_records() {
        let frame = encode(&record);
        seeds.push((format!("body-{name}"), body(&frame)));
        seeds.push((format!("frame-{name}"), frame));
    }
    let records = seed_records();
    let mut segment = encode(&records[0].1);
    segment.extend(encode(&records[4].1));
    segment.extend([0; 24]);
    seeds.push(("segment-tail".into(), segment.clone()));
    seeds.push(("torn-frame".into(), segment[..segment.len() - 40].to_vec()));
    seeds.push(("empty".into(), Vec::new()));
    seeds
}

#[test]
fn generated_seeds_are_up_to_date() {
    let dir = seeds_dir();
    let bless = std::env::var_os("CAIRN_BLESS_SEEDS").is_some_and(|v| v != "0");
    for (name, bytes) in seeds() {
        let path = dir.join(&name);
        if bless {
            fs::create_dir_all(&dir).expect("create seeds dir");
            fs::write(&path, &bytes).expect("write seed");
        }
        let stored =
            fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}; run with CAIRN_BLESS_SEEDS=1", path.display()));
        assert!(stored == bytes, "{} is stale; run with CAIRN_BLESS_SEEDS=1", path.display());
    }
}

#[test]
fn the_seed_corpus_passes() {
    let mut count = 0;
    for file in fs::read_dir(seeds_dir()).expect("read seeds dir") {
        let path = file.expect("dir entry").path();
        check(&fs::read(&path).expect("read seed"));
        count += 1;
    }
    assert!(count >= seeds().len(), "only {count} seeds");
}

fn assert_malformed(body: &[u8]) {
    check(body);
    match decode_record(&frame(body)) {
        Err(RecordError::Malformed { .. }) => {}
        other => panic!("{body:02x?} framed: expected Malformed, got {other:?}"),
    }
}

/// Found by the fuzzer: a snapshot record whose protobuf holds an unknown field 4
/// with an overlong varint (`20 80 00`) decoded, and re-encoded as `20 00`. The
/// decoder now accepts protobuf messages only in canonical form.
#[test]
fn regression_non_canonical_protobuf_is_malformed() {
    assert_malformed(&[4, 0x20, 0x80, 0x00]);
    // The same for the other ways one message has several encodings.
    assert_malformed(&[3, 0x08, 0x00]); // a default value written out
    assert_malformed(&[3, 0x10, 0x01, 0x08, 0x01]); // fields out of order
    assert_malformed(&[3, 0x08, 0x01, 0x08, 0x02]); // a field repeated
    // One entry of 3 bytes: its index 5 as an overlong varint.
    assert_malformed(&[2, 1, 0, 0, 0, 3, 0, 0, 0, 0x18, 0x85, 0x00, 0]);
    assert!(decode_record(&frame(&[2, 1, 0, 0, 0, 2, 0, 0, 0, 0x18, 0x05, 0])).is_ok_and(|r| r.is_some()));
}

/// Found by the stable run of the checks: an entry whose `data` field claims 8 MiB
/// in a 15-byte record made protobuf reserve the 8 MiB before finding the bytes
/// missing. Parsing from a `Bytes` copy under a limit checks the length first.
#[test]
fn regression_entry_data_length_beyond_the_input_allocates_nothing() {
    assert_malformed(&[2, 1, 0, 0, 0, 5, 0, 0, 0, 0x22, 0x80, 0x80, 0x80, 0x04, 0]);
}

/// Likewise for an unknown `bytes` field claiming 64 MiB in a hard state (protobuf
/// reserved 10 MB of it up front).
#[test]
fn regression_unknown_bytes_field_length_beyond_the_input_allocates_nothing() {
    assert_malformed(&[3, 0x2a, 0x80, 0x80, 0x80, 0x20]);
}

/// A change to one input: what mutation-based fuzzers do most.
#[derive(Clone, Debug)]
enum Mutation {
    Set(prop::sample::Index, u8),
    FlipBit(prop::sample::Index, u8),
    Insert(prop::sample::Index, Vec<u8>),
    Remove(prop::sample::Index, usize),
    Truncate(prop::sample::Index),
}

fn arb_mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<prop::sample::Index>(), any::<u8>()).prop_map(|(at, b)| Mutation::Set(at, b)),
        (any::<prop::sample::Index>(), 0u8..8).prop_map(|(at, bit)| Mutation::FlipBit(at, bit)),
        (any::<prop::sample::Index>(), prop::collection::vec(any::<u8>(), 1..6))
            .prop_map(|(at, b)| Mutation::Insert(at, b)),
        (any::<prop::sample::Index>(), 1usize..6).prop_map(|(at, n)| Mutation::Remove(at, n)),
        any::<prop::sample::Index>().prop_map(Mutation::Truncate),
    ]
}

fn mutate(bytes: &mut Vec<u8>, mutation: &Mutation) {
    if bytes.is_empty() {
        return;
    }
    let len = bytes.len();
    match mutation {
        Mutation::Set(at, b) => bytes[at.index(len)] = *b,
        Mutation::FlipBit(at, bit) => bytes[at.index(len)] ^= 1 << bit,
        Mutation::Insert(at, new) => {
            let at = at.index(len + 1);
            bytes.splice(at..at, new.iter().copied());
        }
        Mutation::Remove(at, n) => {
            let at = at.index(len);
            bytes.drain(at..(at + n).min(len));
        }
        Mutation::Truncate(at) => bytes.truncate(at.index(len)),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn valid_records_pass(record in arb_record()) {
        let frame = encode(&record);
        check(&frame);
        check(&body(&frame));
    }

    #[test]
    fn mutated_records_pass(record in arb_record(), mutations in prop::collection::vec(arb_mutation(), 1..4)) {
        let frame = encode(&record);
        let (mut frame_mutant, mut body_mutant) = (frame.clone(), body(&frame));
        for mutation in &mutations {
            mutate(&mut frame_mutant, mutation);
            mutate(&mut body_mutant, mutation);
        }
        check(&frame_mutant);
        check(&body_mutant);
    }

    #[test]
    fn arbitrary_bytes_pass(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        check(&bytes);
    }

    #[test]
    fn arbitrary_payloads_of_each_type_pass(kind in 0u8..6, payload in prop::collection::vec(any::<u8>(), 0..256)) {
        let mut body = vec![kind];
        body.extend_from_slice(&payload);
        check(&body);
        check(&frame(&body));
    }
}
