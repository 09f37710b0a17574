//! `etcdserverpb.KV`: Range, Put, DeleteRange, Txn, Compact.

use std::sync::Arc;

use cairn_mvcc::Backend;
use cairn_proto::cairnpb::internal_request::Request as Internal;
use cairn_proto::etcdserverpb::alarm_request::AlarmAction;
use cairn_proto::etcdserverpb::kv_server::Kv;
use cairn_proto::etcdserverpb::request_op::Request as Op;
use cairn_proto::etcdserverpb::response_op::Response as OpResponse;
use cairn_proto::etcdserverpb::{
    AlarmRequest, AlarmType, CompactionRequest, CompactionResponse, DeleteRangeRequest, DeleteRangeResponse,
    PutRequest, PutResponse, RangeRequest, RangeResponse, RequestOp, ResponseOp, TxnRequest, TxnResponse,
};
use prost::Message;
use tonic::{Request, Response, Status};

use super::{authz, validate};
use crate::apply::range::{key_range, range};
use crate::apply::{Applied, compare};
use crate::core::Core;
use crate::error::RequestError;

/// The KV service of a member.
pub struct KvService<B: Backend> {
    core: Arc<Core<B>>,
}

impl<B: Backend> KvService<B> {
    /// The service over `core`.
    pub fn new(core: Arc<Core<B>>) -> Self {
        KvService { core }
    }
}

fn unexpected(applied: Applied) -> Status {
    Status::internal(format!("etcdserver: unexpected apply result {applied:?}"))
}

/// Refuses a message larger than the gRPC limit (`--max-request-bytes` plus
/// etcd's 512 KiB overhead) with grpc-go's status, as etcd's server does. tonic
/// itself only refuses messages far beyond it (4x), which protects memory.
pub fn check_message_size(message: &impl Message, max_request_bytes: usize) -> Result<(), Status> {
    let len = message.encoded_len();
    let max = max_request_bytes + crate::core::GRPC_OVERHEAD_BYTES;
    if len > max {
        return Err(Status::resource_exhausted(format!("grpc: received message larger than max ({len} vs. {max})")));
    }
    Ok(())
}

/// Refuses a write that would take the backend past its quota, raising the
/// NOSPACE alarm as etcd does.
pub async fn check_quota<B: Backend>(core: &Core<B>, cost: usize) -> Result<(), RequestError> {
    if core.state.no_space() {
        return Err(RequestError::NoSpace);
    }
    let used = core.state.db_size();
    if used + cost as u64 <= core.state.limits.quota_bytes {
        return Ok(());
    }
    let alarm = AlarmRequest {
        action: AlarmAction::Activate as i32,
        member_id: core.member_id,
        alarm: AlarmType::Nospace as i32,
    };
    let _ = core.propose(Internal::Alarm(alarm)).await;
    Err(RequestError::NoSpace)
}

/// Serves a txn that writes nothing from the local store.
fn read_only_txn<B: Backend>(core: &Core<B>, request: &TxnRequest) -> Result<TxnResponse, RequestError> {
    let store = &core.state.store;
    // One revision for the whole txn, as if it ran at one point.
    let revision = store.current_revision();
    let at = |mut r: RangeRequest| {
        if r.revision <= 0 {
            r.revision = revision;
        }
        r
    };
    let mut succeeded = true;
    for c in &request.compare {
        let found = store
            .range(&key_range(&c.key, &c.range_end), cairn_mvcc::RangeOptions { revision, ..Default::default() })?;
        if !compare::holds(c, &found.kvs) {
            succeeded = false;
            break;
        }
    }
    let branch = if succeeded { &request.success } else { &request.failure };
    let mut responses = Vec::with_capacity(branch.len());
    for RequestOp { request } in branch {
        let response = match request {
            Some(Op::RequestRange(r)) => {
                Some(OpResponse::ResponseRange(range(&at(r.clone()), revision, |k, o| store.range(k, o))?))
            }
            Some(Op::RequestTxn(t)) => Some(OpResponse::ResponseTxn(read_only_txn(core, t)?)),
            _ => None,
        };
        responses.push(ResponseOp { response });
    }
    Ok(TxnResponse { header: Some(core.header(revision)), succeeded, responses })
}

#[tonic::async_trait]
impl<B: Backend> Kv for KvService<B> {
    async fn range(&self, request: Request<RangeRequest>) -> Result<Response<RangeResponse>, Status> {
        let caller = authz::caller(&self.core, request.metadata())?;
        let request = request.into_inner();
        validate::range(&request)?;
        authz::range(&self.core, &caller, &request)?;
        if !request.serializable {
            self.core.linearizable_read().await?;
        }
        let store = &self.core.state.store;
        let current = store.current_revision();
        let mut response = range(&request, current, |k, o| store.range(k, o))?;
        self.core.fill(&mut response.header);
        Ok(Response::new(response))
    }

    async fn put(&self, request: Request<PutRequest>) -> Result<Response<PutResponse>, Status> {
        let caller = authz::caller(&self.core, request.metadata())?;
        let request = request.into_inner();
        check_message_size(&request, self.core.state.limits.max_request_bytes)?;
        validate::put(&request)?;
        authz::put(&self.core, &caller, &request)?;
        check_quota(&self.core, request.encoded_len()).await?;
        match self.core.propose_as(Internal::Put(request), &caller).await? {
            Applied::Put(mut response) => {
                self.core.fill(&mut response.header);
                Ok(Response::new(response))
            }
            other => Err(unexpected(other)),
        }
    }

    async fn delete_range(
        &self,
        request: Request<DeleteRangeRequest>,
    ) -> Result<Response<DeleteRangeResponse>, Status> {
        let caller = authz::caller(&self.core, request.metadata())?;
        let request = request.into_inner();
        validate::delete_range(&request)?;
        authz::delete_range(&self.core, &caller, &request)?;
        match self.core.propose_as(Internal::DeleteRange(request), &caller).await? {
            Applied::DeleteRange(mut response) => {
                self.core.fill(&mut response.header);
                Ok(Response::new(response))
            }
            other => Err(unexpected(other)),
        }
    }

    async fn txn(&self, request: Request<TxnRequest>) -> Result<Response<TxnResponse>, Status> {
        let caller = authz::caller(&self.core, request.metadata())?;
        let request = request.into_inner();
        check_message_size(&request, self.core.state.limits.max_request_bytes)?;
        validate::txn(&request, self.core.state.limits.max_txn_ops)?;
        authz::txn(&self.core, &caller, &request)?;
        if validate::is_read_only(&request) {
            if !validate::is_serializable(&request) {
                self.core.linearizable_read().await?;
            }
            return Ok(Response::new(read_only_txn(&self.core, &request)?));
        }
        check_quota(&self.core, request.encoded_len()).await?;
        match self.core.propose_as(Internal::Txn(request), &caller).await? {
            Applied::Txn(mut response) => {
                self.core.fill(&mut response.header);
                Ok(Response::new(response))
            }
            other => Err(unexpected(other)),
        }
    }

    async fn compact(&self, request: Request<CompactionRequest>) -> Result<Response<CompactionResponse>, Status> {
        // As etcd, any authenticated user may compact.
        let caller = authz::caller(&self.core, request.metadata())?;
        let request = request.into_inner();
        let physical = request.physical;
        match self.core.propose_as(Internal::Compaction(request), &caller).await? {
            Applied::Compaction(mut response, done) => {
                if physical {
                    let _ = done.await;
                }
                self.core.fill(&mut response.header);
                Ok(Response::new(response))
            }
            other => Err(unexpected(other)),
        }
    }
}
