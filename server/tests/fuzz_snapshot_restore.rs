//! The `snapshot_restore` fuzz target's checks (`server/fuzz/checks/snapshot_restore.rs`)
//! on stable, so CI holds a member's snapshot restore to them without nightly: over the
//! seed corpus in `server/fuzz/seeds/snapshot_restore` and over inputs proptest
//! generates. Inputs the fuzzer found are frozen below as named tests.
//!
//! `CAIRN_BLESS_SEEDS=1 cargo test -p cairn-server --test fuzz_snapshot_restore`
//! rewrites the generated seeds; otherwise they must be up to date.

#[path = "../fuzz/checks/member.rs"]
mod member;

#[path = "../fuzz/checks/snapshot_restore.rs"]
mod snapshot_restore;

use std::fs;
use std::path::PathBuf;

use proptest::prelude::*;
use snapshot_restore::check;

fn seeds_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz").join("seeds").join("snapshot_restore")
}

/// A `key` bucket record: `[tag 0][main][sub][flags][create][version][lease][key][value]`, from
/// `(main, sub, tombstone)` and `(create, version, lease)`.
fn kv(
    (main, sub, tombstone): (u8, u8, bool),
    (create, version, lease): (u8, u8, u8),
    key: &[u8],
    value: &[u8],
) -> Vec<u8> {
    let mut out = vec![0, main, sub, u8::from(tombstone), create, version, lease];
    out.push(u8::try_from(key.len()).expect("short key"));
    out.extend_from_slice(key);
    out.push(u8::try_from(value.len()).expect("short value"));
    out.extend_from_slice(value);
    out
}

/// A raw record: `[tag 1][bucket][key][value]`, the bucket an index into the target's list.
fn raw(bucket: u8, key: &[u8], value: &[u8]) -> Vec<u8> {
    let mut out = vec![1, bucket, u8::try_from(key.len()).expect("short key")];
    out.extend_from_slice(key);
    out.push(u8::try_from(value.len()).expect("short value"));
    out.extend_from_slice(value);
    out
}

/// A member's history (puts, an update, a delete, a lease), and a few damaged ones.
fn seeds() -> Vec<(&'static str, Vec<u8>)> {
    let history = [
        kv((2, 0, false), (2, 1, 0), b"a", b"1"),
        kv((3, 0, false), (2, 2, 0), b"a", b"2"),
        kv((4, 0, false), (4, 1, 7), b"b", b"leased"),
        kv((5, 0, true), (0, 0, 0), b"a", b""),
        raw(2, &7i64.to_be_bytes(), &60i64.to_be_bytes()),
        raw(1, b"scheduledCompactRev", &3i64.to_be_bytes()),
        raw(1, b"finishedCompactRev", &3i64.to_be_bytes()),
    ]
    .concat();
    vec![
        ("history", history),
        (
            "tombstone-first",
            [kv((2, 0, true), (0, 0, 0), b"a", b""), kv((3, 0, false), (3, 1, 0), b"a", b"x")].concat(),
        ),
        ("bad-revision-key", raw(0, b"not a revision", b"x")),
        ("bad-member", raw(3, &1u64.to_be_bytes(), b"\xff\xff")),
        ("bad-v2-node", raw(9, b"/a", b"\x00")),
        ("index-behind", raw(1, b"consistent_index", &1u64.to_be_bytes())),
        ("empty", Vec::new()),
    ]
}

#[test]
fn generated_seeds_are_up_to_date() {
    let dir = seeds_dir();
    let bless = std::env::var_os("CAIRN_BLESS_SEEDS").is_some_and(|v| v != "0");
    for (name, bytes) in seeds() {
        let path = dir.join(name);
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

/// The fuzzer's minimized corpus (`fuzz/corpus/snapshot_restore`, kept in the repository) passes too.
#[test]
fn the_fuzz_corpus_passes() {
    let dir = seeds_dir().parent().and_then(|d| d.parent()).expect("fuzz dir").join("corpus").join("snapshot_restore");
    // The corpus is committed: a missing or empty one is a failure, not a pass.
    let files = fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let mut count = 0;
    for file in files {
        count += 1;
        let path = file.expect("dir entry").path();
        check(&fs::read(&path).expect("read corpus file"));
    }
    assert!(count > 0, "{} is empty", dir.display());
}

fn arb_record() -> impl Strategy<Value = Vec<u8>> {
    let key = prop_oneof![Just(b"a".to_vec()), Just(b"b".to_vec()), prop::collection::vec(any::<u8>(), 0..3)];
    prop_oneof![
        (
            0u8..8,
            0u8..3,
            any::<bool>(),
            0u8..8,
            0u8..4,
            prop_oneof![Just(0u8), Just(7u8)],
            key.clone(),
            prop::collection::vec(any::<u8>(), 0..4)
        )
            .prop_map(|(main, sub, t, create, version, lease, key, value)| {
                kv((main, sub, t), (create, version, lease), &key, &value)
            }),
        (0u8..11, key, prop::collection::vec(any::<u8>(), 0..10))
            .prop_map(|(bucket, key, value)| raw(bucket, &key, &value)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn generated_snapshots_pass(records in prop::collection::vec(arb_record(), 0..10)) {
        check(&records.concat());
    }

    #[test]
    fn arbitrary_bytes_pass(bytes in prop::collection::vec(any::<u8>(), 0..128)) {
        check(&bytes);
    }
}
