//! The WAL's group commit: one `Wal::save` (one write, one `fdatasync`) of a batch of
//! 1, 10, 100 and 1000 entries of 256 bytes, into preallocated segments.
//!
//! `cargo bench -p cairn-bench --bench wal`. The temporary directory must be on the
//! disk being measured (not tmpfs): set `TMPDIR` if needed. Wiring, in
//! `bench/Cargo.toml`: `cairn-wal.workspace = true` and `raft.workspace = true` under
//! `[dependencies]`, and a `[[bench]] name = "wal" harness = false` section.

use cairn_wal::{Wal, WalOptions};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use raft::eraftpb::{Entry, HardState};

const ENTRY_BYTES: usize = 256;

fn batch(first: u64, len: u64) -> Vec<Entry> {
    (first..first + len)
        .map(|index| Entry { index, term: 1, data: vec![index as u8; ENTRY_BYTES].into(), ..Default::default() })
        .collect()
}

fn save(c: &mut Criterion) {
    let mut group = c.benchmark_group("wal/save+fsync");
    for size in [1u64, 10, 100, 1000] {
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut wal, _) = Wal::open(dir.path(), WalOptions::default()).expect("open wal");
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

criterion_group!(benches, save);
criterion_main!(benches);
