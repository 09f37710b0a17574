//! Linearizable reads through coalesced ReadIndex rounds.

use raft::eraftpb::MessageType;

use crate::support::client::propose;
use crate::support::cluster::Cluster;
use crate::support::wait;

#[tokio::test(start_paused = true)]
async fn concurrent_reads_on_a_follower_share_rounds() {
    let all = [1, 2, 3];
    let cluster = Cluster::new(&all, |_| {});
    let leader = cluster.leader(&all).await;
    let follower = all.iter().copied().find(|&id| id != leader).expect("a follower");
    let written = propose(&[cluster.handle(leader)], b"x").await.expect("proposal");

    let before = cluster.router.sent(follower, MessageType::MsgReadIndex);
    let reads: Vec<_> = (0..100)
        .map(|_| {
            let handle = cluster.handle(follower);
            tokio::spawn(async move { handle.read_index().await })
        })
        .collect();
    for read in reads {
        let index = wait::bounded("a read", read).await.expect("task").expect("read index");
        assert!(index >= written, "a read index covers every write acknowledged before the read");
        assert!(cluster.status(follower).applied >= index);
    }
    let rounds = cluster.router.sent(follower, MessageType::MsgReadIndex) - before;
    assert!((1..=3).contains(&rounds), "100 concurrent reads took {rounds} rounds");
    cluster.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_read_anywhere_sees_a_write_acknowledged_anywhere() {
    let all = [1, 2, 3];
    let cluster = Cluster::new(&all, |_| {});
    cluster.leader(&all).await;
    for n in 0..30u64 {
        let (writer, reader) = (all[n as usize % 3], all[(n as usize + 1) % 3]);
        let data = format!("w{n}").into_bytes();
        let index = propose(&[cluster.handle(writer)], &data).await.expect("proposal");
        let read = wait::bounded("a read", cluster.handle(reader).read_index()).await.expect("read index");
        assert!(read >= index);
        assert_eq!(cluster.log(reader).count(&data), 1, "the reader's state machine holds the write");
    }
    cluster.shutdown().await;
}
