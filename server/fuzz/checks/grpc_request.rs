//! The body of the `grpc_request` fuzz target, shared with the stable test
//! `server/tests/fuzz_grpc_request.rs`, so that CI checks the same properties without
//! nightly. It needs `member.rs` as the sibling module `member`.
//!
//! The input is a sequence of requests, each `[kind][len: u16 BE][protobuf]`, with
//! kind 0 Range, 1 Put, 2 DeleteRange, 3 Txn, 4 Compaction, 5 LeaseGrant and
//! 6 LeaseRevoke (mod 7), applied in order to a member that holds a few keys and a lease
//! (the same state for every input). For each, [`check`] asserts that:
//! - decoding, the services' checks and the mapping of their errors to a
//!   `tonic::Status` do not panic;
//! - a range that passed its checks is served from the store without a panic;
//! - a write that passed its checks applies without a state machine error, giving
//!   one output, and its error (if it has one) maps to a `Status`.

use cairn_proto::cairnpb::internal_request::Request;
use cairn_proto::etcdserverpb::{
    CompactionRequest, DeleteRangeRequest, LeaseGrantRequest, LeaseRevokeRequest, PutRequest, RangeRequest, TxnRequest,
};
use cairn_server::api::grpc::kv::check_message_size;
use cairn_server::api::grpc::validate;
use cairn_server::apply::range::range;
use cairn_server::error::RequestError;
use cairn_server::lease::MAX_LEASE_TTL;
use prost::Message;

use super::member::{LIMITS, Member};

/// Requests per input, at most.
pub const MAX_REQUESTS: usize = 16;
/// The lease the member starts with.
pub const LEASE: i64 = 7;

/// One request of an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `RangeRequest`.
    Range = 0,
    /// `PutRequest`.
    Put = 1,
    /// `DeleteRangeRequest`.
    DeleteRange = 2,
    /// `TxnRequest`.
    Txn = 3,
    /// `CompactionRequest`.
    Compaction = 4,
    /// `LeaseGrantRequest`.
    LeaseGrant = 5,
    /// `LeaseRevokeRequest`.
    LeaseRevoke = 6,
}

const KINDS: [Kind; 7] =
    [Kind::Range, Kind::Put, Kind::DeleteRange, Kind::Txn, Kind::Compaction, Kind::LeaseGrant, Kind::LeaseRevoke];

/// Appends one request to an input.
#[allow(dead_code, reason = "used by the stable test, not the fuzz target")]
pub fn push(input: &mut Vec<u8>, kind: Kind, message: &impl Message) {
    let bytes = message.encode_to_vec();
    input.push(kind as u8);
    input.extend_from_slice(&u16::try_from(bytes.len()).expect("a short message").to_be_bytes());
    input.extend_from_slice(&bytes);
}

/// Splits an input into requests (a short last one takes what is left).
pub fn requests(mut data: &[u8]) -> Vec<(Kind, &[u8])> {
    let mut out = Vec::new();
    while let Some((&kind, rest)) = data.split_first() {
        if out.len() == MAX_REQUESTS {
            break;
        }
        let len = match rest {
            [a, b, ..] => usize::from(u16::from_be_bytes([*a, *b])),
            _ => 0,
        };
        let body = rest.get(2..).unwrap_or_default();
        let len = len.min(body.len());
        out.push((KINDS[usize::from(kind) % KINDS.len()], &body[..len]));
        data = &body[len..];
    }
    out
}

fn status(e: RequestError) {
    let status = tonic::Status::from(e);
    let _ = status.message();
}

fn seeded() -> Member {
    let mut member = Member::new();
    let grant = LeaseGrantRequest { ttl: 60, id: LEASE };
    assert!(member.apply(Request::LeaseGrant(grant)).is_ok(), "grant the seed lease");
    for (key, value, lease) in [(&b"a"[..], &b"1"[..], 0), (b"b", b"2", LEASE), (b"b", b"3", 0), (b"c/d", b"", 0)] {
        let put = PutRequest { key: key.to_vec(), value: value.to_vec(), lease, ..Default::default() };
        assert!(member.apply(Request::Put(put)).is_ok(), "put a seed key");
    }
    member
}

thread_local! {
    /// The member inputs run against, and the snapshot of its seeded state.
    static MEMBER: std::cell::RefCell<Option<(Member, raft::eraftpb::Snapshot)>> = const { std::cell::RefCell::new(None) };
}

/// Runs `f` with the seeded member (a few keys and a lease), reset for each call.
fn with_seeded(f: impl FnOnce(&mut Member)) {
    MEMBER.with(|cell| {
        let mut cell = cell.borrow_mut();
        let (member, base) = cell.get_or_insert_with(|| {
            let member = seeded();
            let base = member.snapshot();
            (member, base)
        });
        member.reset(base);
        f(member);
    });
}

/// Checks every request of `data` against the seeded member.
pub fn check(data: &[u8]) {
    let requests = requests(data);
    if requests.is_empty() {
        return;
    }
    with_seeded(|member| run(member, requests));
}

fn run(member: &mut Member, requests: Vec<(Kind, &[u8])>) {
    for (kind, bytes) in requests {
        let request = match kind {
            Kind::Range => {
                let Ok(r) = RangeRequest::decode(bytes) else { continue };
                if let Err(e) = validate::range(&r) {
                    status(e);
                    continue;
                }
                let store = &member.state.store;
                if let Err(e) = range(&r, store.current_revision(), |k, o| store.range(k, o)) {
                    status(e);
                }
                continue;
            }
            Kind::Put => {
                let Ok(r) = PutRequest::decode(bytes) else { continue };
                if let Err(e) = validate::put(&r) {
                    status(e);
                    continue;
                }
                Request::Put(r)
            }
            Kind::DeleteRange => {
                let Ok(r) = DeleteRangeRequest::decode(bytes) else { continue };
                if let Err(e) = validate::delete_range(&r) {
                    status(e);
                    continue;
                }
                Request::DeleteRange(r)
            }
            Kind::Txn => {
                let Ok(r) = TxnRequest::decode(bytes) else { continue };
                if check_message_size(&r, LIMITS.max_request_bytes).is_err() {
                    continue;
                }
                if let Err(e) = validate::txn(&r, LIMITS.max_txn_ops) {
                    status(e);
                    continue;
                }
                let _ = (validate::is_read_only(&r), validate::is_serializable(&r));
                Request::Txn(r)
            }
            Kind::Compaction => {
                let Ok(r) = CompactionRequest::decode(bytes) else { continue };
                Request::Compaction(r)
            }
            Kind::LeaseGrant => {
                let Ok(mut r) = LeaseGrantRequest::decode(bytes) else { continue };
                if r.ttl > MAX_LEASE_TTL {
                    continue;
                }
                if r.id == 0 {
                    r.id = 1000 + i64::try_from(member.index).unwrap_or(0);
                }
                Request::LeaseGrant(r)
            }
            Kind::LeaseRevoke => {
                let Ok(r) = LeaseRevokeRequest::decode(bytes) else { continue };
                Request::LeaseRevoke(r)
            }
        };
        if let Err(e) = member.apply(request) {
            status(e);
        }
    }
}
