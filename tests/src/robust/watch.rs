//! Watch guarantees, checked against a reference history of events (etcd's list): ordered (revisions
//! never go back), unique (no event twice), atomic (a revision's events come in one response and
//! all of them do), reliable (no event missing between a watcher's start and the last revision it
//! saw), resumable (a watch resumed at revision R starts exactly at R), and every watcher sees the
//! same events for the same revisions. Also: the reference itself has no gaps, and agrees with the
//! clients' acknowledged writes.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};

use super::history::{Operation, Request, Response, TxnOp, TxnOpResult};

/// A put or a delete.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventKind {
    /// A put.
    Put,
    /// A delete.
    Delete,
}

/// One watch event.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Event {
    /// The revision of the change (the key's mod revision).
    pub revision: i64,
    /// The key.
    pub key: String,
    /// Put or delete.
    pub kind: EventKind,
    /// The value put (empty for a delete).
    pub value: String,
}

impl Event {
    /// A put event.
    pub fn put(revision: i64, key: &str, value: &str) -> Event {
        Event { revision, key: key.to_owned(), kind: EventKind::Put, value: value.to_owned() }
    }

    /// A delete event.
    pub fn delete(revision: i64, key: &str) -> Event {
        Event { revision, key: key.to_owned(), kind: EventKind::Delete, value: String::new() }
    }
}

/// What one watcher received: the revision it asked to start at, then each response's events, in
/// order. A watcher that lost its stream resumes at the revision after the last event it got, and
/// keeps appending to the same log; each resumption is recorded in `resumed_at`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatcherLog {
    /// A name for reports.
    pub name: String,
    /// The prefix watched.
    pub prefix: String,
    /// The revision the watch started at.
    pub start_revision: i64,
    /// The events of each response with events, in arrival order.
    pub responses: Vec<Vec<Event>>,
    /// The revisions the watch was resumed at after a broken stream.
    pub resumed_at: Vec<i64>,
    /// Why the watcher stopped early (a compaction that cancelled it), if it did.
    pub ended: Option<String>,
}

impl WatcherLog {
    /// Every event in arrival order.
    pub fn events(&self) -> impl Iterator<Item = &Event> {
        self.responses.iter().flatten()
    }

    /// The revision of the last event received, or `start_revision - 1` when none came.
    pub fn last_revision(&self) -> i64 {
        self.events().map(|e| e.revision).max().unwrap_or(self.start_revision - 1)
    }
}

/// Checks one watcher by itself (ordered, unique, atomic per response). Returns the violations.
pub fn check_watcher_alone(w: &WatcherLog) -> Vec<String> {
    let mut out = Vec::new();
    let mut last = i64::MIN;
    let mut seen: HashSet<(i64, &str)> = HashSet::new();
    let mut response_of: HashMap<i64, usize> = HashMap::new();
    for (ri, response) in w.responses.iter().enumerate() {
        for e in response {
            if e.revision < last {
                out.push(format!("watch {}: unordered: event {e:?} after revision {last}", w.name));
            }
            last = last.max(e.revision);
            if !seen.insert((e.revision, e.key.as_str())) {
                out.push(format!("watch {}: duplicate event {e:?}", w.name));
            }
            if *response_of.entry(e.revision).or_insert(ri) != ri {
                out.push(format!(
                    "watch {}: revision {} split across responses (atomicity): {e:?}",
                    w.name, e.revision
                ));
            }
            if e.revision < w.start_revision {
                out.push(format!("watch {}: event {e:?} before its start revision {}", w.name, w.start_revision));
            }
            if !e.key.starts_with(&w.prefix) {
                out.push(format!("watch {}: event {e:?} outside its prefix {:?}", w.name, w.prefix));
            }
        }
    }
    out
}

/// The reference events grouped by revision.
pub fn by_revision(events: &[Event]) -> BTreeMap<i64, Vec<Event>> {
    let mut map: BTreeMap<i64, Vec<Event>> = BTreeMap::new();
    for e in events {
        map.entry(e.revision).or_default().push(e.clone());
    }
    map
}

