//! One LMDB environment in its own `gen-N` folder, with its open buckets.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use cairn_storage::{Durability, Error, Options, Result, SpaceUsage};
use heed::types::Bytes;
use heed::{CommitOrAbort, CompactionOption, Database, Env, EnvFlags, EnvOpenOptions, RoTxn, WithoutTls};
use parking_lot::RwLock;

use crate::LmdbBackend;

/// A bucket: an LMDB named database of raw bytes.
pub(crate) type Db = Database<'static, Bytes, Bytes>;
type Buckets = Arc<HashMap<String, Db>>;

/// Maps a heed error to the storage error type.
pub(crate) fn lmdb(e: heed::Error) -> Error {
    Error::engine(<LmdbBackend as cairn_storage::Backend>::NAME, e)
}

pub(crate) struct Generation {
    pub(crate) number: u64,
    pub(crate) env: Env<WithoutTls>,
    /// Every bucket created in this environment. Replaced, never mutated, so a
    /// view can keep the set that matches its transaction.
    buckets: RwLock<Buckets>,
}

fn folder(dir: &Path, number: u64) -> PathBuf {
    dir.join(format!("gen-{number}"))
}

pub(crate) fn parse_name(name: &str) -> Option<u64> {
    name.strip_prefix("gen-")?.parse().ok()
}

/// Points `CURRENT` at generation `number`, atomically and durably.
pub(crate) fn write_current(dir: &Path, number: u64) -> Result<()> {
    use std::io::Write;
    let tmp = dir.join(".CURRENT.tmp");
    let mut file = std::fs::File::create(&tmp)?;
    writeln!(file, "gen-{number}")?;
    file.sync_all()?;
    std::fs::rename(&tmp, dir.join("CURRENT"))?;
    std::fs::File::open(dir)?.sync_all()?;
    Ok(())
}

/// Removes every generation folder but `keep`: leftovers of a defrag that crashed
/// before or after switching `CURRENT`.
pub(crate) fn remove_others(dir: &Path, keep: u64) -> Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if let Some(number) = entry.file_name().to_str().and_then(parse_name)
            && number != keep
        {
            std::fs::remove_dir_all(entry.path())?;
        }
    }
    Ok(())
}

pub(crate) fn remove(dir: &Path, number: u64) -> Result<()> {
    std::fs::remove_dir_all(folder(dir, number))?;
    Ok(())
}

impl Generation {
    pub(crate) fn open(dir: &Path, number: u64, options: &Options) -> Result<Self> {
        let path = folder(dir, number);
        std::fs::create_dir_all(&path)?;
        let mut open = EnvOpenOptions::new().read_txn_without_tls();
        let map_size = usize::try_from(options.max_size).unwrap_or(usize::MAX);
        open.map_size(map_size).max_dbs(1024).max_readers(4096);
        if options.durability == Durability::Relaxed {
            // Relaxed commits write straight into the map (no copy of every dirty
            // page through write(2)) and leave flushing to the kernel; `sync`
            // flushes with msync.
            // SAFETY: NO_SYNC and MAP_ASYNC only change when data reaches the disk;
            // WRITE_MAP makes the map writable, which only LMDB's own code writes
            // through (nothing in this crate hands out pointers into it).
            unsafe { open.flags(EnvFlags::NO_SYNC | EnvFlags::WRITE_MAP | EnvFlags::MAP_ASYNC) };
        }
        // SAFETY: the folder is private to this backend: nothing else maps or
        // writes its files, and heed refuses to open one environment twice.
        let env = unsafe { open.open(&path) }.map_err(lmdb)?;

        let unnamed = {
            let txn = env.read_txn().map_err(lmdb)?;
            env.open_databases_and_commit(txn, |opener, txn| {
                opener.open_database::<Bytes, Bytes>(txn, None).map(CommitOrAbort::<_, ()>::Commit)
            })
            .map_err(lmdb)?
            .unwrap_commit()
        };
        let mut names = Vec::new();
        if let Some(unnamed) = unnamed {
            // With named databases in use, the unnamed one lists their names.
            let txn = env.read_txn().map_err(lmdb)?;
            for entry in unnamed.iter(&txn).map_err(lmdb)? {
                let (name, _) = entry.map_err(lmdb)?;
                if let Ok(name) = std::str::from_utf8(name) {
                    names.push(name.to_owned());
                }
            }
        }
        let mut buckets = HashMap::new();
        for name in names {
            let txn = env.read_txn().map_err(lmdb)?;
            let db = env
                .open_databases_and_commit(txn, |opener, txn| {
                    opener.open_database::<Bytes, Bytes>(txn, Some(&name)).map(CommitOrAbort::<_, ()>::Commit)
                })
                .map_err(lmdb)?
                .unwrap_commit();
            if let Some(db) = db {
                buckets.insert(name, db);
            }
        }
        Ok(Generation { number, env, buckets: RwLock::new(Arc::new(buckets)) })
    }

