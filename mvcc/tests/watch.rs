//! The watch guarantees: ordered, unique, whole per revision, resumable from a
//! revision, cancelled on compaction, and a stalled consumer never blocks writers.

use std::time::Duration;

use cairn_mvcc::{
    Error, EventKind, KeyRange, KvStore, PutOptions, WatchFilter, WatchRequest, WatchResponse, WatchableStore,
};
use cairn_storage::{Backend, MemBackend, Options};
use cairn_storage_lmdb::LmdbBackend;
use tokio::sync::mpsc::{Receiver, channel};

/// Every wait in these tests is bounded by this.
const WAIT: Duration = Duration::from_secs(30);

fn store<B: Backend>(dir: &std::path::Path) -> WatchableStore<B> {
    WatchableStore::new(KvStore::open(B::open(dir, &Options::relaxed()).expect("backend")).expect("kv"))
}

/// Writes one transaction of `puts` puts (and a delete of `del` if given) and commits it.
fn write<B: Backend>(store: &WatchableStore<B>, puts: &[(String, String)], del: Option<&str>) -> i64 {
    let mut writer = store.writer();
    let mut txn = writer.txn();
    for (k, v) in puts {
        txn.put(k.clone(), v.clone(), 0, PutOptions::default()).expect("put");
    }
    if let Some(k) = del {
        txn.delete_range(&KeyRange::new(k.to_owned(), ""), false).expect("delete");
    }
    txn.end();
    writer.commit(None).expect("commit")
}

async fn next(rx: &mut Receiver<WatchResponse>) -> WatchResponse {
    tokio::time::timeout(WAIT, rx.recv()).await.expect("a response in time").expect("channel open")
}

/// Receives until an event of revision `last` arrives; returns (revision, key, kind) per event.
async fn collect_until(rx: &mut Receiver<WatchResponse>, last: i64) -> Vec<Vec<(i64, String, EventKind)>> {
    let mut responses = Vec::new();
    loop {
        let response = next(rx).await;
        assert!(!response.canceled, "unexpected cancel: {response:?}");
        let events: Vec<_> = response
            .events
            .iter()
            .map(|e| (e.kv.mod_revision, String::from_utf8_lossy(&e.kv.key).into_owned(), e.kind))
            .collect();
        let done = events.last().is_some_and(|e| e.0 >= last);
        responses.push(events);
        if done {
            return responses;
        }
    }
}

/// Checks order, uniqueness and wholeness against what was written: `expected`
/// holds, per revision from `from`, the events written then.
fn check(responses: &[Vec<(i64, String, EventKind)>], expected: &[(i64, Vec<(String, EventKind)>)]) {
    let flat: Vec<_> = responses.iter().flatten().cloned().collect();
    let want: Vec<_> =
        expected.iter().flat_map(|(rev, evs)| evs.iter().map(move |(k, kind)| (*rev, k.clone(), *kind))).collect();
    assert_eq!(flat.len(), want.len(), "events missing or duplicated");
    assert_eq!(flat, want, "events differ from history (order, keys or kinds)");
    // No revision is split across responses.
    for pair in responses.windows(2) {
        if let (Some(a), Some(b)) = (pair[0].last(), pair[1].first()) {
            assert!(a.0 < b.0, "revision {} split across responses", a.0);
        }
    }
}

#[tokio::test]
async fn ordered_unique_and_whole_per_revision() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store::<MemBackend>(dir.path());
    let (tx, mut rx) = channel(1024);
    store.watch(WatchRequest::new(KeyRange::prefix("k")), tx).expect("watch");
    let mut expected = Vec::new();
    let mut last = 0;
    for i in 0..200 {
        let puts: Vec<_> = (0..3).map(|j| (format!("k{}", (i * 3 + j) % 17), format!("v{i}"))).collect();
        let del = (i % 5 == 4).then(|| format!("k{}", i % 17));
        // An unwatched key in the same transaction is left out.
        let mut all = puts.clone();
        all.push(("other".to_owned(), "x".to_owned()));
        last = write(&store, &all, del.as_deref());
        let mut evs: Vec<_> = puts.iter().map(|(k, _)| (k.clone(), EventKind::Put)).collect();
        if let Some(d) = del {
            evs.push((d, EventKind::Delete));
        }
        expected.push((last, evs));
    }
    let responses = collect_until(&mut rx, last).await;
    check(&responses, &expected);
}

#[tokio::test]
async fn resumes_from_a_past_revision_then_follows_live() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store::<LmdbBackend>(dir.path());
    let mut expected = Vec::new();
    for i in 0..500 {
        let rev = write(&store, &[(format!("key{}", i % 10), i.to_string())], None);
        expected.push((rev, vec![(format!("key{}", i % 10), EventKind::Put)]));
    }
    let (tx, mut rx) = channel(16);
    let request = WatchRequest { start_revision: 100, ..WatchRequest::new(KeyRange::prefix("key")) };
    store.watch(request, tx).expect("watch");
    // Writes go on while the watcher catches up.
    for i in 500..700 {
        let rev = write(&store, &[(format!("key{}", i % 10), i.to_string())], None);
        expected.push((rev, vec![(format!("key{}", i % 10), EventKind::Put)]));
    }
    let last = expected.last().map(|e| e.0).expect("events");
    let responses = collect_until(&mut rx, last).await;
    let from: Vec<_> = expected.into_iter().filter(|(rev, _)| *rev >= 100).collect();
    check(&responses, &from);
    // And it is live afterwards.
    let rev = write(&store, &[("key0".to_owned(), "live".to_owned())], None);
    let response = next(&mut rx).await;
    assert_eq!(response.events.len(), 1);
    assert_eq!(response.events[0].kv.mod_revision, rev);
    assert_eq!(store.watcher_counts(), (1, 0));
}

