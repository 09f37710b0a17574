//! Puts, deletes and txns applied inside one MVCC write transaction.
//!
//! Every request is checked completely before it writes anything (leases exist,
//! keys to keep a value or lease of exist, read revisions are in history), so a
//! request either applies whole or fails with nothing written.

use bytes::Bytes;
use cairn_mvcc::{Backend, PutOptions, RangeOptions, WriteTxn};
use cairn_proto::etcdserverpb::request_op::Request;
use cairn_proto::etcdserverpb::response_op::Response;
use cairn_proto::etcdserverpb::{
    DeleteRangeRequest, DeleteRangeResponse, PutRequest, PutResponse, RequestOp, ResponseHeader, ResponseOp,
    TxnRequest, TxnResponse,
};

use super::compare;
use super::range::{key_range, range, to_pb};
use crate::error::{ApplyError, RequestError};
use crate::lease::{LeaseError, Lessor};

/// What the checks need to know beside the transaction.
pub struct Context<'l> {
    /// The leases.
    pub lessor: &'l mut Lessor,
    /// The compacted revision.
    pub compacted: i64,
}

fn header(revision: i64) -> Option<ResponseHeader> {
    Some(ResponseHeader { revision, ..Default::default() })
}

/// Whether the compares of `txn` hold now.
fn compares_hold<B: Backend>(txn: &WriteTxn<'_, '_, B>, request: &TxnRequest) -> Result<bool, RequestError> {
    for c in &request.compare {
        let found = txn.range(&key_range(&c.key, &c.range_end), RangeOptions::default())?;
        if !compare::holds(c, &found.kvs) {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Checks a put against the current state.
fn check_put<B: Backend>(txn: &WriteTxn<'_, '_, B>, lessor: &Lessor, put: &PutRequest) -> Result<(), RequestError> {
    if put.lease != 0 && !lessor.contains(put.lease) {
        return Err(LeaseError::NotFound.into());
    }
    if put.ignore_value || put.ignore_lease {
        let found = txn.range(&key_range(&put.key, &[]), RangeOptions { count_only: true, ..Default::default() })?;
        if found.count == 0 {
            return Err(RequestError::KeyNotFound);
        }
    }
    Ok(())
}

/// Checks the ops a txn will run (its chosen branch, recursively).
fn check_ops<B: Backend>(txn: &WriteTxn<'_, '_, B>, ctx: &Context<'_>, ops: &[RequestOp]) -> Result<(), RequestError> {
    let current = txn.revision() - 1;
    for op in ops {
        match &op.request {
            Some(Request::RequestRange(r)) => {
                if r.revision > current {
                    return Err(RequestError::FutureRevision);
                }
                if r.revision > 0 && r.revision < ctx.compacted {
                    return Err(RequestError::Compacted);
                }
            }
            Some(Request::RequestPut(p)) => check_put(txn, ctx.lessor, p)?,
            Some(Request::RequestDeleteRange(_)) | None => {}
            Some(Request::RequestTxn(t)) => {
                let branch = if compares_hold(txn, t)? { &t.success } else { &t.failure };
                check_ops(txn, ctx, branch)?;
            }
        }
    }
    Ok(())
}

fn fatal(e: cairn_mvcc::Error) -> ApplyError {
    ApplyError::Store(e)
}

fn do_put<B: Backend>(
    txn: &mut WriteTxn<'_, '_, B>,
    lessor: &mut Lessor,
    put: &PutRequest,
) -> Result<PutResponse, ApplyError> {
    let key = Bytes::from(put.key.clone());
    let options = PutOptions { prev_kv: put.prev_kv, ignore_value: put.ignore_value, ignore_lease: put.ignore_lease };
    let prev = txn.put(key.clone(), Bytes::from(put.value.clone()), put.lease, options).map_err(fatal)?;
    if !put.ignore_lease {
        if lessor.lease_of(&key) != Some(put.lease) {
            lessor.detach(&key);
        }
        if put.lease != 0 {
            // Checked before: the lease exists.
            let _ = lessor.attach(put.lease, key);
        }
    }
    Ok(PutResponse { header: header(txn.revision()), prev_kv: prev.map(to_pb) })
}

fn do_delete<B: Backend>(
    txn: &mut WriteTxn<'_, '_, B>,
    lessor: &mut Lessor,
    delete: &DeleteRangeRequest,
) -> Result<DeleteRangeResponse, ApplyError> {
    let range = key_range(&delete.key, &delete.range_end);
    // The deleted keys' leases must forget them; their lease is in the old values.
    let need_prev = delete.prev_kv || lessor.has_attached_keys();
    let deleted = txn.delete_range(&range, need_prev).map_err(fatal)?;
    for kv in &deleted.prev_kvs {
        if kv.lease != 0 {
            lessor.detach(&kv.key);
        }
    }
    let revision = txn.current_revision();
    Ok(DeleteRangeResponse {
        header: header(revision),
        deleted: deleted.count as i64,
        prev_kvs: if delete.prev_kv { deleted.prev_kvs.into_iter().map(to_pb).collect() } else { Vec::new() },
    })
}

fn run_ops<B: Backend>(
    txn: &mut WriteTxn<'_, '_, B>,
    lessor: &mut Lessor,
    ops: &[RequestOp],
) -> Result<Vec<ResponseOp>, ApplyError> {
    let mut responses = Vec::with_capacity(ops.len());
    for op in ops {
        let response = match &op.request {
            Some(Request::RequestRange(r)) => {
                let found = range(r, txn.current_revision(), |range, options| txn.range(range, options))
                    .map_err(|e| ApplyError::Corrupt(format!("checked range failed: {e}")))?;
                Some(Response::ResponseRange(found))
            }
            Some(Request::RequestPut(p)) => Some(Response::ResponsePut(do_put(txn, lessor, p)?)),
            Some(Request::RequestDeleteRange(d)) => Some(Response::ResponseDeleteRange(do_delete(txn, lessor, d)?)),
            Some(Request::RequestTxn(t)) => Some(Response::ResponseTxn(do_txn(txn, lessor, t)?)),
            None => None,
        };
        responses.push(ResponseOp { response });
    }
    Ok(responses)
}

fn do_txn<B: Backend>(
    txn: &mut WriteTxn<'_, '_, B>,
    lessor: &mut Lessor,
    request: &TxnRequest,
) -> Result<TxnResponse, ApplyError> {
    let succeeded = compares_hold(txn, request).map_err(|e| ApplyError::Corrupt(format!("compare failed: {e}")))?;
    let branch = if succeeded { &request.success } else { &request.failure };
    let responses = run_ops(txn, lessor, branch)?;
    Ok(TxnResponse { header: header(0), succeeded, responses })
}

/// Applies a put: checks, then writes.
pub fn put<B: Backend>(
    txn: &mut WriteTxn<'_, '_, B>,
    ctx: &mut Context<'_>,
    request: &PutRequest,
) -> Result<Result<PutResponse, RequestError>, ApplyError> {
    if let Err(e) = check_put(txn, ctx.lessor, request) {
        return Ok(Err(e));
    }
    do_put(txn, ctx.lessor, request).map(Ok)
}

/// Applies a delete-range.
pub fn delete_range<B: Backend>(
    txn: &mut WriteTxn<'_, '_, B>,
    ctx: &mut Context<'_>,
    request: &DeleteRangeRequest,
) -> Result<DeleteRangeResponse, ApplyError> {
    do_delete(txn, ctx.lessor, request)
}

/// Applies a txn: compares, checks the chosen branch, then runs it. The
/// response header's revision is the txn's (or the current one if it wrote
/// nothing); the caller sets it from [`WriteTxn::end`].
pub fn txn<B: Backend>(
    txn: &mut WriteTxn<'_, '_, B>,
    ctx: &mut Context<'_>,
    request: &TxnRequest,
) -> Result<Result<TxnResponse, RequestError>, ApplyError> {
    let checked = compares_hold(txn, request).and_then(|succeeded| {
        let branch = if succeeded { &request.success } else { &request.failure };
        check_ops(txn, ctx, branch)
    });
    if let Err(e) = checked {
        return Ok(Err(e));
    }
    do_txn(txn, ctx.lessor, request).map(Ok)
}
