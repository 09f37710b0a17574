//! Restarting every member on its directory.

use crate::support::client::{Outcomes, propose};
use crate::support::cluster::Cluster;
use crate::support::journal::Journal;

const ALL: [u64; 3] = [1, 2, 3];

/// Writes 60 proposals across snapshots, then stops every member.
async fn run_and_stop_all(cluster: &mut Cluster) -> Outcomes {
    cluster.leader(&ALL).await;
    let handles = cluster.handles();
    let mut outcomes = Outcomes::default();
    for n in 0..60 {
        let data = format!("before-{n}").into_bytes();
        let mut order = handles.clone();
        order.rotate_left(n % 3);
        outcomes.record(data.clone(), propose(&order, &data).await);
    }
    assert_eq!(outcomes.acked.len(), 60);
    cluster.converged(&ALL).await;
    for id in ALL {
        cluster.stop(id).await;
    }
    outcomes
}

/// Writes more after the restart and checks every member applied every
/// acknowledged proposal exactly once (the journal also refuses gaps and repeats).
async fn write_more_and_check(cluster: &Cluster, mut outcomes: Outcomes) {
    cluster.leader(&ALL).await;
    let handles = cluster.handles();
    for n in 0..20 {
        let data = format!("after-{n}").into_bytes();
        outcomes.record(data.clone(), propose(&handles, &data).await);
    }
    assert_eq!(outcomes.acked.len(), 80);
    let log = cluster.converged(&ALL).await;
    outcomes.check(&log);
    assert_eq!(log.entries.len(), 80);
}

#[tokio::test(start_paused = true)]
async fn members_whose_state_survived_restart_without_reapplying() {
    let mut cluster = Cluster::new(&ALL, |config| {
        config.snapshot_count = 25;
        config.snapshot_catch_up_entries = 5;
    });
    let outcomes = run_and_stop_all(&mut cluster).await;
    let before: Vec<u64> = ALL.iter().map(|id| cluster.log(*id).applied).collect();
    let restores: Vec<u64> = ALL.iter().map(|id| cluster.log(*id).restores).collect();

    for id in ALL {
        let journal = cluster.journals[&id].clone(); // a state machine that persisted its state
        cluster.start(id, &ALL, journal);
    }
    for (k, id) in ALL.iter().enumerate() {
        let status = cluster.status(*id);
        assert_eq!(status.applied, before[k], "node {id} resumes at its state machine's applied index");
        assert!(status.snapshot_index >= 50, "node {id} recovered its latest snapshot: {status:?}");
    }
    write_more_and_check(&cluster, outcomes).await;
    for (k, id) in ALL.iter().enumerate() {
        assert_eq!(cluster.log(*id).restores, restores[k], "a state machine ahead of the snapshot is not restored");
    }
    cluster.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn members_that_lost_their_state_rebuild_it_from_snapshot_and_log() {
    let mut cluster = Cluster::new(&ALL, |config| {
        config.snapshot_count = 25;
        config.snapshot_catch_up_entries = 5;
    });
    let outcomes = run_and_stop_all(&mut cluster).await;
    let before = cluster.log(1).entries;

    for id in ALL {
        cluster.start(id, &ALL, Journal::default()); // an in-memory state machine, empty again
    }
    for id in ALL {
        let log = cluster.log(id);
        assert_eq!(log.restores, 1, "node {id} restored the latest snapshot");
        assert!(log.applied >= 50);
    }
    cluster.converged(&ALL).await;
    assert_eq!(cluster.log(2).entries, before, "snapshot and log replay rebuild the same state");
    write_more_and_check(&cluster, outcomes).await;
    cluster.shutdown().await;
}
