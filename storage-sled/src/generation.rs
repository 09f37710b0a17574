//! Generations: the sled databases a store has lived in, one per defrag.
//!
//! sled cannot shrink its files in place, so defrag copies the live pairs into a
//! fresh database, as etcd's defrag does. The store's directory holds
//! `gen-<n>/` sled directories and a `CURRENT` file naming the live one; `CURRENT`
//! is replaced atomically, so a crash leaves either the old or the new generation
//! live, and whatever else is found at open is a leftover to remove.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use cairn_storage::{Error, Result};

use crate::engine_error;

const CURRENT: &str = "CURRENT";
const CURRENT_TMP: &str = ".CURRENT.tmp";
const PREFIX: &str = "gen-";
/// How long [`open_sled`] waits for a database lock this process may still hold.
const LOCK_WAIT: Duration = Duration::from_secs(2);
/// Defrag copies pairs into the new generation in batches of about this many bytes.
const COPY_BATCH_BYTES: usize = 4 << 20;

/// One sled database of the store. Views hold it by `Arc`, so a generation
/// replaced by defrag stays readable until the last view of it is dropped, and
/// its directory is removed then.
pub(crate) struct Generation {
    /// Declared first so that it is closed before `dir` removes its files.
    pub(crate) db: sled::Db,
    number: u64,
    dir: GenerationDir,
}

/// The directory of a generation, removed on drop once it is no longer needed.
struct GenerationDir {
    path: PathBuf,
    remove_on_drop: AtomicBool,
}

