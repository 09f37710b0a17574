//! Checks etcd makes on a request before it is proposed, with its errors.

use std::collections::HashSet;

use cairn_mvcc::KeyRange;
use cairn_proto::etcdserverpb::request_op::Request;
use cairn_proto::etcdserverpb::{DeleteRangeRequest, PutRequest, RangeRequest, RequestOp, TxnRequest};

use crate::apply::range::key_range;
use crate::error::RequestError;

/// A range needs a key.
pub fn range(r: &RangeRequest) -> Result<(), RequestError> {
    if r.key.is_empty() { Err(RequestError::EmptyKey) } else { Ok(()) }
}

/// A put needs a key, and no value or lease it says it keeps.
pub fn put(r: &PutRequest) -> Result<(), RequestError> {
    if r.key.is_empty() {
        return Err(RequestError::EmptyKey);
    }
    if r.ignore_value && !r.value.is_empty() {
        return Err(RequestError::ValueProvided);
    }
    if r.ignore_lease && r.lease != 0 {
        return Err(RequestError::LeaseProvided);
    }
    Ok(())
}

/// A delete needs a key.
pub fn delete_range(r: &DeleteRangeRequest) -> Result<(), RequestError> {
    if r.key.is_empty() { Err(RequestError::EmptyKey) } else { Ok(()) }
}

/// A txn: at most `max_ops` compares and ops per branch, every op valid, and no
/// key written twice in one branch.
pub fn txn(r: &TxnRequest, max_ops: usize) -> Result<(), RequestError> {
    shape(r, max_ops)?;
    intervals(&r.success)?;
    intervals(&r.failure)?;
    Ok(())
}

fn shape(r: &TxnRequest, max_ops: usize) -> Result<(), RequestError> {
    let ops = r.compare.len().max(r.success.len()).max(r.failure.len());
    if ops > max_ops {
        return Err(RequestError::TooManyOps);
    }
    if r.compare.iter().any(|c| c.key.is_empty()) {
        return Err(RequestError::EmptyKey);
    }
    for op in r.success.iter().chain(&r.failure) {
        match &op.request {
            Some(Request::RequestRange(x)) => range(x)?,
            Some(Request::RequestPut(x)) => put(x)?,
            Some(Request::RequestDeleteRange(x)) => delete_range(x)?,
            Some(Request::RequestTxn(x)) => shape(x, max_ops)?,
            None => return Err(RequestError::KeyNotFound),
        }
    }
    Ok(())
}

/// The keys put and ranges deleted by `ops`, failing on a key put twice or put
/// inside a deleted range.
fn intervals(ops: &[RequestOp]) -> Result<(Vec<KeyRange>, HashSet<Vec<u8>>), RequestError> {
    let mut deletes = Vec::new();
    let mut puts: HashSet<Vec<u8>> = HashSet::new();
    for op in ops {
        match &op.request {
            Some(Request::RequestDeleteRange(d)) => deletes.push(key_range(&d.key, &d.range_end)),
            Some(Request::RequestPut(p)) => {
                if !puts.insert(p.key.clone()) {
                    return Err(RequestError::DuplicateKey);
                }
            }
            Some(Request::RequestTxn(t)) => {
                let (success_deletes, success_puts) = intervals(&t.success)?;
                let (failure_deletes, failure_puts) = intervals(&t.failure)?;
                for key in success_puts.union(&failure_puts) {
                    if puts.contains(key) {
                        return Err(RequestError::DuplicateKey);
                    }
                }
                puts.extend(success_puts.into_iter().chain(failure_puts));
                deletes.extend(success_deletes.into_iter().chain(failure_deletes));
            }
            Some(Request::RequestRange(_)) | None => {}
        }
    }
    if puts.iter().any(|key| deletes.iter().any(|d| d.contains(key))) {
        return Err(RequestError::DuplicateKey);
    }
    Ok((deletes, puts))
}

/// Whether a txn writes nothing (it is then served locally, not through raft).
pub fn is_read_only(r: &TxnRequest) -> bool {
    r.success.iter().chain(&r.failure).all(|op| match &op.request {
        Some(Request::RequestRange(_)) | None => true,
        Some(Request::RequestTxn(t)) => is_read_only(t),
        _ => false,
    })
}

/// Whether every range of a read-only txn is serializable.
pub fn is_serializable(r: &TxnRequest) -> bool {
    r.success.iter().chain(&r.failure).all(|op| match &op.request {
        Some(Request::RequestRange(x)) => x.serializable,
        Some(Request::RequestTxn(t)) => is_serializable(t),
        _ => true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put_op(key: &[u8]) -> RequestOp {
        RequestOp { request: Some(Request::RequestPut(PutRequest { key: key.to_vec(), ..Default::default() })) }
    }

    #[test]
    fn duplicate_and_overlapping_keys_are_refused() {
        let t = TxnRequest { success: vec![put_op(b"a"), put_op(b"a")], ..Default::default() };
        assert_eq!(txn(&t, 128), Err(RequestError::DuplicateKey));
        let del = RequestOp {
            request: Some(Request::RequestDeleteRange(DeleteRangeRequest {
                key: b"a".to_vec(),
                range_end: b"c".to_vec(),
                ..Default::default()
            })),
        };
        let t = TxnRequest { success: vec![del, put_op(b"b")], ..Default::default() };
        assert_eq!(txn(&t, 128), Err(RequestError::DuplicateKey));
        let t = TxnRequest { success: vec![put_op(b"a")], failure: vec![put_op(b"a")], ..Default::default() };
        assert_eq!(txn(&t, 128), Ok(()), "the branches are alternatives");
        let t = TxnRequest { success: vec![put_op(b"a"), put_op(b"b")], ..Default::default() };
        assert_eq!(txn(&t, 1), Err(RequestError::TooManyOps));
        let t = TxnRequest { success: vec![put_op(b"")], ..Default::default() };
        assert_eq!(txn(&t, 8), Err(RequestError::EmptyKey));
    }
}