#[tokio::test]
async fn a_watch_from_a_compacted_revision_is_cancelled() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store::<MemBackend>(dir.path());
    for i in 0..60 {
        write(&store, &[("a".to_owned(), i.to_string())], None);
    }
    store.writer().compact(50).expect("compact").run().expect("run");
    let (tx, mut rx) = channel(16);
    let watcher = store.watch(WatchRequest { start_revision: 10, ..WatchRequest::new(KeyRange::prefix("a")) }, tx);
    let response = next(&mut rx).await;
    assert!(response.canceled);
    assert_eq!((response.watch_id, response.compact_revision), (watcher.expect("watch").id, 50));
    assert!(response.events.is_empty());
    assert_eq!(store.watcher_counts(), (0, 0));
    // From the compaction point on, history is still there.
    let (tx, mut rx) = channel(16);
    store.watch(WatchRequest { start_revision: 50, ..WatchRequest::new(KeyRange::prefix("a")) }, tx).expect("watch");
    let responses = collect_until(&mut rx, 61).await;
    let revs: Vec<i64> = responses.iter().flatten().map(|e| e.0).collect();
    assert_eq!(revs, (50..=61).collect::<Vec<_>>());
}

#[tokio::test]
async fn filters_prev_kv_ids_and_progress() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store::<MemBackend>(dir.path());
    write(&store, &[("f".to_owned(), "1".to_owned())], None);
    let (tx, mut rx) = channel(64);
    let no_put = WatchRequest {
        filter: WatchFilter { no_put: true, no_delete: false },
        prev_kv: true,
        id: Some(7),
        ..WatchRequest::new(KeyRange::new("f", ""))
    };
    let w = store.watch(no_put.clone(), tx.clone()).expect("watch");
    assert_eq!(w.id, 7);
    assert!(matches!(store.watch(no_put, tx.clone()), Err(Error::WatchIdTaken(7))));
    let no_delete = WatchRequest {
        filter: WatchFilter { no_put: false, no_delete: true },
        prev_kv: true,
        ..WatchRequest::new(KeyRange::new("f", ""))
    };
    let other = store.watch(no_delete, tx).expect("watch").id;
    assert_ne!(other, 7);
    write(&store, &[("f".to_owned(), "2".to_owned())], None);
    let put = next(&mut rx).await;
    assert_eq!(put.watch_id, other);
    assert_eq!(put.events[0].prev_kv.as_ref().map(|kv| kv.value.clone()), Some("1".into()));
    let rev = write(&store, &[], Some("f"));
    let del = next(&mut rx).await;
    assert_eq!((del.watch_id, del.events[0].kind, del.events[0].kv.mod_revision), (7, EventKind::Delete, rev));
    assert_eq!(del.events[0].prev_kv.as_ref().map(|kv| kv.value.clone()), Some("2".into()));
    assert!(store.progress(7));
    let progress = next(&mut rx).await;
    assert_eq!((progress.watch_id, progress.revision, progress.events.len()), (7, rev, 0));
    assert!(store.cancel(7));
    assert!(!store.cancel(7));
}

/// One consumer stops reading while 100,000 puts go through: the writer never
/// waits for it, a second watcher gets every event live, and once the stalled
/// one reads again it gets all 100,000 in order, once each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_consumer_blocks_neither_writers_nor_other_watchers() {
    const PUTS: i64 = 100_000;
    let dir = tempfile::tempdir().expect("tempdir");
    let store = std::sync::Arc::new(store::<LmdbBackend>(dir.path()));
    let (stalled_tx, mut stalled) = channel(4);
    let (live_tx, mut live) = channel(256);
    store.watch(WatchRequest::new(KeyRange::prefix("s")), stalled_tx).expect("watch");
    store.watch(WatchRequest::new(KeyRange::prefix("s")), live_tx).expect("watch");
    let writer_store = store.clone();
    let writer = tokio::task::spawn_blocking(move || {
        let mut n = 0;
        while n < PUTS {
            let mut writer = writer_store.writer();
            for _ in 0..1000 {
                let mut txn = writer.txn();
                txn.put(format!("s{}", n % 1000), n.to_string(), 0, PutOptions::default()).expect("put");
                txn.end();
                n += 1;
            }
            writer.commit(None).expect("commit");
        }
    });
    let mut seen_live = 0i64;
    let mut expect_rev = 2;
    while seen_live < PUTS {
        let response = next(&mut live).await;
        for event in &response.events {
            assert_eq!(event.kv.mod_revision, expect_rev, "live watcher: order or gap");
            expect_rev += 1;
            seen_live += 1;
        }
    }
    tokio::time::timeout(WAIT, writer).await.expect("writer finished").expect("writer ok");
    assert_eq!(store.watcher_counts().1, 1, "the stalled watcher was moved aside");
    let mut expect_rev = 2;
    while expect_rev < PUTS + 2 {
        let response = next(&mut stalled).await;
        for event in &response.events {
            assert_eq!(event.kv.mod_revision, expect_rev, "stalled watcher: order, gap or duplicate");
            assert_eq!(event.kv.value, (expect_rev - 2).to_string());
            expect_rev += 1;
        }
    }
    assert!(tokio::time::timeout(Duration::from_millis(300), stalled.recv()).await.is_err(), "nothing extra");
    assert_eq!(store.watcher_counts(), (2, 0));
}
