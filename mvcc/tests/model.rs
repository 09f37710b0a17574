//! Random puts, delete-ranges, multi-op transactions, compactions and ranges at
//! revisions, checked against a model that keeps every revision's whole state,
//! on the reference engine and on LMDB in lockstep, with reopens in the middle.

use std::collections::BTreeMap;

use cairn_mvcc::{Error, KeyRange, KeyValue, KvStore, PutOptions, RangeOptions};
use cairn_storage::{Backend, MemBackend, Options};
use cairn_storage_lmdb::LmdbBackend;
use proptest::prelude::*;

type State = BTreeMap<Vec<u8>, KeyValue>;

#[derive(Debug, Clone)]
enum Op {
    Put { key: Vec<u8>, value: Vec<u8>, lease: i64 },
    Delete { start: Vec<u8>, end: Vec<u8> },
}

#[derive(Debug, Clone)]
enum Step {
    Txn(Vec<Op>),
    Range { start: Vec<u8>, end: Vec<u8>, back: i64, limit: usize, count_only: bool, keys_only: bool },
    Compact { back: i64 },
    Commit,
    Reopen,
}

fn key() -> impl Strategy<Value = Vec<u8>> {
    prop::sample::select(vec![
        b"a".to_vec(),
        b"ab".to_vec(),
        b"b".to_vec(),
        b"c".to_vec(),
        vec![0],
        vec![0xff],
        b"a\0".to_vec(),
    ])
}

fn range_end() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![Just(Vec::new()), Just(vec![0]), key()]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (key(), prop::collection::vec(any::<u8>(), 0..6), 0i64..3).prop_map(|(key, value, lease)| Op::Put { key, value, lease }),
        1 => (key(), range_end()).prop_map(|(start, end)| Op::Delete { start, end }),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => prop::collection::vec(op(), 1..4).prop_map(Step::Txn),
        4 => (key(), range_end(), 0i64..6, 0usize..3, prop::bool::weighted(0.2), prop::bool::weighted(0.2))
            .prop_map(|(start, end, back, limit, count_only, keys_only)| Step::Range { start, end, back, limit, count_only, keys_only }),
        1 => (-1i64..6).prop_map(|back| Step::Compact { back }),
        2 => Just(Step::Commit),
        1 => Just(Step::Reopen),
    ]
}

/// The model: every revision's state, the committed revision and the compaction point.
struct Model {
    states: Vec<State>,
    committed: i64,
    compacted: i64,
}

impl Model {
    fn current(&self) -> i64 {
        self.states.len() as i64
    }

    fn apply(&mut self, ops: &[Op]) {
        let rev = self.current() + 1;
        let mut state = self.states.last().cloned().unwrap_or_default();
        let mut changed = false;
        for op in ops {
            match op {
                Op::Put { key, value, lease } => {
                    let (create, version) = state.get(key).map_or((rev, 1), |kv| (kv.create_revision, kv.version + 1));
                    let kv = KeyValue {
                        key: key.clone().into(),
                        create_revision: create,
                        mod_revision: rev,
                        version,
                        value: value.clone().into(),
                        lease: *lease,
                    };
                    state.insert(key.clone(), kv);
                    changed = true;
                }
                Op::Delete { start, end } => {
                    let range = KeyRange::new(start.clone(), end.clone());
                    let before = state.len();
                    state.retain(|k, _| !range.contains(k));
                    changed |= state.len() != before;
                }
            }
        }
        if changed {
            self.states.push(state);
        }
    }

    fn range(&self, range: &KeyRange, rev: i64, limit: usize) -> (Vec<KeyValue>, usize) {
        let state = &self.states[(rev - 1) as usize];
        let all: Vec<KeyValue> = state.iter().filter(|(k, _)| range.contains(k)).map(|(_, kv)| kv.clone()).collect();
        let count = all.len();
        (all.into_iter().take(if limit == 0 { usize::MAX } else { limit }).collect(), count)
    }
}

struct Store<B: Backend> {
    dir: tempfile::TempDir,
    kv: Option<KvStore<B>>,
}

impl<B: Backend> Store<B> {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let kv = KvStore::open(B::open(dir.path(), &Options::relaxed()).expect("open")).expect("kv open");
        Store { dir, kv: Some(kv) }
    }

    fn kv(&self) -> &KvStore<B> {
        self.kv.as_ref().expect("open store")
    }

    fn reopen(&mut self) {
        let kv = self.kv.take().expect("open store");
        kv.backend().sync().expect("sync");
        drop(kv);
        let backend = B::open(self.dir.path(), &Options::relaxed()).expect("reopen");
        self.kv = Some(KvStore::open(backend).expect("kv reopen"));
    }
}

fn err_kind(e: &Error) -> &'static str {
    match e {
        Error::Compacted { .. } => "compacted",
        Error::FutureRevision { .. } => "future",
        _ => "other",
    }
}

