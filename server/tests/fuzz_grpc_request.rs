//! The `grpc_request` fuzz target's checks (`server/fuzz/checks/grpc_request.rs`) on
//! stable, so CI holds the gRPC request checks and apply to them without nightly:
//! over the seed corpus in `server/fuzz/seeds/grpc_request` and over request
//! sequences proptest generates. Inputs the fuzzer found are frozen below as named
//! tests.
//!
//! `CAIRN_BLESS_SEEDS=1 cargo test -p cairn-server --test fuzz_grpc_request` rewrites
//! the generated seeds; otherwise they must be up to date.

#[path = "../fuzz/checks/member.rs"]
mod member;

#[path = "../fuzz/checks/grpc_request.rs"]
mod grpc_request;

use std::fs;
use std::path::PathBuf;

use cairn_proto::etcdserverpb::compare::{CompareResult, CompareTarget, TargetUnion};
use cairn_proto::etcdserverpb::request_op::Request as Op;
use cairn_proto::etcdserverpb::{
    CompactionRequest, Compare, DeleteRangeRequest, LeaseGrantRequest, LeaseRevokeRequest, PutRequest, RangeRequest,
    RequestOp, TxnRequest,
};
use grpc_request::{Kind, LEASE, check, push};
use proptest::prelude::*;

fn seeds_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz").join("seeds").join("grpc_request")
}

fn put(key: &[u8], value: &[u8]) -> PutRequest {
    PutRequest { key: key.to_vec(), value: value.to_vec(), ..Default::default() }
}

fn op(request: Op) -> RequestOp {
    RequestOp { request: Some(request) }
}

fn cas() -> TxnRequest {
    TxnRequest {
        compare: vec![Compare {
            result: CompareResult::Equal as i32,
            target: CompareTarget::Value as i32,
            key: b"a".to_vec(),
            target_union: Some(TargetUnion::Value(b"1".to_vec())),
            ..Default::default()
        }],
        success: vec![
            op(Op::RequestPut(put(b"a", b"2"))),
            op(Op::RequestRange(RangeRequest { key: b"a".to_vec(), ..Default::default() })),
        ],
        failure: vec![op(Op::RequestDeleteRange(DeleteRangeRequest {
            key: b"c".to_vec(),
            range_end: b"d".to_vec(),
            prev_kv: true,
        }))],
    }
}

