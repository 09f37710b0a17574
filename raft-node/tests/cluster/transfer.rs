//! Leader transfer (etcd's move-leader).

use cairn_raft::{Role, TransferError};

use crate::support::client::propose;
use crate::support::cluster::Cluster;
use crate::support::wait;

#[tokio::test(start_paused = true)]
async fn leadership_moves_to_the_chosen_voter() {
    let all = [1, 2, 3];
    let cluster = Cluster::new(&all, |_| {});
    let old = cluster.leader(&all).await;
    let target = all.iter().copied().find(|&id| id != old).expect("a follower");
    let other = all.iter().copied().find(|&id| id != old && id != target).expect("another follower");

    let (follower, leader) = (cluster.handle(target), cluster.handle(old));
    assert_eq!(
        wait::bounded("a refusal", follower.transfer_leader(other)).await,
        Err(TransferError::NotLeader { leader: Some(old) }),
        "only the leader hands leadership over"
    );
    assert_eq!(wait::bounded("a refusal", leader.transfer_leader(9)).await, Err(TransferError::NotVoter(9)));

    propose(&[cluster.handle(old)], b"before").await.expect("proposal");
    wait::bounded("the transfer", leader.transfer_leader(target)).await.expect("transfer");
    assert_eq!(cluster.leader(&all).await, target);
    assert_eq!(cluster.status(old).role, Role::Follower);

    let index = propose(&[cluster.handle(target)], b"after").await.expect("proposal on the new leader");
    cluster.applied(&all, index).await;
    let log = cluster.converged(&all).await;
    assert_eq!((log.count(b"before"), log.count(b"after")), (1, 1));
    cluster.shutdown().await;
}

/// Leadership moves back and forth while a client keeps proposing through every member: each
/// acknowledged proposal is applied exactly once at its index, none twice, and proposals go on
/// being acknowledged after every transfer.
#[tokio::test(start_paused = true)]
async fn transfers_under_a_stream_of_proposals() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    use parking_lot::Mutex;

    use crate::support::client::keep_proposing;

    let all = [1, 2, 3];
    let cluster = Cluster::new(&all, |_| {});
    let stop = Arc::new(AtomicBool::new(false));
    let writer = tokio::spawn(keep_proposing(Arc::new(Mutex::new(cluster.handles())), stop.clone()));
    let mut acked_before = 0;
    for round in 0..6 {
        let leader = cluster.leader(&all).await;
        let target = all[(all.iter().position(|&id| id == leader).expect("a member") + 1 + round % 2) % all.len()];
        wait::bounded("the transfer", cluster.handle(leader).transfer_leader(target)).await.expect("transfer");
        assert_eq!(cluster.leader(&all).await, target);
        // Some writes land under the new leader before the next transfer.
        let index = propose(&[cluster.handle(target)], format!("mark-{round}").as_bytes()).await.expect("a mark");
        cluster.applied(&all, index).await;
        let applied = cluster.log(target).entries.len();
        assert!(applied > acked_before, "nothing was applied in round {round}");
        acked_before = applied;
    }
    stop.store(true, Ordering::Relaxed);
    let outcomes = wait::bounded("the writer", writer).await.expect("the writer task");
    assert!(outcomes.acked.len() >= 10, "only {} proposals were acknowledged", outcomes.acked.len());
    let log = cluster.converged(&all).await;
    outcomes.check(&log);
    for round in 0..6 {
        assert_eq!(log.count(format!("mark-{round}").as_bytes()), 1);
    }
    cluster.shutdown().await;
}
