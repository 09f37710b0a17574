//! Replication over a network that loses, delays and reorders messages.

use crate::support::client::{Outcomes, propose};
use crate::support::cluster::Cluster;
use crate::support::router::LATENCY_MS;
use crate::support::wait;

#[tokio::test(start_paused = true)]
async fn replication_survives_loss_delay_and_reordering() {
    let all = [1, 2, 3];
    let cluster = Cluster::new(&all, |config| {
        config.snapshot_count = 30;
        config.snapshot_catch_up_entries = 10;
    });
    cluster.leader(&all).await;
    cluster.router.set_drop(100); // 10 %
    cluster.router.set_delay(1, 25); // up to 2.5 ticks: messages overtake each other

    let mut tasks = Vec::new();
    for client in 0..4u64 {
        let handles = cluster.handles();
        tasks.push(tokio::spawn(async move {
            let mut outcomes = Outcomes::default();
            for n in 0..25 {
                let data = format!("c{client}-{n}").into_bytes();
                // Each client starts at another member.
                let mut order = handles.clone();
                let len = order.len();
                order.rotate_left((client as usize + n) % len);
                let result = propose(&order, &data).await;
                outcomes.record(data, result);
            }
            outcomes
        }));
    }
    let mut all_outcomes = Vec::new();
    for task in tasks {
        all_outcomes.push(wait::bounded("a client", task).await.expect("task"));
    }
    cluster.router.set_drop(0);
    cluster.router.set_delay(LATENCY_MS, LATENCY_MS);
    let log = cluster.converged(&all).await;
    let acked: usize = all_outcomes.iter().map(|o| o.acked.len()).sum();
    assert!(acked >= 50, "most proposals get through: {acked} of 100");
    for outcomes in &all_outcomes {
        outcomes.check(&log);
    }
    cluster.shutdown().await;
}
