//! The cluster's members: who they are (id, name, URLs, learner or voter),
//! persisted in the `members` bucket and changed only by applied raft entries.

use std::collections::{BTreeMap, BTreeSet};

use cairn_proto::cairnpb::Member;
use prost::Message;

/// The bucket of members: id (big-endian) -> `cairnpb.Member`.
pub const MEMBERS_BUCKET: &str = "members";
/// The bucket of removed member ids: id (big-endian) -> empty.
pub const REMOVED_BUCKET: &str = "members_removed";

/// A majority of `voters`.
fn quorum(voters: usize) -> usize {
    voters / 2 + 1
}

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

    /// The learners among the members.
    pub fn learners(&self) -> usize {
        self.members.values().filter(|m| m.is_learner).count()
    }

    /// etcd's strict reconfiguration check for adding a voter: after the
    /// change, the started voters (those that published a name) still make a
    /// quorum. Adding a second member to a one-member cluster is allowed (how
    /// a restored cluster grows).
    pub fn ready_to_add_voter(&self) -> bool {
        let (voters, started) = self.voters_and_started(None);
        if started == 1 && voters == 1 {
            return true;
        }
        started >= quorum(voters + 1)
    }

    /// etcd's strict reconfiguration check for removing voter `id`: the
    /// started voters left make a quorum of the voters left.
    pub fn ready_to_remove_voter(&self, id: u64) -> bool {
        let (voters, started) = self.voters_and_started(Some(id));
        started >= quorum(voters)
    }

    /// etcd's strict reconfiguration check for promoting a learner, which
    /// counts as a started voter afterwards.
    pub fn ready_to_promote(&self) -> bool {
        let (voters, started) = self.voters_and_started(None);
        started + 1 >= quorum(voters + 1)
    }

    /// The voters other than `except`, and how many of them have started.
    fn voters_and_started(&self, except: Option<u64>) -> (usize, usize) {
        let voters = self.members.values().filter(|m| !m.is_learner && Some(m.id) != except);
        voters.fold((0, 0), |(n, started), m| (n + 1, started + usize::from(!m.name.is_empty())))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn membership(members: &[(u64, bool, bool)]) -> Membership {
        let members = members
            .iter()
            .map(|&(id, started, is_learner)| {
                let name = if started { format!("m{id}") } else { String::new() };
                (id, Member { id, name, is_learner, ..Default::default() })
            })
            .collect();
        Membership { members, ..Default::default() }
    }

    #[test]
    fn reconfiguration_keeps_a_started_quorum_as_etcds_strict_check() {
        // One started member may take a second (how a restored cluster grows) but not a third.
        assert!(membership(&[(1, true, false)]).ready_to_add_voter());
        assert!(!membership(&[(1, true, false), (2, false, false)]).ready_to_add_voter());
        assert!(!membership(&[(1, true, false), (2, true, false), (3, false, false)]).ready_to_add_voter());
        assert!(
            membership(&[(1, true, false), (2, true, false), (3, true, false), (4, false, false)]).ready_to_add_voter()
        );
        assert!(!membership(&[(1, true, false), (2, false, false), (3, false, false)]).ready_to_add_voter());
        // Removing an unstarted voter is fine; removing a started one that leaves too few is not.
        let three = membership(&[(1, true, false), (2, true, false), (3, false, false)]);
        assert!(three.ready_to_remove_voter(3));
        assert!(!three.ready_to_remove_voter(2));
        assert!(membership(&[(1, true, false), (2, false, false)]).ready_to_remove_voter(2));
        // A promoted learner counts as started; learners are not voters.
        assert!(membership(&[(1, true, false), (9, false, true)]).ready_to_promote());
        assert!(
            !membership(&[(1, true, false), (2, false, false), (3, false, false), (9, false, true)]).ready_to_promote()
        );
        assert_eq!(membership(&[(1, true, false), (9, false, true)]).learners(), 1);
    }
}
