//! Fuzz target: `cairn_wal::decode_record` on arbitrary bytes never panics, never
//! allocates beyond a bound proportional to its input, and re-encodes whatever it
//! decodes to the same bytes. The checks are in `checks/decode_record.rs`, shared
//! with the stable test `wal/tests/fuzz_decode_record.rs`.
//!
//! `cargo xtask fuzz [--seconds N]` runs it.

#![no_main]

#[path = "../checks/decode_record.rs"]
mod decode_record;

#[global_allocator]
static ALLOC: decode_record::CountingAlloc = decode_record::CountingAlloc;

libfuzzer_sys::fuzz_target!(|data: &[u8]| decode_record::check(data));
