//! The server's errors, by what the caller does with them. Their mapping to
//! gRPC statuses with etcd's codes and messages is in `api::grpc::status`.

use crate::lease::LeaseError;

/// Why a request failed. Messages are etcd's (`etcdserver: ...`), which clients
/// match on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// A put, delete or range with an empty key.
    #[error("etcdserver: key is not provided")]
    EmptyKey,
    /// A put with `ignore_value` or `ignore_lease` of a missing key.
    #[error("etcdserver: key not found")]
    KeyNotFound,
    /// A put with `ignore_value` and a value.
    #[error("etcdserver: value is provided")]
    ValueProvided,
    /// A put with `ignore_lease` and a lease.
    #[error("etcdserver: lease is provided")]
    LeaseProvided,
    /// A txn with more ops in a branch than `--max-txn-ops`.
    #[error("etcdserver: too many operations in txn request")]
    TooManyOps,
    /// A txn that writes the same key twice in one branch.
    #[error("etcdserver: duplicate key given in txn request")]
    DuplicateKey,
    /// A request larger than `--max-request-bytes`.
    #[error("etcdserver: request is too large")]
    RequestTooLarge,
    /// A revision older than the compaction point.
    #[error("etcdserver: mvcc: required revision has been compacted")]
    Compacted,
    /// A revision not yet written.
    #[error("etcdserver: mvcc: required revision is a future revision")]
    FutureRevision,
    /// The CORRUPT alarm is raised.
    #[error("etcdserver: corrupt cluster")]
    Corrupt,
    /// The NOSPACE alarm is raised.
    #[error("etcdserver: mvcc: database space exceeded")]
    NoSpace,
    /// A lease operation failed.
    #[error("{0}")]
    Lease(LeaseError),
    /// No member with that id.
    #[error("etcdserver: member not found")]
    MemberNotFound,
    /// A member id in use.
    #[error("etcdserver: member ID already exist")]
    MemberExists,
    /// Peer URLs in use by another member.
    #[error("etcdserver: Peer URLs already exists")]
    PeerUrlExists,
    /// Bad member URLs.
    #[error("etcdserver: given member URLs are invalid")]
    MemberBadUrls,
    /// etcd 3.4 allows one learner at a time.
    #[error("etcdserver: too many learner members in cluster")]
    TooManyLearners,
    /// The change would leave fewer started voters than a quorum.
    #[error("etcdserver: re-configuration failed due to not enough started members")]
    NotEnoughStartedMembers,
    /// Promotion of a voter.
    #[error("etcdserver: can only promote a learner member")]
    MemberNotLearner,
    /// Promotion of a learner still far behind.
    #[error("etcdserver: can only promote a learner member which is in sync with leader")]
    LearnerNotReady,
    /// The member does not know a leader.
    #[error("etcdserver: no leader")]
    NoLeader,
    /// An operation only the leader can do.
    #[error("etcdserver: not leader")]
    NotLeader,
    /// The leader changed while the request was in flight.
    #[error("etcdserver: leader changed")]
    LeaderChanged,
    /// The request did not finish in time.
    #[error("etcdserver: request timed out")]
    Timeout,
    /// The server is stopping.
    #[error("etcdserver: server stopped")]
    Stopped,
    /// A leader transfer to a member that cannot take it.
    #[error("etcdserver: bad leader transferee")]
    BadLeaderTransferee,
    /// The request is not allowed on a learner.
    #[error("etcdserver: rpc not supported for learner")]
    NotSupportedForLearner,
    /// Something inside the server failed (storage); the request did not apply.
    #[error("etcdserver: {0}")]
    Internal(String),
    /// Auth refused the request, or an auth change failed.
    #[error("{0}")]
    Auth(#[from] crate::auth::AuthError),
}

impl From<LeaseError> for RequestError {
    fn from(e: LeaseError) -> Self {
        RequestError::Lease(e)
    }
}

impl From<cairn_mvcc::Error> for RequestError {
    fn from(e: cairn_mvcc::Error) -> Self {
        match e {
            cairn_mvcc::Error::Compacted { .. } => RequestError::Compacted,
            cairn_mvcc::Error::FutureRevision { .. } => RequestError::FutureRevision,
            cairn_mvcc::Error::KeyNotFound => RequestError::KeyNotFound,
            other => RequestError::Internal(other.to_string()),
        }
    }
}

/// Why a Lock or Election request failed: etcd's `clientv3/concurrency` and
/// `v3election` errors, and the KV errors of the requests they make.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CoordinationError {
    /// Proclaim by a key that no longer leads (`ErrElectionNotLeader`).
    #[error("election: not leader")]
    NotLeader,
    /// Leader of an election without candidates (`ErrElectionNoLeader`).
    #[error("election: no leader")]
    NoLeader,
    /// Proclaim or Resign without a leader key (`ErrMissingLeaderKey`).
    #[error("\"leader\" field must be provided")]
    MissingLeaderKey,
    /// A lock waiter's key went away, its lease with it (`ErrSessionExpired`).
    #[error("mutex: session is expired")]
    SessionExpired,
    /// The watcher of a waiter ended (compacted away, or the store stopped).
    #[error("lost watcher waiting for delete")]
    LostWatcher,
    /// The client's deadline passed.
    #[error("context deadline exceeded")]
    DeadlineExceeded,
    /// A request the recipe made failed.
    #[error("{0}")]
    Request(#[from] RequestError),
}

/// A failure of the state machine that stops the member (storage broke).
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// The MVCC store or the backend failed.
    #[error("apply: {0}")]
    Store(#[from] cairn_mvcc::Error),
    /// The backend failed.
    #[error("apply: {0}")]
    Storage(#[from] cairn_storage::Error),
    /// A committed entry or snapshot could not be decoded.
    #[error("apply: {0}")]
    Corrupt(String),
    /// A failpoint (feature `failpoints`) was told to return an error: a fault the
    /// robustness suite injected.
    #[error("apply: failpoint {name} returned an error ({arg})")]
    Failpoint {
        /// The failpoint.
        name: &'static str,
        /// The argument of its `return` action.
        arg: String,
    },
}
