//! The shared conformance suite, run against RocksBackend.
cairn_storage::conformance_tests!(cairn_storage_rocks::RocksBackend);
