//! The reference engine passes its own conformance suite.

cairn_storage::conformance_tests!(cairn_storage::MemBackend);
