//! Fuzz target: gRPC KV and lease requests decoded from arbitrary bytes, checked as
//! the services check them (`cairn_server::api::grpc::validate` and the limits), and,
//! when they pass, applied to a member's state machine: nothing panics, and no request
//! that passed the checks makes apply fail (which would stop every member). The
//! checks are in `checks/grpc_request.rs`, shared with the stable test
//! `server/tests/fuzz_grpc_request.rs`.
//!
//! `cargo xtask fuzz [--secs N]` runs it.

#![no_main]

#[path = "../checks/member.rs"]
mod member;

#[path = "../checks/grpc_request.rs"]
mod grpc_request;

libfuzzer_sys::fuzz_target!(|data: &[u8]| grpc_request::check(data));
