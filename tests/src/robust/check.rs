//! Everything a run is checked for, in one place: the watch guarantees, no acknowledged write lost,
//! serializable reads against the history at their revision, and linearizability of the rest.
//!
//! Before the linearizability search, unknown outcomes are settled with the watched history as
//! etcd's robustness suite does: puts carry unique values, so a put (or a transaction that puts)
//! whose value shows up in the history took effect at that event's revision, and one whose value
//! never shows up in a complete history never took effect.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::history::{KeyValue, Operation, Request, Response, TxnOpResult, kv_matches, kvs_match};
use super::linearize::{self, Span, Verdict};
use super::model::KvState;
use super::watch::{
    Event, EventKind, WatcherLog, by_revision, check_reference, check_reference_against_ops, check_watcher_against,
    check_watcher_alone,
};

/// How many search steps the linearizability check may take before it is inconclusive.
pub const DEFAULT_BUDGET: u64 = 20_000_000;

/// Everything recorded in one run.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct RunRecord {
    /// Every client request.
    pub ops: Vec<Operation>,
    /// What each watcher received during the run.
    pub watchers: Vec<WatcherLog>,
    /// The store's history after the run, as one watch from `reference_from` read it: every
    /// event of the keys the clients used.
    pub reference: Vec<Event>,
    /// The revision the reference starts at (1 when it is complete; later after a compaction).
    pub reference_from: i64,
    /// The store's revision after the run.
    pub final_revision: i64,
}

/// What the checks found.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Report {
    /// Operations in the history.
    pub operations: usize,
    /// Of those, how many had an unknown outcome.
    pub unknowns: usize,
    /// Unknown outcomes that the watched history settled (took effect, or never did).
    pub settled: usize,
    /// Every violation found, one line each (empty: the run passed).
    pub violations: Vec<String>,
    /// True when the linearizability search gave up (counted apart from violations).
    pub inconclusive: bool,
}

impl Report {
    /// True when nothing was violated.
    pub fn passed(&self) -> bool {
        self.violations.is_empty()
    }
}

/// Checks a run.
pub fn check_run(run: &RunRecord) -> Report {
    check_run_with_budget(run, DEFAULT_BUDGET)
}

/// Checks a run with a search budget.
pub fn check_run_with_budget(run: &RunRecord, budget: u64) -> Report {
    let mut report = Report {
        operations: run.ops.len(),
        unknowns: run.ops.iter().filter(|op| op.response.is_none()).count(),
        ..Report::default()
    };
    let v = &mut report.violations;
    let complete = run.reference_from <= 1;
    v.extend(check_reference(&run.reference, run.reference_from));
    let reference_end = run.reference.iter().map(|e| e.revision).max().unwrap_or(run.reference_from.max(1));
    if reference_end != run.final_revision {
        v.push(format!("the watched history ends at revision {reference_end}, the store is at {}", run.final_revision));
    }
    v.extend(check_reference_against_ops(&run.reference, run.reference_from, &run.ops));
    let reference = by_revision(&run.reference);
    for w in &run.watchers {
        // The last write is acknowledged and every watcher waits for it: one that never gets there
        // (and was not cancelled by a compaction) lost events at the end.
        if w.ended.is_none() && w.last_revision() < run.final_revision {
            v.push(format!(
                "watch {}: stopped at revision {}, the store reached {}",
                w.name,
                w.last_revision(),
                run.final_revision
            ));
        }
        v.extend(check_watcher_alone(w));
        if w.start_revision >= run.reference_from {
            v.extend(check_watcher_against(w, &reference));
        }
    }

    // Settle unknown outcomes with the history.
    let mut value_revision: HashMap<&str, i64> = HashMap::new();
    for e in &run.reference {
        if e.kind == EventKind::Put {
            value_revision.insert(e.value.as_str(), e.revision);
        }
    }
    let mut ops: Vec<Operation> = Vec::new();
    let mut pins: Vec<Option<i64>> = Vec::new();
    for op in &run.ops {
        if op.response.is_some() || op.request.put_values().is_empty() || !complete {
            ops.push(op.clone());
            pins.push(None);
            continue;
        }
        let revs: Vec<i64> =
            op.request.put_values().iter().filter_map(|val| value_revision.get(val).copied()).collect();
        report.settled += 1;
        match revs.first() {
            None => {} // never took effect: drop it
            Some(first) => {
                if revs.iter().any(|r| r != first) {
                    v.push(format!("one request's puts show up at different revisions {revs:?}: {op:?}"));
                }
                ops.push(op.clone());
                pins.push(Some(*first));
            }
        }
    }

    // Serializable reads: the state at the revision they name.
    let (serializable, linearizable): (Vec<usize>, Vec<usize>) =
        (0..ops.len()).partition(|&i| ops[i].request.is_serializable_read());
    if complete {
        v.extend(check_serializable(&serializable.iter().map(|&i| &ops[i]).collect::<Vec<_>>(), &reference));
    }

    let lin_ops: Vec<&Operation> = linearizable.iter().map(|&i| &ops[i]).collect();
    let lin_pins: Vec<Option<i64>> = linearizable.iter().map(|&i| pins[i]).collect();
    let spans: Vec<Span> = lin_ops.iter().map(|op| Span { call: op.call, ret: op.ret }).collect();
    let step = |s: &KvState, i: usize| {
        let next = s.step(lin_ops[i])?;
        match lin_pins[i] {
            Some(rev) if next.revision != rev || s.revision == rev => None,
            _ => Some(next),
        }
    };
    let bounds: Vec<Option<i64>> = lin_ops.iter().zip(&lin_pins).map(|(op, pin)| revision_bound(op, *pin)).collect();
    match linearize::check_with_levels(&spans, KvState::new(), step, |s| s.revision, &bounds, budget) {
        Verdict::Linearizable { .. } => {}
        Verdict::Inconclusive { steps } => {
            report.inconclusive = true;
            eprintln!("linearizability check inconclusive after {steps} steps");
        }
        Verdict::Violation { longest_prefix, stuck } => {
            let mut state = KvState::new();
            for &i in &longest_prefix {
                if let Some(next) = step(&state, i) {
                    state = next;
                }
            }
            let tail: Vec<String> = longest_prefix
                .iter()
                .rev()
                .take(5)
                .rev()
                .map(|&i| format!("    {}", describe(lin_ops[i], lin_pins[i])))
                .collect();
            let stuck: Vec<String> =
                stuck.iter().take(8).map(|&i| format!("    {}", describe(lin_ops[i], lin_pins[i]))).collect();
            v.push(format!(
                "not linearizable: after {} operations (last ones:\n{}\n  ) the store is at revision {} with {:?};\n  none of these can come next:\n{}",
                longest_prefix.len(),
                tail.join("\n"),
                state.revision,
                state.keys,
                stuck.join("\n")
            ));
        }
    }
    report
}

