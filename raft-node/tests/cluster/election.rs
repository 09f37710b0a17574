//! Electing a leader.

use cairn_raft::Role;

use crate::support::cluster::Cluster;

#[tokio::test(start_paused = true)]
async fn three_members_elect_exactly_one_leader() {
    let cluster = Cluster::new(&[1, 2, 3], |_| {});
    let leader = cluster.leader(&[1, 2, 3]).await;
    let statuses: Vec<_> = [1, 2, 3].iter().map(|&id| cluster.status(id)).collect();
    assert_eq!(statuses.iter().filter(|s| s.role == Role::Leader).count(), 1);
    for status in &statuses {
        assert_eq!(status.leader_id, Some(leader));
        assert_eq!(status.voters, [1, 2, 3]);
        assert!(status.term >= 2, "the bootstrap snapshot is term 1; an election makes it at least 2");
        if status.id != leader {
            assert_eq!(status.role, Role::Follower);
        }
    }
    cluster.shutdown().await;
}
