//! Errors as etcd's Go client words them, so tools print what etcdctl prints.

use tonic::Code;

/// What can go wrong talking to a cluster.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The server answered with an error.
    #[error("{}", status_text(.0))]
    Status(#[from] tonic::Status),
    /// No endpoint could be reached in time.
    #[error("context deadline exceeded")]
    DeadlineExceeded,
    /// A connection failed.
    #[error("{0}")]
    Connect(String),
    /// Bad settings (endpoints, TLS files).
    #[error("{0}")]
    Config(String),
}

impl Error {
    /// The gRPC status, when the server answered with one.
    pub fn status(&self) -> Option<&tonic::Status> {
        match self {
            Error::Status(status) => Some(status),
            _ => None,
        }
    }
}

/// etcd's own error messages: Go's client turns a status carrying one of these into an error
/// that prints as the message alone.
const ETCD_MESSAGES: &[&str] = &[
    "etcdserver: key is not provided",
    "etcdserver: key not found",
    "etcdserver: value is provided",
    "etcdserver: lease is provided",
    "etcdserver: too many operations in txn request",
    "etcdserver: duplicate key given in txn request",
    "etcdserver: mvcc: required revision has been compacted",
    "etcdserver: mvcc: required revision is a future revision",
    "etcdserver: mvcc: database space exceeded",
    "etcdserver: requested lease not found",
    "etcdserver: lease already exists",
    "etcdserver: too large lease TTL",
    "etcdserver: watch canceled",
    "etcdserver: member ID already exist",
    "etcdserver: Peer URLs already exists",
    "etcdserver: re-configuration failed due to not enough started members",
    "etcdserver: given member URLs are invalid",
    "etcdserver: member not found",
    "etcdserver: can only promote a learner member",
    "etcdserver: can only promote a learner member which is in sync with leader",
    "etcdserver: too many learner members in cluster",
    "etcdserver: request is too large",
    "etcdserver: too many requests",
    "etcdserver: root user does not exist",
    "etcdserver: root user does not have root role",
    "etcdserver: user name already exists",
    "etcdserver: user name is empty",
    "etcdserver: user name not found",
    "etcdserver: role name already exists",
    "etcdserver: role name not found",
    "etcdserver: role name is empty",
    "etcdserver: authentication failed, invalid user ID or password",
    "etcdserver: permission denied",
    "etcdserver: role is not granted to the user",
    "etcdserver: permission is not granted to the role",
    "etcdserver: authentication is not enabled",
    "etcdserver: invalid auth token",
    "etcdserver: invalid auth management",
    "etcdserver: revision of auth store is old",
    "etcdserver: no leader",
    "etcdserver: not leader",
    "etcdserver: leader changed",
    "etcdserver: not capable",
    "etcdserver: server stopped",
    "etcdserver: request timed out",
    "etcdserver: request timed out, possibly due to previous leader failure",
    "etcdserver: request timed out, possibly due to connection lost",
    "etcdserver: request timed out, waiting for the applied index took too long",
    "etcdserver: unhealthy cluster",
    "etcdserver: corrupt cluster",
    "etcdserver: rpc not supported for learner",
    "etcdserver: bad leader transferee",
];

/// A status as Go's clientv3 prints it: etcd's own message alone, a deadline or cancellation as
/// Go's context errors, anything else as `rpc error: code = <Code> desc = <message>`.
pub fn status_text(status: &tonic::Status) -> String {
    if ETCD_MESSAGES.contains(&status.message()) {
        return status.message().to_owned();
    }
    match status.code() {
        Code::DeadlineExceeded => "context deadline exceeded".to_owned(),
        Code::Cancelled => "context canceled".to_owned(),
        code => format!("rpc error: code = {} desc = {}", go_code_name(code), status.message()),
    }
}

/// The name Go's `codes.Code` prints for a code.
pub fn go_code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "Canceled",
        Code::Unknown => "Unknown",
        Code::InvalidArgument => "InvalidArgument",
        Code::DeadlineExceeded => "DeadlineExceeded",
        Code::NotFound => "NotFound",
        Code::AlreadyExists => "AlreadyExists",
        Code::PermissionDenied => "PermissionDenied",
        Code::ResourceExhausted => "ResourceExhausted",
        Code::FailedPrecondition => "FailedPrecondition",
        Code::Aborted => "Aborted",
        Code::OutOfRange => "OutOfRange",
        Code::Unimplemented => "Unimplemented",
        Code::Internal => "Internal",
        Code::Unavailable => "Unavailable",
        Code::DataLoss => "DataLoss",
        Code::Unauthenticated => "Unauthenticated",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_print_as_go_prints_them() {
        let known = tonic::Status::invalid_argument("etcdserver: key is not provided");
        assert_eq!(status_text(&known), "etcdserver: key is not provided");
        let other = tonic::Status::unavailable("connection refused");
        assert_eq!(status_text(&other), "rpc error: code = Unavailable desc = connection refused");
        assert_eq!(status_text(&tonic::Status::deadline_exceeded("x")), "context deadline exceeded");
    }
}
