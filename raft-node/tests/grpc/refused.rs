//! A peer service refuses streams from another cluster.

use cairn_proto::raftpeerpb::raft_peer_client::RaftPeerClient;
use cairn_proto::raftpeerpb::{MessageBatch, SnapshotChunk};
use cairn_raft::GrpcOptions;

use crate::support::{CLUSTER, GrpcCluster};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_from_another_cluster_are_refused() {
    let mut cluster = GrpcCluster::new(|_| {}, GrpcOptions::default());
    cluster.start(&[1], &[1]).await;
    let mut client = RaftPeerClient::connect(cluster.member(1).url.clone()).await.expect("connect");

    let batch = MessageBatch { from: 9, cluster_id: CLUSTER + 1, messages: vec![Vec::new()] };
    let status = client.send(tokio_stream::iter([batch])).await.expect_err("refused");
    assert_eq!(status.code(), tonic::Code::FailedPrecondition, "{status:?}");

    let chunk = SnapshotChunk { from: 9, cluster_id: CLUSTER + 1, message: vec![8, 10], ..Default::default() };
    let ack = client.snapshot(tokio_stream::iter([chunk])).await.expect("an answer").into_inner();
    assert!(!ack.delivered, "{ack:?}");

    let stats = cluster.member(1).service.stats();
    assert_eq!((stats.refused, stats.messages, stats.snapshots), (2, 0, 0), "{stats:?}");
    cluster.shutdown().await;
}
