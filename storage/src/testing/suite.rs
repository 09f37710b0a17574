//! The named conformance checks.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use super::TestResult;
use crate::{Backend, Durability, Error, Options, Order, ReadView, WriteBatch, claim_dir};

type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

fn open<B: Backend>(dir: &Path, durability: Durability) -> crate::Result<B> {
    B::open(dir, &Options { durability, ..Options::default() })
}

fn put_all<B: Backend>(store: &B, bucket: &'static str, pairs: &[(Vec<u8>, Vec<u8>)]) -> crate::Result<()> {
    let mut batch = WriteBatch::new();
    for (k, v) in pairs {
        batch.put(bucket, k.clone(), v.clone())?;
    }
    store.commit(batch)
}

fn all<V: ReadView + ?Sized>(view: &V, bucket: &str) -> crate::Result<Pairs> {
    view.range(bucket, &[], None, Order::Forward, 0)
}

fn check(cond: bool, what: impl std::fmt::Display) -> TestResult {
    if cond { Ok(()) } else { Err(format!("conformance failure: {what}").into()) }
}

fn key(i: u32) -> Vec<u8> {
    i.to_be_bytes().to_vec()
}

/// A batch over several buckets is applied whole; one dropped unapplied leaves nothing.
pub fn atomic_batches<B: Backend>() -> TestResult {
    let dir = tempfile::tempdir()?;
    let store = open::<B>(dir.path(), Durability::Relaxed)?;
    let mut dropped = WriteBatch::new();
    dropped.put("key", b"k".to_vec(), b"v".to_vec())?;
    dropped.put("meta", b"m".to_vec(), b"v".to_vec())?;
    drop(dropped);
    let view = store.view()?;
    check(view.get("key", b"k")?.is_none(), "a dropped batch left a key")?;
    check(view.buckets()?.is_empty(), "a dropped batch created a bucket")?;

    let before = store.view()?;
    let mut batch = WriteBatch::new();
    for i in 0..500 {
        batch.put("key", key(i), format!("v{i}").into_bytes())?;
        batch.put("lease", key(i), b"l".to_vec())?;
    }
    batch.put("meta", b"consistent_index".to_vec(), 9u64.to_be_bytes().to_vec())?;
    store.commit(batch)?;
    check(all(&before, "key")?.is_empty(), "a view opened before the commit sees it")?;
    let after = store.view()?;
    check(all(&after, "key")?.len() == 500, "not every put of the batch is visible")?;
    check(all(&after, "lease")?.len() == 500, "the second bucket is incomplete")?;
    check(after.get("meta", b"consistent_index")? == Some(9u64.to_be_bytes().to_vec()), "meta missing")?;
    check(after.buckets()? == ["key", "lease", "meta"], "buckets are not listed in order")?;
    Ok(())
}

/// Missing buckets read as empty; deletes of missing keys are no-ops; the last
/// operation on a key within a batch wins.
pub fn missing_buckets_and_deletes<B: Backend>() -> TestResult {
    let dir = tempfile::tempdir()?;
    let store = open::<B>(dir.path(), Durability::Relaxed)?;
    let view = store.view()?;
    check(view.get("nothing", b"k")?.is_none(), "get in a missing bucket")?;
    check(all(&view, "nothing")?.is_empty(), "scan of a missing bucket")?;
    drop(view);

    let mut batch = WriteBatch::new();
    batch.delete("key", b"never".to_vec())?;
    batch.put("key", b"a".to_vec(), b"1".to_vec())?;
    batch.delete("key", b"a".to_vec())?;
    batch.delete("key", b"b".to_vec())?;
    batch.put("key", b"b".to_vec(), b"2".to_vec())?;
    batch.put("key", b"c".to_vec(), b"old".to_vec())?;
    batch.put("key", b"c".to_vec(), b"".to_vec())?;
    store.commit(batch)?;
    let view = store.view()?;
    check(view.get("key", b"a")?.is_none(), "put then delete in one batch left the key")?;
    check(view.get("key", b"b")? == Some(b"2".to_vec()), "delete then put in one batch lost the put")?;
    check(view.get("key", b"c")? == Some(Vec::new()), "an empty value is not kept as empty")?;
    check(all(&view, "key")?.len() == 2, "unexpected keys")?;
    drop(view);
    let mut emptied = WriteBatch::new();
    emptied.put("lease", b"x".to_vec(), b"1".to_vec())?;
    store.commit(emptied)?;
    check(store.view()?.buckets()? == ["key", "lease"], "buckets listed")?;
    let mut emptied = WriteBatch::new();
    emptied.delete("lease", b"x".to_vec())?;
    store.commit(emptied)?;
    check(store.view()?.buckets()? == ["key"], "a bucket without keys is still listed")?;

    check(
        matches!(WriteBatch::new().put("key", Vec::new(), b"v".to_vec()), Err(Error::InvalidKey { .. })),
        "empty key",
    )?;
    check(
        matches!(WriteBatch::new().put("bad name", b"k".to_vec(), b"v".to_vec()), Err(Error::InvalidBucket(_))),
        "bucket",
    )?;
    check(
        matches!(
            WriteBatch::new().put("key", vec![1; crate::MAX_KEY_LEN + 1], b"v".to_vec()),
            Err(Error::InvalidKey { .. })
        ),
        "overlong key",
    )?;
    // The longest key allowed round-trips.
    let longest = vec![0xab; crate::MAX_KEY_LEN];
    put_all(&store, "key", &[(longest.clone(), b"long".to_vec())])?;
    check(store.view()?.get("key", &longest)? == Some(b"long".to_vec()), "longest key")?;
    Ok(())
}

