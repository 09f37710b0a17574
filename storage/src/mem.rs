//! `MemBackend`: the reference engine, a copy-on-write map of maps in memory.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};

use crate::{
    Backend, BatchOp, Durability, Options, Order, ReadView, Result, SpaceUsage, WriteBatch, claim_dir, snapshot,
};

type Bucket = Arc<BTreeMap<Vec<u8>, Vec<u8>>>;
type State = BTreeMap<String, Bucket>;

const FILE: &str = "mem.snap";

/// The reference [`Backend`]: everything lives in memory, and [`Backend::sync`]
/// writes the whole store to one snapshot file in its directory, which
/// [`Backend::open`] loads. Simple and obviously right rather than fast: a commit
/// copies each bucket it touches that an open view still shares.
pub struct MemBackend {
    dir: PathBuf,
    durability: Durability,
    state: RwLock<Arc<State>>,
    commit_lock: Mutex<()>,
}

/// A view of a [`MemBackend`]: a shared, immutable copy of its state.
#[derive(Clone)]
pub struct MemView {
    state: Arc<State>,
}

impl Backend for MemBackend {
    const NAME: &'static str = "mem";
    type View<'a> = MemView;

    fn open(dir: &Path, options: &Options) -> Result<Self> {
        claim_dir(dir, Self::NAME)?;
        let mut state = State::new();
        match std::fs::File::open(dir.join(FILE)) {
            Ok(file) => {
                let mut input = std::io::BufReader::new(file);
                let mut bucket = String::new();
                snapshot::read(&mut input, &mut |record| {
                    match record {
                        snapshot::Record::Bucket(name) => {
                            state.insert(name.clone(), Bucket::default());
                            bucket = name;
                        }
                        snapshot::Record::Pair(k, v) => {
                            if let Some(b) = state.get_mut(&bucket) {
                                Arc::make_mut(b).insert(k, v);
                            }
                        }
                    }
                    Ok(())
                })?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e.into()),
        }
        Ok(MemBackend {
            dir: dir.to_path_buf(),
            durability: options.durability,
            state: RwLock::new(Arc::new(state)),
            commit_lock: Mutex::new(()),
        })
    }

    fn view(&self) -> Result<MemView> {
        Ok(MemView { state: self.state.read().clone() })
    }

    fn commit(&self, batch: WriteBatch) -> Result<()> {
        let _serial = self.commit_lock.lock();
        let mut next: State = (**self.state.read()).clone();
        for op in batch.into_ops() {
            match op {
                BatchOp::Put { bucket, key, value } => {
                    Arc::make_mut(next.entry(bucket.into_owned()).or_default()).insert(key, value);
                }
                BatchOp::Delete { bucket, key } => {
                    if let Some(b) = next.get_mut(&*bucket)
                        && b.contains_key(&key)
                    {
                        Arc::make_mut(b).remove(&key);
                        if b.is_empty() {
                            next.remove(&*bucket);
                        }
                    }
                }
            }
        }
        *self.state.write() = Arc::new(next);
        if self.durability == Durability::Immediate {
            self.persist()?;
        }
        Ok(())
    }

    fn sync(&self) -> Result<()> {
        let _serial = self.commit_lock.lock();
        self.persist()
    }

    fn space(&self) -> Result<SpaceUsage> {
        let state = self.state.read().clone();
        let bytes: usize =
            state.iter().map(|(name, b)| name.len() + b.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>()).sum();
        Ok(SpaceUsage { allocated: bytes as u64, in_use: bytes as u64 })
    }

    fn defrag(&self) -> Result<()> {
        // Memory is given back as entries are removed: nothing is left to reclaim.
        Ok(())
    }
}

impl MemBackend {
    /// Writes the current state to the snapshot file, atomically. The caller holds
    /// the commit lock.
    fn persist(&self) -> Result<()> {
        let view = self.view()?;
        let tmp = self.dir.join(".mem.snap.tmp");
        let file = std::fs::File::create(&tmp)?;
        let mut out = std::io::BufWriter::new(file);
        snapshot::write(&view, &mut out)?;
        let file = out.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        std::fs::rename(&tmp, self.dir.join(FILE))?;
        std::fs::File::open(&self.dir)?.sync_all()?;
        Ok(())
    }
}

impl ReadView for MemView {
    fn get(&self, bucket: &str, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.state.get(bucket).and_then(|b| b.get(key)).cloned())
    }

    fn scan(
        &self,
        bucket: &str,
        start: &[u8],
        end: Option<&[u8]>,
        order: Order,
        visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<()> {
        let Some(b) = self.state.get(bucket) else { return Ok(()) };
        if end.is_some_and(|end| end <= start) {
            return Ok(());
        }
        let upper = end.map_or(Bound::Unbounded, Bound::Excluded);
        let range = b.range::<[u8], _>((Bound::Included(start), upper));
        let mut visit_pair = |(k, v): (&Vec<u8>, &Vec<u8>)| visit(k, v);
        match order {
            Order::Forward => {
                for pair in range {
                    if !visit_pair(pair) {
                        break;
                    }
                }
            }
            Order::Reverse => {
                for pair in range.rev() {
                    if !visit_pair(pair) {
                        break;
                    }
                }
            }
        }
        Ok(())
    }

    fn buckets(&self) -> Result<Vec<String>> {
        Ok(self.state.keys().cloned().collect())
    }
}
