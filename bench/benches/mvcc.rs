//! The MVCC store on the default engine (LMDB): puts, transactions, ranges of 1
//! and 1000 keys, and the key index's size and build time at 1M keys.
//!
//! Memory is measured with a counting global allocator: the bytes the index holds
//! after inserting every key, divided by the number of keys, printed as
//! `key_index: N keys, M bytes, B bytes/key`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use cairn_bench::{Picker, Sizes};
use cairn_mvcc::{KeyIndex, KeyRange, KvStore, PutOptions, RangeOptions, Revision};
use cairn_storage::{Backend, Options};
use cairn_storage_lmdb::LmdbBackend;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};

struct Counting;

static ALLOCATED: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator unchanged, only counting bytes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATED.fetch_add(layout.size(), Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        ALLOCATED.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const VALUE: &[u8] = &[0x5a; 256];

fn key(i: u64) -> String {
    format!("/registry/pods/default/pod-{i:08}")
}

fn open(dir: &std::path::Path) -> KvStore<LmdbBackend> {
    KvStore::open(LmdbBackend::open(dir, &Options::relaxed()).expect("backend")).expect("kv store")
}

fn preload(store: &KvStore<LmdbBackend>, keys: u64) {
    let mut writer = store.writer();
    for i in 0..keys {
        let mut txn = writer.txn();
        txn.put(key(i), VALUE, 0, PutOptions::default()).expect("put");
        txn.end();
        if i % 10_000 == 9_999 {
            writer.commit(None).expect("commit");
        }
    }
    writer.commit(None).expect("commit");
}

fn writes(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let mut n = 0u64;
    let mut group = c.benchmark_group("mvcc_put");
    group.throughput(Throughput::Elements(1));
    group.bench_function("one_put_one_commit", |b| {
        b.iter(|| {
            let mut writer = store.writer();
            let mut txn = writer.txn();
            txn.put(key(n % 100_000), VALUE, 0, PutOptions::default()).expect("put");
            txn.end();
            n += 1;
            writer.commit(Some(n)).expect("commit")
        })
    });
    group.throughput(Throughput::Elements(1000));
    group.bench_function("1000_puts_one_commit", |b| {
        b.iter(|| {
            let mut writer = store.writer();
            for _ in 0..1000 {
                let mut txn = writer.txn();
                txn.put(key(n % 100_000), VALUE, 0, PutOptions::default()).expect("put");
                txn.end();
                n += 1;
            }
            writer.commit(Some(n)).expect("commit")
        })
    });
    group.finish();

    let mut group = c.benchmark_group("mvcc_txn");
    group.throughput(Throughput::Elements(1));
    group.bench_function("4_puts_1_range_1_delete", |b| {
        b.iter(|| {
            let mut writer = store.writer();
            let mut txn = writer.txn();
            for j in 0..4 {
                txn.put(key((n + j) % 100_000), VALUE, 0, PutOptions { prev_kv: j == 0, ..Default::default() })
                    .expect("put");
            }
            let read = txn.range(&KeyRange::new(key(n % 100_000), ""), RangeOptions::default()).expect("range");
            txn.delete_range(&KeyRange::new(key((n + 3) % 100_000), ""), false).expect("delete");
            txn.end();
            n += 4;
            writer.commit(Some(n)).expect("commit");
            read.count
        })
    });
    group.finish();
}

fn reads(c: &mut Criterion) {
    let sizes = Sizes::from_env();
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    preload(&store, sizes.preloaded);
    let mut picker = Picker::new(3);
    let mut group = c.benchmark_group("mvcc_range");
    group.throughput(Throughput::Elements(1));
    group.bench_function("1_key", |b| {
        b.iter(|| {
            let range = KeyRange::new(key(picker.below(sizes.preloaded)), "");
            let got = store.range(&range, RangeOptions::default()).expect("range");
            assert_eq!(got.kvs.len(), 1);
            got
        })
    });
    group.throughput(Throughput::Elements(sizes.range));
    group.bench_function(format!("{}_keys", sizes.range), |b| {
        b.iter(|| {
            let start = picker.below(sizes.preloaded - sizes.range);
            let range = KeyRange::new(key(start), key(start + sizes.range));
            let got = store.range(&range, RangeOptions::default()).expect("range");
            assert_eq!(got.kvs.len() as u64, sizes.range);
            got
        })
    });
    group.finish();
}

fn build_index(keys: u64, revisions: i64) -> KeyIndex {
    let mut index = KeyIndex::new();
    for r in 0..revisions {
        for i in 0..keys {
            index.put(key(i).as_bytes(), Revision::new(2 + r * keys as i64 + i as i64, 0));
        }
    }
    index
}

fn key_index(c: &mut Criterion) {
    let keys = if std::env::var_os("CAIRN_BENCH_QUICK").is_some_and(|v| v != "0") { 10_000 } else { 1_000_000 };
    for revisions in [1, 3] {
        let before = ALLOCATED.load(Ordering::Relaxed);
        let index = build_index(keys, revisions);
        let bytes = ALLOCATED.load(Ordering::Relaxed) - before;
        println!(
            "key_index: {keys} keys ({}-byte keys) x {revisions} revisions: {bytes} bytes, {:.1} bytes/key",
            key(0).len(),
            bytes as f64 / keys as f64
        );
        drop(index);
    }
    let mut group = c.benchmark_group("key_index");
    group.sample_size(10);
    group.throughput(Throughput::Elements(keys));
    group.bench_function(format!("build_{keys}_keys"), |b| {
        b.iter_batched(|| (), |()| build_index(keys, 1), BatchSize::PerIteration)
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = key_index, writes, reads
}
criterion_main!(benches);
