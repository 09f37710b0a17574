//! Test support: a faulty in-process router, a journaling state machine, a cluster
//! harness, a retrying client, and bounded waits.

pub mod client;
pub mod cluster;
pub mod journal;
pub mod log;
pub mod router;
pub mod wait;
