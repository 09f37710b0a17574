//! Membership changes while a client keeps proposing: add a voter, add a learner,
//! promote it, remove a follower, remove the leader, and a joint change.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use cairn_raft::{MembershipChange, ProposalError, Role};
use parking_lot::Mutex;
use raft::eraftpb::ConfState;

use crate::support::client::{Members, keep_proposing, propose};
use crate::support::cluster::{Cluster, TICK};
use crate::support::journal::Journal;
use crate::support::wait;

/// The running node that leads in the highest term.
fn current_leader(cluster: &Cluster) -> Option<u64> {
    let statuses = cluster.ids().into_iter().map(|id| cluster.status(id));
    statuses.filter(|s| s.role == Role::Leader).max_by_key(|s| s.term).map(|s| s.id)
}

/// Runs the membership change `changes` on the leader, retrying while another
/// change (such as raft leaving a joint configuration) is in flight.
async fn change(cluster: &Cluster, changes: Vec<MembershipChange>) -> ConfState {
    for _ in 0..1000 {
        let Some(leader) = current_leader(cluster) else {
            tokio::time::sleep(TICK).await;
            continue;
        };
        let handle = cluster.handle(leader);
        let attempt = handle.change_membership(changes.clone(), b"ctx".to_vec());
        match wait::bounded("a membership change", attempt).await {
            Ok(conf_state) => return conf_state,
            Err(ProposalError::Dropped { .. }) => tokio::time::sleep(TICK).await,
            Err(error) => panic!("{changes:?} failed: {error}"),
        }
    }
    panic!("{changes:?} was dropped 1000 times");
}

/// Waits until every running member sees `voters` and `learners`, not joint.
async fn wait_for_membership(cluster: &Cluster, voters: &[u64], learners: &[u64]) {
    wait::until(&format!("voters {voters:?}, learners {learners:?}"), || {
        cluster.ids().iter().all(|&id| {
            let s = cluster.status(id);
            s.voters == voters && s.learners == learners && !s.joint
        })
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn members_come_and_go_while_proposals_continue() {
    let mut cluster = Cluster::new(&[1, 2, 3], |config| {
        config.snapshot_count = 40;
        config.snapshot_catch_up_entries = 10;
    });
    cluster.leader(&[1, 2, 3]).await;
    let members: Members = Arc::new(Mutex::new(cluster.handles()));
    let stop = Arc::new(AtomicBool::new(false));
    let background = tokio::spawn(keep_proposing(Arc::clone(&members), Arc::clone(&stop)));

    // A new voter joins with an empty log and is caught up by the leader.
    cluster.start(4, &[], Journal::default());
    let conf = change(&cluster, vec![MembershipChange::AddVoter(4)]).await;
    assert_eq!(conf.voters.len(), 4);
    members.lock().push(cluster.handle(4));
    wait_for_membership(&cluster, &[1, 2, 3, 4], &[]).await;

    // A learner joins, catches up, and is promoted.
    cluster.start(5, &[], Journal::default());
    change(&cluster, vec![MembershipChange::AddLearner(5)]).await;
    wait::until("5 to learn", || cluster.status(5).role == Role::Learner).await;
    wait_for_membership(&cluster, &[1, 2, 3, 4], &[5]).await;
    members.lock().push(cluster.handle(5));
    let conf = change(&cluster, vec![MembershipChange::PromoteLearner(5)]).await;
    assert!(conf.voters.contains(&5) && conf.learners.is_empty());
    wait_for_membership(&cluster, &[1, 2, 3, 4, 5], &[]).await;

    // A follower is removed: it applies its own removal and stops.
    let leader = current_leader(&cluster).expect("a leader");
    let follower = [1, 2, 3].into_iter().find(|&id| id != leader).expect("a follower");
    change(&cluster, vec![MembershipChange::Remove(follower)]).await;
    wait::until("the removed follower to stop", || cluster.node(follower).is_stopped()).await;
    assert_eq!(cluster.status(follower).role, Role::Removed);
    members.lock().retain(|h| h.id() != follower);
    cluster.stop(follower).await;

    // The leader removes itself: it stops, and the others elect a new leader.
    let leader = current_leader(&cluster).expect("a leader");
    change(&cluster, vec![MembershipChange::Remove(leader)]).await;
    wait::until("the removed leader to stop", || cluster.node(leader).is_stopped()).await;
    members.lock().retain(|h| h.id() != leader);
    cluster.stop(leader).await;
    let rest = cluster.ids();
    let leader = cluster.leader(&rest).await;

    // Joint consensus: add 6 and remove another member in one change.
    let leaving = rest.iter().copied().find(|&id| id != leader).expect("a follower");
    cluster.start(6, &[], Journal::default());
    let conf = change(&cluster, vec![MembershipChange::AddVoter(6), MembershipChange::Remove(leaving)]).await;
    assert!(!conf.voters_outgoing.is_empty(), "a two-change membership change goes through a joint configuration");
    let mut voters: Vec<u64> = rest.iter().copied().filter(|&id| id != leaving).chain([6]).collect();
    voters.sort_unstable();
    wait::until("the leaving member to stop", || cluster.node(leaving).is_stopped()).await;
    cluster.stop(leaving).await;
    members.lock().retain(|h| h.id() != leaving);
    members.lock().push(cluster.handle(6));
    wait_for_membership(&cluster, &voters, &[]).await;

    // Proposals kept flowing throughout; stop and check them.
    for _ in 0..10 {
        let data = format!("final-{}", cluster.ids().len()).into_bytes();
        if propose(&cluster.handles(), &data).await.is_ok() {
            break;
        }
    }
    stop.store(true, Ordering::Relaxed);
    let outcomes = wait::bounded("the client", background).await.expect("client task");
    // New members get a fresh snapshot as soon as raft asks for one, so the
    // changes go quickly; the client still gets a steady stream through.
    assert!(outcomes.acked.len() >= 10, "proposals continued: {} acked", outcomes.acked.len());
    let log = cluster.converged(&voters).await;
    outcomes.check(&log);
    // The joint change and raft's automatic leave reached the state machine in order.
    let joint = cluster.log(voters[0]).conf_changes;
    assert!(joint.len() >= 2 && joint[joint.len() - 2] < joint[joint.len() - 1], "{joint:?}");
    cluster.shutdown().await;
}