/// Checks a watcher against the reference: for every revision from its start to the last it saw,
/// it got exactly the reference's events for its prefix (reliable, resumable, atomic, and so
/// every two watchers agree).
pub fn check_watcher_against(w: &WatcherLog, reference: &BTreeMap<i64, Vec<Event>>) -> Vec<String> {
    let mut out = Vec::new();
    let got = by_revision(&w.events().cloned().collect::<Vec<_>>());
    let last = w.last_revision();
    if last < w.start_revision {
        return out;
    }
    for (rev, events) in reference.range(w.start_revision..=last) {
        let want: Vec<&Event> = events.iter().filter(|e| e.key.starts_with(&w.prefix)).collect();
        let have: Vec<&Event> = got.get(rev).map(|v| v.iter().collect()).unwrap_or_default();
        if want != have {
            out.push(format!("watch {}: at revision {rev} got {have:?}, the history has {want:?}", w.name));
        }
    }
    for (rev, events) in got.range(..) {
        if !reference.contains_key(rev) {
            out.push(format!("watch {}: events at revision {rev} that the history lacks: {events:?}", w.name));
        }
    }
    out
}

/// Checks the reference history itself: ordered and unique, and no revision without events between
/// its first and last (every revision bump is a change to a watched key).
pub fn check_reference(reference: &[Event], from: i64) -> Vec<String> {
    let mut out = check_watcher_alone(&WatcherLog {
        name: "reference".into(),
        prefix: String::new(),
        start_revision: from,
        responses: vec![reference.to_vec()],
        resumed_at: Vec::new(),
        ended: None,
    });
    let revs = by_revision(reference);
    let mut expected = from.max(2);
    for rev in revs.keys() {
        if *rev != expected {
            out.push(format!("reference history: no events for revisions {expected}..{rev}"));
        }
        expected = rev + 1;
    }
    out
}

/// The events an acknowledged write must have made, at its response's revision.
pub fn expected_events(op: &Operation) -> Vec<Event> {
    let Some(response) = &op.response else { return Vec::new() };
    match (&op.request, response) {
        (Request::Put { key, value, .. }, Response::Put { revision }) => vec![Event::put(*revision, key, value)],
        (Request::Delete { key }, Response::Delete { revision, deleted: 1 }) => vec![Event::delete(*revision, key)],
        (Request::Txn { then, otherwise, .. }, Response::Txn { revision, succeeded, results }) => {
            let branch = if *succeeded { then } else { otherwise };
            branch
                .iter()
                .zip(results)
                .filter_map(|(op, result)| match (op, result) {
                    (TxnOp::Put { key, value }, _) => Some(Event::put(*revision, key, value)),
                    (TxnOp::Delete { key }, TxnOpResult::Delete(1)) => Some(Event::delete(*revision, key)),
                    _ => None,
                })
                .collect()
        }
        _ => Vec::new(),
    }
}

/// Checks the reference against the operations: every acknowledged write's events are there at its
/// revision (no acknowledged write lost), and every put event's value was written by some request
/// (no phantom writes), and none twice. The reference must run from `from` to the store's last revision.
pub fn check_reference_against_ops(reference: &[Event], from: i64, ops: &[Operation]) -> Vec<String> {
    let mut out = Vec::new();
    let have: HashSet<&Event> = reference.iter().collect();
    for op in ops {
        for e in expected_events(op) {
            if e.revision >= from && !have.contains(&e) {
                out.push(format!("acknowledged write lost: {e:?} missing from the watched history (op {op:?})"));
            }
        }
    }
    let written: HashSet<&str> = ops.iter().flat_map(|op| op.request.put_values()).collect();
    let mut applied: HashMap<&str, &Event> = HashMap::new();
    for e in reference {
        if e.kind != EventKind::Put {
            continue;
        }
        if !written.contains(e.value.as_str()) {
            out.push(format!("phantom write: {e:?} was never requested"));
        }
        if let Some(first) = applied.insert(e.value.as_str(), e)
            && first.revision != e.revision
        {
            out.push(format!("write applied twice: {first:?} and {e:?}"));
        }
    }
    out
}
