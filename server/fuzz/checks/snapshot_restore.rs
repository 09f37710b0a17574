//! The body of the `snapshot_restore` fuzz target, shared with the stable test
//! `server/tests/fuzz_snapshot_restore.rs`, so that CI checks the same properties
//! without nightly. It needs `member.rs` as the sibling module `member`.
//!
//! The snapshot's stream is well formed (its checksum is right: damage to the stream
//! itself is the `snapshot_import` target's), its contents arbitrary: the input is a
//! sequence of records `[tag][...]`, each one pair of the export:
//! - tag % 4 == 0: a `key` bucket pair made well: `[main u8][sub u8][flags u8]
//!   [create u8][version u8][lease u8][klen u8][key][vlen u8][value]`, a tombstone
//!   when `flags & 1`;
//! - otherwise: a raw pair `[bucket u8][klen u8][key][vlen u8][value]` in one of
//!   etcd's buckets (or an unknown one).
//!
//! The export always records a consistent index at the snapshot's (a raw `meta` pair
//! may override it). For any input, [`check`] asserts that restoring does not panic
//! (into a member emptied by restoring an empty export first), and that a member that accepted the snapshot answers a range of every key and
//! applies a put and a delete afterwards without a panic (an error is allowed:
//! the snapshot's data may be corrupt in ways only use finds).

use std::cell::RefCell;
use std::collections::BTreeMap;

use bytes::Bytes;
use cairn_mvcc::{KeyRange, KeyValue, RangeOptions, Revision};
use cairn_proto::cairnpb::internal_request::Request;
use cairn_proto::etcdserverpb::{DeleteRangeRequest, PutRequest};
use cairn_raft::StateMachine;
use raft::eraftpb::Snapshot;

use super::member::Member;

/// The snapshot's raft index.
pub const INDEX: u64 = 100;
/// Pairs per snapshot, at most.
pub const MAX_PAIRS: usize = 64;

const BUCKETS: [&str; 11] =
    ["key", "meta", "lease", "members", "members_removed", "alarm", "auth", "authUsers", "authRoles", "v2", "other"];

/// A little reader over the input.
struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }

    fn bytes(&mut self) -> Option<Vec<u8>> {
        let len = usize::from(self.byte()?).min(self.0.len());
        let (taken, rest) = self.0.split_at(len);
        self.0 = rest;
        Some(taken.to_vec())
    }
}

/// The pairs (bucket, key, value) an input describes.
pub fn pairs(data: &[u8]) -> Vec<(&'static str, Vec<u8>, Vec<u8>)> {
    let mut input = Input(data);
    let mut out = Vec::new();
    while out.len() < MAX_PAIRS {
        let Some(pair) = pair(&mut input) else { break };
        out.push(pair);
    }
    out
}

fn pair(input: &mut Input<'_>) -> Option<(&'static str, Vec<u8>, Vec<u8>)> {
    let tag = input.byte()?;
    if tag % 4 == 0 {
        let (main, sub, flags) = (input.byte()?, input.byte()?, input.byte()?);
        let (create, version, lease) = (input.byte()?, input.byte()?, input.byte()?);
        let key = input.bytes()?;
        let value = input.bytes()?;
        let kv = KeyValue {
            key: key.into(),
            create_revision: i64::from(create),
            mod_revision: i64::from(main),
            version: i64::from(version),
            value: value.into(),
            lease: i64::from(lease),
        };
        let revision = Revision::new(i64::from(main), i64::from(sub));
        Some(("key", revision.encode(flags & 1 != 0), kv.encode()))
    } else {
        let bucket = BUCKETS[usize::from(input.byte()?) % BUCKETS.len()];
        Some((bucket, input.bytes()?, input.bytes()?))
    }
}

/// The snapshot an input describes: the export of a store holding its pairs (a pair
/// a store cannot hold, with an empty key, is left out, as an export never has one).
pub fn snapshot(data: &[u8]) -> Snapshot {
    let mut store: BTreeMap<&str, BTreeMap<Vec<u8>, Vec<u8>>> = BTreeMap::new();
    store.entry("meta").or_default().insert(b"consistent_index".to_vec(), INDEX.to_be_bytes().to_vec());
    for (bucket, key, value) in pairs(data) {
        if !key.is_empty() {
            store.entry(bucket).or_default().insert(key, value);
        }
    }
    let mut snapshot = Snapshot::default();
    snapshot.mut_metadata().index = INDEX;
    snapshot.mut_metadata().term = 2;
    snapshot.set_data(export(&store).into());
    snapshot
}

/// cairn's snapshot stream of `store` (see `cairn_storage::snapshot`).
fn export(store: &BTreeMap<&str, BTreeMap<Vec<u8>, Vec<u8>>>) -> Vec<u8> {
    let mut out = b"CAIRNSNP".to_vec();
    out.extend_from_slice(&1u32.to_be_bytes());
    let mut pairs = 0u64;
    for (bucket, kvs) in store {
        out.push(1);
        out.extend_from_slice(&u16::try_from(bucket.len()).expect("a short name").to_be_bytes());
        out.extend_from_slice(bucket.as_bytes());
        for (key, value) in kvs {
            pairs += 1;
            out.push(2);
            out.extend_from_slice(&u32::try_from(key.len()).expect("a short key").to_be_bytes());
            out.extend_from_slice(key);
            out.extend_from_slice(&u32::try_from(value.len()).expect("a short value").to_be_bytes());
            out.extend_from_slice(value);
        }
    }
    out.push(0);
    out.extend_from_slice(&(store.len() as u64).to_be_bytes());
    out.extend_from_slice(&pairs.to_be_bytes());
    let crc = crc32c::crc32c(&out);
    out.extend_from_slice(&crc.to_be_bytes());
    out
}

thread_local! {
    /// The member snapshots are restored into, and a snapshot of it empty.
    static MEMBER: RefCell<Option<(Member, Snapshot)>> = const { RefCell::new(None) };
}

/// Restores the snapshot of `data` into an empty member, then uses the member.
pub fn check(data: &[u8]) {
    let snapshot = snapshot(data);
    MEMBER.with(|cell| {
        let mut cell = cell.borrow_mut();
        let (member, empty) = cell.get_or_insert_with(|| {
            let member = Member::new();
            let empty = member.snapshot();
            (member, empty)
        });
        member.reset(empty);
        use_restored(member, &snapshot);
    });
}

fn use_restored(member: &mut Member, snapshot: &Snapshot) {
    if member.applier.restore(snapshot).is_err() {
        return;
    }
    member.index = INDEX + 1;
    let store = &member.state.store;
    let all = KeyRange::From(Bytes::from_static(b"\0"));
    let _ = store.range(&all, RangeOptions::default());
    let _ = store.range(&all, RangeOptions { revision: store.compacted_revision().max(1), ..Default::default() });
    let put = PutRequest { key: b"a".to_vec(), value: b"after".to_vec(), ..Default::default() };
    let _ = member.try_apply(Request::Put(put));
    let delete = DeleteRangeRequest { key: b"\0".to_vec(), range_end: b"\0".to_vec(), ..Default::default() };
    let _ = member.try_apply(Request::DeleteRange(delete));
}
