//! The gRPC peer transport: raft messages between members over the `RaftPeer`
//! service of `cairn-proto`'s `raftpeerpb` package, in raft-rs's own encoding.
//!
//! - [`GrpcTransport`] sends: one long-lived `Send` stream per peer, batched,
//!   reconnecting with backoff; snapshots in chunks over `Snapshot` streams.
//! - [`PeerService`] receives: steps messages into the local node, puts snapshots
//!   together; [`serve`] runs it on a listener.
//!
//! Wiring a member (the server binary does the same with its flags):
//!
//! ```no_run
//! # use cairn_raft::{GrpcOptions, GrpcTransport, NodeConfig, PeerService, RaftNode, StateMachine};
//! # async fn run<S: StateMachine>(config: NodeConfig, machine: S) -> Result<(), Box<dyn std::error::Error>> {
//! let (id, cluster_id) = (config.id, 0xcafe);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:2380").await?; // --listen-peer-urls
//! let transport = GrpcTransport::new(id, cluster_id, GrpcOptions::default());
//! transport.set_peer(2, vec!["http://127.0.0.2:2380".into()])?; // --initial-cluster
//! let node = RaftNode::start(config, machine, transport.clone())?;
//! transport.connect(node.handle())?;
//! let service = PeerService::new(node.handle(), cluster_id, GrpcOptions::default());
//! let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
//! let server = tokio::spawn(cairn_raft::grpc::serve(listener, service, async move {
//!     let _ = stopped.await;
//! }));
//! // ... later: stop the node, then the server.
//! node.shutdown().await?;
//! let _ = stop.send(());
//! server.await??;
//! # Ok(())
//! # }
//! ```

mod backoff;
mod codec;
mod connect;
mod error;
mod options;
mod reporter;
mod service;
mod snapshot;
mod stream;
mod transport;

pub use error::GrpcError;
pub use options::{Connect, Connector, GrpcOptions, SnapshotData};
pub use service::{PeerService, PeerStats, serve};
pub use transport::GrpcTransport;
