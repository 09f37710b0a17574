//! What the Lock and Election services share: etcd's `clientv3/concurrency`
//! recipes (one key per lease under a prefix, ordered by create revision) run on
//! the member's own core rather than through a client to itself. Errors are
//! [`CoordinationError`]s, which reach clients as etcd's do (code Unknown).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use cairn_mvcc::{Backend, EventKind, KeyRange, WatchId};
use cairn_proto::cairnpb::internal_request::Request as Internal;
use cairn_proto::etcdserverpb::compare::{CompareResult, CompareTarget, TargetUnion};
use cairn_proto::etcdserverpb::range_request::{SortOrder, SortTarget};
use cairn_proto::etcdserverpb::request_op::Request as Op;
use cairn_proto::etcdserverpb::response_op::Response as OpResponse;
use cairn_proto::etcdserverpb::{
    Compare, DeleteRangeRequest, DeleteRangeResponse, LeaseGrantRequest, PutRequest, RangeRequest, RangeResponse,
    RequestOp, ResponseHeader, ResponseOp, TxnRequest, TxnResponse,
};
use cairn_proto::mvccpb;
use prost::Message;
use tokio::sync::mpsc;

use super::kv::check_quota;
use super::validate;
use crate::apply::Applied;
use crate::apply::range::range;
use crate::core::Core;
use crate::error::{CoordinationError, RequestError};

/// The TTL of the lease granted for a request without one (clientv3
/// `concurrency`'s default session TTL).
const SESSION_TTL: i64 = 60;

/// Watch responses buffered per waiter.
const WATCH_BUFFER: usize = 64;

type Result<T> = std::result::Result<T, CoordinationError>;

fn unexpected(applied: Applied) -> CoordinationError {
    RequestError::Internal(format!("unexpected apply result {applied:?}")).into()
}

/// `prefix` + the lease id as Go's `%x` prints it.
pub fn lease_key(prefix: &[u8], lease: i64) -> Vec<u8> {
    let hex = if lease < 0 { format!("-{:x}", lease.unsigned_abs()) } else { format!("{lease:x}") };
    [prefix, hex.as_bytes()].concat()
}

/// etcd's `name + "/"`.
pub fn prefix_of(name: &[u8]) -> Vec<u8> {
    [name, b"/"].concat()
}

/// The end of the range of keys starting with `prefix` (`"\0"`: no end).
pub fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    cairn_mvcc::prefix_end(prefix).map_or_else(|| vec![0], |end| end.to_vec())
}

/// A range of the key under `prefix` created first (`ascend`) or last, with
/// create revision at most `max_create` (0: any).
pub fn by_create(prefix: &[u8], ascend: bool, max_create: i64) -> RangeRequest {
    RangeRequest {
        key: prefix.to_vec(),
        range_end: prefix_end(prefix),
        limit: 1,
        sort_order: if ascend { SortOrder::Ascend } else { SortOrder::Descend } as i32,
        sort_target: SortTarget::Create as i32,
        max_create_revision: max_create,
        ..Default::default()
    }
}

/// A compare of `key`'s create revision with `revision`.
pub fn created_at(key: &[u8], revision: i64) -> Compare {
    Compare {
        result: CompareResult::Equal as i32,
        target: CompareTarget::Create as i32,
        key: key.to_vec(),
        target_union: Some(TargetUnion::CreateRevision(revision)),
        ..Default::default()
    }
}

/// Request ops, in order.
pub fn ops(ops: impl IntoIterator<Item = Op>) -> Vec<RequestOp> {
    ops.into_iter().map(|op| RequestOp { request: Some(op) }).collect()
}

/// A put of `key` with `value` on `lease`.
pub fn put(key: &[u8], value: &[u8], lease: i64) -> Op {
    Op::RequestPut(PutRequest { key: key.to_vec(), value: value.to_vec(), lease, ..Default::default() })
}

/// A read of `key`.
pub fn get(key: &[u8]) -> Op {
    Op::RequestRange(RangeRequest { key: key.to_vec(), ..Default::default() })
}

