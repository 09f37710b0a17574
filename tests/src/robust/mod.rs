//! The robustness suite: record what clients of a real cluster see while one fault is injected,
//! then check it.
//!
//! - [`history`]: operations with invoke and return times; unknown outcomes for writes that
//!   failed or timed out.
//! - [`model`]: etcd's key-value store as a sequential specification (per-key registers under one
//!   store revision, leases, compare-and-swap and multi-key transactions).
//! - [`linearize`]: Wing & Gong / Lowe's search with memoization, generic over the model.
//! - [`watch`]: the watch guarantees (ordered, unique, atomic, reliable, resumable, agreeing).
//! - [`check`]: all of the above over one run's record, unknown outcomes settled by the history.
//! - [`proxy`]: per-member TCP proxies on peer links that cut, delay and reset them.
//! - [`cluster`]: member processes (cairn or etcd) behind those proxies; kill, pause, restart,
//!   remove, add.
//! - [`traffic`]: clients and watchers (over `etcd-client`) that record into the history.
//! - [`faults`]: one fault per run and its repair.
//! - [`runner`]: one run end to end, a campaign of runs, and the table.
//!
//! ```no_run
//! use cairn_tests::Kind;
//! use cairn_tests::robust::faults::Fault;
//! use cairn_tests::robust::runner::{RunConfig, run_once};
//!
//! let result = run_once(&RunConfig::new(Kind::Cairn, Fault::KillLeader, 42));
//! assert!(result.passed(), "{:#?} (kept in {:?})", result.report.violations, result.kept);
//! ```

pub mod check;
pub mod cluster;
pub mod faults;
pub mod history;
pub mod linearize;
pub mod model;
pub mod proxy;
pub mod runner;
pub mod traffic;
pub mod watch;

#[cfg(test)]
mod check_tests;