fn run<B: Backend>(steps: &[Step], model: &mut Model, store: &mut Store<B>) -> Result<(), TestCaseError> {
    let mut consistent_index = 0u64;
    for step in steps {
        match step {
            Step::Txn(ops) => {
                let kv = store.kv();
                let mut writer = kv.writer();
                let mut txn = writer.txn();
                for op in ops {
                    match op {
                        Op::Put { key, value, lease } => {
                            txn.put(key.clone(), value.clone(), *lease, PutOptions::default()).map_err(fail)?;
                        }
                        Op::Delete { start, end } => {
                            txn.delete_range(&KeyRange::new(start.clone(), end.clone()), false).map_err(fail)?;
                        }
                    }
                }
                // Reads inside the transaction see its own writes.
                let inside = txn.range(&KeyRange::From(vec![0].into()), RangeOptions::default()).map_err(fail)?;
                let rev = txn.end();
                model.apply(ops);
                prop_assert_eq!(rev, model.current());
                let (want, _) = model.range(&KeyRange::From(vec![0].into()), model.current(), 0);
                prop_assert_eq!(inside.kvs, want);
            }
            Step::Commit => {
                consistent_index += 1;
                let rev = store.kv().writer().commit(Some(consistent_index)).map_err(fail)?;
                prop_assert_eq!(rev, model.current());
                model.committed = model.current();
                prop_assert_eq!(store.kv().consistent_index(), consistent_index);
            }
            Step::Range { start, end, back, limit, count_only, keys_only } => {
                let range = KeyRange::new(start.clone(), end.clone());
                let rev = if *back == 0 { 0 } else { model.committed - back + 1 };
                let options =
                    RangeOptions { limit: *limit, revision: rev, count_only: *count_only, keys_only: *keys_only };
                let got = store.kv().range(&range, options);
                // A revision of 0 or less means the current one.
                let at = if rev <= 0 { model.committed } else { rev };
                if at < model.compacted {
                    prop_assert_eq!(got.as_ref().map_err(err_kind).err(), Some("compacted"));
                } else {
                    let got = got.map_err(fail)?;
                    let (mut want, count) = model.range(&range, at, *limit);
                    if *count_only {
                        want.clear();
                    }
                    if *keys_only {
                        want.iter_mut().for_each(|kv| kv.value = Default::default());
                    }
                    prop_assert_eq!(got.revision, at);
                    prop_assert_eq!(got.count, count);
                    prop_assert_eq!(got.more, *limit > 0 && count > *limit);
                    prop_assert_eq!(got.kvs, want);
                }
            }
            Step::Compact { back } => {
                let rev = model.current() - back;
                let kv = store.kv();
                let result = kv.writer().compact(rev);
                model.committed = model.current();
                if rev <= model.compacted {
                    prop_assert_eq!(result.map(|_| ()).map_err(|e| err_kind(&e)).err(), Some("compacted"));
                } else if rev > model.current() {
                    prop_assert_eq!(result.map(|_| ()).map_err(|e| err_kind(&e)).err(), Some("future"));
                } else {
                    let job = result.map_err(fail)?;
                    kv.writer().commit(None).map_err(fail)?;
                    job.run().map_err(fail)?;
                    model.compacted = rev;
                    prop_assert_eq!(kv.compacted_revision(), rev);
                }
            }
            Step::Reopen => {
                store.kv().writer().commit(None).map_err(fail)?;
                model.committed = model.current();
                let before = store.kv().hash(0).map_err(fail)?;
                store.reopen();
                prop_assert_eq!(store.kv().current_revision(), model.current());
                prop_assert_eq!(store.kv().compacted_revision(), model.compacted);
                prop_assert_eq!(store.kv().hash(0).map_err(fail)?, before);
            }
        }
    }
    Ok(())
}

fn fail(e: Error) -> TestCaseError {
    TestCaseError::fail(e.to_string())
}

fn fresh_model() -> Model {
    // Revision 1 is the empty store.
    Model { states: vec![State::new()], committed: 1, compacted: 0 }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("CAIRN_PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(64),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn mem_and_lmdb_agree_with_the_model(steps in prop::collection::vec(step(), 1..60)) {
        let mut mem_model = fresh_model();
        let mut mem = Store::<MemBackend>::new();
        run(&steps, &mut mem_model, &mut mem)?;
        let mut lmdb_model = fresh_model();
        let mut lmdb = Store::<LmdbBackend>::new();
        run(&steps, &mut lmdb_model, &mut lmdb)?;
        // Members with the same history hash the same, whatever their engine.
        mem.kv().writer().commit(None).map_err(fail)?;
        lmdb.kv().writer().commit(None).map_err(fail)?;
        prop_assert_eq!(mem.kv().hash(0).map_err(fail)?, lmdb.kv().hash(0).map_err(fail)?);
    }
}
