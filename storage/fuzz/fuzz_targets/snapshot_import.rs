//! Fuzz target: reading and importing a snapshot stream (`cairn_storage::snapshot`,
//! what a follower does with the stream a leader sends) on arbitrary bytes never
//! panics, never allocates beyond a bound proportional to its input, accepts only the
//! one canonical encoding of what it reads, and imports exactly that. The checks are
//! in `checks/snapshot_import.rs`, shared with the stable test
//! `storage/tests/fuzz_snapshot_import.rs`.
//!
//! `cargo xtask fuzz [--secs N]` runs it.

#![no_main]

#[path = "../checks/snapshot_import.rs"]
mod snapshot_import;

#[global_allocator]
static ALLOC: snapshot_import::CountingAlloc = snapshot_import::CountingAlloc;

libfuzzer_sys::fuzz_target!(|data: &[u8]| snapshot_import::check(data));
