//! The cluster's members: who they are (id, name, URLs, learner or voter),
//! persisted in the `members` bucket and changed only by applied raft entries.

use std::collections::{BTreeMap, BTreeSet};

use cairn_proto::cairnpb::Member;
use prost::Message;

/// The bucket of members: id (big-endian) -> `cairnpb.Member`.
pub const MEMBERS_BUCKET: &str = "members";
/// The bucket of removed member ids: id (big-endian) -> empty.
pub const REMOVED_BUCKET: &str = "members_removed";

/// The members of the cluster, as this member has applied them.
#[derive(Debug, Clone, Default)]
pub struct Membership {
    /// Current members by id.
    pub members: BTreeMap<u64, Member>,
    /// Ids that were removed and may never come back.
    pub removed: BTreeSet<u64>,
    /// The cluster id.
    pub cluster_id: u64,
}

impl Membership {
    /// The member with `peer_url` among its peer URLs, if any.
    pub fn by_peer_url(&self, peer_url: &str) -> Option<&Member> {
        self.members.values().find(|m| m.peer_urls.iter().any(|u| u == peer_url))
    }

    /// Encodes a member for the bucket.
    pub fn encode(member: &Member) -> Vec<u8> {
        member.encode_to_vec()
    }

    /// Decodes a member from the bucket.
    pub fn decode(bytes: &[u8]) -> Result<Member, prost::DecodeError> {
        Member::decode(bytes)
    }
}
