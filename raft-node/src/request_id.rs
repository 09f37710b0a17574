//! Ids that tie a log entry or a ReadIndex round to the caller waiting for it.

use std::time::{SystemTime, UNIX_EPOCH};

/// Names one proposal (carried in its entry's context) or one ReadIndex round (its
/// request context) uniquely in the cluster: the proposing node and a sequence
/// number of that node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct RequestId {
    pub node: u64,
    pub seq: u64,
}

impl RequestId {
    /// Bytes of an encoded id.
    pub const LEN: usize = 16;

    /// Big-endian node id, then big-endian sequence number.
    pub fn encode(self) -> Vec<u8> {
        let mut out = Vec::with_capacity(Self::LEN);
        out.extend_from_slice(&self.node.to_be_bytes());
        out.extend_from_slice(&self.seq.to_be_bytes());
        out
    }

    /// The id `bytes` encode, or `None` if they are not exactly an encoded id (an
    /// entry proposed by raft itself, or by someone else).
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        let bytes: &[u8; Self::LEN] = bytes.try_into().ok()?;
        let (node, seq) = bytes.split_at(8);
        Some(RequestId {
            node: u64::from_be_bytes(node.try_into().ok()?),
            seq: u64::from_be_bytes(seq.try_into().ok()?),
        })
    }
}

/// Hands out the ids of one node.
#[derive(Debug)]
pub(crate) struct RequestIds {
    node: u64,
    next: u64,
}

impl RequestIds {
    /// Sequence numbers start at the wall clock in nanoseconds (as etcd's `idutil`
    /// does with milliseconds), so that a restarted node does not hand out again the
    /// id of an entry of its previous run that is still in the log, unapplied.
    pub fn new(node: u64) -> Self {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
        RequestIds { node, next: now }
    }

    pub fn next_id(&mut self) -> RequestId {
        let id = RequestId { node: self.node, seq: self.next };
        self.next = self.next.wrapping_add(1);
        id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_rejects_other_lengths() {
        let id = RequestId { node: 7, seq: u64::MAX - 1 };
        assert_eq!(RequestId::decode(&id.encode()), Some(id));
        assert_eq!(RequestId::decode(&[]), None);
        assert_eq!(RequestId::decode(&[0; 15]), None);
        assert_eq!(RequestId::decode(&[0; 17]), None);
    }

    #[test]
    fn ids_are_distinct() {
        let mut ids = RequestIds::new(3);
        let (a, b) = (ids.next_id(), ids.next_id());
        assert_ne!(a, b);
        assert_eq!((a.node, b.node), (3, 3));
    }
}
