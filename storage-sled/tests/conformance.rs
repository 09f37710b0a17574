//! The shared storage conformance suite, run against `SledBackend`.
cairn_storage::conformance_tests!(cairn_storage_sled::SledBackend);