fn binary_keys() -> Vec<Vec<u8>> {
    let mut keys: Vec<Vec<u8>> = vec![
        vec![0x00],
        vec![0x00, 0x00],
        vec![0x00, 0xff],
        vec![0x01],
        vec![0x7f],
        vec![0x80],
        vec![0xfe, 0xff],
        vec![0xff],
        vec![0xff, 0x00],
        vec![0xff, 0xff],
        vec![0xff, 0xff, 0xff],
        b"a".to_vec(),
        b"a\x00".to_vec(),
        b"ab".to_vec(),
        b"abc".to_vec(),
        b"abd".to_vec(),
        b"b".to_vec(),
    ];
    keys.sort();
    keys
}

/// Keys order as unsigned bytes, with 0x00 and 0xff bytes and prefixes.
pub fn binary_key_order<B: Backend>() -> TestResult {
    let dir = tempfile::tempdir()?;
    let store = open::<B>(dir.path(), Durability::Relaxed)?;
    let keys = binary_keys();
    // Insert in a scrambled order.
    let mut scrambled = keys.clone();
    scrambled.reverse();
    scrambled.rotate_left(5);
    let pairs: Pairs = scrambled.iter().map(|k| (k.clone(), k.clone())).collect();
    put_all(&store, "key", &pairs)?;
    let view = store.view()?;
    let got: Vec<Vec<u8>> = all(&view, "key")?.into_iter().map(|(k, _)| k).collect();
    check(got == keys, format!("forward order {got:?}"))?;
    let rev: Vec<Vec<u8>> = view.range("key", &[], None, Order::Reverse, 0)?.into_iter().map(|(k, _)| k).collect();
    let mut want = keys.clone();
    want.reverse();
    check(rev == want, format!("reverse order {rev:?}"))?;
    // Every [start, end) over the key set, both directions, agrees with the model.
    for start in &keys {
        for end in &keys {
            let model: Vec<&Vec<u8>> = keys.iter().filter(|k| *k >= start && *k < end).collect();
            let fwd = view.range("key", start, Some(end), Order::Forward, 0)?;
            check(fwd.iter().map(|(k, _)| k).eq(model.iter().copied()), format!("range {start:?}..{end:?}"))?;
            let back = view.range("key", start, Some(end), Order::Reverse, 0)?;
            check(back.iter().map(|(k, _)| k).eq(model.iter().rev().copied()), format!("reverse {start:?}..{end:?}"))?;
        }
    }
    // A prefix scan: everything starting with "ab" is [ab, ac).
    let prefix = view.range("key", b"ab", Some(b"ac"), Order::Forward, 0)?;
    check(prefix.len() == 3, "prefix scan of ab")?;
    // From a key to the end of the bucket.
    let tail = view.range("key", &[0xff], None, Order::Forward, 0)?;
    check(tail.len() == 4, "open-ended scan from 0xff")?;
    Ok(())
}

