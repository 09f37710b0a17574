//! How the fjall database and its keyspaces are configured, and why.

use std::path::Path;

use fjall::config::CompressionPolicy;
use fjall::{Database, DatabaseBuilder, KeyspaceCreateOptions};

/// fjall's smallest allowed cap on the journals kept for unflushed memtables. A
/// bucket written rarely (`meta`) never fills its memtable, so without a tight cap
/// fjall keeps up to 512 MB of old journals for it, all read again on every open.
const MAX_JOURNALING_BYTES: u64 = 64 << 20;

/// The block cache, shared by all keyspaces and filled only as blocks are read. Point
/// reads of a working set that fits in it cost about a third less CPU than reads
/// that go to the OS page cache; 256 MB holds a million 256-byte values.
const CACHE_BYTES: u64 = 256 << 20;

/// The database's settings. Journal persistence is left to each commit's batch
/// (`manual_journal_persist`), so a relaxed commit costs no system call.
pub(crate) fn database(path: &Path) -> DatabaseBuilder<Database> {
    Database::builder(path)
        .manual_journal_persist(true)
        .max_journaling_size(MAX_JOURNALING_BYTES)
        .cache_size(CACHE_BYTES)
}

/// The settings of a new bucket's keyspace; fjall records them when it creates the
/// keyspace, and an existing keyspace keeps its own.
///
/// Compression is off: etcd's `dbSize` and `dbSizeInUse` count the bytes of the data
/// itself, which fjall's compressed tables would hide, and values that cairn stores
/// (protobuf-encoded revisions) compress little.
pub(crate) fn keyspace() -> KeyspaceCreateOptions {
    KeyspaceCreateOptions::default()
        .data_block_compression_policy(CompressionPolicy::disabled())
        .index_block_compression_policy(CompressionPolicy::disabled())
}
