//! etcd's conventions for a key range given as `key` and `range_end`.

use bytes::Bytes;

/// The keys a request covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyRange {
    /// Exactly one key (`range_end` empty).
    Single(Bytes),
    /// Every key at or after the key (`range_end` is `"\0"`).
    From(Bytes),
    /// Keys in `[start, end)`; empty when `end <= start`.
    Between(Bytes, Bytes),
}

impl KeyRange {
    /// The range etcd means by `key` and `range_end`.
    pub fn new(key: impl Into<Bytes>, range_end: impl Into<Bytes>) -> Self {
        let (key, end) = (key.into(), range_end.into());
        if end.is_empty() {
            KeyRange::Single(key)
        } else if end.as_ref() == [0] {
            KeyRange::From(key)
        } else {
            KeyRange::Between(key, end)
        }
    }

    /// All keys starting with `prefix` (etcdctl's `--prefix`).
    pub fn prefix(prefix: impl Into<Bytes>) -> Self {
        let prefix = prefix.into();
        match prefix_end(&prefix) {
            Some(end) => KeyRange::Between(prefix, end),
            None => KeyRange::From(prefix),
        }
    }

    /// The first key of the range.
    pub fn start(&self) -> &[u8] {
        match self {
            KeyRange::Single(k) | KeyRange::From(k) | KeyRange::Between(k, _) => k,
        }
    }

    /// The end of the range, exclusive; `None` for no end. For a single key this
    /// is the key followed by a zero byte.
    pub fn end(&self) -> Option<Vec<u8>> {
        match self {
            KeyRange::Single(k) => Some([k.as_ref(), &[0]].concat()),
            KeyRange::From(_) => None,
            KeyRange::Between(_, end) => Some(end.to_vec()),
        }
    }

    /// Whether `key` is in the range.
    pub fn contains(&self, key: &[u8]) -> bool {
        match self {
            KeyRange::Single(k) => k.as_ref() == key,
            KeyRange::From(k) => key >= k.as_ref(),
            KeyRange::Between(start, end) => key >= start.as_ref() && key < end.as_ref(),
        }
    }

    /// Whether the range is a single key.
    pub fn is_single(&self) -> bool {
        matches!(self, KeyRange::Single(_))
    }
}

/// The smallest key after every key starting with `prefix`: the prefix with its
/// last byte below 0xff incremented and the rest dropped; `None` if there is none
/// (every byte is 0xff, or the prefix is empty).
pub fn prefix_end(prefix: &[u8]) -> Option<Bytes> {
    let last = prefix.iter().rposition(|&b| b < 0xff)?;
    let mut end = prefix[..=last].to_vec();
    end[last] += 1;
    Some(end.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etcd_conventions() {
        assert_eq!(KeyRange::new("a", ""), KeyRange::Single("a".into()));
        assert_eq!(KeyRange::new("a", "\0"), KeyRange::From("a".into()));
        assert!(KeyRange::new("a", "c").contains(b"b"));
        assert!(!KeyRange::new("a", "c").contains(b"c"));
        assert!(!KeyRange::new("c", "a").contains(b"b"));
        assert_eq!(KeyRange::prefix(&b"a\x7f"[..]), KeyRange::Between((&b"a\x7f"[..]).into(), (&b"a\x80"[..]).into()));
        assert_eq!(KeyRange::prefix(vec![b'a', 0xff]), KeyRange::Between(vec![b'a', 0xff].into(), "b".into()));
        assert_eq!(KeyRange::prefix(vec![0xff]), KeyRange::From(vec![0xff].into()));
        assert!(KeyRange::new(vec![0], vec![0]).contains(b"anything"));
    }
}
