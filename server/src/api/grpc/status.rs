//! [`RequestError`] as a gRPC status, with etcd's codes and messages.

use tonic::{Code, Status};

use crate::auth::AuthError;
use crate::error::{CoordinationError, RequestError};
use crate::lease::LeaseError;

/// The status etcd answers with for `e`.
pub fn to_status(e: RequestError) -> Status {
    let code = match &e {
        RequestError::EmptyKey
        | RequestError::KeyNotFound
        | RequestError::ValueProvided
        | RequestError::LeaseProvided
        | RequestError::TooManyOps
        | RequestError::DuplicateKey
        | RequestError::RequestTooLarge
        | RequestError::MemberBadUrls => Code::InvalidArgument,
        RequestError::Compacted | RequestError::FutureRevision => Code::OutOfRange,
        RequestError::NoSpace => Code::ResourceExhausted,
        RequestError::Corrupt => Code::DataLoss,
        RequestError::Lease(LeaseError::NotFound) | RequestError::MemberNotFound => Code::NotFound,
        RequestError::Lease(LeaseError::Exists)
        | RequestError::Lease(LeaseError::NotPrimary)
        | RequestError::MemberExists
        | RequestError::PeerUrlExists
        | RequestError::MemberNotLearner
        | RequestError::LearnerNotReady
        | RequestError::TooManyLearners
        | RequestError::NotLeader
        | RequestError::BadLeaderTransferee => Code::FailedPrecondition,
        RequestError::Lease(LeaseError::TtlTooLarge) => Code::OutOfRange,
        RequestError::NoLeader
        | RequestError::LeaderChanged
        | RequestError::Timeout
        | RequestError::Stopped
        | RequestError::NotSupportedForLearner => Code::Unavailable,
        // etcd 3.4 has no code for it: its message reaches clients as Unknown.
        RequestError::Internal(_) | RequestError::NotEnoughStartedMembers => Code::Unknown,
        RequestError::Auth(a) => auth_code(*a),
    };
    Status::new(code, e.to_string())
}

/// etcd's codes for its auth errors.
fn auth_code(e: AuthError) -> Code {
    match e {
        AuthError::UserEmpty
        | AuthError::RoleEmpty
        | AuthError::AuthFailed
        | AuthError::InvalidAuthMgmt
        | AuthError::OldRevision => Code::InvalidArgument,
        AuthError::PermissionDenied => Code::PermissionDenied,
        AuthError::InvalidAuthToken => Code::Unauthenticated,
        AuthError::RootUserNotExist
        | AuthError::RootRoleNotExist
        | AuthError::UserAlreadyExist
        | AuthError::UserNotFound
        | AuthError::RoleAlreadyExist
        | AuthError::RoleNotFound
        | AuthError::RoleNotGranted
        | AuthError::PermissionNotGranted
        | AuthError::AuthNotEnabled => Code::FailedPrecondition,
    }
}

impl From<RequestError> for Status {
    fn from(e: RequestError) -> Self {
        to_status(e)
    }
}

/// etcd's v3lock and v3election servers return the errors of their embedded
/// client, which carry no gRPC status: clients get code Unknown with etcd's
/// message, for KV errors too (`etcdserver: requested lease not found`).
impl From<CoordinationError> for Status {
    fn from(e: CoordinationError) -> Self {
        Status::unknown(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_messages_are_etcds() {
        let s = to_status(RequestError::EmptyKey);
        assert_eq!((s.code(), s.message()), (Code::InvalidArgument, "etcdserver: key is not provided"));
        let s = to_status(RequestError::Compacted);
        assert_eq!(
            (s.code(), s.message()),
            (Code::OutOfRange, "etcdserver: mvcc: required revision has been compacted")
        );
        let s = to_status(LeaseError::NotFound.into());
        assert_eq!((s.code(), s.message()), (Code::NotFound, "etcdserver: requested lease not found"));
        let s = to_status(AuthError::PermissionDenied.into());
        assert_eq!((s.code(), s.message()), (Code::PermissionDenied, "etcdserver: permission denied"));
        let s = to_status(AuthError::InvalidAuthToken.into());
        assert_eq!((s.code(), s.message()), (Code::Unauthenticated, "etcdserver: invalid auth token"));
        let s = to_status(RequestError::NoLeader);
        assert_eq!((s.code(), s.message()), (Code::Unavailable, "etcdserver: no leader"));
    }

    #[test]
    fn lock_and_election_errors_are_unknown_as_from_etcd() {
        let s = Status::from(CoordinationError::NotLeader);
        assert_eq!((s.code(), s.message()), (Code::Unknown, "election: not leader"));
        let s = Status::from(CoordinationError::MissingLeaderKey);
        assert_eq!((s.code(), s.message()), (Code::Unknown, "\"leader\" field must be provided"));
        let s = Status::from(CoordinationError::Request(LeaseError::NotFound.into()));
        assert_eq!((s.code(), s.message()), (Code::Unknown, "etcdserver: requested lease not found"));
    }
}