/// Limits cut scans in either direction from the right end.
pub fn reverse_scans_and_limits<B: Backend>() -> TestResult {
    let dir = tempfile::tempdir()?;
    let store = open::<B>(dir.path(), Durability::Relaxed)?;
    let pairs: Pairs = (0..100u32).map(|i| (key(i * 2), key(i))).collect();
    put_all(&store, "key", &pairs)?;
    put_all(&store, "other", &[(key(1), b"x".to_vec())])?;
    let view = store.view()?;
    for limit in [1usize, 2, 10, 99, 100, 1000] {
        let fwd = view.range("key", &[], None, Order::Forward, limit)?;
        check(fwd.len() == limit.min(100) && fwd[0].0 == key(0), format!("forward limit {limit}"))?;
        let rev = view.range("key", &[], None, Order::Reverse, limit)?;
        check(rev.len() == limit.min(100) && rev[0].0 == key(198), format!("reverse limit {limit}"))?;
        check(rev.windows(2).all(|w| w[0].0 > w[1].0), "reverse scan not descending")?;
    }
    // Bounds that fall between keys; end is exclusive, start inclusive.
    let mid = view.range("key", &key(11), Some(&key(20)), Order::Reverse, 3)?;
    let got: Vec<Vec<u8>> = mid.into_iter().map(|(k, _)| k).collect();
    check(got == vec![key(18), key(16), key(14)], format!("reverse bounded {got:?}"))?;
    let exact = view.range("key", &key(10), Some(&key(12)), Order::Forward, 0)?;
    check(exact.len() == 1 && exact[0].0 == key(10), "start inclusive, end exclusive")?;
    check(view.range("key", &key(20), Some(&key(10)), Order::Forward, 0)?.is_empty(), "end before start")?;
    check(view.range("key", &key(20), Some(&key(20)), Order::Reverse, 0)?.is_empty(), "empty range")?;
    let mut seen = 0;
    view.scan("key", &[], None, Order::Forward, &mut |_, _| {
        seen += 1;
        seen < 7
    })?;
    check(seen == 7, "scan did not stop when asked")?;
    check(all(&view, "other")?.len() == 1, "buckets leak into each other")?;
    Ok(())
}

/// Values of 2 MiB round-trip, also across a reopen.
pub fn large_values<B: Backend>() -> TestResult {
    let dir = tempfile::tempdir()?;
    let big: Vec<u8> = (0..(2u32 << 20)).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
    {
        let store = open::<B>(dir.path(), Durability::Relaxed)?;
        let pairs = vec![
            (b"a".to_vec(), b"small".to_vec()),
            (b"big".to_vec(), big.clone()),
            (b"c".to_vec(), big[..1000].to_vec()),
        ];
        put_all(&store, "key", &pairs)?;
        check(store.view()?.get("key", b"big")?.as_ref() == Some(&big), "2 MiB value")?;
        store.sync()?;
    }
    let store = open::<B>(dir.path(), Durability::Relaxed)?;
    let view = store.view()?;
    check(view.get("key", b"big")?.as_ref() == Some(&big), "2 MiB value after reopen")?;
    check(all(&view, "key")?.len() == 3, "pairs around the big value")?;
    Ok(())
}

/// A view stays exactly as it was opened while another thread commits, and new
/// views never see half a batch.
pub fn snapshot_isolation_with_concurrent_writer<B: Backend>() -> TestResult {
    let dir = tempfile::tempdir()?;
    let store = open::<B>(dir.path(), Durability::Relaxed)?;
    let initial: Pairs = (0..1000u32).map(|i| (key(i), b"gen0".to_vec())).collect();
    put_all(&store, "key", &initial)?;
    put_all(&store, "meta", &[(b"gen".to_vec(), 0u64.to_be_bytes().to_vec())])?;
    let old = store.view()?;
    let done = AtomicBool::new(false);
    let writer_result: crate::Result<()> = std::thread::scope(|scope| {
        let writer = scope.spawn(|| {
            let res = (|| {
                for generation in 1..=150u64 {
                    let mut batch = WriteBatch::new();
                    let tag = format!("gen{generation}").into_bytes();
                    for i in (0..1000u32).step_by(7) {
                        batch.put("key", key(i), tag.clone())?;
                    }
                    batch.delete("key", key(generation as u32 * 3))?;
                    batch.put("key", key(10_000 + generation as u32), tag.clone())?;
                    batch.put("meta", b"gen".to_vec(), generation.to_be_bytes().to_vec())?;
                    store.commit(batch)?;
                }
                Ok(())
            })();
            done.store(true, Ordering::SeqCst);
            res
        });
        let mut rounds = 0;
        while !done.load(Ordering::SeqCst) || rounds < 3 {
            rounds += 1;
            let snapshot = all(&old, "key").map_err(|e| e.to_string());
            assert_eq!(snapshot.as_ref().map(Vec::len), Ok(1000), "old view changed size");
            assert!(snapshot.is_ok_and(|s| s == initial), "old view changed content");
            // A fresh view must show one generation everywhere it wrote.
            let fresh = store.view().map_err(|e| e.to_string());
            let fresh = fresh.as_ref().map_err(Clone::clone);
            if let Ok(fresh) = fresh {
                let generation =
                    fresh.get("meta", b"gen").ok().flatten().and_then(|g| g.try_into().ok()).map(u64::from_be_bytes);
                let tag = format!("gen{}", generation.unwrap_or(u64::MAX)).into_bytes();
                let probe = fresh.get("key", &key(7)).ok().flatten();
                assert_eq!(probe, Some(tag), "a new view saw part of a batch");
            }
        }
        writer.join().unwrap_or_else(|_| Err(Error::Io(std::io::Error::other("writer panicked"))))
    });
    writer_result?;
    check(all(&old, "key")? == initial, "old view changed after the writer finished")?;
    let view = store.view()?;
    check(view.get("key", &key(7))? == Some(b"gen150".to_vec()), "final state")?;
    check(view.get("key", &key(10_150))?.is_some(), "last insert")?;
    Ok(())
}

