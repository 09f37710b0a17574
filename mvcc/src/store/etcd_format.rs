//! etcd's on-disk encoding of a revision and a key-value, used only to compute
//! the same `HashKV` as etcd over the same history.

use crate::{KeyValue, Revision};

/// etcd's revision key: main and sub big-endian around a `_`, plus `t` for a
/// tombstone.
pub(super) fn revision(rev: Revision, tombstone: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(18);
    out.extend_from_slice(&rev.main.to_be_bytes());
    out.push(b'_');
    out.extend_from_slice(&rev.sub.to_be_bytes());
    if tombstone {
        out.push(b't');
    }
    out
}

fn varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn bytes_field(out: &mut Vec<u8>, tag: u8, data: &[u8]) {
    if !data.is_empty() {
        out.push(tag);
        varint(out, data.len() as u64);
        out.extend_from_slice(data);
    }
}

fn int_field(out: &mut Vec<u8>, tag: u8, n: i64) {
    if n != 0 {
        out.push(tag);
        varint(out, n as u64);
    }
}

/// etcd's stored value: `mvccpb.KeyValue` in protobuf; a tombstone holds only
/// the key.
pub(super) fn key_value(kv: &KeyValue, tombstone: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(kv.key.len() + kv.value.len() + 40);
    bytes_field(&mut out, 0x0a, &kv.key);
    if tombstone {
        return out;
    }
    int_field(&mut out, 0x10, kv.create_revision);
    int_field(&mut out, 0x18, kv.mod_revision);
    int_field(&mut out, 0x20, kv.version);
    bytes_field(&mut out, 0x2a, &kv.value);
    int_field(&mut out, 0x30, kv.lease);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[test]
    fn encodes_like_etcd() {
        assert_eq!(revision(Revision::new(2, 1), false), [0, 0, 0, 0, 0, 0, 0, 2, b'_', 0, 0, 0, 0, 0, 0, 0, 1]);
        assert_eq!(revision(Revision::new(2, 0), true).last(), Some(&b't'));
        let kv = KeyValue {
            key: Bytes::from_static(b"a"),
            create_revision: 2,
            mod_revision: 300,
            version: 1,
            value: Bytes::from_static(b"x"),
            lease: 0,
        };
        assert_eq!(key_value(&kv, false), [0x0a, 1, b'a', 0x10, 2, 0x18, 0xac, 0x02, 0x20, 1, 0x2a, 1, b'x']);
        assert_eq!(key_value(&kv, true), [0x0a, 1, b'a']);
    }
}
