//! Space reporting and reclamation.

use std::path::Path;

use cairn_storage::{Result, SpaceUsage};
use fjall::{AbstractTree, Database, Keyspace};

use crate::{Buckets, engine, tuning};

/// The engine's own keyspace, written to only so that it has a memtable to rotate:
/// fjall moves its garbage-collection watermark (below which compaction may drop
/// old versions and replaced tables may be deleted) only when a memtable rotates.
/// The `#` keeps it apart from every bucket name.
const HOUSEKEEPING: &str = "cairn#housekeeping";

/// See [`crate::FjallBackend`] for what the numbers mean.
pub(crate) fn usage<'a>(dir: &Path, buckets: impl Iterator<Item = &'a Keyspace>) -> Result<SpaceUsage> {
    let allocated = allocated_bytes(dir)?;
    let in_use = buckets.map(live_bytes).sum();
    Ok(SpaceUsage { allocated, in_use })
}

/// The bytes of a keyspace's tables, less its tombstones' share, plus its memtable.
fn live_bytes(keyspace: &Keyspace) -> u64 {
    let tree = &keyspace.tree;
    let tables = tree.disk_space();
    let entries = tree.approximate_len() as u64;
    // A tombstone is dead, and so (in all likelihood) is the older entry it shadows.
    let dead = tree.tombstone_count().saturating_mul(2).min(entries);
    let live_tables = match entries {
        0 => tables,
        _ => (u128::from(tables) * u128::from(entries - dead) / u128::from(entries)) as u64,
    };
    live_tables + tree.active_memtable().size()
}

/// The disk blocks taken by the files under `dir`. Blocks rather than lengths, so
/// that fjall's preallocated journal counts only for what has been written to it.
fn allocated_bytes(dir: &Path) -> Result<u64> {
    let mut total = 0;
    let mut pending = vec![dir.to_path_buf()];
    while let Some(folder) = pending.pop() {
        let entries = match std::fs::read_dir(&folder) {
            Ok(entries) => entries,
            // Compaction and journal rotation delete files and folders as we walk.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e.into()),
        };
        for entry in entries {
            let entry = entry?;
            let meta = match entry.metadata() {
                Ok(meta) => meta,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e.into()),
            };
            if meta.is_dir() {
                pending.push(entry.path());
            } else {
                total += disk_bytes(&meta);
            }
        }
    }
    Ok(total)
}

#[cfg(unix)]
fn disk_bytes(meta: &std::fs::Metadata) -> u64 {
    use std::os::unix::fs::MetadataExt;
    meta.blocks() * 512
}

#[cfg(not(unix))]
fn disk_bytes(meta: &std::fs::Metadata) -> u64 {
    meta.len()
}

/// Flushes every memtable, compacts each keyspace into one sorted run without
/// tombstones or shadowed versions, then lets fjall delete the tables it replaced.
pub(crate) fn defrag(db: &Database, buckets: &Buckets) -> Result<()> {
    let housekeeping = db.keyspace(HOUSEKEEPING, tuning::keyspace).map_err(engine)?;
    for keyspace in buckets.values() {
        keyspace.rotate_memtable_and_wait().map_err(engine)?;
    }
    // Rotating a bucket's memtable moves the watermark too, but only if it held
    // something; this moves it past every commit and closed view regardless.
    advance_gc_watermark(&housekeeping)?;
    for keyspace in buckets.values().chain([&housekeeping]) {
        if keyspace.table_count() > 0 {
            keyspace.major_compact().map_err(engine)?;
        }
    }
    // fjall keeps each keyspace's last version from before the watermark, which is
    // the one from before compaction, with all its tables; moving the watermark past
    // the compactions lets it drop that version and delete those tables.
    advance_gc_watermark(&housekeeping)
}

fn advance_gc_watermark(housekeeping: &Keyspace) -> Result<()> {
    housekeeping.insert("gc", Vec::new()).map_err(engine)?;
    housekeeping.rotate_memtable_and_wait().map_err(engine)
}

#[cfg(test)]
mod tests {
    use cairn_storage::{Backend, Options, ReadView, WriteBatch};

    use crate::FjallBackend;

    fn fill(store: &FjallBackend) -> Result<(), Box<dyn std::error::Error>> {
        let mut batch = WriteBatch::new();
        for i in 0..4000u32 {
            batch.put("key", i.to_be_bytes().to_vec(), vec![7; 1024])?;
        }
        store.commit(batch)?;
        Ok(())
    }

    fn delete_most(store: &FjallBackend) -> Result<(), Box<dyn std::error::Error>> {
        let mut batch = WriteBatch::new();
        for i in (0..4000u32).filter(|i| i % 40 != 0) {
            batch.delete("key", i.to_be_bytes().to_vec())?;
        }
        store.commit(batch)?;
        Ok(())
    }

    /// A view pins what it can see through a defrag; once it is gone, the next
    /// defrag reclaims it even though nothing was written in between (fjall moves
    /// its watermark only when a memtable rotates).
    #[test]
    fn defrag_reclaims_what_a_closed_view_pinned() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let store = FjallBackend::open(dir.path(), &Options::relaxed())?;
        fill(&store)?;
        store.defrag()?;
        let full = store.space()?;
        let pin = store.view()?;
        delete_most(&store)?;
        store.defrag()?;
        let pinned = store.space()?;
        assert_eq!(pin.range("key", b"", None, cairn_storage::Order::Forward, 0)?.len(), 4000);
        assert!(pinned.allocated > full.allocated, "the pinned tables were deleted: {full:?} -> {pinned:?}");
        drop(pin);
        store.defrag()?;
        let after = store.space()?;
        assert!(after.in_use < full.in_use / 10, "in use: {full:?} -> {after:?}");
        assert!(after.allocated + 3_000_000 < pinned.allocated, "allocated: {pinned:?} -> {after:?}");
        assert_eq!(store.view()?.range("key", b"", None, cairn_storage::Order::Forward, 0)?.len(), 100);
        Ok(())
    }

    /// The engine's own keyspace is never listed as a bucket, also after a reopen.
    #[test]
    fn housekeeping_is_not_a_bucket() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        {
            let store = FjallBackend::open(dir.path(), &Options::relaxed())?;
            fill(&store)?;
            store.defrag()?;
            assert_eq!(store.view()?.buckets()?, ["key"]);
            store.sync()?;
        }
        let store = FjallBackend::open(dir.path(), &Options::relaxed())?;
        assert_eq!(store.view()?.buckets()?, ["key"]);
        Ok(())
    }
}
