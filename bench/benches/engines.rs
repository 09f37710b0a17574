//! The four storage engines side by side on the same work.
//!
//! `cargo bench -p cairn-bench` runs them; criterion's report groups each workload
//! with one line per engine. Commits use relaxed durability, as the server does
//! (its WAL is the durability point).

use std::time::{Duration, Instant};

use cairn_bench::{BUCKET, Picker, Sizes, fill, key, value};
use cairn_storage::{Backend, Options, Order, ReadView, WriteBatch};
use cairn_storage_fjall::FjallBackend;
use cairn_storage_lmdb::LmdbBackend;
use cairn_storage_rocks::RocksBackend;
use cairn_storage_sled::SledBackend;
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main};

type Group<'a> = BenchmarkGroup<'a, WallTime>;

/// Calls `$f::<Engine>($args)` for every engine, in the same order everywhere.
macro_rules! each_engine {
    ($f:ident($($arg:expr),*)) => {
        $f::<LmdbBackend>($($arg),*);
        $f::<SledBackend>($($arg),*);
        $f::<RocksBackend>($($arg),*);
        $f::<FjallBackend>($($arg),*);
    };
}

fn open<B: Backend>(dir: &std::path::Path) -> B {
    B::open(dir, &Options::relaxed()).unwrap_or_else(|e| panic!("open {}: {e}", B::NAME))
}

fn write_batch<B: Backend>(group: &mut Group<'_>, size: u64) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open::<B>(dir.path());
    let mut next = 0u64;
    group.bench_function(B::NAME, |b| {
        b.iter(|| {
            let mut batch = WriteBatch::new();
            for i in next..next + size {
                batch.put(BUCKET, key(i).to_vec(), value(i)).expect("put");
            }
            next += size;
            store.commit(batch).expect("commit");
        })
    });
}

fn point_get<B: Backend>(group: &mut Group<'_>, sizes: Sizes) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open::<B>(dir.path());
    fill(&store, 0, sizes.preloaded).expect("fill");
    store.sync().expect("sync");
    let mut picker = Picker::new(7);
    group.bench_function(B::NAME, |b| {
        b.iter(|| {
            let view = store.view().expect("view");
            let got = view.get(BUCKET, &key(picker.below(sizes.preloaded))).expect("get");
            assert!(got.is_some());
            got
        })
    });
}

fn range_scan<B: Backend>(group: &mut Group<'_>, sizes: Sizes) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open::<B>(dir.path());
    fill(&store, 0, sizes.preloaded).expect("fill");
    store.sync().expect("sync");
    let mut picker = Picker::new(11);
    group.bench_function(B::NAME, |b| {
        b.iter(|| {
            let start = picker.below(sizes.preloaded - sizes.range);
            let view = store.view().expect("view");
            let mut seen = 0u64;
            let mut bytes = 0usize;
            view.scan(BUCKET, &key(start), None, Order::Forward, &mut |_, v| {
                seen += 1;
                bytes += v.len();
                seen < sizes.range
            })
            .expect("scan");
            assert_eq!(seen, sizes.range);
            bytes
        })
    });
}

fn reopen<B: Backend>(group: &mut Group<'_>, sizes: Sizes) {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let store = open::<B>(dir.path());
        fill(&store, 0, sizes.reopen).expect("fill");
        store.sync().expect("sync");
    }
    group.bench_function(B::NAME, |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let started = Instant::now();
                let store = open::<B>(dir.path());
                // Open is done when the last key can be read.
                let last = store.view().expect("view").get(BUCKET, &key(sizes.reopen - 1)).expect("get");
                total += started.elapsed();
                assert!(last.is_some());
                drop(store);
            }
            total
        })
    });
}

fn engines(c: &mut Criterion) {
    let sizes = Sizes::from_env();
    for size in [1u64, 100, 1000] {
        let mut group = c.benchmark_group(format!("write_batch_{size}"));
        group.throughput(Throughput::Elements(size));
        each_engine!(write_batch(&mut group, size));
        group.finish();
    }
    let mut group = c.benchmark_group("point_get");
    group.throughput(Throughput::Elements(1));
    each_engine!(point_get(&mut group, sizes));
    group.finish();

    let mut group = c.benchmark_group(format!("range_scan_{}", sizes.range));
    group.throughput(Throughput::Elements(sizes.range));
    each_engine!(range_scan(&mut group, sizes));
    group.finish();

    let mut group = c.benchmark_group(format!("reopen_{}_keys", sizes.reopen));
    group.sample_size(10);
    each_engine!(reopen(&mut group, sizes));
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = engines
}
criterion_main!(benches);