/// In relaxed mode, everything committed before `sync` survives a close and reopen.
pub fn durable_after_sync_and_reopen<B: Backend>() -> TestResult {
    let dir = tempfile::tempdir()?;
    let pairs: Pairs = (0..2000u32).map(|i| (key(i), format!("value-{i}").into_bytes())).collect();
    {
        let store = open::<B>(dir.path(), Durability::Relaxed)?;
        put_all(&store, "key", &pairs[..1000])?;
        put_all(&store, "key", &pairs[1000..])?;
        let mut batch = WriteBatch::new();
        batch.delete("key", key(5))?;
        batch.put("meta", b"consistent_index".to_vec(), 42u64.to_be_bytes().to_vec())?;
        store.commit(batch)?;
        store.sync()?;
    }
    for round in 0..2 {
        let store = open::<B>(dir.path(), Durability::Relaxed)?;
        let view = store.view()?;
        let got = all(&view, "key")?;
        check(got.len() == 1999, format!("reopen {round}: {} pairs", got.len()))?;
        check(view.get("key", &key(5))?.is_none(), "a synced delete came back")?;
        check(view.get("key", &key(1999))? == Some(b"value-1999".to_vec()), "last pair")?;
        check(view.get("meta", b"consistent_index")? == Some(42u64.to_be_bytes().to_vec()), "meta after reopen")?;
    }
    Ok(())
}

/// In immediate mode, a commit is durable without an explicit `sync`.
pub fn durable_immediate_commit<B: Backend>() -> TestResult {
    let dir = tempfile::tempdir()?;
    {
        let store = open::<B>(dir.path(), Durability::Immediate)?;
        put_all(&store, "key", &[(b"a".to_vec(), b"1".to_vec())])?;
    }
    let store = open::<B>(dir.path(), Durability::Immediate)?;
    check(store.view()?.get("key", b"a")? == Some(b"1".to_vec()), "immediate commit lost")?;
    Ok(())
}

fn fill_for_snapshot<B: Backend>(store: &B) -> crate::Result<BTreeMap<String, Pairs>> {
    let mut want = BTreeMap::new();
    let keys: Pairs = binary_keys().into_iter().map(|k| (k.clone(), [k.as_slice(), b"-v"].concat())).collect();
    let many: Pairs = (0..3000u32).map(|i| (key(i), vec![i as u8; (i % 300) as usize])).collect();
    let big = vec![(b"big".to_vec(), vec![0x5a; 2 << 20])];
    put_all(store, "key", &many)?;
    put_all(store, "binary", &keys)?;
    put_all(store, "meta", &big)?;
    want.insert("binary".to_owned(), keys);
    want.insert("key".to_owned(), many);
    want.insert("meta".to_owned(), big);
    Ok(want)
}

fn contents<V: ReadView + ?Sized>(view: &V) -> crate::Result<BTreeMap<String, Pairs>> {
    view.buckets()?.into_iter().map(|b| Ok((b.clone(), all(view, &b)?))).collect()
}

