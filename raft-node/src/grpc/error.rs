//! Errors of the peer transport: setting it up ([`GrpcError`]), and refusing a
//! received snapshot ([`SnapshotError`], reported to the sender in its ack).

/// Why the transport could not be set up as asked.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GrpcError {
    /// A peer was given no URL.
    #[error("peer {0} has no URL")]
    NoUrls(u64),
    /// A peer URL is not a valid `http://host:port` URI.
    #[error("invalid peer URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// [`GrpcTransport::connect`](super::GrpcTransport::connect) was called outside a
    /// tokio runtime.
    #[error("the transport must be connected inside a tokio runtime")]
    NoRuntime,
    /// [`GrpcTransport::connect`](super::GrpcTransport::connect) was called twice.
    #[error("the transport is connected to a node already")]
    AlreadyConnected,
}

/// Why a received snapshot stream was not delivered to the node.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(super) enum SnapshotError {
    #[error("the stream carried no chunk")]
    Empty,
    #[error("the first chunk carries no message")]
    NoHeader,
    #[error("the message does not decode: {0}")]
    Malformed(String),
    #[error("a {0} message came as a snapshot")]
    NotSnapshot(String),
    #[error("the sender is of cluster {theirs:x}, this member of cluster {ours:x}")]
    WrongCluster { ours: u64, theirs: u64 },
    #[error("a snapshot of {size} bytes exceeds the limit of {max}")]
    TooLarge { size: u64, max: u64 },
    #[error("the chunks hold more than the announced {total} bytes")]
    Overrun { total: u64 },
    #[error("the chunks hold {got} of the announced {total} bytes")]
    Short { got: u64, total: u64 },
}
