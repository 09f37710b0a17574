//! Snapshots: a member far behind is caught up by one.

use crate::support::client::{Outcomes, propose};
use crate::support::cluster::Cluster;

#[tokio::test(start_paused = true)]
async fn a_member_far_behind_is_caught_up_by_a_snapshot() {
    let all = [1, 2, 3];
    let cluster = Cluster::new(&all, |config| {
        config.snapshot_count = 20;
        config.snapshot_catch_up_entries = 5;
    });
    let leader = cluster.leader(&all).await;
    let lagging = all.iter().copied().find(|&id| id != leader).expect("a follower");
    cluster.router.isolate(lagging, &all);

    let rest: Vec<u64> = all.iter().copied().filter(|&id| id != lagging).collect();
    let handles: Vec<_> = rest.iter().map(|&id| cluster.handle(id)).collect();
    let mut outcomes = Outcomes::default();
    for n in 0..100 {
        let data = format!("while-away-{n}").into_bytes();
        outcomes.record(data.clone(), propose(&handles, &data).await);
    }
    let status = cluster.status(leader);
    assert!(status.snapshot_index >= 80, "the leader snapshotted: {status:?}");

    cluster.router.heal();
    let log = cluster.converged(&all).await;
    outcomes.check(&log);
    let lagging_log = cluster.log(lagging);
    assert!(lagging_log.restores >= 1, "the lagging member installed a snapshot");
    assert!(cluster.status(lagging).snapshot_index >= 80);

    // It keeps up from the log afterwards.
    let data = b"after-catch-up".to_vec();
    let index = propose(&handles, &data).await.expect("proposal");
    cluster.applied(&all, index).await;
    assert_eq!(cluster.log(lagging).count(&data), 1);
    cluster.shutdown().await;
}