/// Export then import reproduces the store exactly, into this engine and into the
/// reference engine.
pub fn export_import_round_trip<B: Backend>() -> TestResult {
    let dir = tempfile::tempdir()?;
    let store = open::<B>(&dir.path().join("src"), Durability::Relaxed)?;
    let want = fill_for_snapshot(&store)?;
    let mut snap = Vec::new();
    let summary = store.export(&mut snap)?;
    check(summary.buckets == 3 && summary.pairs == 3000 + binary_keys().len() as u64 + 1, "summary counts")?;
    check(summary.bytes == snap.len() as u64, "summary length")?;

    let (copy, read_back) = B::import(&dir.path().join("copy"), &Options::default(), &mut snap.as_slice())?;
    check(read_back == summary, "import summary differs from export summary")?;
    check(contents(&copy.view()?)? == want, "imported store differs")?;
    let (mem, _) = crate::MemBackend::import(&dir.path().join("mem"), &Options::default(), &mut snap.as_slice())?;
    check(contents(&mem.view()?)? == want, "reference import differs")?;
    // And the reference's export imports back into this engine identically.
    let mut again = Vec::new();
    mem.export(&mut again)?;
    check(again == snap, "exports of equal stores differ")?;
    drop(copy);
    let reopened = open::<B>(&dir.path().join("copy"), Durability::Relaxed)?;
    check(contents(&reopened.view()?)? == want, "imported store differs after reopen")?;
    Ok(())
}

/// A truncated, corrupted or padded snapshot is refused and leaves no directory.
pub fn import_rejects_corrupt_snapshot<B: Backend>() -> TestResult {
    let dir = tempfile::tempdir()?;
    let store = open::<B>(&dir.path().join("src"), Durability::Relaxed)?;
    let pairs: Pairs = (0..200u32).map(|i| (key(i), vec![7; 100])).collect();
    put_all(&store, "key", &pairs)?;
    put_all(&store, "meta", &[(b"m".to_vec(), b"x".to_vec())])?;
    let mut snap = Vec::new();
    store.export(&mut snap)?;
    let n = snap.len();
    let mut bad: Vec<(String, Vec<u8>)> = Vec::new();
    for cut in [0, 5, 12, 13, 100, n / 2, n - 5, n - 1] {
        bad.push((format!("truncated at {cut}"), snap[..cut].to_vec()));
    }
    for at in [0, 9, 12, 14, 20, 300, n / 2, n - 20, n - 3] {
        let mut s = snap.clone();
        s[at] ^= 0x41;
        bad.push((format!("byte {at} flipped"), s));
    }
    let mut padded = snap.clone();
    padded.push(0);
    bad.push(("padded".to_owned(), padded));
    let mut huge = snap[..12].to_vec();
    huge.extend_from_slice(&[1, 0, 3, b'k', b'e', b'y', 2, 0xff, 0xff, 0xff, 0xf0]);
    bad.push(("huge key length".to_owned(), huge));
    for (i, (what, bytes)) in bad.iter().enumerate() {
        let target = dir.path().join(format!("bad{i}"));
        match B::import(&target, &Options::default(), &mut bytes.as_slice()) {
            Err(Error::CorruptSnapshot(_)) => {}
            Err(other) => return Err(format!("{what}: wrong error {other}").into()),
            Ok(_) => return Err(format!("{what}: a corrupt snapshot was imported").into()),
        }
        check(!target.exists(), format!("{what}: left a target directory"))?;
        let leftovers = std::fs::read_dir(dir.path())?.count();
        check(leftovers == 1, format!("{what}: left {leftovers} entries beside the source"))?;
    }
    Ok(())
}

/// Import never writes over a store that holds data.
pub fn import_refuses_non_empty_target<B: Backend>() -> TestResult {
    let dir = tempfile::tempdir()?;
    let store = open::<B>(&dir.path().join("src"), Durability::Relaxed)?;
    put_all(&store, "key", &[(b"a".to_vec(), b"1".to_vec())])?;
    let mut snap = Vec::new();
    store.export(&mut snap)?;
    store.sync()?;
    drop(store);
    match B::import(&dir.path().join("src"), &Options::default(), &mut snap.as_slice()) {
        Err(Error::TargetNotEmpty(_)) => {}
        other => return Err(format!("import over a live store: {:?}", other.err()).into()),
    }
    let store = open::<B>(&dir.path().join("src"), Durability::Relaxed)?;
    check(store.view()?.get("key", b"a")? == Some(b"1".to_vec()), "the existing store was changed")?;
    Ok(())
}

