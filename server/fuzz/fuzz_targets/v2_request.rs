//! Fuzz target: etcd's v2 keys request parsing (`cairn_server::http::v2::parse_key_request`,
//! with the form decoding of `http::form`) on arbitrary methods, paths, query strings
//! and bodies never panics, returns only clean paths and consistent fields, and what
//! it accepts applies to a v2 store without a panic. The checks are in
//! `checks/v2_request.rs`, shared with the stable test `server/tests/fuzz_v2_request.rs`.
//!
//! `cargo xtask fuzz [--secs N]` runs it.

#![no_main]

#[path = "../checks/v2_request.rs"]
mod v2_request;

libfuzzer_sys::fuzz_target!(|data: &[u8]| v2_request::check(data));