/// A delete of `key`.
pub fn delete(key: &[u8]) -> Op {
    Op::RequestDeleteRange(DeleteRangeRequest { key: key.to_vec(), ..Default::default() })
}

/// The key-values of the `i`th response of `response`, if it is a range.
pub fn range_kvs(response: &TxnResponse, i: usize) -> &[mvccpb::KeyValue] {
    match response.responses.get(i) {
        Some(ResponseOp { response: Some(OpResponse::ResponseRange(r)) }) => &r.kvs,
        _ => &[],
    }
}

/// `lease`, or a new lease of 60 s if it is 0 (as etcd's servers open a
/// `concurrency.Session` with the request's lease, which grants one for none).
pub async fn session_lease<B: Backend>(core: &Core<B>, lease: i64) -> Result<i64> {
    if lease != 0 {
        return Ok(lease);
    }
    check_quota(core, 16).await?;
    let request = LeaseGrantRequest { ttl: SESSION_TTL, id: core.ids.next_lease_id() };
    match core.propose(Internal::LeaseGrant(request)).await? {
        Applied::LeaseGrant(response) => Ok(response.id),
        other => Err(unexpected(other)),
    }
}

/// A txn proposed through raft, checked as the KV service checks one.
pub async fn txn<B: Backend>(core: &Core<B>, request: TxnRequest) -> Result<TxnResponse> {
    validate::txn(&request, core.state.limits.max_txn_ops)?;
    check_quota(core, request.encoded_len()).await?;
    match core.propose(Internal::Txn(request)).await? {
        Applied::Txn(mut response) => {
            core.fill(&mut response.header);
            Ok(response)
        }
        other => Err(unexpected(other)),
    }
}

/// A delete of `key` proposed through raft.
pub async fn delete_key<B: Backend>(core: &Core<B>, key: &[u8]) -> Result<DeleteRangeResponse> {
    let request = DeleteRangeRequest { key: key.to_vec(), ..Default::default() };
    validate::delete_range(&request)?;
    match core.propose(Internal::DeleteRange(request)).await? {
        Applied::DeleteRange(mut response) => {
            core.fill(&mut response.header);
            Ok(response)
        }
        other => Err(unexpected(other)),
    }
}

/// A linearizable read of `request`.
pub async fn read<B: Backend>(core: &Core<B>, request: &RangeRequest) -> Result<RangeResponse> {
    core.linearizable_read().await?;
    let store = &core.state.store;
    let mut response = range(request, store.current_revision(), |k, o| store.range(k, o))?;
    core.fill(&mut response.header);
    Ok(response)
}

/// Proposes `request` in the background when dropped while armed: the cleanup
/// etcd does when a client gives up waiting (the handler's future is dropped
/// on cancellation and on the client's deadline).
pub struct CleanupOnDrop<B: Backend> {
    core: Arc<Core<B>>,
    request: Option<TxnRequest>,
}

impl<B: Backend> CleanupOnDrop<B> {
    /// Arms a cleanup that proposes `request`.
    pub fn new(core: Arc<Core<B>>, request: TxnRequest) -> Self {
        CleanupOnDrop { core, request: Some(request) }
    }

    /// Runs nothing on drop.
    pub fn disarm(&mut self) {
        self.request = None;
    }
}

impl<B: Backend> Drop for CleanupOnDrop<B> {
    fn drop(&mut self) {
        let (Some(request), Ok(runtime)) = (self.request.take(), tokio::runtime::Handle::try_current()) else {
            return;
        };
        let core = self.core.clone();
        runtime.spawn(async move {
            if let Err(e) = core.propose(Internal::Txn(request)).await {
                tracing::warn!(error = %e, "cleaning up after an abandoned lock or campaign failed");
            }
        });
    }
}

/// A watcher on the store, cancelled when dropped.
pub struct StoreWatch<B: Backend> {
    core: Arc<Core<B>>,
    id: WatchId,
    events: mpsc::Receiver<cairn_mvcc::WatchResponse>,
}

