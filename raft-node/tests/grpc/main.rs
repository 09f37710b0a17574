//! In-process cluster tests over the real gRPC peer transport: each node has a
//! `GrpcTransport` and serves its `PeerService` on a 127.0.0.1 port-0 listener.
//! Real sockets, so real time: every wait is bounded.

#[path = "../cluster/support/journal.rs"]
mod journal;
#[path = "../cluster/support/log.rs"]
mod log;
mod support;
#[path = "../cluster/support/wait.rs"]
mod wait;

mod failover;
mod refused;
mod snapshot;