impl Drop for GenerationDir {
    fn drop(&mut self) {
        if *self.remove_on_drop.get_mut() {
            // A failure leaves a stale directory, which the next open removes.
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

fn path_of(store_dir: &Path, number: u64) -> PathBuf {
    store_dir.join(format!("{PREFIX}{number}"))
}

impl Generation {
    /// Opens generation `number` of the store in `store_dir`, creating it if needed.
    /// A generation that is not yet (or no longer) named by `CURRENT` is removed when
    /// dropped, unless [`Generation::adopt`] is called.
    fn open(store_dir: &Path, number: u64, live: bool) -> Result<Generation> {
        let path = path_of(store_dir, number);
        let db = open_sled(&path)?;
        Ok(Generation { db, number, dir: GenerationDir { path, remove_on_drop: AtomicBool::new(!live) } })
    }

    /// Opens the live generation of the store in `store_dir` (creating a first one
    /// in a new store) and removes leftovers of interrupted defrags.
    pub(crate) fn open_live(store_dir: &Path) -> Result<Generation> {
        let number = match read_current(store_dir)? {
            Some(number) => number,
            None => {
                // Named before it exists, so a generation directory is never live
                // without `CURRENT` saying so.
                publish_current(store_dir, 0)?;
                0
            }
        };
        if number > 0 && !path_of(store_dir, number).exists() {
            let missing = format!("the live generation {PREFIX}{number} of {} is missing", store_dir.display());
            return Err(Error::engine(crate::NAME, missing));
        }
        // Opening takes sled's lock on the live generation, and only its holder
        // defrags; once `CURRENT` still names it, nothing else can be in use.
        let live = Generation::open(store_dir, number, true)?;
        if read_current(store_dir)? != Some(number) {
            let moved = "the live generation changed while opening: is another process using the store?";
            return Err(Error::engine(crate::NAME, moved));
        }
        remove_stale(store_dir, number)?;
        Ok(live)
    }

    /// Builds the next generation from everything in this one. The caller keeps
    /// commits out while it runs; views may read this generation meanwhile. The
    /// result is flushed but not live: see [`Generation::make_live`].
    pub(crate) fn copy_to_next(&self, store_dir: &Path) -> Result<Generation> {
        let path = path_of(store_dir, self.number + 1);
        if path.exists() {
            std::fs::remove_dir_all(&path)?;
        }
        let next = Generation::open(store_dir, self.number + 1, false)?;
        let mut batch = sled::Batch::default();
        let mut bytes = 0;
        for pair in self.db.iter() {
            let (key, value) = pair.map_err(engine_error)?;
            bytes += key.len() + value.len();
            batch.insert(key, value);
            if bytes >= COPY_BATCH_BYTES {
                next.db.apply_batch(std::mem::take(&mut batch)).map_err(engine_error)?;
                bytes = 0;
            }
        }
        next.db.apply_batch(batch).map_err(engine_error)?;
        next.db.flush().map_err(engine_error)?;
        Ok(next)
    }

    /// Names this generation in `CURRENT`, so that it is the one a reopen finds.
    ///
    /// On `Ok(Ok(()))` it is live and durably so. On `Ok(Err(e))` it is live, but
    /// making that durable failed: a crash may bring back the one before, so the
    /// caller keeps that one's files. On `Err` nothing changed.
    pub(crate) fn make_live(&self, store_dir: &Path) -> Result<Result<()>> {
        let tmp = stage_current(store_dir, self.number)?;
        std::fs::rename(tmp, store_dir.join(CURRENT))?;
        self.dir.remove_on_drop.store(false, Ordering::Release);
        Ok(sync_dir(store_dir))
    }

    /// Marks this generation as replaced: its files go when the last view of it does.
    pub(crate) fn retire(&self) {
        self.dir.remove_on_drop.store(true, Ordering::Release);
    }
}

/// Opens the sled database in `path`, waiting a little for the file lock.
///
/// Dropping a sled 0.34 `Db` does not wait for its background I/O tasks, which keep
/// the database file (and its advisory lock) open for a moment longer
/// (spacejam/sled#1234), so reopening a store right after closing it can find the
/// lock still held by this very process. sled reports that only as an `Other` I/O
/// error with this message; a lock that stays taken (another process) is still an
/// error, after [`LOCK_WAIT`].
fn open_sled(path: &Path) -> Result<sled::Db> {
    let config = sled::Config::new().path(path);
    let deadline = Instant::now() + LOCK_WAIT;
    let mut pause = Duration::from_micros(500);
    loop {
        match config.open() {
            Err(sled::Error::Io(e))
                if e.kind() == std::io::ErrorKind::Other
                    && e.to_string().contains("could not acquire lock")
                    && Instant::now() < deadline =>
            {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(50));
            }
            opened => return opened.map_err(engine_error),
        }
    }
}

fn read_current(store_dir: &Path) -> Result<Option<u64>> {
    match std::fs::read_to_string(store_dir.join(CURRENT)) {
        Ok(text) => text.trim().parse().map(Some).map_err(|_| {
            Error::engine(crate::NAME, format!("{} names no generation: {text:?}", store_dir.join(CURRENT).display()))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Writes `number` to a temporary file beside `CURRENT`, durably.
fn stage_current(store_dir: &Path, number: u64) -> Result<PathBuf> {
    let tmp = store_dir.join(CURRENT_TMP);
    let mut file = std::fs::File::create(&tmp)?;
    writeln!(file, "{number}")?;
    file.sync_all()?;
    Ok(tmp)
}

fn publish_current(store_dir: &Path, number: u64) -> Result<()> {
    let tmp = stage_current(store_dir, number)?;
    std::fs::rename(tmp, store_dir.join(CURRENT))?;
    sync_dir(store_dir)
}

fn sync_dir(dir: &Path) -> Result<()> {
    std::fs::File::open(dir)?.sync_all()?;
    Ok(())
}

/// Removes every generation but `live`, and a staged `CURRENT`: leftovers of a
/// defrag that crashed, or of replaced generations a view held until the process
/// ended.
fn remove_stale(store_dir: &Path, live: u64) -> Result<()> {
    let live = format!("{PREFIX}{live}");
    for entry in std::fs::read_dir(store_dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.starts_with(PREFIX) && name != live {
            std::fs::remove_dir_all(entry.path())?;
        } else if name == CURRENT_TMP {
            std::fs::remove_file(entry.path())?;
        }
    }
    Ok(())
}

/// The bytes of every file under `path`; files that vanish meanwhile (a replaced
/// generation being removed) count as zero.
pub(crate) fn disk_usage(path: &Path) -> std::io::Result<u64> {
    let mut total = 0;
    let entries = match std::fs::read_dir(path) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let meta = match entry.metadata() {
            Ok(meta) => meta,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        total += if meta.is_dir() { disk_usage(&entry.path())? } else { meta.len() };
    }
    Ok(total)
}
