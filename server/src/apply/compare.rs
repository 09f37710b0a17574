//! Txn compares, as etcd evaluates them.

use cairn_mvcc::KeyValue;
use cairn_proto::etcdserverpb::Compare;
use cairn_proto::etcdserverpb::compare::{CompareResult, CompareTarget, TargetUnion};
use std::cmp::Ordering;

/// Whether `compare` holds for the keys its range holds now (`kvs`). A range with
/// no keys compares as one missing key: version, revisions and lease 0, and a
/// value compare fails.
pub fn holds(compare: &Compare, kvs: &[KeyValue]) -> bool {
    if kvs.is_empty() {
        if compare.target == CompareTarget::Value as i32 {
            return false;
        }
        return holds_for(compare, &KeyValue::default());
    }
    kvs.iter().all(|kv| holds_for(compare, kv))
}

fn holds_for(compare: &Compare, kv: &KeyValue) -> bool {
    let target = CompareTarget::try_from(compare.target).unwrap_or(CompareTarget::Version);
    // A target without its value compares against zero (or the empty value).
    let ordering = match (target, &compare.target_union) {
        (CompareTarget::Value, Some(TargetUnion::Value(want))) => kv.value.as_ref().cmp(want.as_slice()),
        (CompareTarget::Value, _) => kv.value.as_ref().cmp(&[][..]),
        (CompareTarget::Version, union) => kv.version.cmp(&number(union, |u| matches!(u, TargetUnion::Version(_)))),
        (CompareTarget::Create, union) => {
            kv.create_revision.cmp(&number(union, |u| matches!(u, TargetUnion::CreateRevision(_))))
        }
        (CompareTarget::Mod, union) => {
            kv.mod_revision.cmp(&number(union, |u| matches!(u, TargetUnion::ModRevision(_))))
        }
        (CompareTarget::Lease, union) => kv.lease.cmp(&number(union, |u| matches!(u, TargetUnion::Lease(_)))),
    };
    match CompareResult::try_from(compare.result).unwrap_or(CompareResult::Equal) {
        CompareResult::Equal => ordering == Ordering::Equal,
        CompareResult::NotEqual => ordering != Ordering::Equal,
        CompareResult::Greater => ordering == Ordering::Greater,
        CompareResult::Less => ordering == Ordering::Less,
    }
}

/// The number a compare targets, if `union` carries the one `wanted` picks; else 0.
fn number(union: &Option<TargetUnion>, wanted: impl Fn(&TargetUnion) -> bool) -> i64 {
    match union {
        Some(
            u @ (TargetUnion::Version(n)
            | TargetUnion::CreateRevision(n)
            | TargetUnion::ModRevision(n)
            | TargetUnion::Lease(n)),
        ) if wanted(u) => *n,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn compare(target: CompareTarget, result: CompareResult, union: TargetUnion) -> Compare {
        Compare {
            result: result as i32,
            target: target as i32,
            key: b"k".to_vec(),
            target_union: Some(union),
            range_end: Default::default(),
        }
    }

    #[test]
    fn compares_like_etcd() {
        let kv = KeyValue {
            key: Bytes::from_static(b"k"),
            value: Bytes::from_static(b"v2"),
            version: 2,
            create_revision: 3,
            mod_revision: 5,
            lease: 0,
        };
        let kvs = [kv];
        assert!(holds(&compare(CompareTarget::Value, CompareResult::Equal, TargetUnion::Value(b"v2".to_vec())), &kvs));
        assert!(holds(
            &compare(CompareTarget::Value, CompareResult::Greater, TargetUnion::Value(b"v1".to_vec())),
            &kvs
        ));
        assert!(holds(&compare(CompareTarget::Version, CompareResult::Less, TargetUnion::Version(3)), &kvs));
        assert!(holds(&compare(CompareTarget::Mod, CompareResult::NotEqual, TargetUnion::ModRevision(4)), &kvs));
        assert!(holds(&compare(CompareTarget::Create, CompareResult::Equal, TargetUnion::CreateRevision(3)), &kvs));
        assert!(!holds(&compare(CompareTarget::Lease, CompareResult::Greater, TargetUnion::Lease(0)), &kvs));
        // A missing key has version 0 but no value.
        assert!(holds(&compare(CompareTarget::Version, CompareResult::Equal, TargetUnion::Version(0)), &[]));
        assert!(!holds(
            &compare(CompareTarget::Value, CompareResult::NotEqual, TargetUnion::Value(b"x".to_vec())),
            &[]
        ));
    }
}
