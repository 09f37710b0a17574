//! Range requests, as etcd serves them: filters on create and mod revisions,
//! sorting, limits with `more`, keys-only and count-only.

use bytes::Bytes;
use cairn_mvcc::{KeyRange, RangeOptions, RangeResult};
use cairn_proto::etcdserverpb::range_request::{SortOrder, SortTarget};
use cairn_proto::etcdserverpb::{RangeRequest, RangeResponse, ResponseHeader};
use cairn_proto::mvccpb;

use crate::error::RequestError;

/// The key range of `key` and `range_end` as etcd means them.
pub fn key_range(key: &[u8], range_end: &[u8]) -> KeyRange {
    KeyRange::new(Bytes::copy_from_slice(key), Bytes::copy_from_slice(range_end))
}

/// An mvcc key-value in etcd's wire form.
pub fn to_pb(kv: cairn_mvcc::KeyValue) -> mvccpb::KeyValue {
    mvccpb::KeyValue {
        key: kv.key.into(),
        create_revision: kv.create_revision,
        mod_revision: kv.mod_revision,
        version: kv.version,
        value: kv.value.into(),
        lease: kv.lease,
    }
}

/// Serves `request` with `read` (a committed read or one inside a write txn).
/// The header carries `current`, the reader's current revision, whatever
/// revision was read at (as etcd's).
pub fn range(
    request: &RangeRequest,
    current: i64,
    read: impl FnOnce(&KeyRange, RangeOptions) -> cairn_mvcc::Result<RangeResult>,
) -> Result<RangeResponse, RequestError> {
    let sort_order = SortOrder::try_from(request.sort_order).unwrap_or(SortOrder::None);
    let sort_target = SortTarget::try_from(request.sort_target).unwrap_or(SortTarget::Key);
    let filtered = request.min_mod_revision != 0
        || request.max_mod_revision != 0
        || request.min_create_revision != 0
        || request.max_create_revision != 0;
    // Sorting and filtering need every key; the limit is applied afterwards. One
    // more than the limit is read so `more` can be told.
    let limit = if sort_order != SortOrder::None || filtered {
        0
    } else if request.limit > 0 {
        request.limit as usize + 1
    } else {
        0
    };
    let options = RangeOptions {
        limit,
        revision: request.revision,
        count_only: request.count_only,
        keys_only: request.keys_only,
    };
    let result = read(&key_range(&request.key, &request.range_end), options)?;
    let mut kvs = result.kvs;
    if filtered {
        kvs.retain(|kv| {
            (request.max_mod_revision == 0 || kv.mod_revision <= request.max_mod_revision)
                && (request.min_mod_revision == 0 || kv.mod_revision >= request.min_mod_revision)
                && (request.max_create_revision == 0 || kv.create_revision <= request.max_create_revision)
                && (request.min_create_revision == 0 || kv.create_revision >= request.min_create_revision)
        });
    }
    // The store returns keys in ascending order; another target sorts ascending
    // unless told otherwise, as in etcd.
    let order = match (sort_order, sort_target) {
        (SortOrder::None, SortTarget::Key) => SortOrder::None,
        (SortOrder::None, _) => SortOrder::Ascend,
        (order, _) => order,
    };
    if order != SortOrder::None {
        kvs.sort_by(|a, b| {
            let ordering = match sort_target {
                SortTarget::Key => a.key.cmp(&b.key),
                SortTarget::Version => a.version.cmp(&b.version),
                SortTarget::Create => a.create_revision.cmp(&b.create_revision),
                SortTarget::Mod => a.mod_revision.cmp(&b.mod_revision),
                SortTarget::Value => a.value.cmp(&b.value),
            };
            if order == SortOrder::Descend { ordering.reverse() } else { ordering }
        });
    }
    let mut more = false;
    if request.limit > 0 && kvs.len() > request.limit as usize {
        kvs.truncate(request.limit as usize);
        more = true;
    }
    Ok(RangeResponse {
        header: Some(ResponseHeader {
            revision: if request.revision > 0 { current.max(result.revision) } else { result.revision },
            ..Default::default()
        }),
        kvs: kvs.into_iter().map(to_pb).collect(),
        more,
        count: result.count as i64,
    })
}
