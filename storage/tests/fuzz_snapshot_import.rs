//! The `snapshot_import` fuzz target's checks (`storage/fuzz/checks/snapshot_import.rs`)
//! on stable, so CI holds the snapshot reader to them without nightly: over the seed
//! corpus in `storage/fuzz/seeds/snapshot_import`, over snapshots proptest generates,
//! and over those snapshots mutated. Inputs the fuzzer found are frozen below as named
//! tests.
//!
//! `CAIRN_BLESS_SEEDS=1 cargo test -p cairn-storage --test fuzz_snapshot_import`
//! rewrites the generated seeds (after a format change); otherwise they must be up to
//! date.

#[path = "../fuzz/checks/snapshot_import.rs"]
mod snapshot_import;

use std::fs;
use std::path::PathBuf;

use cairn_storage::snapshot::{self, Record};
use cairn_storage::{Error, MAX_KEY_LEN};
use proptest::prelude::*;
use snapshot_import::{check, encode, measure, seal};

#[global_allocator]
static ALLOC: snapshot_import::CountingAlloc = snapshot_import::CountingAlloc;

fn seeds_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz").join("seeds").join("snapshot_import")
}

fn bucket(name: &str) -> Record {
    Record::Bucket(name.to_owned())
}

fn pair(key: &[u8], value: &[u8]) -> Record {
    Record::Pair(key.to_vec(), value.to_vec())
}

/// Snapshots of the shapes a member exports: etcd's buckets, revisions as keys, empty
/// values, the longest key, an empty bucket.
fn seeds() -> Vec<(String, Vec<u8>)> {
    let revision = |main: u64, sub: u64| [main.to_be_bytes(), sub.to_be_bytes()].concat();
    let member = encode(&[
        bucket("key"),
        pair(&revision(2, 0), b"\x0a\x03foo\x10\x02\x18\x02\x20\x01\x2a\x03bar"),
        pair(&revision(3, 0), b""),
        bucket("lease"),
        pair(&7i64.to_be_bytes(), &60i64.to_be_bytes()),
        bucket("meta"),
        pair(b"consistent_index", &42u64.to_be_bytes()),
        pair(b"scheduledCompactRev", &2i64.to_be_bytes()),
    ]);
    let long_key = encode(&[bucket("a"), pair(&[0xff; MAX_KEY_LEN], &[0; 300])]);
    let empty_bucket = encode(&[bucket("alarm"), bucket("members"), pair(b"\x01", b"{}")]);
    vec![
        ("empty-store".to_owned(), encode(&[])),
        ("member".to_owned(), member.clone()),
        ("long-key".to_owned(), long_key),
        ("empty-bucket".to_owned(), empty_bucket),
        ("truncated".to_owned(), member[..member.len() / 2].to_vec()),
        ("empty".to_owned(), Vec::new()),
    ]
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

/// The fuzzer's minimized corpus (`fuzz/corpus/snapshot_import`, kept in the repository) passes too.
#[test]
fn the_fuzz_corpus_passes() {
    let dir = seeds_dir().parent().and_then(|d| d.parent()).expect("fuzz dir").join("corpus").join("snapshot_import");
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

#[test]
fn the_encoder_of_the_checks_is_the_snapshot_writer() {
    // `check` compares with its own encoder: it must agree with what a store exports.
    use cairn_storage::{Backend, MemBackend, Options, WriteBatch};
    let dir = tempfile::tempdir().expect("temp dir");
    let store = MemBackend::open(dir.path(), &Options::default()).expect("open");
    let mut batch = WriteBatch::new();
    batch.put("key", vec![1], vec![2; 3]).expect("put");
    batch.put("key", vec![4], Vec::new()).expect("put");
    batch.put("meta", b"m".to_vec(), b"v".to_vec()).expect("put");
    store.commit(batch).expect("commit");
    let mut exported = Vec::new();
    store.export(&mut exported).expect("export");
    let records = [bucket("key"), pair(&[1], &[2; 3]), pair(&[4], b""), bucket("meta"), pair(b"m", b"v")];
    assert_eq!(encode(&records), exported);
}

/// Found by these checks (proptest-mutated snapshots) before the first libFuzzer run:
/// a short stream whose one value claims 512 MiB made the
/// reader allocate all of it before finding the stream short.
#[test]
fn regression_value_length_beyond_the_input_allocates_nothing() {
    let mut bytes = b"CAIRNSNP\0\0\0\x01\x01\0\x01k\x02\0\0\0\x01a".to_vec();
    bytes.extend_from_slice(&(512u32 << 20).to_be_bytes());
    bytes.extend_from_slice(b"short");
    let (read, peak) = measure(|| snapshot::read(&mut &bytes[..], &mut |_| Ok(())));
    assert!(matches!(read, Err(Error::CorruptSnapshot(_))), "{read:?}");
    assert!(peak < 1 << 20, "reading {} bytes held {peak} bytes allocated", bytes.len());
    check(&bytes);
}

fn arb_records() -> impl Strategy<Value = Vec<Record>> {
    let name = "[a-z]{1,8}";
    let pairs = prop::collection::btree_map(
        prop::collection::vec(any::<u8>(), 1..24),
        prop::collection::vec(any::<u8>(), 0..48),
        0..6,
    );
    prop::collection::btree_map(name, pairs, 0..5).prop_map(|buckets| {
        let mut records = Vec::new();
        for (name, pairs) in buckets {
            records.push(Record::Bucket(name));
            records.extend(pairs.into_iter().map(|(k, v)| Record::Pair(k, v)));
        }
        records
    })
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip { at: usize, bit: u8 },
    Truncate { at: usize },
    Insert { at: usize, byte: u8 },
    Remove { at: usize },
}

fn arb_mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 0u8..8).prop_map(|(at, bit)| Mutation::Flip { at, bit }),
        any::<usize>().prop_map(|at| Mutation::Truncate { at }),
        (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Insert { at, byte }),
        any::<usize>().prop_map(|at| Mutation::Remove { at }),
    ]
}

fn mutate(bytes: &mut Vec<u8>, mutation: &Mutation) {
    if bytes.is_empty() {
        return;
    }
    match *mutation {
        Mutation::Flip { at, bit } => {
            let at = at % bytes.len();
            bytes[at] ^= 1 << bit;
        }
        Mutation::Truncate { at } => bytes.truncate(at % bytes.len()),
        Mutation::Insert { at, byte } => {
            let at = at % (bytes.len() + 1);
            bytes.insert(at, byte);
        }
        Mutation::Remove { at } => {
            let at = at % bytes.len();
            bytes.remove(at);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn valid_snapshots_pass(records in arb_records()) {
        check(&encode(&records));
    }

    #[test]
    fn mutated_snapshots_pass(records in arb_records(), mutations in prop::collection::vec(arb_mutation(), 1..4)) {
        let mut bytes = encode(&records);
        for m in &mutations {
            mutate(&mut bytes, m);
        }
        check(&bytes);
        if let Some(sealed) = seal(&bytes) {
            check(&sealed);
        }
    }

    #[test]
    fn arbitrary_bytes_pass(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        check(&bytes);
    }
}
