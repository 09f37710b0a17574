//! How bucket-qualified keys are laid out in the one sled tree.
//!
//! A stored key is `bucket ++ 0x00 ++ escape(key)`. Bucket names never hold `0x00`,
//! so the separator ends the name unambiguously, and the tree orders pairs by bucket
//! name first (a name sorts before its extensions, as `0x00` sorts before any name
//! byte), then by key: a bucket is one contiguous run of the tree, and the runs come
//! in the order [`cairn_storage::ReadView::buckets`] lists them.
//!
//! `escape` writes each `0xff` byte as `0xff 0x00` and every other byte as itself,
//! so stored keys never hold two `0xff` bytes in a row. sled 0.34's iterator, when
//! it steps back to the previous tree node, seeks to a guessed predecessor of the
//! node's low key padded with four `0xff` bytes; keys between that guess and the
//! node would make it loop and panic ("fucked up tree traversal"), and only keys
//! with a run of four `0xff` bytes can fall there. The escape keeps byte order: no
//! byte's image is a prefix of another's, and images order as the bytes do.

use cairn_storage::MAX_KEY_LEN;

const ESCAPED: u8 = 0xff;

/// The longest stored key: a 64-byte bucket name, the separator and the longest
/// key, every byte of it escaped.
const MAX_STORED_LEN: usize = 64 + 1 + 2 * MAX_KEY_LEN;

/// A stored key built on the stack, so a point read allocates nothing for it.
pub(crate) struct StoredKey {
    bytes: [u8; MAX_STORED_LEN],
    len: usize,
}

impl StoredKey {
    /// The stored form of `key` in `bucket` (a valid bucket name), or `None` when
    /// `key` is longer than any stored key can be, so it cannot exist.
    pub(crate) fn new(bucket: &str, key: &[u8]) -> Option<StoredKey> {
        if key.len() > MAX_KEY_LEN {
            return None;
        }
        let mut bytes = [0u8; MAX_STORED_LEN];
        bytes[..bucket.len()].copy_from_slice(bucket.as_bytes());
        let mut len = bucket.len() + 1;
        for &byte in key {
            bytes[len] = byte;
            len += 1;
            if byte == ESCAPED {
                // The array is zeroed: the escape's 0x00 is already there.
                len += 1;
            }
        }
        Some(StoredKey { bytes, len })
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// The stored form of `key` in `bucket`, on the heap (for scan bounds, which may be
/// any length).
pub(crate) fn stored(bucket: &[u8], key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bucket.len() + 1 + key.len() + 2);
    out.extend_from_slice(bucket);
    out.push(0);
    for &byte in key {
        out.push(byte);
        if byte == ESCAPED {
            out.push(0);
        }
    }
    out
}

/// The first stored key past every key of `bucket`.
pub(crate) fn bucket_end(bucket: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bucket.len() + 1);
    out.extend_from_slice(bucket);
    out.push(1);
    out
}

/// The bucket name a stored key starts with, or `None` for a key this crate did not
/// write.
pub(crate) fn bucket_of(stored: &[u8]) -> Option<&[u8]> {
    stored.iter().position(|&b| b == 0).map(|end| &stored[..end])
}

/// The key an escaped key stands for: `escaped` itself when it holds no escape,
/// else decoded into `buf`, which a scan reuses from key to key.
pub(crate) fn unescape<'a>(escaped: &'a [u8], buf: &'a mut Vec<u8>) -> &'a [u8] {
    if !escaped.contains(&ESCAPED) {
        return escaped;
    }
    buf.clear();
    let mut bytes = escaped.iter();
    while let Some(&byte) = bytes.next() {
        buf.push(byte);
        if byte == ESCAPED {
            bytes.next();
        }
    }
    buf
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_sort_by_name_then_key() {
        let mut stored_keys =
            [stored(b"key2", b"\x00"), stored(b"key", b"\xff\xff"), stored(b"ke", b"z"), stored(b"key", b"\x00")];
        stored_keys.sort();
        let order: Vec<&[u8]> = stored_keys.iter().filter_map(|k| bucket_of(k)).collect();
        assert_eq!(order, [&b"ke"[..], b"key", b"key", b"key2"]);
        assert!(stored(b"key", &[0xff; 8]) < bucket_end(b"key"));
        assert!(bucket_end(b"key") < stored(b"key0", b"a"));
    }

    #[test]
    fn escaping_keeps_order_and_round_trips() {
        let alphabet = [0x00u8, 0x01, 0xfe, 0xff];
        let mut keys: Vec<Vec<u8>> = Vec::new();
        for len in 1..=4u32 {
            for n in 0..alphabet.len().pow(len) {
                keys.push((0..len).map(|i| alphabet[n / alphabet.len().pow(i) % alphabet.len()]).collect());
            }
        }
        keys.sort();
        let escaped: Vec<Vec<u8>> = keys.iter().map(|k| stored(b"b", k)).collect();
        assert!(escaped.windows(2).all(|w| w[0] < w[1]), "escaping changed the order");
        let mut buf = Vec::new();
        for (key, esc) in keys.iter().zip(&escaped) {
            assert!(!esc.windows(2).any(|w| w == [0xff, 0xff]));
            assert_eq!(unescape(&esc[2..], &mut buf), &key[..]);
            assert_eq!(StoredKey::new("b", key).as_ref().map(StoredKey::as_bytes), Some(&esc[..]));
        }
    }

    #[test]
    fn stack_key_takes_the_longest_key() {
        let longest = StoredKey::new(&"b".repeat(64), &[0xff; MAX_KEY_LEN]);
        assert_eq!(longest.map(|k| k.as_bytes().len()), Some(MAX_STORED_LEN));
        assert!(StoredKey::new("b", &[7; MAX_KEY_LEN + 1]).is_none());
    }
}