/// The highest store revision at which `op` can still be applied: a read at revision R needs the
/// store at R; a write that made revision R (or that a pin says took effect at R) needs it at R - 1;
/// a write that changed nothing, at R. `None` for unknown outcomes and lease requests.
fn revision_bound(op: &Operation, pin: Option<i64>) -> Option<i64> {
    if let Some(pin) = pin {
        return Some(pin - 1);
    }
    let response = op.response.as_ref()?;
    let revision = response.revision()?;
    let changed = match response {
        Response::Put { .. } => true,
        Response::Delete { deleted, .. } => *deleted > 0,
        Response::Txn { results, .. } => {
            results.iter().any(|r| matches!(r, TxnOpResult::Put | TxnOpResult::Delete(1..)))
        }
        _ => false,
    };
    Some(if changed { revision - 1 } else { revision })
}

fn describe(op: &Operation, pin: Option<i64>) -> String {
    let ret = op.ret.map_or("?".to_owned(), |r| format!("{:.3}", r as f64 / 1e9));
    let pin = pin.map(|r| format!(" (took effect at revision {r})")).unwrap_or_default();
    format!(
        "client {} [{:.3}s..{ret}s] {:?} -> {}{pin}",
        op.client,
        op.call as f64 / 1e9,
        op.request,
        op.response
            .as_ref()
            .map_or_else(|| format!("unknown ({})", op.error.as_deref().unwrap_or("")), |r| format!("{r:?}"))
    )
}

/// Serializable reads may be stale, but must be the store's state at the revision they name.
fn check_serializable(reads: &[&Operation], reference: &BTreeMap<i64, Vec<Event>>) -> Vec<String> {
    let mut out = Vec::new();
    let mut reads: Vec<&Operation> = reads.to_vec();
    reads.sort_by_key(|op| op.response.as_ref().and_then(Response::revision).unwrap_or(0));
    let mut state: BTreeMap<String, KeyValue> = BTreeMap::new();
    let mut applied = 1i64;
    let max = reference.keys().next_back().copied().unwrap_or(1);
    for op in reads {
        let Some(response) = &op.response else { continue };
        let Some(rev) = response.revision() else { continue };
        if rev > max {
            out.push(format!("serializable read at revision {rev}, beyond the history's last {max}: {op:?}"));
            continue;
        }
        let newer = if rev > applied { reference.range(applied + 1..=rev) } else { reference.range(0..0) };
        for (r, events) in newer {
            for e in events {
                match e.kind {
                    EventKind::Put => {
                        let previous = state.get(&e.key);
                        let kv = KeyValue {
                            create_revision: Some(previous.and_then(|p| p.create_revision).unwrap_or(*r)),
                            version: Some(previous.and_then(|p| p.version).map_or(1, |v| v + 1)),
                            ..KeyValue::new(&e.key, &e.value, *r)
                        };
                        state.insert(e.key.clone(), kv);
                    }
                    EventKind::Delete => {
                        state.remove(&e.key);
                    }
                }
            }
        }
        applied = applied.max(rev);
        let ok = match (&op.request, response) {
            (Request::Get { key, .. }, Response::Get { kv, .. }) => kv_matches(&state.get(key).cloned(), kv),
            (Request::Range { prefix, .. }, Response::Range { kvs, .. }) => {
                let want: Vec<KeyValue> = state
                    .range(prefix.clone()..)
                    .take_while(|(k, _)| k.starts_with(prefix.as_str()))
                    .map(|(_, kv)| kv.clone())
                    .collect();
                kvs_match(&want, kvs)
            }
            _ => false,
        };
        if !ok {
            out.push(format!("serializable read differs from the history at its revision {rev}: {op:?}"));
        }
    }
    out
}
