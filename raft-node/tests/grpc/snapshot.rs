//! Snapshots over gRPC: a member started late is sent one, in chunks.

use cairn_raft::{GrpcOptions, StateMachine};

use crate::support::{GrpcCluster, Outcomes};

const CHUNK: usize = 256;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_started_late_is_caught_up_by_a_snapshot_in_chunks() {
    let all = [1, 2, 3];
    let options = GrpcOptions { snapshot_chunk_bytes: CHUNK, ..GrpcOptions::default() };
    let mut cluster = GrpcCluster::new(
        |config| {
            config.snapshot_count = 20;
            config.snapshot_catch_up_entries = 5;
        },
        options,
    );
    cluster.start(&[1, 2], &all).await;
    let leader = cluster.leader(&[1, 2]).await;
    let mut outcomes = Outcomes::default();
    for n in 0..100 {
        outcomes.propose(&cluster.handles(&[1, 2]), format!("value-{n:04}-{}", "x".repeat(20)).into_bytes()).await;
    }
    assert!(cluster.status(leader).snapshot_index >= 80, "the leader snapshotted: {:?}", cluster.status(leader));
    let snapshot_size = cluster.journals[&leader].snapshot().expect("snapshot").len();
    assert!(snapshot_size > 4 * CHUNK, "the snapshot ({snapshot_size} bytes) spans several chunks");

    // Member 3 starts now, on a port the others learn at run time.
    cluster.start(&[3], &all).await;
    let log = cluster.converged(&all).await;
    outcomes.check(&log);
    assert_eq!(outcomes.acked.len(), 100, "{outcomes:?}");
    assert!(cluster.log(3).restores >= 1, "member 3 installed a snapshot");
    let stats = cluster.member(3).service.stats();
    assert!(stats.snapshots >= 1, "member 3 received a snapshot over gRPC: {stats:?}");
    assert!(stats.snapshot_chunks >= stats.snapshots * 4, "in chunks smaller than the snapshot: {stats:?}");

    // It keeps up from the log afterwards.
    outcomes.propose(&cluster.handles(&all), b"after-catch-up".to_vec()).await;
    let log = cluster.converged(&all).await;
    outcomes.check(&log);
    assert_eq!(cluster.log(3).count(b"after-catch-up"), 1);
    cluster.shutdown().await;
}
