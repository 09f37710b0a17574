//! `cairn-raft`: cairn's raft node.
//!
//! It drives raft-rs's `RawNode` in one tokio task: ticks, peer messages and
//! callers' commands in; on each `Ready`, entries and hard state made durable in
//! the `cairn-wal` WAL with one fsync (group commit), messages handed to a
//! [`Transport`], committed entries applied in batches to a [`StateMachine`], and
//! callers answered. It offers proposals batched from many tasks, linearizable reads
//! by coalesced ReadIndex rounds, membership changes (learners, joint consensus),
//! leader transfer, snapshots (taken every `snapshot_count` entries, installed when
//! the leader sends one) and restart from the WAL. Pre-vote and check-quorum are on.
//!
//! It is not the state machine (the server's apply layer implements
//! [`StateMachine`]) and not the log's storage (that is `cairn-wal`). A [`Transport`]
//! carries messages between members: [`GrpcTransport`] and [`PeerService`] (in
//! [`grpc`]) do it over the network with tonic.
//!
//! A single-member cluster applying a proposal to a tiny state machine:
//!
//! ```
//! use std::time::Duration;
//!
//! use cairn_raft::{Committed, NodeConfig, Payload, RaftNode, Role, StateMachine, Transport};
//! use raft::eraftpb::{Message, Snapshot};
//!
//! /// Sums the lengths of the proposals applied.
//! #[derive(Default)]
//! struct Counter {
//!     applied: u64,
//!     total: u64,
//! }
//!
//! impl StateMachine for Counter {
//!     type Output = u64;
//!     type Error = std::io::Error;
//!
//!     fn apply(&mut self, entries: &[Committed<'_>]) -> Result<Vec<u64>, Self::Error> {
//!         let mut outputs = Vec::with_capacity(entries.len());
//!         for entry in entries {
//!             if let Payload::Normal(data) = entry.payload {
//!                 self.total += data.len() as u64;
//!             }
//!             self.applied = entry.index;
//!             outputs.push(self.total);
//!         }
//!         Ok(outputs)
//!     }
//!
//!     fn applied_index(&self) -> u64 {
//!         self.applied
//!     }
//!
//!     fn snapshot(&self) -> Result<Vec<u8>, Self::Error> {
//!         Ok(self.total.to_le_bytes().to_vec())
//!     }
//!
//!     fn restore(&mut self, snapshot: &Snapshot) -> Result<(), Self::Error> {
//!         let bytes = snapshot.get_data().try_into().map_err(|_| std::io::ErrorKind::InvalidData)?;
//!         self.total = u64::from_le_bytes(bytes);
//!         self.applied = snapshot.get_metadata().index;
//!         Ok(())
//!     }
//! }
//!
//! /// A cluster of one has nobody to talk to.
//! struct NoPeers;
//!
//! impl Transport for NoPeers {
//!     fn send(&self, _messages: Vec<Message>) {}
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let mut config = NodeConfig::new(1, dir.path());
//! config.initial_voters = vec![1];
//! config.tick_interval = Duration::from_millis(10);
//! config.wal.segment_size = 1 << 20;
//!
//! let node = RaftNode::start(config, Counter::default(), NoPeers)?;
//! let mut status = node.watch_status();
//! tokio::time::timeout(Duration::from_secs(10), status.wait_for(|s| s.role == Role::Leader)).await??;
//!
//! assert_eq!(node.propose(b"hello".to_vec()).await?, 5);
//! assert_eq!(node.propose(b"raft".to_vec()).await?, 9);
//! let read_index = node.read_index().await?;
//! assert!(node.status().applied >= read_index);
//! node.shutdown().await?;
//! # Ok(())
//! # }
//! ```

pub mod conformance;
pub mod grpc;

mod command;
mod config;
mod driver;
mod error;
mod handle;
mod membership;
mod node;
mod read_index;
mod recovery;
mod request_id;
mod state_machine;
mod status;
mod transfer;
mod transport;
mod waiters;

pub use cairn_wal::metrics as wal_metrics;
pub use config::NodeConfig;
pub use error::{NodeError, ProposalError, ReadError, StepError, TransferError};
pub use grpc::{GrpcError, GrpcOptions, GrpcTransport, PeerService, PeerStats};
pub use handle::NodeHandle;
pub use membership::MembershipChange;
pub use node::RaftNode;
pub use raft::SnapshotStatus;
pub use state_machine::{Committed, Payload, StateMachine};
pub use status::{Role, Status};
pub use transport::Transport;
