//! Errors of the MVCC store.

/// A result of an MVCC operation.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong. The messages of `Compacted` and `FutureRevision` are etcd's,
/// which clients match on.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The revision asked for is older than the compacted revision.
    #[error("mvcc: required revision has been compacted")]
    Compacted {
        /// The compacted revision.
        compacted: i64,
    },
    /// The revision asked for has not happened yet.
    #[error("mvcc: required revision is a future revision")]
    FutureRevision {
        /// The current revision.
        current: i64,
    },
    /// A put with `ignore_value` or `ignore_lease` of a key that does not exist.
    #[error("etcdserver: key not found")]
    KeyNotFound,
    /// A watch asked for an id that is in use.
    #[error("mvcc: watcher id {0} is already in use")]
    WatchIdTaken(i64),
    /// The backend failed; the store is as before the failed call.
    #[error(transparent)]
    Storage(#[from] cairn_storage::Error),
    /// The backend holds data this crate did not write.
    #[error("mvcc: corrupt store: {0}")]
    Corrupt(String),
}
