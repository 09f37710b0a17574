//! etcd's v3 gRPC services, one file each, and the one mapping of errors to
//! gRPC statuses.

pub mod auth;
pub mod authz;
pub mod cluster;
pub mod coordination;
pub mod election;
pub mod kv;
pub mod lease;
pub mod lock;
pub mod maintenance;
pub mod require_leader;
pub mod status;
pub mod validate;
pub mod watch;
