//! etcd's semantics of the KV store, case by case.

use cairn_mvcc::{Error, KeyRange, KvStore, PutOptions, RangeOptions, Revision, buckets};
use cairn_storage::{Backend, MemBackend, Options, Order, ReadView};
use cairn_storage_lmdb::LmdbBackend;

fn open<B: Backend>(dir: &std::path::Path) -> KvStore<B> {
    KvStore::open(B::open(dir, &Options::relaxed()).expect("backend")).expect("kv store")
}

fn put<B: Backend>(store: &KvStore<B>, key: &str, value: &str) -> i64 {
    let mut writer = store.writer();
    let mut txn = writer.txn();
    txn.put(key.to_owned(), value.to_owned(), 0, PutOptions::default()).expect("put");
    txn.end();
    writer.commit(None).expect("commit")
}

fn get<B: Backend>(store: &KvStore<B>, key: &str, rev: i64) -> Result<Option<cairn_mvcc::KeyValue>, Error> {
    let options = RangeOptions { revision: rev, ..RangeOptions::default() };
    Ok(store.range(&KeyRange::new(key.to_owned(), ""), options)?.kvs.pop())
}

#[test]
fn revisions_versions_and_create_revisions_as_etcd_sets_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open::<MemBackend>(dir.path());
    assert_eq!(store.current_revision(), 1, "a new store is at revision 1");
    assert_eq!(put(&store, "foo", "a"), 2, "the first write is revision 2");
    assert_eq!(put(&store, "foo", "b"), 3);
    assert_eq!(put(&store, "bar", "x"), 4);
    let foo = get(&store, "foo", 0).expect("get").expect("foo exists");
    assert_eq!((foo.create_revision, foo.mod_revision, foo.version), (2, 3, 2));
    let old = get(&store, "foo", 2).expect("get").expect("foo at 2");
    assert_eq!((old.value.as_ref(), old.version), (&b"a"[..], 1));

    // Delete ends the generation; a new put starts one at version 1.
    let mut writer = store.writer();
    let mut txn = writer.txn();
    let deleted = txn.delete_range(&KeyRange::new("foo", ""), true).expect("delete");
    assert_eq!(deleted.count, 1);
    assert_eq!(deleted.prev_kvs[0].value, "b");
    assert_eq!(txn.end(), 5);
    let mut txn = writer.txn();
    txn.put("foo", "c", 0, PutOptions::default()).expect("put");
    assert_eq!(txn.end(), 6);
    writer.commit(None).expect("commit");
    drop(writer);
    let foo = get(&store, "foo", 0).expect("get").expect("foo exists");
    assert_eq!((foo.create_revision, foo.mod_revision, foo.version), (6, 6, 1));
    assert!(get(&store, "foo", 5).expect("get").is_none(), "deleted at 5");

    // A transaction that writes nothing takes no revision.
    let mut writer = store.writer();
    let txn = writer.txn();
    assert_eq!(txn.end(), 6);
    let mut txn = writer.txn();
    assert_eq!(txn.delete_range(&KeyRange::new("nothing", ""), false).expect("delete").count, 0);
    assert_eq!(txn.end(), 6);
}

#[test]
fn one_txn_shares_a_revision_and_reads_its_own_writes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open::<MemBackend>(dir.path());
    put(&store, "k1", "old");
    let mut writer = store.writer();
    let mut txn = writer.txn();
    txn.put("k1", "v1", 0, PutOptions::default()).expect("put");
    txn.put("k2", "v2", 0, PutOptions::default()).expect("put");
    txn.delete_range(&KeyRange::new("k1", ""), false).expect("delete");
    txn.put("k3", "v3", 0, PutOptions::default()).expect("put");
    let inside = txn.range(&KeyRange::prefix("k"), RangeOptions::default()).expect("range");
    let keys: Vec<_> = inside.kvs.iter().map(|kv| kv.key.clone()).collect();
    assert_eq!(keys, ["k2", "k3"]);
    assert_eq!(txn.end(), 3);
    // Not visible to readers before the commit.
    assert_eq!(store.range(&KeyRange::prefix("k"), RangeOptions::default()).expect("range").kvs.len(), 1);
    writer.commit(Some(77)).expect("commit");
    drop(writer);
    let after = store.range(&KeyRange::prefix("k"), RangeOptions::default()).expect("range");
    assert_eq!(after.revision, 3);
    assert!(after.kvs.iter().all(|kv| kv.mod_revision == 3));
    assert_eq!(store.consistent_index(), 77);
    // Sub-revisions 0..4 of revision 3 are in the key bucket, the delete marked.
    let view = store.backend().view().expect("view");
    let subs = view
        .range(buckets::KEY, &Revision::lower_bound(3), Some(&Revision::lower_bound(4)), Order::Forward, 0)
        .expect("scan");
    let decoded: Vec<_> = subs.iter().map(|(k, _)| Revision::decode(k).expect("revision")).collect();
    assert_eq!(
        decoded,
        [
            (Revision::new(3, 0), false),
            (Revision::new(3, 1), false),
            (Revision::new(3, 2), true),
            (Revision::new(3, 3), false)
        ]
    );
}

