//! cairn's MVCC store embedded in a program of its own, over the reference
//! in-memory engine and over LMDB: writes, a multi-key transaction, reads at old
//! revisions, a watch that starts in the past, and compaction.
//!
//! Run with `cargo run -p cairn-mvcc --example embedded`.

use cairn_mvcc::{KeyRange, KvStore, PutOptions, RangeOptions, WatchRequest, WatchableStore};
use cairn_storage::{Backend, MemBackend, Options};
use cairn_storage_lmdb::LmdbBackend;

fn demo<B: Backend>(dir: &std::path::Path) -> Result<(), Box<dyn std::error::Error>> {
    let store = WatchableStore::new(KvStore::open(B::open(dir, &Options::relaxed())?)?);
    let mut applied = 0u64;

    // Each transaction takes one revision; a batch of them is one backend commit,
    // recorded with the caller's consistent index.
    let mut writer = store.writer();
    for (key, value) in [("config/a", "1"), ("config/b", "2")] {
        let mut txn = writer.txn();
        txn.put(key, value, 0, PutOptions::default())?;
        txn.end();
    }
    applied += 1;
    writer.commit(Some(applied))?;
    drop(writer);

    // Several changes in one revision.
    let mut writer = store.writer();
    let mut txn = writer.txn();
    txn.put("config/a", "10", 0, PutOptions::default())?;
    txn.delete_range(&KeyRange::new("config/b", ""), false)?;
    txn.put("config/c", "3", 0, PutOptions::default())?;
    let rev = txn.end();
    applied += 1;
    writer.commit(Some(applied))?;
    drop(writer);

    let now = store.range(&KeyRange::prefix("config/"), RangeOptions::default())?;
    let then = store.range(&KeyRange::prefix("config/"), RangeOptions { revision: rev - 1, ..Default::default() })?;
    println!(
        "[{}] at revision {}: {} keys; at {}: {} keys",
        B::NAME,
        now.revision,
        now.count,
        then.revision,
        then.count
    );

    // A watcher that starts in the past is caught up from history.
    let (tx, mut rx) = tokio::sync::mpsc::channel(16);
    store.watch(WatchRequest { start_revision: 2, ..WatchRequest::new(KeyRange::prefix("config/")) }, tx)?;
    let mut events = 0;
    while events < 5 {
        let response = rx.blocking_recv().ok_or("watch channel closed")?;
        events += response.events.len();
        for event in response.events {
            println!(
                "[{}]   {:?} {} @ {}",
                B::NAME,
                event.kind,
                String::from_utf8_lossy(&event.kv.key),
                event.kv.mod_revision
            );
        }
    }

    store.writer().compact(rev)?.run()?;
    println!("[{}] compacted at {}; hash {:#010x}", B::NAME, store.compacted_revision(), store.hash(0)?.hash);
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    demo::<MemBackend>(&dir.path().join("mem"))?;
    demo::<LmdbBackend>(&dir.path().join("lmdb"))?;
    Ok(())
}
