//! Space reporting and reclamation: what the store takes on disk, and a full
//! compaction to give back what deletes freed.

use std::io::ErrorKind;
use std::path::Path;
use std::sync::Arc;

use cairn_storage::{Backend, Error, Result, SpaceUsage};
use rocksdb::{BottommostLevelCompaction, BoundColumnFamily, CompactOptions, FlushOptions, properties};

use crate::{RocksBackend, engine_error};

/// The space the store takes.
///
/// `allocated` is the length of every file in the store's directory: SST files
/// (including ones a view or a running compaction still pins), the WAL, the
/// MANIFEST, OPTIONS and info LOG files. It counts written bytes, not the blocks
/// RocksDB reserves ahead of the WAL's end with `fallocate`.
///
/// `in_use` is an estimate, as RocksDB cannot know which stored entries are dead
/// until compaction meets them: per column family, the bytes of its current SST
/// files and memtables, scaled by the share of its entries that are live. Entries
/// and tombstones are counted from the SST files' table properties and the
/// memtables, and each tombstone is taken to hide one older entry. It is exact
/// right after [`cairn_storage::Backend::defrag`]; before, a key overwritten
/// without a delete still counts twice, and a delete of a key that never existed
/// hides one entry too many.
pub(crate) fn space(backend: &RocksBackend) -> Result<SpaceUsage> {
    let mut in_use = 0;
    for cf in column_families(backend) {
        in_use += live_bytes(backend, &cf)?;
    }
    Ok(SpaceUsage { allocated: directory_bytes(&backend.dir)?, in_use })
}

fn live_bytes(backend: &RocksBackend, cf: &Arc<BoundColumnFamily<'_>>) -> Result<u64> {
    let int = |property| -> Result<u64> {
        Ok(backend.db.property_int_value_cf(cf, property).map_err(engine_error)?.unwrap_or(0))
    };
    let bytes = int(properties::LIVE_SST_FILES_SIZE)? + int(properties::CUR_SIZE_ALL_MEM_TABLES)?;
    let tables = backend.db.property_value_cf(cf, properties::AGGREGATED_TABLE_PROPERTIES).map_err(engine_error)?;
    let (mut entries, mut deletions) = match tables {
        Some(text) => table_entry_counts(&text)?,
        None => (0, 0),
    };
    entries += int(properties::NUM_ENTRIES_ACTIVE_MEM_TABLE)? + int(properties::NUM_ENTRIES_IMM_MEM_TABLES)?;
    deletions += int(properties::NUM_DELETES_ACTIVE_MEM_TABLE)? + int(properties::NUM_DELETES_IMM_MEM_TABLES)?;
    let puts = entries.saturating_sub(deletions);
    let live = puts.saturating_sub(deletions);
    if puts == 0 {
        return Ok(0);
    }
    let scaled = u128::from(bytes) * u128::from(live) / u128::from(puts);
    Ok(u64::try_from(scaled).unwrap_or(bytes))
}

/// The `# entries` (tombstones included) and `# deletions` of RocksDB's aggregated
/// table properties, written as `name=value` pairs separated by `; `.
fn table_entry_counts(text: &str) -> Result<(u64, u64)> {
    let field = |name: &str| {
        text.split(';')
            .filter_map(|pair| pair.split_once('='))
            .find(|(key, _)| key.trim() == name)
            .and_then(|(_, value)| value.trim().parse::<u64>().ok())
            .ok_or_else(|| {
                Error::engine(RocksBackend::NAME, format!("no {name:?} in aggregated table properties: {text:?}"))
            })
    };
    Ok((field("# entries")?, field("# deletions")?))
}

/// Flushes every memtable, then compacts every column family down to its last
/// level, forcing that level to be rewritten too, which is where tombstones and the
/// entries they cover are finally dropped. Snapshots are honoured throughout: a
/// compaction keeps every version an open view can still read, and files an open
/// iterator reads from are deleted only once it is done.
pub(crate) fn defrag(backend: &RocksBackend) -> Result<()> {
    flush_all(backend)?;
    // Manual compaction reports no error of its own; one that failed shows up as
    // a background error.
    let errors_before = background_errors(backend)?;
    let mut compact = CompactOptions::default();
    // "Optimized" skips re-compacting files this same compaction just wrote.
    compact.set_bottommost_level_compaction(BottommostLevelCompaction::ForceOptimized);
    for cf in column_families(backend) {
        backend.db.compact_range_cf_opt(&cf, None::<&[u8]>, None::<&[u8]>, &compact);
    }
    if background_errors(backend)? > errors_before {
        return Err(Error::engine(RocksBackend::NAME, "compaction failed; see the LOG file in the store's directory"));
    }
    Ok(())
}

