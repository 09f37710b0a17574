//! LMDB passes the shared conformance suite.

cairn_storage::conformance_tests!(cairn_storage_lmdb::LmdbBackend);
