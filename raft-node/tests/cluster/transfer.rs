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
