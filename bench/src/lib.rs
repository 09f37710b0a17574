//! `cairn-bench`: cairn's benchmarks.
//!
//! The criterion benches in `benches/` compare the storage engines side by side
//! on the same work; this library holds what they share: the data they write and
//! the sizes they use. It is not a load generator for a running server (that is
//! the `cairn-bench` tool, which comes with the server).
//!
//! ```
//! use cairn_storage::{Backend, MemBackend, Options};
//!
//! # fn main() -> Result<(), cairn_storage::Error> {
//! let dir = tempfile::tempdir()?;
//! let store = MemBackend::open(dir.path(), &Options::relaxed())?;
//! cairn_bench::fill(&store, 0, 1000)?;
//! assert_eq!(cairn_bench::key(7).len(), cairn_bench::KEY_LEN);
//! # Ok(())
//! # }
//! ```

use cairn_storage::{Backend, Result, WriteBatch};

/// The bucket every engine bench writes to.
pub const BUCKET: &str = "key";
/// Key length of the engine benches: etcd's `key` bucket is keyed by an encoded revision.
pub const KEY_LEN: usize = 8;
/// Value length of the engine benches.
pub const VALUE_LEN: usize = 256;
/// Puts per commit when filling a store.
const FILL_BATCH: u64 = 10_000;

/// The `i`th key: big-endian, so keys ascend as `i` does, like revisions.
pub fn key(i: u64) -> [u8; KEY_LEN] {
    i.to_be_bytes()
}

/// A value that depends on `i` and does not compress to nothing.
pub fn value(i: u64) -> Vec<u8> {
    let mut state = i.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..VALUE_LEN)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

/// Puts keys `start..start + count` in batches of 10,000.
pub fn fill<B: Backend>(store: &B, start: u64, count: u64) -> Result<()> {
    let mut next = start;
    while next < start + count {
        let end = (next + FILL_BATCH).min(start + count);
        let mut batch = WriteBatch::new();
        for i in next..end {
            batch.put(BUCKET, key(i).to_vec(), value(i))?;
        }
        store.commit(batch)?;
        next = end;
    }
    Ok(())
}

/// Sizes of the bench data. `CAIRN_BENCH_QUICK=1` (set by `cargo xtask test`)
/// makes them small, for a run that only checks the benches work.
#[derive(Debug, Clone, Copy)]
pub struct Sizes {
    /// Keys preloaded for the read benches.
    pub preloaded: u64,
    /// Keys in the store that the reopen bench opens.
    pub reopen: u64,
    /// Keys per range scan.
    pub range: u64,
}

impl Sizes {
    /// The sizes for this run.
    pub fn from_env() -> Self {
        if std::env::var_os("CAIRN_BENCH_QUICK").is_some_and(|v| v != "0") {
            Sizes { preloaded: 5_000, reopen: 5_000, range: 1_000 }
        } else {
            Sizes { preloaded: 200_000, reopen: 1_000_000, range: 1_000 }
        }
    }
}

/// A cheap, repeatable pseudo-random sequence for picking keys.
#[derive(Debug, Clone)]
pub struct Picker(u64);

impl Picker {
    /// A sequence from `seed`.
    pub fn new(seed: u64) -> Self {
        Picker(seed | 1)
    }

    /// The next number in `0..bound`.
    pub fn below(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % bound.max(1)
    }
}
