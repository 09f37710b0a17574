//! `cairn-server`: the `cairn` binary's library. A member of an etcd-compatible
//! cluster: etcd's v3 gRPC API (KV, Watch, Lease, Cluster, Maintenance) served
//! over the MVCC store (`cairn-mvcc`), replicated by raft (`cairn-raft`), on the
//! storage engine chosen at build time.
//!
//! It is not a client (see `cairn-client`) nor the storage engines (the
//! `cairn-storage-*` crates).
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! let config = cairn_server::config::Config::load(["cairn", "--data-dir", "/tmp/demo.cairn"], |_| None)?;
//! cairn_server::run(config, std::future::pending()).await
//! # }
//! ```

pub mod api;
pub mod apply;
pub mod auth;
pub mod config;
pub mod core;
pub mod engine;
pub mod error;
pub mod http;
pub mod ids;
pub mod lease;
pub mod members;
pub mod metrics;
mod run;
mod slog_bridge;
pub mod state;
pub mod tls;
pub mod v2;

pub use run::run;