impl<B: Backend> StoreWatch<B> {
    /// Watches `range` from revision `start`.
    pub fn new(core: Arc<Core<B>>, range: KeyRange, start: i64) -> Result<Self> {
        let (tx, events) = mpsc::channel(WATCH_BUFFER);
        let request = cairn_mvcc::WatchRequest { start_revision: start, ..cairn_mvcc::WatchRequest::new(range) };
        let id = core.state.store.watch(request, tx).map_err(RequestError::from)?.id;
        Ok(StoreWatch { core, id, events })
    }

    /// The next response with events; `None` once the watcher ended (cancelled
    /// for compaction, or the store stopped).
    pub async fn next(&mut self) -> Option<cairn_mvcc::WatchResponse> {
        loop {
            let response = self.events.recv().await?;
            if response.canceled {
                return None;
            }
            if !response.events.is_empty() {
                return Some(response);
            }
        }
    }
}

impl<B: Backend> Drop for StoreWatch<B> {
    fn drop(&mut self) {
        self.core.state.store.cancel(self.id);
    }
}

/// etcd's `waitDeletes`: waits until no key under `prefix` has a create
/// revision at most `max_create`; the header of the read that found none. With
/// `own` (a key and its create revision), fails with
/// [`CoordinationError::SessionExpired`] once that key is gone.
pub async fn wait_deletes<B: Backend>(
    core: &Arc<Core<B>>,
    prefix: &[u8],
    max_create: i64,
    own: Option<(&[u8], i64)>,
) -> Result<ResponseHeader> {
    let older = by_create(prefix, false, max_create);
    let mut watch: Option<StoreWatch<B>> = None;
    loop {
        let found = read(core, &older).await?;
        let revision = found.header.as_ref().map_or(0, |h| h.revision);
        if let Some((key, created)) = own {
            let mine = RangeRequest { key: key.to_vec(), revision, ..Default::default() };
            let store = &core.state.store;
            let mine = range(&mine, revision, |k, o| store.range(k, o))?;
            if !mine.kvs.iter().any(|kv| kv.create_revision == created) {
                return Err(CoordinationError::SessionExpired);
            }
        }
        if found.kvs.is_empty() {
            return Ok(found.header.unwrap_or_default());
        }
        let watching = match watch.take() {
            Some(watching) => watching,
            None => StoreWatch::new(core.clone(), KeyRange::prefix(Bytes::copy_from_slice(prefix)), revision + 1)?,
        };
        let current = watch.insert(watching);
        loop {
            let response = current.next().await.ok_or(CoordinationError::LostWatcher)?;
            if response.events.iter().any(|e| e.kind == EventKind::Delete) {
                break;
            }
        }
    }
}

/// The deadline a client sent in `grpc-timeout`, if any (tonic enforces it for
/// unary calls only, not for a response stream).
pub fn grpc_timeout(metadata: &tonic::metadata::MetadataMap) -> Option<Duration> {
    let value = metadata.get("grpc-timeout")?.to_str().ok()?;
    let (digits, unit) = value.split_at(value.len().checked_sub(1)?);
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n.saturating_mul(3600)),
        "M" => Duration::from_secs(n.saturating_mul(60)),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_etcds() {
        assert_eq!(lease_key(b"l/", 0x694d77aa3c2d3a0b), b"l/694d77aa3c2d3a0b");
        assert_eq!(lease_key(b"l/", -1), b"l/-1");
        assert_eq!(prefix_end(b"a/"), b"a0");
        assert_eq!(prefix_end(&[0xff]), [0]);
    }

    #[test]
    fn grpc_timeouts_parse() {
        let mut metadata = tonic::metadata::MetadataMap::new();
        assert_eq!(grpc_timeout(&metadata), None);
        metadata.insert("grpc-timeout", "300m".parse().expect("ascii"));
        assert_eq!(grpc_timeout(&metadata), Some(Duration::from_millis(300)));
        metadata.insert("grpc-timeout", "2S".parse().expect("ascii"));
        assert_eq!(grpc_timeout(&metadata), Some(Duration::from_secs(2)));
        metadata.insert("grpc-timeout", "x".parse().expect("ascii"));
        assert_eq!(grpc_timeout(&metadata), None);
    }
}