/// Writes every memtable to SST files and waits for it.
pub(crate) fn flush_all(backend: &RocksBackend) -> Result<()> {
    let cfs = column_families(backend);
    let refs: Vec<&Arc<BoundColumnFamily<'_>>> = cfs.iter().collect();
    let mut flush = FlushOptions::default();
    flush.set_wait(true);
    backend.db.flush_cfs_opt(&refs, &flush).map_err(engine_error)
}

fn column_families(backend: &RocksBackend) -> Vec<Arc<BoundColumnFamily<'_>>> {
    backend.bucket_names().iter().filter_map(|name| backend.db.cf_handle(name)).collect()
}

fn background_errors(backend: &RocksBackend) -> Result<u64> {
    Ok(backend.db.property_int_value(properties::BACKGROUND_ERRORS).map_err(engine_error)?.unwrap_or(0))
}

/// The total length of the files in `dir`. RocksDB deletes obsolete files while we
/// list them; those are simply no longer counted.
fn directory_bytes(dir: &Path) -> Result<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(dir)? {
        let metadata = match entry.and_then(|e| e.metadata()) {
            Ok(metadata) => metadata,
            Err(e) if e.kind() == ErrorKind::NotFound => continue,
            Err(e) => return Err(e.into()),
        };
        if metadata.is_file() {
            total += metadata.len();
        }
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use cairn_storage::{Backend, Options, WriteBatch};

    use crate::RocksBackend;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    const VALUE_LEN: usize = 1000;

    /// Key and value bytes of `pairs` pairs, what `in_use` estimates.
    fn logical(pairs: u64) -> u64 {
        pairs * (4 + VALUE_LEN as u64)
    }

    fn expect_near(store: &RocksBackend, what: &str, live_pairs: u64) -> TestResult {
        let space = store.space()?;
        let want = logical(live_pairs);
        let near = space.in_use >= want * 8 / 10 && space.in_use <= want * 12 / 10;
        if near { Ok(()) } else { Err(format!("{what}: want about {want} in use, got {space:?}").into()) }
    }

    fn write(store: &RocksBackend, keys: impl Iterator<Item = u32>, put: bool) -> TestResult {
        let value: Vec<u8> = (0..VALUE_LEN).map(|i| (i * 7) as u8).collect();
        let mut batch = WriteBatch::new();
        for k in keys {
            if put {
                batch.put("key", k.to_be_bytes().to_vec(), value.clone())?;
            } else {
                batch.delete("key", k.to_be_bytes().to_vec())?;
            }
        }
        store.commit(batch)?;
        Ok(())
    }

    /// The estimate follows the live data through memtables, overlapping L0 files,
    /// tombstones not yet compacted, and a defrag.
    #[test]
    fn in_use_follows_live_data() -> TestResult {
        let dir = tempfile::tempdir()?;
        let store = RocksBackend::open(dir.path(), &Options::relaxed())?;
        write(&store, (0..40_000).step_by(2), true)?;
        expect_near(&store, "in the memtable", 20_000)?;
        super::flush_all(&store)?;
        // The odd keys interleave with the even ones: two overlapping L0 files.
        write(&store, (1..40_000).step_by(2), true)?;
        super::flush_all(&store)?;
        expect_near(&store, "in two overlapping files", 40_000)?;
        write(&store, (0..40_000).filter(|k| k % 4 != 0), false)?;
        expect_near(&store, "deleted in the memtable", 10_000)?;
        super::flush_all(&store)?;
        expect_near(&store, "deleted in a file", 10_000)?;
        store.defrag()?;
        expect_near(&store, "after defrag", 10_000)?;
        let space = store.space()?;
        if space.allocated > space.in_use + (1 << 20) {
            return Err(format!("defrag left more than 1 MiB beyond the live data: {space:?}").into());
        }
        Ok(())
    }
}
