//! [`MembershipChange`]: adding, promoting and removing members through raft.

use raft::eraftpb::{ConfChangeSingle, ConfChangeTransition, ConfChangeType, ConfChangeV2, ConfState};
use raft::{Changer, ProgressTracker};

/// One change to the cluster's membership. Several in one
/// [`change_membership`](crate::NodeHandle::change_membership) go through joint
/// consensus, which raft leaves on its own once the change is applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MembershipChange {
    /// Adds a new voting member.
    AddVoter(u64),
    /// Adds a new non-voting member, which receives the log and can catch up
    /// before it is promoted.
    AddLearner(u64),
    /// Makes a learner a voter.
    PromoteLearner(u64),
    /// Removes a voter or learner. A removed node stops its loop once it applies
    /// its own removal.
    Remove(u64),
}

impl MembershipChange {
    fn node(self) -> u64 {
        match self {
            Self::AddVoter(id) | Self::AddLearner(id) | Self::PromoteLearner(id) | Self::Remove(id) => id,
        }
    }
}

/// The raft conf change for `changes`, carrying `context` to the state machine.
pub(crate) fn conf_change(changes: &[MembershipChange], context: Vec<u8>) -> ConfChangeV2 {
    let single = |change: MembershipChange| {
        let change_type = match change {
            MembershipChange::AddVoter(_) | MembershipChange::PromoteLearner(_) => ConfChangeType::AddNode,
            MembershipChange::AddLearner(_) => ConfChangeType::AddLearnerNode,
            MembershipChange::Remove(_) => ConfChangeType::RemoveNode,
        };
        ConfChangeSingle { change_type, node_id: change.node(), ..Default::default() }
    };
    ConfChangeV2 {
        transition: ConfChangeTransition::Auto,
        changes: changes.iter().copied().map(single).collect(),
        context: context.into(),
        ..Default::default()
    }
}

/// Checks `changes` against the current configuration, the way etcd refuses
/// member-add of an existing member, and the way raft would refuse it on apply.
pub(crate) fn validate(tracker: &ProgressTracker, changes: &[MembershipChange]) -> Result<(), String> {
    if changes.is_empty() {
        return Err("no change given".into());
    }
    let current = tracker.conf().to_conf_state();
    for &change in changes {
        let id = change.node();
        if id == 0 {
            return Err("node id 0 is invalid".into());
        }
        let (voter, learner) = (is_voter(&current, id), current.learners.contains(&id));
        match change {
            MembershipChange::AddVoter(_) | MembershipChange::AddLearner(_) if voter || learner => {
                return Err(format!("node {id} is already a member"));
            }
            MembershipChange::PromoteLearner(_) if !learner => return Err(format!("node {id} is not a learner")),
            MembershipChange::Remove(_) if !voter && !learner => return Err(format!("node {id} is not a member")),
            _ => {}
        }
    }
    let cc = conf_change(changes, Vec::new());
    let changer = Changer::new(tracker);
    let result = match cc.enter_joint() {
        Some(auto_leave) => changer.enter_joint(auto_leave, &cc.changes),
        None => Changer::new(tracker).simple(&cc.changes),
    };
    result.map(drop).map_err(|e| e.to_string())
}

/// Whether `id` votes in either half of `conf`.
pub(crate) fn is_voter(conf: &ConfState, id: u64) -> bool {
    conf.voters.contains(&id) || conf.voters_outgoing.contains(&id)
}

/// Whether `id` is in `conf` at all.
pub(crate) fn is_member(conf: &ConfState, id: u64) -> bool {
    is_voter(conf, id) || conf.learners.contains(&id) || conf.learners_next.contains(&id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tracker(voters: &[u64], learners: &[u64]) -> ProgressTracker {
        let mut tracker = ProgressTracker::new(16);
        let changes = voters.iter().map(|&id| MembershipChange::AddVoter(id));
        for change in changes.chain(learners.iter().map(|&id| MembershipChange::AddLearner(id))) {
            let cc = conf_change(&[change], Vec::new());
            let (conf, map) = Changer::new(&tracker).simple(&cc.changes).expect("simple change");
            tracker.apply_conf(conf, map, 10);
        }
        tracker
    }

    #[test]
    fn single_changes_map_to_raft_types() {
        let cc = conf_change(&[MembershipChange::AddLearner(4)], b"ctx".to_vec());
        assert_eq!(cc.enter_joint(), None);
        assert_eq!(cc.changes[0].change_type, ConfChangeType::AddLearnerNode);
        assert_eq!(&cc.context[..], b"ctx");
        let cc = conf_change(&[MembershipChange::AddVoter(4), MembershipChange::Remove(1)], Vec::new());
        assert_eq!(cc.enter_joint(), Some(true));
    }

    #[test]
    fn validation_refuses_what_etcd_and_raft_refuse() {
        let t = tracker(&[1, 2, 3], &[5]);
        assert!(validate(&t, &[MembershipChange::AddVoter(4)]).is_ok());
        assert!(validate(&t, &[MembershipChange::PromoteLearner(5)]).is_ok());
        assert!(validate(&t, &[MembershipChange::Remove(5)]).is_ok());
        assert!(validate(&t, &[MembershipChange::AddVoter(4), MembershipChange::Remove(1)]).is_ok());
        assert!(validate(&t, &[]).is_err());
        assert!(validate(&t, &[MembershipChange::AddVoter(2)]).is_err());
        assert!(validate(&t, &[MembershipChange::AddLearner(5)]).is_err());
        assert!(validate(&t, &[MembershipChange::PromoteLearner(2)]).is_err());
        assert!(validate(&t, &[MembershipChange::Remove(9)]).is_err());
        assert!(validate(&t, &[MembershipChange::AddVoter(0)]).is_err());
        let single = tracker(&[1], &[]);
        assert!(validate(&single, &[MembershipChange::Remove(1)]).is_err(), "no voter would be left");
    }
}