#[test]
fn ignore_value_and_ignore_lease() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open::<MemBackend>(dir.path());
    let mut writer = store.writer();
    let mut txn = writer.txn();
    let missing = txn.put("k", "", 0, PutOptions { ignore_value: true, ..PutOptions::default() });
    assert!(matches!(missing, Err(Error::KeyNotFound)));
    assert_eq!(missing.err().map(|e| e.to_string()).as_deref(), Some("etcdserver: key not found"));
    txn.put("k", "v", 42, PutOptions::default()).expect("put");
    let prev = txn.put("k", "ignored", 7, PutOptions { ignore_value: true, prev_kv: true, ..PutOptions::default() });
    assert_eq!(prev.expect("put").map(|kv| kv.value), Some("v".into()));
    txn.put("k", "new", 9, PutOptions { ignore_lease: true, ..PutOptions::default() }).expect("put");
    txn.end();
    writer.commit(None).expect("commit");
    drop(writer);
    let kv = get(&store, "k", 0).expect("get").expect("k");
    assert_eq!((kv.value.as_ref(), kv.lease, kv.version), (&b"new"[..], 7, 3));
}

#[test]
fn range_conventions_limits_and_counts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open::<MemBackend>(dir.path());
    for key in ["a", "b", "c", "d", "da", "e"] {
        put(&store, key, key);
    }
    let keys = |range: KeyRange, limit| {
        let got = store.range(&range, RangeOptions { limit, ..RangeOptions::default() }).expect("range");
        (
            got.kvs.iter().map(|kv| String::from_utf8_lossy(&kv.key).into_owned()).collect::<Vec<_>>(),
            got.count,
            got.more,
        )
    };
    assert_eq!(keys(KeyRange::new("b", ""), 0), (vec!["b".to_owned()], 1, false));
    assert_eq!(keys(KeyRange::new("b", "d"), 0).0, ["b", "c"]);
    assert_eq!(keys(KeyRange::new("d", "\0"), 0).0, ["d", "da", "e"]);
    assert_eq!(keys(KeyRange::prefix("d"), 0).0, ["d", "da"]);
    assert_eq!(keys(KeyRange::new("a", "\0"), 2), (vec!["a".to_owned(), "b".to_owned()], 6, true));
    let counted = store.range(&KeyRange::new("a", "\0"), RangeOptions { count_only: true, ..RangeOptions::default() });
    let counted = counted.expect("range");
    assert_eq!((counted.kvs.len(), counted.count), (0, 6));
    let keys_only = store.range(&KeyRange::new("a", ""), RangeOptions { keys_only: true, ..RangeOptions::default() });
    assert!(keys_only.expect("range").kvs[0].value.is_empty());
}

#[test]
fn compaction_errors_and_reads() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open::<MemBackend>(dir.path());
    for i in 0..10 {
        put(&store, "k", &i.to_string());
    }
    assert_eq!(store.current_revision(), 11);
    assert!(matches!(store.writer().compact(12), Err(Error::FutureRevision { current: 11 })));
    let job = store.writer().compact(5).expect("compact");
    job.run().expect("physical compaction");
    assert_eq!(store.compacted_revision(), 5);
    let err = store.writer().compact(5).map(|_| ()).expect_err("compacting again fails");
    assert!(matches!(err, Error::Compacted { compacted: 5 }));
    assert_eq!(err.to_string(), "mvcc: required revision has been compacted");
    assert!(matches!(store.writer().compact(3), Err(Error::Compacted { .. })));
    assert!(matches!(get(&store, "k", 4), Err(Error::Compacted { compacted: 5 })));
    let at5 = get(&store, "k", 5).expect("at the compaction point").expect("k");
    assert_eq!((at5.value.as_ref(), at5.version), (&b"3"[..], 4));
    let future = get(&store, "k", 12).expect_err("future");
    assert_eq!(future.to_string(), "mvcc: required revision is a future revision");
    // Only revision 5 is left of revisions 2..=5.
    let view = store.backend().view().expect("view");
    let old = view.range(buckets::KEY, &[], Some(&Revision::lower_bound(6)), Order::Forward, 0).expect("scan");
    assert_eq!(old.len(), 1);
}

