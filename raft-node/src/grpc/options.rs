//! [`GrpcOptions`]: the knobs of the peer transport and service.

use std::sync::Arc;
use std::time::Duration;

use raft::eraftpb::SnapshotMetadata;

/// Makes the data of a snapshot just before it is sent to a peer, from the
/// snapshot's metadata. A state machine whose durable state lives outside the
/// log (a database) can keep its raft snapshots tiny and stream the database
/// only when a follower needs it, as etcd does.
#[derive(Clone)]
pub struct SnapshotData(pub Arc<MakeSnapshotData>);

/// The function behind [`SnapshotData`]: the data for a snapshot's metadata, or why not.
pub type MakeSnapshotData = dyn Fn(&SnapshotMetadata) -> Result<Vec<u8>, String> + Send + Sync;

impl std::fmt::Debug for SnapshotData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SnapshotData(..)")
    }
}

/// Opens the connection of a configured endpoint, instead of a plain
/// `Endpoint::connect` (e.g. through TLS for `https://` peer URLs); the error
/// says why it failed.
#[derive(Clone)]
pub struct Connector(pub Arc<Connect>);

/// The function behind [`Connector`].
pub type Connect = dyn Fn(
        tonic::transport::Endpoint,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<tonic::transport::Channel, String>> + Send>>
    + Send
    + Sync;

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Connector(..)")
    }
}

/// Settings of a [`GrpcTransport`](super::GrpcTransport) and a
/// [`PeerService`](super::PeerService). Make one with `GrpcOptions::default()` and
/// adjust the public fields.
#[derive(Clone, Debug)]
pub struct GrpcOptions {
    /// Messages queued per peer before `send` drops new ones and reports the peer
    /// unreachable (4096).
    pub queue: usize,
    /// Bytes of encoded messages in one `MessageBatch` (4 MiB); a single larger
    /// message still goes, alone.
    pub max_batch_bytes: usize,
    /// The largest gRPC message a [`PeerService`](super::PeerService) accepts
    /// (64 MiB): it must hold a batch with the largest raft message, e.g. an append
    /// carrying one maximal proposal.
    pub max_message_bytes: usize,
    /// The first wait before reconnecting to a peer (50 ms); it doubles on each
    /// failure up to [`backoff_max`](Self::backoff_max).
    pub backoff_min: Duration,
    /// The longest wait between reconnection attempts (2 s).
    pub backoff_max: Duration,
    /// How long connecting to a peer (TCP and HTTP/2 handshake) may take (1 s).
    pub connect_timeout: Duration,
    /// How often an HTTP/2 ping checks a connection (1 s), on both sides...
    pub keepalive_interval: Duration,
    /// ...and how long an unanswered ping takes to declare it dead (3 s).
    pub keepalive_timeout: Duration,
    /// Bytes of snapshot data per `SnapshotChunk` (1 MiB).
    pub snapshot_chunk_bytes: usize,
    /// How long sending one snapshot may take before it counts as failed (5 min).
    pub snapshot_timeout: Duration,
    /// The largest snapshot a [`PeerService`](super::PeerService) accepts (8 GiB).
    pub max_snapshot_bytes: u64,
    /// Where connection changes and refused streams are logged (nowhere by default).
    pub logger: slog::Logger,
    /// If set, replaces the data of each outgoing snapshot (called on a blocking
    /// thread); otherwise the snapshot is sent as raft holds it.
    pub snapshot_data: Option<SnapshotData>,
    /// If set, opens connections to peers (e.g. with TLS); otherwise plain HTTP/2.
    pub connector: Option<Connector>,
}

impl Default for GrpcOptions {
    fn default() -> Self {
        GrpcOptions {
            queue: 4096,
            max_batch_bytes: 4 << 20,
            max_message_bytes: 64 << 20,
            backoff_min: Duration::from_millis(50),
            backoff_max: Duration::from_secs(2),
            connect_timeout: Duration::from_secs(1),
            keepalive_interval: Duration::from_secs(1),
            keepalive_timeout: Duration::from_secs(3),
            snapshot_chunk_bytes: 1 << 20,
            snapshot_timeout: Duration::from_secs(300),
            max_snapshot_bytes: 8 << 30,
            logger: slog::Logger::root(slog::Discard, slog::o!()),
            snapshot_data: None,
            connector: None,
        }
    }
}
