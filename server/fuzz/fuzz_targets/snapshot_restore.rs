//! Fuzz target: a member restoring a raft snapshot a leader sent
//! (`cairn_server::apply::Applier::restore`, then the MVCC store's and the side
//! tables' reload) whose export holds arbitrary pairs in etcd's buckets never panics,
//! and a member that accepted it keeps serving and applying. The checks are in
//! `checks/snapshot_restore.rs`, shared with the stable test
//! `server/tests/fuzz_snapshot_restore.rs`.
//!
//! `cargo xtask fuzz [--secs N]` runs it.

#![no_main]

#[path = "../checks/member.rs"]
mod member;

#[path = "../checks/snapshot_restore.rs"]
mod snapshot_restore;

libfuzzer_sys::fuzz_target!(|data: &[u8]| snapshot_restore::check(data));
