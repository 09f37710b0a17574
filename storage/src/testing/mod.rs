//! The conformance suite: one set of checks that every [`Backend`] must pass.
//!
//! Each engine crate runs the whole suite from its own tests with one line:
//!
//! ```ignore
//! cairn_storage::conformance_tests!(cairn_storage_lmdb::LmdbBackend);
//! ```
//!
//! which expands to one `#[test]` per check, so a failure names the check. The
//! checks are plain generic functions; each makes its own temporary directories.

mod model;
mod suite;

pub use model::random_batches_match_model;
pub use suite::*;

/// What a conformance check returns: any error fails the test with its message.
pub type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;

/// Expands to one `#[test]` per conformance check, each run against `$backend`.
#[macro_export]
macro_rules! conformance_tests {
    ($backend:ty) => {
        $crate::conformance_tests!(@each $backend;
            atomic_batches,
            missing_buckets_and_deletes,
            binary_key_order,
            reverse_scans_and_limits,
            large_values,
            snapshot_isolation_with_concurrent_writer,
            durable_after_sync_and_reopen,
            durable_immediate_commit,
            export_import_round_trip,
            import_rejects_corrupt_snapshot,
            import_refuses_non_empty_target,
            reclaims_space_after_mass_deletion,
            defrag_keeps_views_readable,
            refuses_directory_of_other_engine,
            random_batches_match_model,
        );
    };
    (@each $backend:ty; $($check:ident),* $(,)?) => {
        $(
            #[test]
            fn $check() -> $crate::testing::TestResult {
                $crate::testing::$check::<$backend>()
            }
        )*
    };
}
