//! The `v2_request` fuzz target's checks (`server/fuzz/checks/v2_request.rs`) on
//! stable, so CI holds the v2 request parser to them without nightly: over the seed
//! corpus in `server/fuzz/seeds/v2_request` and over requests proptest generates.
//! Inputs the fuzzer found are frozen below as named tests.
//!
//! `CAIRN_BLESS_SEEDS=1 cargo test -p cairn-server --test fuzz_v2_request` rewrites
//! the generated seeds; otherwise they must be up to date.

#[path = "../fuzz/checks/v2_request.rs"]
mod v2_request;

use std::fs;
use std::path::PathBuf;

use proptest::prelude::*;
use v2_request::{check, input};

const GET: u8 = 0;
const PUT: u8 = 1;
const POST: u8 = 2;
const DELETE: u8 = 3;

fn seeds_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz").join("seeds").join("v2_request")
}

/// Requests etcdctl 2 and the v2 tests send, and a few of etcd's errors.
fn seeds() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("get-recursive-sorted", input(GET, false, "/dir", Some("recursive=true&sorted=true&quorum=true"), b"")),
        ("put-form-ttl", input(PUT, true, "/dir/key", None, b"value=bar&ttl=5")),
        ("post-in-order", input(POST, true, "/queue", None, b"value=job")),
        ("delete-dir-recursive", input(DELETE, false, "/dir", Some("dir=true&recursive=true"), b"")),
        ("put-create", input(PUT, true, "/k", Some("prevExist=false"), b"value=v")),
        ("put-refresh", input(PUT, true, "/a", Some("refresh=true&ttl=10&prevExist=true"), b"")),
        ("get-wait", input(GET, false, "/a", Some("wait=true&waitIndex=3&stream=true"), b"")),
        ("put-cas-escaped", input(PUT, true, "/%2Fa%20b/../a", Some("prevValue=1&prevIndex=2"), b"value=x+y%21")),
        ("delete-cad", input(DELETE, false, "/a", Some("prevValue=1"), b"")),
        ("put-dir", input(PUT, false, "/newdir", Some("dir=true"), b"")),
        ("bad-ttl", input(PUT, false, "/k", Some("ttl=abc"), b"")),
        ("bad-escape", input(GET, false, "/k", Some("a=%zz"), b"")),
        ("semicolon", input(GET, false, "/k", Some("a=1;b=2"), b"")),
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

/// The fuzzer's minimized corpus (`fuzz/corpus/v2_request`, kept in the repository) passes too.
#[test]
fn the_fuzz_corpus_passes() {
    let dir = seeds_dir().parent().and_then(|d| d.parent()).expect("fuzz dir").join("corpus").join("v2_request");
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

fn arb_path() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            "[a-z]{1,3}",
            Just("..".to_owned()),
            Just(".".to_owned()),
            Just("".to_owned()),
            Just("%2F".to_owned()),
            Just("_hidden".to_owned())
        ],
        0..5,
    )
    .prop_map(|parts| format!("/{}", parts.join("/")))
}

fn arb_query() -> impl Strategy<Value = String> {
    let field = prop_oneof![
        Just("value"),
        Just("ttl"),
        Just("dir"),
        Just("prevValue"),
        Just("prevIndex"),
        Just("prevExist"),
        Just("recursive"),
        Just("sorted"),
        Just("wait"),
        Just("waitIndex"),
        Just("refresh"),
        Just("quorum"),
        Just("stream"),
        Just("noValueOnSuccess"),
    ];
    let value = prop_oneof![
        Just("true".to_owned()),
        Just("false".to_owned()),
        Just("".to_owned()),
        "[0-9]{1,3}",
        "[a-z%+]{0,4}"
    ];
    prop::collection::vec((field, value), 0..5)
        .prop_map(|pairs| pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&"))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn generated_requests_pass(
        method in 0u8..6,
        form in any::<bool>(),
        path in arb_path(),
        query in prop::option::of(arb_query()),
        body in arb_query(),
    ) {
        check(&input(method, form, &path, query.as_deref(), body.as_bytes()));
    }

    #[test]
    fn arbitrary_bytes_pass(bytes in prop::collection::vec(any::<u8>(), 0..128)) {
        check(&bytes);
    }
}
