//! Partitions: a minority cannot commit; a cut-off leader steps down.

use std::time::Duration;

use cairn_raft::{ProposalError, Role};

use crate::support::client::{Outcomes, propose};
use crate::support::cluster::Cluster;
use crate::support::wait;

#[tokio::test(start_paused = true)]
async fn a_minority_cannot_commit_and_its_proposals_are_not_applied() {
    let all = [1, 2, 3, 4, 5];
    let cluster = Cluster::new(&all, |_| {});
    let old = cluster.leader(&all).await;
    let minority = [old, all.iter().copied().find(|&id| id != old).expect("a follower")];
    let majority: Vec<u64> = all.iter().copied().filter(|id| !minority.contains(id)).collect();
    cluster.router.partition(&minority, &majority);

    // The old leader appends it but cannot commit it; the minority follower forwards
    // its proposal to the old leader, which cannot commit it either.
    let on_leader = tokio::spawn({
        let handle = cluster.handle(old);
        async move { handle.propose(b"minority-leader".to_vec()).await }
    });
    let on_follower = tokio::spawn({
        let handle = cluster.handle(minority[1]);
        async move { handle.propose(b"minority-follower".to_vec()).await }
    });
    tokio::time::sleep(Duration::from_secs(2)).await; // 200 ticks: ten election timeouts
    assert!(!on_leader.is_finished() && !on_follower.is_finished(), "a minority committed something");
    assert_ne!(cluster.status(old).role, Role::Leader, "check-quorum makes the cut-off leader step down");

    let new = cluster.leader(&majority).await;
    assert_ne!(new, old);
    let handles: Vec<_> = majority.iter().map(|&id| cluster.handle(id)).collect();
    let mut outcomes = Outcomes::default();
    for n in 0..10 {
        let data = format!("majority-{n}").into_bytes();
        outcomes.record(data.clone(), propose(&handles, &data).await);
    }
    assert_eq!(outcomes.acked.len(), 10);

    cluster.router.heal();
    // The new leader's entries overwrite the old leader's slot: a definite drop. The
    // forwarded one's fate is unknown to its proposer once the term moved on.
    let leader_result = wait::bounded("the old leader's proposal", on_leader).await.expect("task");
    assert!(matches!(leader_result, Err(ProposalError::Dropped { .. })), "{leader_result:?}");
    let follower_result = wait::bounded("the forwarded proposal", on_follower).await.expect("task");
    assert_eq!(follower_result, Err(ProposalError::Indeterminate));

    let log = cluster.converged(&all).await;
    outcomes.check(&log);
    assert_eq!(log.count(b"minority-leader") + log.count(b"minority-follower"), 0);
    cluster.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_partitioned_leader_steps_down_and_the_majority_carries_on() {
    let all = [1, 2, 3];
    let cluster = Cluster::new(&all, |_| {});
    let old = cluster.leader(&all).await;
    let old_term = cluster.status(old).term;
    cluster.router.isolate(old, &all);

    wait::until("the isolated leader to step down", || cluster.status(old).role != Role::Leader).await;
    let rest: Vec<u64> = all.iter().copied().filter(|&id| id != old).collect();
    let new = cluster.leader(&rest).await;
    assert!(cluster.status(new).term > old_term);
    // Pre-vote: the isolated node cannot win elections, so it does not inflate its term.
    assert_eq!(cluster.status(old).term, old_term);

    let handles: Vec<_> = rest.iter().map(|&id| cluster.handle(id)).collect();
    let mut outcomes = Outcomes::default();
    for n in 0..10 {
        let data = format!("after-{n}").into_bytes();
        outcomes.record(data.clone(), propose(&handles, &data).await);
    }
    cluster.router.heal();
    assert_eq!(cluster.leader(&all).await, new, "the returning node follows the new leader");
    let log = cluster.converged(&all).await;
    assert_eq!(outcomes.acked.len(), 10);
    outcomes.check(&log);
    cluster.shutdown().await;
}
