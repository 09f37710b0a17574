//! The WAL's group commit: one `Wal::save` (one write, one `fdatasync`) of a batch of
//! 1, 10, 100 and 1000 entries of 256 bytes, into preallocated segments.
//!
//! `cargo bench -p cairn-bench --bench wal`. The temporary directory must be on the
//! disk being measured (not tmpfs): set `TMPDIR` if needed. The `disk` bench gives
//! the raw fsync rate to compare with. `CAIRN_BENCH_QUICK=1` makes the segments
//! small and the runs short. Wiring, in `bench/Cargo.toml`: `cairn-wal.workspace =
//! true` and `raft.workspace = true` under `[dependencies]`, and a `[[bench]] name =
//! "wal" harness = false` section.

use std::time::Duration;

use cairn_wal::{Wal, WalOptions};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use raft::eraftpb::{Entry, HardState};

const ENTRY_BYTES: usize = 256;

fn quick() -> bool {
    std::env::var_os("CAIRN_BENCH_QUICK").is_some_and(|v| v != "0")
}

/// The default options; in a quick run, segments of 1 MiB rather than 64 MiB to zero-fill.
fn options() -> WalOptions {
    if quick() { WalOptions { segment_size: 1 << 20, ..WalOptions::default() } } else { WalOptions::default() }
}

fn batch(first: u64, len: u64) -> Vec<Entry> {
    (first..first + len)
        .map(|index| Entry { index, term: 1, data: vec![index as u8; ENTRY_BYTES].into(), ..Default::default() })
        .collect()
}

fn save(c: &mut Criterion) {
    let mut group = c.benchmark_group("wal/save+fsync");
    for size in [1u64, 10, 100, 1000] {
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut wal, _) = Wal::open(dir.path(), options()).expect("open wal");
        let mut next = 1;
        group.throughput(Throughput::Elements(size));
        group.bench_function(format!("{size}x{ENTRY_BYTES}B"), |b| {
            b.iter_batched(
                || {
                    let entries = batch(next, size);
                    next += size;
                    let hs = HardState { term: 1, vote: 1, commit: next - 1, ..Default::default() };
                    (hs, entries)
                },
                |(hs, entries)| wal.save(Some(&hs), &entries).expect("save"),
                BatchSize::SmallInput,
            )
        });
    }
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
    targets = save
}
criterion_main!(benches);
