//! Leader failover over gRPC: the leader's node and server stop, the others elect a
//! new leader and commits continue.

use std::time::Instant;

use cairn_raft::GrpcOptions;

use crate::support::{GrpcCluster, Outcomes};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_leader_takes_over_when_the_leader_stops() {
    let all = [1, 2, 3];
    let mut cluster = GrpcCluster::new(|_| {}, GrpcOptions::default());
    cluster.start(&all, &all).await;
    let leader = cluster.leader(&all).await;

    let mut outcomes = Outcomes::default();
    for n in 0..30 {
        outcomes.propose(&cluster.handles(&all), format!("before-{n}").into_bytes()).await;
    }
    assert_eq!(outcomes.acked.len(), 30, "no failure yet: {outcomes:?}");
    cluster.converged(&all).await;
    for id in all {
        assert!(cluster.member(id).service.stats().messages > 0, "member {id} received messages over gRPC");
    }

    cluster.stop(leader).await;
    let stopped = Instant::now();
    let rest: Vec<u64> = all.iter().copied().filter(|&id| id != leader).collect();
    let new_leader = cluster.leader(&rest).await;
    eprintln!("member {new_leader} leads {:?} after the leader {leader} stopped", stopped.elapsed());
    assert_ne!(new_leader, leader);

    for n in 0..30 {
        outcomes.propose(&cluster.handles(&rest), format!("after-{n}").into_bytes()).await;
    }
    assert!(outcomes.acked.len() >= 59, "commits continue: {outcomes:?}");
    let log = cluster.converged(&rest).await;
    outcomes.check(&log);
    cluster.shutdown().await;
}
