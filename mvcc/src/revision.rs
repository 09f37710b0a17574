//! Revisions and their byte encoding in the `key` bucket.

use std::fmt;

/// A point in the store's history: `main` counts write transactions (the
/// revision etcd reports), `sub` orders the changes within one transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Revision {
    /// The transaction's revision.
    pub main: i64,
    /// The change's position within the transaction, from 0.
    pub sub: i64,
}

/// Length of an encoded revision; a tombstone adds one marker byte.
pub const REVISION_LEN: usize = 17;
const TOMBSTONE_MARK: u8 = b't';

impl Revision {
    /// A revision from its parts.
    pub const fn new(main: i64, sub: i64) -> Self {
        Revision { main, sub }
    }

    /// The `key` bucket's key for this revision: `main` and `sub` big-endian with
    /// a `_` between, so byte order is revision order (both are never negative);
    /// a tombstone (a delete) appends `t`.
    pub fn encode(self, tombstone: bool) -> Vec<u8> {
        let mut out = Vec::with_capacity(REVISION_LEN + 1);
        out.extend_from_slice(&self.main.to_be_bytes());
        out.push(b'_');
        out.extend_from_slice(&self.sub.to_be_bytes());
        if tombstone {
            out.push(TOMBSTONE_MARK);
        }
        out
    }

    /// Decodes a `key` bucket key: the revision and whether it is a tombstone.
    pub fn decode(bytes: &[u8]) -> Option<(Revision, bool)> {
        let tombstone = match bytes.len() {
            REVISION_LEN => false,
            n if n == REVISION_LEN + 1 && bytes[REVISION_LEN] == TOMBSTONE_MARK => true,
            _ => return None,
        };
        if bytes[8] != b'_' {
            return None;
        }
        let main = i64::from_be_bytes(bytes[..8].try_into().ok()?);
        let sub = i64::from_be_bytes(bytes[9..17].try_into().ok()?);
        Some((Revision { main, sub }, tombstone))
    }

    /// The smallest encoded key of main revision `main` (to scan from).
    pub fn lower_bound(main: i64) -> Vec<u8> {
        Revision::new(main, 0).encode(false)
    }
}

impl fmt::Display for Revision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.main, self.sub)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_orders_like_revisions() {
        let revs = [
            Revision::new(1, 0),
            Revision::new(1, 1),
            Revision::new(1, 255),
            Revision::new(2, 0),
            Revision::new(256, 3),
            Revision::new(i64::MAX, 0),
        ];
        for pair in revs.windows(2) {
            assert!(pair[0].encode(false) < pair[1].encode(false));
            assert!(pair[0].encode(true) < pair[1].encode(false), "a tombstone sorts with its revision");
        }
        for rev in revs {
            assert_eq!(Revision::decode(&rev.encode(false)), Some((rev, false)));
            assert_eq!(Revision::decode(&rev.encode(true)), Some((rev, true)));
        }
        assert_eq!(Revision::decode(b"short"), None);
        let mut bad = Revision::new(1, 1).encode(true);
        bad[17] = b'x';
        assert_eq!(Revision::decode(&bad), None);
    }
}
