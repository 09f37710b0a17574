//! The disk's raw fsync rate: the physical limit to quote next to the WAL's numbers.
//!
//! One iteration is a 4 KiB `pwrite` and an `fdatasync`:
//! - `preallocated`: into a file already written full of zeros and fsynced (as the
//!   WAL's segments are), so only the data block goes to the disk;
//! - `growing`: at the end of a file, so each write also changes its size and
//!   allocates a block, and `fdatasync` must commit that metadata (the file-system
//!   journal) as well.
//!
//! `cargo bench -p cairn-bench --bench disk`. The temporary directory must be on the
//! disk being measured (not tmpfs): set `TMPDIR` if needed. `CAIRN_BENCH_QUICK=1`
//! makes the preallocated file small and the runs short.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const BLOCK: usize = 4096;

fn quick() -> bool {
    std::env::var_os("CAIRN_BENCH_QUICK").is_some_and(|v| v != "0")
}

/// The size of the preallocated file: the writes cycle through it.
fn preallocated_size() -> u64 {
    if quick() { 1 << 20 } else { 64 << 20 }
}

/// A file of `size` zero bytes really written (no sparse holes), and fsynced.
fn zero_filled(path: &Path, size: u64) -> File {
    let mut file = OpenOptions::new().read(true).write(true).create_new(true).open(path).expect("create file");
    let zeros = vec![0u8; 1 << 20];
    let mut left = size;
    while left > 0 {
        let n = left.min(zeros.len() as u64) as usize;
        file.write_all(&zeros[..n]).expect("write zeros");
        left -= n as u64;
    }
    file.sync_all().expect("sync");
    file
}

fn fsync(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let block = vec![0x5au8; BLOCK];
    let mut group = c.benchmark_group("disk/4KiB-write+fdatasync");
    group.throughput(Throughput::Elements(1));

    let size = preallocated_size();
    let file = zero_filled(&dir.path().join("preallocated"), size);
    let mut offset = 0u64;
    group.bench_function("preallocated", |b| {
        b.iter(|| {
            file.write_all_at(&block, offset).expect("write");
            file.sync_data().expect("fdatasync");
            offset = (offset + BLOCK as u64) % size;
        })
    });

    let file = OpenOptions::new().write(true).create_new(true).open(dir.path().join("growing")).expect("create");
    let mut end = 0u64;
    group.bench_function("growing", |b| {
        b.iter(|| {
            file.write_all_at(&block, end).expect("write");
            file.sync_data().expect("fdatasync");
            end += BLOCK as u64;
        })
    });
    group.finish();
}

fn config() -> Criterion {
    let criterion = Criterion::default();
    if quick() {
        criterion.sample_size(10).warm_up_time(Duration::from_millis(100)).measurement_time(Duration::from_millis(500))
    } else {
        criterion
    }
}

criterion_group! {
    name = benches;
    config = config();
    targets = fsync
}
criterion_main!(benches);