/// After deleting most of the data, `defrag` brings the space in use (and, where
/// the engine can, the space allocated) down.
pub fn reclaims_space_after_mass_deletion<B: Backend>() -> TestResult {
    let dir = tempfile::tempdir()?;
    let store = open::<B>(dir.path(), Durability::Relaxed)?;
    // Incompressible values, so that engines may compress without skewing sizes.
    let value = |i: u32| -> Vec<u8> {
        let mut state = u64::from(i).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        (0..1024)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect()
    };
    for chunk in 0..20u32 {
        let pairs: Pairs = (0..1000u32).map(|i| (key(chunk * 1000 + i), value(chunk * 1000 + i))).collect();
        put_all(&store, "key", &pairs)?;
    }
    store.sync()?;
    store.defrag()?;
    let full = store.space()?;
    check(full.in_use >= 10 << 20, format!("20 MB of data reported as {full:?}"))?;
    check(full.allocated >= full.in_use / 2, format!("allocated is implausible: {full:?}"))?;
    for chunk in 0..20u32 {
        let mut batch = WriteBatch::new();
        for i in 0..1000u32 {
            if (chunk * 1000 + i) % 20 != 0 {
                batch.delete("key", key(chunk * 1000 + i))?;
            }
        }
        store.commit(batch)?;
    }
    store.sync()?;
    store.defrag()?;
    let after = store.space()?;
    check(after.in_use < full.in_use / 2, format!("in use did not drop: {full:?} -> {after:?}"))?;
    check(after.allocated < full.allocated, format!("allocated did not drop: {full:?} -> {after:?}"))?;
    let view = store.view()?;
    check(all(&view, "key")?.len() == 1000, "defrag lost or kept data")?;
    check(view.get("key", &key(19_980))? == Some(value(19_980)), "a kept value changed")?;
    Ok(())
}

/// Views opened before and during `defrag` stay readable; the store is whole after
/// it, and after a reopen.
pub fn defrag_keeps_views_readable<B: Backend>() -> TestResult {
    let dir = tempfile::tempdir()?;
    {
        let store = open::<B>(dir.path(), Durability::Relaxed)?;
        let pairs: Pairs = (0..5000u32).map(|i| (key(i), vec![1; 200])).collect();
        put_all(&store, "key", &pairs)?;
        let mut batch = WriteBatch::new();
        for i in (0..5000u32).filter(|i| i % 2 == 1) {
            batch.delete("key", key(i))?;
        }
        store.commit(batch)?;
        let before = store.view()?;
        let done = AtomicBool::new(false);
        let defrag: crate::Result<()> = std::thread::scope(|scope| {
            let worker = scope.spawn(|| {
                let res = store.defrag();
                done.store(true, Ordering::SeqCst);
                res
            });
            let mut reads = 0;
            while !done.load(Ordering::SeqCst) || reads == 0 {
                reads += 1;
                assert_eq!(all(&before, "key").map(|p| p.len()).ok(), Some(2500), "old view during defrag");
                let fresh = store.view().and_then(|v| v.get("key", &key(2)));
                assert_eq!(fresh.ok().flatten(), Some(vec![1; 200]), "new view during defrag");
            }
            worker.join().unwrap_or_else(|_| Err(Error::Io(std::io::Error::other("defrag panicked"))))
        });
        defrag?;
        check(all(&before, "key")?.len() == 2500, "old view after defrag")?;
        check(all(&store.view()?, "key")?.len() == 2500, "new view after defrag")?;
        put_all(&store, "key", &[(key(1), b"after".to_vec())])?;
        store.sync()?;
    }
    let store = open::<B>(dir.path(), Durability::Relaxed)?;
    let view = store.view()?;
    check(all(&view, "key")?.len() == 2501, "reopen after defrag")?;
    check(view.get("key", &key(1))? == Some(b"after".to_vec()), "commit after defrag lost")?;
    Ok(())
}

/// A directory made by another engine is refused, untouched.
pub fn refuses_directory_of_other_engine<B: Backend>() -> TestResult {
    let dir = tempfile::tempdir()?;
    claim_dir(dir.path(), "some-other-engine")?;
    match open::<B>(dir.path(), Durability::Relaxed) {
        Err(Error::EngineMismatch { found, .. }) => check(found == "some-other-engine", "wrong engine reported"),
        Err(other) => Err(format!("wrong error: {other}").into()),
        Ok(_) => Err("opened another engine's directory".into()),
    }
}
