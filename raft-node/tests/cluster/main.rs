//! In-process cluster tests of `cairn-raft`: nodes on real WAL directories, talking
//! through a [`support::router::Router`] that drops, delays, reorders and partitions
//! messages. Tests run on paused tokio time: timers fire in order without real
//! waiting, and every wait is bounded.

mod support;

mod conformance;
mod election;
mod faults;
mod membership;
mod partition;
mod read_index;
mod replication;
mod restart;
mod snapshot;
mod transfer;
