//! Random batches, views and reopens, checked against a `BTreeMap` model.

use std::collections::BTreeMap;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

use super::TestResult;
use crate::{Backend, Durability, Options, Order, ReadView, WriteBatch};

const BUCKETS: [&str; 3] = ["key", "lease", "meta"];
type Model = BTreeMap<(usize, Vec<u8>), Vec<u8>>;

#[derive(Debug, Clone)]
enum Step {
    /// Puts (`Some`) and deletes (`None`); committed, or dropped unapplied.
    Batch { ops: Vec<(usize, Vec<u8>, Option<Vec<u8>>)>, commit: bool },
    /// A range scan compared with the model.
    Scan { bucket: usize, start: Vec<u8>, end: Option<Vec<u8>>, reverse: bool, limit: usize },
    /// Opens a view, checked against the model of this moment at the epoch's end.
    OpenView,
}

fn small_key() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(prop::sample::select(vec![0x00u8, 0x01, b'a', b'b', 0x7f, 0x80, 0xff]), 1..4)
}

fn step() -> impl Strategy<Value = Step> {
    let op = (0..BUCKETS.len(), small_key(), prop::option::weighted(0.75, prop::collection::vec(any::<u8>(), 0..24)));
    prop_oneof![
        4 => (prop::collection::vec(op, 1..12), prop::bool::weighted(0.85))
            .prop_map(|(ops, commit)| Step::Batch { ops, commit }),
        3 => (0..BUCKETS.len(), small_key(), prop::option::of(small_key()), any::<bool>(), 0usize..5)
            .prop_map(|(bucket, start, end, reverse, limit)| Step::Scan { bucket, start, end, reverse, limit }),
        1 => Just(Step::OpenView),
    ]
}

fn model_range(
    model: &Model,
    bucket: usize,
    start: &[u8],
    end: Option<&[u8]>,
    reverse: bool,
    limit: usize,
) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut out: Vec<(Vec<u8>, Vec<u8>)> = model
        .iter()
        .filter(|((b, k), _)| *b == bucket && k.as_slice() >= start && end.is_none_or(|e| k.as_slice() < e))
        .map(|((_, k), v)| (k.clone(), v.clone()))
        .collect();
    if reverse {
        out.reverse();
    }
    if limit > 0 {
        out.truncate(limit);
    }
    out
}

fn check_view<V: ReadView>(view: &V, model: &Model) -> Result<(), TestCaseError> {
    for (b, name) in BUCKETS.iter().enumerate() {
        let got = view.range(name, &[], None, Order::Forward, 0).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(got, model_range(model, b, &[], None, false, 0), "bucket {}", name);
    }
    Ok(())
}

fn run_case<B: Backend>(epochs: &[Vec<Step>]) -> Result<(), TestCaseError> {
    let fail = |e: crate::Error| TestCaseError::fail(e.to_string());
    let dir = tempfile::tempdir().map_err(|e| TestCaseError::fail(e.to_string()))?;
    let mut model = Model::new();
    for steps in epochs {
        // Each epoch reopens the store; what was synced at the end of the last must be there.
        let store =
            B::open(dir.path(), &Options { durability: Durability::Relaxed, ..Options::default() }).map_err(fail)?;
        check_view(&store.view().map_err(fail)?, &model)?;
        let mut views = Vec::new();
        for step in steps {
            match step {
                Step::Batch { ops, commit } => {
                    let mut batch = WriteBatch::new();
                    let mut next = model.clone();
                    for (b, key, value) in ops {
                        match value {
                            Some(v) => {
                                batch.put(BUCKETS[*b], key.clone(), v.clone()).map_err(fail)?;
                                next.insert((*b, key.clone()), v.clone());
                            }
                            None => {
                                batch.delete(BUCKETS[*b], key.clone()).map_err(fail)?;
                                next.remove(&(*b, key.clone()));
                            }
                        }
                    }
                    if *commit {
                        store.commit(batch).map_err(fail)?;
                        model = next;
                    }
                }
                Step::Scan { bucket, start, end, reverse, limit } => {
                    let order = if *reverse { Order::Reverse } else { Order::Forward };
                    let view = store.view().map_err(fail)?;
                    let got = view.range(BUCKETS[*bucket], start, end.as_deref(), order, *limit).map_err(fail)?;
                    prop_assert_eq!(got, model_range(&model, *bucket, start, end.as_deref(), *reverse, *limit));
                }
                Step::OpenView => views.push((store.view().map_err(fail)?, model.clone())),
            }
        }
        for (view, then) in &views {
            check_view(view, then)?;
        }
        drop(views);
        store.sync().map_err(fail)?;
    }
    Ok(())
}

/// Random batches (committed or dropped), scans, views held across later commits,
/// and reopens after `sync`, all compared with a `BTreeMap` model.
pub fn random_batches_match_model<B: Backend>() -> TestResult {
    let cases = std::env::var("CAIRN_PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(48);
    let mut runner = TestRunner::new(Config { cases, failure_persistence: None, ..Config::default() });
    let strategy = prop::collection::vec(prop::collection::vec(step(), 1..25), 1..4);
    runner.run(&strategy, |epochs| run_case::<B>(&epochs)).map_err(|e| e.to_string().into())
}