    /// Begins a read transaction together with the bucket set it can use. Both are
    /// taken under the bucket lock, so the set holds exactly the buckets created
    /// before the transaction began (LMDB refuses handles created after it).
    pub(crate) fn begin_read(&self) -> Result<(RoTxn<'static, WithoutTls>, Buckets)> {
        let buckets = self.buckets.read();
        let txn = self.env.clone().static_read_txn().map_err(lmdb)?;
        Ok((txn, buckets.clone()))
    }

    /// The bucket `name`, created (in its own small transaction) if needed. The
    /// caller is the single writer and holds no write transaction.
    pub(crate) fn bucket_for_write(&self, name: &str) -> Result<Db> {
        if let Some(db) = self.buckets.read().get(name) {
            return Ok(*db);
        }
        let mut buckets = self.buckets.write();
        let txn = self.env.write_txn().map_err(lmdb)?;
        let db = self
            .env
            .create_databases_and_commit(txn, |opener, txn| {
                opener.create_database::<Bytes, Bytes>(txn, Some(name)).map(CommitOrAbort::<_, ()>::Commit)
            })
            .map_err(lmdb)?
            .unwrap_commit();
        let mut next = (**buckets).clone();
        next.insert(name.to_owned(), db);
        *buckets = Arc::new(next);
        Ok(db)
    }

    pub(crate) fn space(&self) -> Result<SpaceUsage> {
        let (txn, buckets) = self.begin_read()?;
        let page = u64::from(self.env.unnamed_database_stat().page_size);
        // The file's high-water mark: pages up to the last one LMDB has used. (With
        // WRITE_MAP the file is as long as the whole map, mostly sparse, so its
        // length says nothing.)
        let allocated = (self.env.info().last_page_number as u64 + 1) * page;
        let unnamed = self.env.unnamed_database_stat();
        // Two meta pages, the catalogue of buckets, and every bucket's pages.
        let mut in_use = page * 2 + unnamed.non_free_page_size() as u64;
        for db in buckets.values() {
            in_use += db.stat(&txn).map_err(lmdb)?.non_free_page_size() as u64;
        }
        Ok(SpaceUsage { allocated, in_use })
    }

    /// Writes a compacted copy of this generation as generation `number` and
    /// opens it. The caller holds the writer lock, so the copy is current.
    pub(crate) fn compact_into(&self, dir: &Path, number: u64, options: &Options) -> Result<Generation> {
        let path = folder(dir, number);
        if path.exists() {
            std::fs::remove_dir_all(&path)?;
        }
        std::fs::create_dir_all(&path)?;
        let file = self.env.copy_to_path(path.join("data.mdb"), CompactionOption::Enabled).map_err(lmdb)?;
        file.sync_all()?;
        std::fs::File::open(&path)?.sync_all()?;
        Generation::open(dir, number, options)
    }
}
