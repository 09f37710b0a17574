//! Replicating proposals made on every member.

use cairn_raft::ProposalError;

use crate::support::client::{Outcomes, propose};
use crate::support::cluster::Cluster;
use crate::support::wait;

#[tokio::test(start_paused = true)]
async fn proposals_on_every_member_are_applied_everywhere_once() {
    let cluster = Cluster::new(&[1, 2, 3], |_| {});
    cluster.leader(&[1, 2, 3]).await;
    // 3 members x 20 concurrent proposals each; followers forward theirs.
    let mut tasks = Vec::new();
    for id in [1, 2, 3] {
        for n in 0..20 {
            let handle = cluster.handle(id);
            let data = format!("node{id}-{n}").into_bytes();
            tasks.push(tokio::spawn(async move { (data.clone(), propose(&[handle], &data).await) }));
        }
    }
    let mut outcomes = Outcomes::default();
    for task in tasks {
        let (data, result) = wait::bounded("a proposal", task).await.expect("task");
        outcomes.record(data, result);
    }
    assert!(outcomes.unknown.is_empty(), "no faults, so every proposal is acknowledged: {:?}", outcomes.unknown);
    let log = cluster.converged(&[1, 2, 3]).await;
    assert_eq!(log.entries.len(), 60);
    outcomes.check(&log);
    cluster.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn an_oversized_proposal_is_refused_before_it_reaches_the_log() {
    let cluster = Cluster::new(&[1], |config| config.max_proposal_bytes = 1024);
    cluster.leader(&[1]).await;
    let handle = cluster.handle(1);
    let error = wait::bounded("a refusal", handle.propose(vec![0; 1025])).await.expect_err("too large");
    assert_eq!(error, ProposalError::TooLarge { len: 1025, max: 1024 });
    let index = wait::bounded("a proposal", handle.propose(vec![0; 1024])).await.expect("at the limit");
    assert_eq!(cluster.log(1).entries.last().map(|(i, d)| (*i, d.len())), Some((index, 1024)));
    cluster.shutdown().await;
}
