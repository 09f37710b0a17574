//! The client-facing APIs.

pub mod grpc;
