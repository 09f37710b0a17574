//! The shared conformance suite of `cairn-storage`, run against `FjallBackend`.
cairn_storage::conformance_tests!(cairn_storage_fjall::FjallBackend);
