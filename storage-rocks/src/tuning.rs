//! The RocksDB options cairn runs with, tuned for etcd's workload: small keys and
//! values, many point reads, short range scans, one writer applying raft entries.

use rocksdb::{BlockBasedOptions, Cache, DBCompressionType, DataBlockIndexType, Options, WriteOptions};

use cairn_storage::Durability;

/// Shared by every bucket: the hot part of etcd's data is small, and the OS page
/// cache holds the rest of the files.
const BLOCK_CACHE_BYTES: usize = 128 << 20;
/// RocksDB's default; a full memtable is flushed to one L0 file.
const WRITE_BUFFER_BYTES: usize = 64 << 20;
/// A bucket written rarely (etcd's `lease`, `auth`) pins every WAL file since its
/// last flush; past this total RocksDB flushes it, which bounds WAL replay at open
/// and the disk the WAL takes.
const MAX_TOTAL_WAL_BYTES: u64 = 256 << 20;
/// Ten bits a key give a ~1% false-positive rate, so a point read of a missing key
/// rarely touches a data block.
const BLOOM_BITS_PER_KEY: f64 = 10.0;

/// Options for the database and for every column family (bucket) in it. The one
/// block cache is created here and shared by all column families opened or
/// created with clones of these options.
pub(crate) fn db_options(durability: Durability) -> Options {
    let mut table = BlockBasedOptions::default();
    table.set_block_cache(&Cache::new_lru_cache(BLOCK_CACHE_BYTES));
    table.set_bloom_filter(BLOOM_BITS_PER_KEY, false);
    // A hash index inside each data block answers point reads without a binary search.
    table.set_data_block_index_type(DataBlockIndexType::BinaryAndHash);
    table.set_data_block_hash_ratio(0.75);

    let mut opts = Options::default();
    opts.create_if_missing(true);
    opts.create_missing_column_families(true);
    opts.set_block_based_table_factory(&table);
    opts.set_write_buffer_size(WRITE_BUFFER_BYTES);
    opts.set_max_total_wal_size(MAX_TOTAL_WAL_BYTES);
    // With relaxed durability a commit need not reach even the OS before `sync`:
    // the WAL is buffered in RocksDB (up to 1 MiB) and written at `sync`, when the
    // buffer fills, or when RocksDB switches to a new WAL file, so a commit of a
    // few puts costs no system call. A crash loses only the tail of the log: what
    // recovery replays is always a prefix of the commits, each one whole.
    opts.set_manual_wal_flush(durability == Durability::Relaxed);
    opts.set_level_compaction_dynamic_level_bytes(true);
    // No compression: cairn reports sizes as etcd does (`dbSize`, `dbSizeInUse` in
    // bytes of data), and the conformance suite checks them against the logical
    // size of what was written; compressed files would report a fraction of it.
    // etcd's own bbolt does not compress either.
    opts.set_compression_type(DBCompressionType::None);
    opts.set_bottommost_compression_type(DBCompressionType::None);
    // Write SST files out in 1 MiB steps instead of one burst at the end of a flush.
    opts.set_bytes_per_sync(1 << 20);
    // The info LOG is rolled at each open; keep a few for diagnosis, not all of them.
    opts.set_keep_log_file_num(8);
    opts
}

/// How each commit is written: always through the WAL, synced on every commit only
/// when the durability asks for it.
pub(crate) fn write_options(durability: Durability) -> WriteOptions {
    let mut opts = WriteOptions::default();
    opts.set_sync(durability == Durability::Immediate);
    opts.disable_wal(false);
    opts
}