/// One input per kind of request, and a few sequences like clients send.
fn seeds() -> Vec<(&'static str, Vec<u8>)> {
    let one = |kind, message: &dyn Fn(&mut Vec<u8>, Kind)| {
        let mut input = Vec::new();
        message(&mut input, kind);
        input
    };
    let range = RangeRequest {
        key: b"a".to_vec(),
        range_end: b"\0".to_vec(),
        limit: 2,
        sort_order: 2,
        sort_target: 3,
        min_mod_revision: 1,
        ..Default::default()
    };
    let mut sequence = Vec::new();
    push(&mut sequence, Kind::Put, &PutRequest { lease: LEASE, prev_kv: true, ..put(b"x", b"y") });
    push(&mut sequence, Kind::Txn, &cas());
    push(&mut sequence, Kind::Compaction, &CompactionRequest { revision: 4, physical: true });
    push(&mut sequence, Kind::Range, &RangeRequest { key: b"a".to_vec(), revision: 3, ..Default::default() });
    push(&mut sequence, Kind::LeaseRevoke, &LeaseRevokeRequest { id: LEASE });
    push(
        &mut sequence,
        Kind::Range,
        &RangeRequest { key: b"\0".to_vec(), range_end: b"\0".to_vec(), ..Default::default() },
    );
    let nested = TxnRequest {
        success: vec![op(Op::RequestTxn(cas())), op(Op::RequestPut(put(b"z", b"")))],
        ..Default::default()
    };
    vec![
        ("range", one(Kind::Range, &|i, k| push(i, k, &range))),
        ("put", one(Kind::Put, &|i, k| push(i, k, &put(b"k", b"v")))),
        ("put-ignore-value", one(Kind::Put, &|i, k| push(i, k, &PutRequest { ignore_value: true, ..put(b"a", b"") }))),
        (
            "delete-prefix",
            one(Kind::DeleteRange, &|i, k| {
                push(i, k, &DeleteRangeRequest { key: b"c".to_vec(), range_end: b"d".to_vec(), prev_kv: true })
            }),
        ),
        ("txn-cas", one(Kind::Txn, &|i, k| push(i, k, &cas()))),
        ("txn-nested", one(Kind::Txn, &|i, k| push(i, k, &nested))),
        ("compaction", one(Kind::Compaction, &|i, k| push(i, k, &CompactionRequest { revision: 3, physical: false }))),
        ("lease-grant", one(Kind::LeaseGrant, &|i, k| push(i, k, &LeaseGrantRequest { ttl: 10, id: 0 }))),
        ("sequence", sequence),
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

/// The fuzzer's minimized corpus (`fuzz/corpus/grpc_request`, kept in the repository) passes too.
#[test]
fn the_fuzz_corpus_passes() {
    let dir = seeds_dir().parent().and_then(|d| d.parent()).expect("fuzz dir").join("corpus").join("grpc_request");
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

fn arb_key() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(b"a".to_vec()),
        Just(b"b".to_vec()),
        Just(b"c/d".to_vec()),
        Just(vec![0]),
        Just(Vec::new()),
        prop::collection::vec(any::<u8>(), 0..4)
    ]
}

fn arb_put() -> impl Strategy<Value = PutRequest> {
    (
        arb_key(),
        prop::collection::vec(any::<u8>(), 0..8),
        prop_oneof![Just(0i64), Just(LEASE), any::<i64>()],
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(key, value, lease, prev_kv, ignore_value, ignore_lease)| PutRequest {
            key,
            value,
            lease,
            prev_kv,
            ignore_value,
            ignore_lease,
        })
}

fn arb_range() -> impl Strategy<Value = RangeRequest> {
    (arb_key(), arb_key(), -2i64..4, -1i64..8, -1i32..4, -1i32..6, any::<bool>(), any::<bool>(), -1i64..6, -1i64..6)
        .prop_map(
            |(key, range_end, limit, revision, sort_order, sort_target, keys_only, count_only, min_mod, max_create)| {
                RangeRequest {
                    key,
                    range_end,
                    limit,
                    revision,
                    sort_order,
                    sort_target,
                    keys_only,
                    count_only,
                    min_mod_revision: min_mod,
                    max_create_revision: max_create,
                    ..Default::default()
                }
            },
        )
}

fn arb_compare() -> impl Strategy<Value = Compare> {
    (arb_key(), arb_key(), -1i32..5, -1i32..6, any::<i64>(), prop::collection::vec(any::<u8>(), 0..3), 0u8..5).prop_map(
        |(key, range_end, result, target, n, value, union)| Compare {
            result,
            target,
            key,
            range_end,
            target_union: match union {
                0 => Some(TargetUnion::Version(n)),
                1 => Some(TargetUnion::CreateRevision(n)),
                2 => Some(TargetUnion::ModRevision(n)),
                3 => Some(TargetUnion::Value(value)),
                _ => Some(TargetUnion::Lease(n)),
            },
        },
    )
}

fn arb_op() -> impl Strategy<Value = RequestOp> {
    let leaf = prop_oneof![
        arb_put().prop_map(|p| op(Op::RequestPut(p))),
        arb_range().prop_map(|r| op(Op::RequestRange(r))),
        (arb_key(), arb_key(), any::<bool>()).prop_map(|(key, range_end, prev_kv)| op(Op::RequestDeleteRange(
            DeleteRangeRequest { key, range_end, prev_kv }
        ))),
        Just(RequestOp { request: None }),
    ];
    leaf.prop_recursive(2, 12, 3, |inner| {
        (
            prop::collection::vec(arb_compare(), 0..2),
            prop::collection::vec(inner.clone(), 0..3),
            prop::collection::vec(inner, 0..3),
        )
            .prop_map(|(compare, success, failure)| op(Op::RequestTxn(TxnRequest { compare, success, failure })))
    })
}

fn arb_request(input: &mut Vec<u8>) -> impl Strategy<Value = Vec<u8>> + use<> {
    let _ = input;
    let txn = (
        prop::collection::vec(arb_compare(), 0..3),
        prop::collection::vec(arb_op(), 0..4),
        prop::collection::vec(arb_op(), 0..4),
    )
        .prop_map(|(compare, success, failure)| TxnRequest { compare, success, failure });
    prop_oneof![
        arb_range().prop_map(|r| {
            let mut i = Vec::new();
            push(&mut i, Kind::Range, &r);
            i
        }),
        arb_put().prop_map(|r| {
            let mut i = Vec::new();
            push(&mut i, Kind::Put, &r);
            i
        }),
        txn.prop_map(|r| {
            let mut i = Vec::new();
            push(&mut i, Kind::Txn, &r);
            i
        }),
        (arb_key(), arb_key()).prop_map(|(key, range_end)| {
            let mut i = Vec::new();
            push(&mut i, Kind::DeleteRange, &DeleteRangeRequest { key, range_end, prev_kv: true });
            i
        }),
        (-1i64..12, any::<bool>()).prop_map(|(revision, physical)| {
            let mut i = Vec::new();
            push(&mut i, Kind::Compaction, &CompactionRequest { revision, physical });
            i
        }),
        (-5i64..20, prop_oneof![Just(0i64), Just(LEASE), any::<i64>()]).prop_map(|(ttl, id)| {
            let mut i = Vec::new();
            push(&mut i, Kind::LeaseGrant, &LeaseGrantRequest { ttl, id });
            i
        }),
        prop_oneof![Just(LEASE), any::<i64>()].prop_map(|id| {
            let mut i = Vec::new();
            push(&mut i, Kind::LeaseRevoke, &LeaseRevokeRequest { id });
            i
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn generated_request_sequences_pass(requests in prop::collection::vec(arb_request(&mut Vec::new()), 1..6)) {
        check(&requests.concat());
    }

    #[test]
    fn arbitrary_bytes_pass(bytes in prop::collection::vec(any::<u8>(), 0..96)) {
        check(&bytes);
    }
}