/// A compaction cut off after its first batch is finished by the next open.
#[test]
fn interrupted_compaction_resumes_on_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let hash_before;
    {
        let store = open::<LmdbBackend>(dir.path());
        for round in 0..5 {
            let mut writer = store.writer();
            for i in 0..1000 {
                let mut txn = writer.txn();
                txn.put(format!("key-{}", i % 300), format!("{round}-{i}"), 0, PutOptions::default()).expect("put");
                txn.end();
            }
            writer.commit(None).expect("commit");
        }
        let mut job = store.writer().compact(4000).expect("compact");
        store.writer().commit(None).expect("commit the compaction point");
        hash_before = store.hash(0).expect("hash");
        assert!(!job.step().expect("one batch"), "more than one batch of work");
        store.backend().sync().expect("sync");
        // The store is dropped here with the job unfinished.
    }
    let store = open::<LmdbBackend>(dir.path());
    assert_eq!(store.compacted_revision(), 4000);
    assert_eq!(store.current_revision(), 5001);
    assert_eq!(store.hash(0).expect("hash"), hash_before, "history unchanged by finishing the compaction");
    let view = store.backend().view().expect("view");
    let left = view.range(buckets::KEY, &[], Some(&Revision::lower_bound(4001)), Order::Forward, 0).expect("scan");
    assert_eq!(left.len(), 300, "one revision per key is kept at the compaction point");
    let kv = get(&store, "key-7", 0).expect("get").expect("key-7");
    assert_eq!(kv.version, 20, "versions survive compaction and reopen");
    assert_eq!(kv.create_revision, 9);
}

#[test]
fn hash_is_equal_for_equal_history_and_changes_with_it() {
    let (a, b) = (tempfile::tempdir().expect("tempdir"), tempfile::tempdir().expect("tempdir"));
    let (x, y) = (open::<MemBackend>(a.path()), open::<LmdbBackend>(b.path()));
    for store_i in 0..20 {
        put(&x, &format!("k{}", store_i % 7), "v");
        put(&y, &format!("k{}", store_i % 7), "v");
    }
    assert_eq!(x.hash(0).expect("hash"), y.hash(0).expect("hash"));
    assert_eq!(x.hash(10).expect("hash"), y.hash(10).expect("hash"));
    assert_ne!(x.hash(10).expect("hash").hash, x.hash(11).expect("hash").hash);
    // Compacting one member physically, the other only logically, keeps them equal.
    x.writer().compact(15).expect("compact").run().expect("run");
    let _unfinished = y.writer().compact(15).expect("compact");
    assert_eq!(x.hash(0).expect("hash"), y.hash(0).expect("hash"));
    put(&x, "k0", "different");
    put(&y, "k0", "other");
    assert_ne!(x.hash(0).expect("hash").hash, y.hash(0).expect("hash").hash);
}

#[test]
fn reopen_restores_revisions_and_consistent_index() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let store = open::<LmdbBackend>(dir.path());
        put(&store, "a", "1");
        let mut writer = store.writer();
        let mut txn = writer.txn();
        txn.delete_range(&KeyRange::new("a", ""), false).expect("delete");
        txn.end();
        writer.commit(Some(9)).expect("commit");
        drop(writer);
        // Compacting at the current revision removes the last tombstone: the
        // current revision must still come back as 3.
        store.writer().compact(3).expect("compact").run().expect("run");
        store.backend().sync().expect("sync");
    }
    let store = open::<LmdbBackend>(dir.path());
    assert_eq!((store.current_revision(), store.compacted_revision(), store.consistent_index()), (3, 3, 9));
    assert_eq!(put(&store, "a", "2"), 4);
    assert_eq!(get(&store, "a", 0).expect("get").expect("a").create_revision, 4);
}
