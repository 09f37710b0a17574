//! The checker's own tests: hand-made histories it must pass and ones it must fail.

use super::check::{Report, RunRecord, check_run};
use super::history::{KeyValue, Operation, Request, Response, TxnOp, TxnOpResult};
use super::watch::{Event, WatcherLog};

fn put(client: usize, call: u64, ret: u64, key: &str, value: &str, revision: i64) -> Operation {
    Operation::ok(
        client,
        call,
        ret,
        Request::Put { key: key.into(), value: value.into(), lease: 0 },
        Response::Put { revision },
    )
}

fn put_unknown(client: usize, call: u64, key: &str, value: &str) -> Operation {
    Operation::unknown(client, call, Request::Put { key: key.into(), value: value.into(), lease: 0 })
}

fn get(client: usize, call: u64, ret: u64, key: &str, found: Option<(&str, i64)>, revision: i64) -> Operation {
    Operation::ok(
        client,
        call,
        ret,
        Request::Get { key: key.into(), serializable: false },
        Response::Get { revision, kv: kv(key, found) },
    )
}

fn kv(key: &str, found: Option<(&str, i64)>) -> Option<KeyValue> {
    found.map(|(value, mod_revision)| KeyValue::new(key, value, mod_revision))
}

fn delete(client: usize, call: u64, ret: u64, key: &str, deleted: i64, revision: i64) -> Operation {
    Operation::ok(client, call, ret, Request::Delete { key: key.into() }, Response::Delete { revision, deleted })
}

fn cas(client: usize, call: u64, ret: u64, key: &str, expect: i64, value: &str, result: SwapResult<'_>) -> Operation {
    let request = Request::Txn {
        compares: vec![(key.into(), expect)],
        then: vec![TxnOp::Put { key: key.into(), value: value.into() }],
        otherwise: vec![TxnOp::Get { key: key.into() }],
    };
    let response = match result {
        Ok(revision) => Response::Txn { revision, succeeded: true, results: vec![TxnOpResult::Put] },
        Err((revision, found)) => {
            Response::Txn { revision, succeeded: false, results: vec![TxnOpResult::Get(kv(key, found))] }
        }
    };
    Operation::ok(client, call, ret, request, response)
}

/// A swap's outcome: `Ok(revision)` when it succeeded, else the header revision and what the
/// else-branch read.
type SwapResult<'a> = Result<i64, (i64, Option<(&'a str, i64)>)>;

fn watcher(name: &str, start: i64, responses: Vec<Vec<Event>>) -> WatcherLog {
    WatcherLog { name: name.into(), prefix: "k".into(), start_revision: start, responses, ..WatcherLog::default() }
}

/// A run whose reference and single watcher both hold `events` (one response per revision).
fn run(ops: Vec<Operation>, events: Vec<Event>) -> RunRecord {
    let final_revision = events.iter().map(|e| e.revision).max().unwrap_or(1);
    let responses = events.iter().map(|e| vec![e.clone()]).collect();
    RunRecord { ops, watchers: vec![watcher("w1", 1, responses)], reference: events, reference_from: 1, final_revision }
}

fn assert_pass(report: &Report) {
    assert!(report.passed(), "expected a pass, got violations:\n{}", report.violations.join("\n"));
    assert!(!report.inconclusive);
}

fn assert_fail(report: &Report, needle: &str) {
    assert!(
        report.violations.iter().any(|v| v.contains(needle)),
        "expected a violation containing {needle:?}, got: {:#?}",
        report.violations
    );
}

#[test]
fn sequential_history_passes() {
    let r = run(
        vec![
            put(0, 0, 10, "k1", "a", 2),
            get(0, 20, 30, "k1", Some(("a", 2)), 2),
            delete(0, 40, 50, "k1", 1, 3),
            get(0, 60, 70, "k1", None, 3),
        ],
        vec![Event::put(2, "k1", "a"), Event::delete(3, "k1")],
    );
    assert_pass(&check_run(&r));
}

#[test]
fn stale_read_after_acknowledged_write_fails() {
    let r = run(
        vec![put(0, 0, 10, "k1", "a", 2), put(0, 20, 30, "k1", "b", 3), get(1, 40, 50, "k1", Some(("a", 2)), 3)],
        vec![Event::put(2, "k1", "a"), Event::put(3, "k1", "b")],
    );
    assert_fail(&check_run(&r), "not linearizable");
}

#[test]
fn stale_read_with_its_own_old_revision_fails() {
    // A read after the second put returned, claiming the store was still at revision 2.
    let r = run(
        vec![put(0, 0, 10, "k1", "a", 2), put(0, 20, 30, "k1", "b", 3), get(1, 40, 50, "k1", Some(("a", 2)), 2)],
        vec![Event::put(2, "k1", "a"), Event::put(3, "k1", "b")],
    );
    assert_fail(&check_run(&r), "not linearizable");
}

#[test]
fn concurrent_read_may_see_the_old_or_the_new_value() {
    for (found, revision) in [(("a", 2), 2), (("b", 3), 3)] {
        let r = run(
            vec![
                put(0, 0, 10, "k1", "a", 2),
                put(0, 20, 60, "k1", "b", 3),
                get(1, 30, 50, "k1", Some(found), revision),
            ],
            vec![Event::put(2, "k1", "a"), Event::put(3, "k1", "b")],
        );
        assert_pass(&check_run(&r));
    }
}

#[test]
fn lost_acknowledged_write_fails() {
    // The put of b was acknowledged at revision 3 but a later read finds a, and the history lacks b.
    let r = run(
        vec![put(0, 0, 10, "k1", "a", 2), put(0, 20, 30, "k1", "b", 3), get(1, 40, 50, "k1", Some(("a", 2)), 2)],
        vec![Event::put(2, "k1", "a")],
    );
    let report = check_run(&RunRecord { final_revision: 2, ..r });
    assert_fail(&report, "acknowledged write lost");
    assert_fail(&report, "not linearizable");
}

#[test]
fn lost_write_caught_by_reads_alone() {
    // Even with no watch at all, reads expose the lost write.
    let ops = vec![put(0, 0, 10, "k1", "a", 2), put(0, 20, 30, "k2", "b", 3), get(1, 40, 50, "k2", None, 3)];
    let r = RunRecord {
        ops,
        watchers: vec![],
        reference: vec![Event::put(2, "k1", "a"), Event::put(3, "k2", "b")],
        reference_from: 1,
        final_revision: 3,
    };
    assert_fail(&check_run(&r), "not linearizable");
}

#[test]
fn unknown_write_that_took_effect_passes_and_is_settled() {
    let r = run(
        vec![
            put(0, 0, 10, "k1", "a", 2),
            put_unknown(1, 5, "k1", "x"),
            get(0, 40, 50, "k1", Some(("x", 3)), 3),
            put(0, 60, 70, "k1", "c", 4),
        ],
        vec![Event::put(2, "k1", "a"), Event::put(3, "k1", "x"), Event::put(4, "k1", "c")],
    );
    let report = check_run(&r);
    assert_pass(&report);
    assert_eq!((report.unknowns, report.settled), (1, 1));
}

#[test]
fn unknown_write_that_never_took_effect_passes() {
    let r = run(
        vec![put(0, 0, 10, "k1", "a", 2), put_unknown(1, 5, "k1", "x"), get(0, 40, 50, "k1", Some(("a", 2)), 2)],
        vec![Event::put(2, "k1", "a")],
    );
    assert_pass(&check_run(&r));
}

#[test]
fn unknown_write_seen_before_its_call_fails() {
    let r = run(
        vec![put(0, 0, 10, "k1", "a", 2), get(0, 20, 30, "k1", Some(("x", 3)), 3), put_unknown(1, 40, "k1", "x")],
        vec![Event::put(2, "k1", "a"), Event::put(3, "k1", "x")],
    );
    assert_fail(&check_run(&r), "not linearizable");
}

#[test]
fn unknown_delete_without_a_watch_is_searched_both_ways() {
    let unknown_delete = Operation::unknown(1, 15, Request::Delete { key: "k1".into() });
    for (found, revision) in [(Some(("a", 2)), 2), (None, 3)] {
        let ops = vec![put(0, 0, 10, "k1", "a", 2), unknown_delete.clone(), get(0, 40, 50, "k1", found, revision)];
        let mut events = vec![Event::put(2, "k1", "a")];
        if found.is_none() {
            events.push(Event::delete(3, "k1"));
        }
        assert_pass(&check_run(&run(ops, events)));
    }
}

#[test]
fn compare_and_swap_passes_and_a_double_success_fails() {
    let good = run(
        vec![
            put(0, 0, 10, "k1", "a", 2),
            cas(0, 20, 60, "k1", 2, "b", Ok(3)),
            cas(1, 25, 55, "k1", 2, "c", Err((3, Some(("b", 3))))),
        ],
        vec![Event::put(2, "k1", "a"), Event::put(3, "k1", "b")],
    );
    assert_pass(&check_run(&good));
    // Both swaps claim success from the same mod revision: a lost update.
    let bad = run(
        vec![put(0, 0, 10, "k1", "a", 2), cas(0, 20, 60, "k1", 2, "b", Ok(3)), cas(1, 25, 55, "k1", 2, "c", Ok(4))],
        vec![Event::put(2, "k1", "a"), Event::put(3, "k1", "b"), Event::put(4, "k1", "c")],
    );
    assert_fail(&check_run(&bad), "not linearizable");
}

#[test]
fn many_concurrent_clients_with_unknowns_pass() {
    // Four clients, overlapping puts to two keys, reads in between, two unknown outcomes.
    let mut ops = Vec::new();
    let mut events = Vec::new();
    let mut rev = 1;
    for i in 0..40u64 {
        let key = if i % 2 == 0 { "k1" } else { "k2" };
        let value = format!("v{i}");
        rev += 1;
        events.push(Event::put(rev, key, &value));
        let (call, ret) = (i * 10, i * 10 + 25);
        if i % 13 == 5 {
            ops.push(put_unknown((i % 4) as usize, call, key, &value));
        } else {
            ops.push(put((i % 4) as usize, call, ret, key, &value, rev));
        }
        ops.push(get(4, i * 10 + 1, i * 10 + 1 + 8, key, Some((&value, rev)), rev));
    }
    // The reads at call+1 may not see writes still running that came later: fix the reads to fit
    // the real order above (each read sees its own iteration's write, which was linearized first).
    assert_pass(&check_run(&run(ops, events)));
}

#[test]
fn serializable_read_must_match_the_history_at_its_revision() {
    let stale_ok = Operation::ok(
        2,
        40,
        50,
        Request::Get { key: "k1".into(), serializable: true },
        Response::Get { revision: 2, kv: kv("k1", Some(("a", 2))) },
    );
    let wrong = Operation::ok(
        2,
        60,
        70,
        Request::Get { key: "k1".into(), serializable: true },
        Response::Get { revision: 3, kv: kv("k1", Some(("a", 2))) },
    );
    let events = vec![Event::put(2, "k1", "a"), Event::put(3, "k1", "b")];
    let ops = vec![put(0, 0, 10, "k1", "a", 2), put(0, 20, 30, "k1", "b", 3)];
    let mut with_stale = ops.clone();
    with_stale.push(stale_ok);
    assert_pass(&check_run(&run(with_stale, events.clone())));
    let mut with_wrong = ops;
    with_wrong.push(wrong);
    assert_fail(&check_run(&run(with_wrong, events)), "serializable read differs");
}

fn two_puts() -> (Vec<Operation>, Vec<Event>) {
    (
        vec![put(0, 0, 10, "k1", "a", 2), put(0, 20, 30, "k2", "b", 3), put(0, 40, 50, "k1", "c", 4)],
        vec![Event::put(2, "k1", "a"), Event::put(3, "k2", "b"), Event::put(4, "k1", "c")],
    )
}

#[test]
fn reordered_watch_event_fails() {
    let (ops, events) = two_puts();
    let mut r = run(ops, events.clone());
    r.watchers =
        vec![watcher("w1", 1, vec![vec![events[1].clone()], vec![events[0].clone()], vec![events[2].clone()]])];
    assert_fail(&check_run(&r), "unordered");
}

#[test]
fn duplicate_watch_event_fails() {
    let (ops, events) = two_puts();
    let mut r = run(ops, events.clone());
    r.watchers = vec![watcher(
        "w1",
        1,
        vec![vec![events[0].clone()], vec![events[1].clone()], vec![events[1].clone()], vec![events[2].clone()]],
    )];
    assert_fail(&check_run(&r), "duplicate");
}

#[test]
fn missing_watch_event_fails() {
    let (ops, events) = two_puts();
    let mut r = run(ops, events.clone());
    r.watchers = vec![watcher("w1", 1, vec![vec![events[0].clone()], vec![events[2].clone()]])];
    assert_fail(&check_run(&r), "at revision 3 got []");
}

#[test]
fn resumed_watch_that_skips_a_revision_fails_and_one_that_resumes_exactly_passes() {
    let (ops, events) = two_puts();
    let mut r = run(ops, events.clone());
    // Resumed at 3 (after the event at 2), it must deliver 3 and 4.
    let mut resumed = watcher("w1", 1, vec![vec![events[0].clone()], vec![events[1].clone()], vec![events[2].clone()]]);
    resumed.resumed_at = vec![3];
    r.watchers = vec![resumed.clone(), watcher("w2", 3, vec![vec![events[1].clone()], vec![events[2].clone()]])];
    assert_pass(&check_run(&r));
    let late = watcher("w2", 3, vec![vec![events[2].clone()]]);
    r.watchers = vec![resumed, late];
    assert_fail(&check_run(&r), "watch w2: at revision 3");
}

#[test]
fn split_revision_fails_atomicity() {
    let ops = vec![Operation::ok(
        0,
        0,
        10,
        Request::Txn {
            compares: vec![],
            then: vec![
                TxnOp::Put { key: "k1".into(), value: "a".into() },
                TxnOp::Put { key: "k2".into(), value: "b".into() },
            ],
            otherwise: vec![],
        },
        Response::Txn { revision: 2, succeeded: true, results: vec![TxnOpResult::Put, TxnOpResult::Put] },
    )];
    let events = vec![Event::put(2, "k1", "a"), Event::put(2, "k2", "b")];
    let mut r = run(ops, events.clone());
    r.watchers = vec![watcher("w1", 1, vec![events.clone()])];
    assert_pass(&check_run(&r));
    r.watchers = vec![watcher("w1", 1, vec![vec![events[0].clone()], vec![events[1].clone()]])];
    assert_fail(&check_run(&r), "split across responses");
}

#[test]
fn two_watchers_that_disagree_fail() {
    let (ops, events) = two_puts();
    let mut r = run(ops, events.clone());
    let mut other = events.clone();
    other[1].value = "zzz".into();
    r.watchers = vec![
        watcher("w1", 1, events.iter().map(|e| vec![e.clone()]).collect()),
        watcher("w2", 1, other.iter().map(|e| vec![e.clone()]).collect()),
    ];
    assert_fail(&check_run(&r), "watch w2");
}

#[test]
fn phantom_write_in_history_fails() {
    let (ops, mut events) = two_puts();
    events.push(Event::put(5, "k1", "never-written"));
    assert_fail(&check_run(&run(ops, events)), "phantom write");
}

#[test]
fn leases_revoke_deletes_attached_keys() {
    let grant = Operation::ok(0, 0, 5, Request::LeaseGrant { id: 7 }, Response::LeaseGrant);
    let lput = Operation::ok(
        0,
        10,
        15,
        Request::Put { key: "k1".into(), value: "a".into(), lease: 7 },
        Response::Put { revision: 2 },
    );
    let revoke = Operation::ok(0, 20, 25, Request::LeaseRevoke { id: 7 }, Response::LeaseRevoke);
    let events = vec![Event::put(2, "k1", "a"), Event::delete(3, "k1")];
    let good = vec![grant.clone(), lput.clone(), revoke.clone(), get(0, 30, 35, "k1", None, 3)];
    assert_pass(&check_run(&run(good, events.clone())));
    let bad = vec![grant, lput, revoke, get(0, 30, 35, "k1", Some(("a", 2)), 2)];
    assert_fail(&check_run(&run(bad, events)), "not linearizable");
}

#[test]
fn watcher_that_misses_the_last_events_fails() {
    let (ops, events) = two_puts();
    let mut r = run(ops, events.clone());
    r.watchers = vec![watcher("w1", 1, vec![vec![events[0].clone()], vec![events[1].clone()]])];
    assert_fail(&check_run(&r), "watch w1: stopped at revision 3, the store reached 4");
    // Unless a compaction cancelled it.
    r.watchers[0].ended = Some("compacted at 3".into());
    assert_pass(&check_run(&r));
}

/// A generated linearizable history: `clients` clients each sending `per_client` requests with
/// random durations; each takes effect at a random point inside its interval. Some writes end
/// with an unknown outcome: half of those took effect, half never did.
fn generated_history(seed: u64, clients: usize, per_client: usize) -> RunRecord {
    use super::model::KvState;
    use super::traffic::Rng;
    use super::watch::expected_events;
    let mut rng = Rng::new(seed);
    // (linearization point, client, call, ret, request, known?)
    let mut planned = Vec::new();
    for c in 0..clients {
        let mut t = rng.below(100);
        for n in 0..per_client {
            let call = t;
            let ret = call + 1 + rng.below(300);
            let point = call + rng.below(ret - call);
            let key = format!("k{}", rng.below(5));
            let value = format!("c{c}.{n}");
            let request = match rng.below(10) {
                0..=3 => Request::Get { key, serializable: false },
                4..=6 => Request::Put { key, value, lease: 0 },
                7 => Request::Delete { key },
                _ => Request::Txn {
                    compares: vec![(key.clone(), (rng.below(3) as i64) * 2)],
                    then: vec![TxnOp::Put { key: key.clone(), value }],
                    otherwise: vec![TxnOp::Get { key }],
                },
            };
            let fate = if request.is_write() { rng.below(20) } else { 99 };
            planned.push((point, c, call, ret, request, fate));
            t = ret + 1 + rng.below(20);
        }
    }
    planned.sort_by_key(|p| p.0);
    let mut state = KvState::new();
    let mut ops = Vec::new();
    let mut events = Vec::new();
    for (_, c, call, ret, request, fate) in planned {
        if fate == 0 {
            // Unknown and never took effect.
            ops.push(Operation::unknown(c, call, request));
            continue;
        }
        let probe = Operation::unknown(c, call, request.clone());
        let next =
            if request.is_write() { state.step(&probe).expect("unknown writes always apply") } else { state.clone() };
        let response = respond(&state, &next, &request);
        let op = Operation::ok(c, call, ret, request.clone(), response);
        events.extend(expected_events(&op));
        ops.push(if fate == 1 { Operation::unknown(c, call, request) } else { op });
        state = next;
    }
    ops.sort_by_key(|op| op.call);
    let final_revision = state.revision;
    let responses = super::watch::by_revision(&events).into_values().collect();
    RunRecord { ops, watchers: vec![watcher("w1", 1, responses)], reference: events, reference_from: 1, final_revision }
}

/// What the server answers for `request` in `before`, ending in `after`.
fn respond(before: &super::model::KvState, after: &super::model::KvState, request: &Request) -> Response {
    let read = |s: &super::model::KvState, key: &str| {
        s.keys.get(key).map(|r| KeyValue {
            create_revision: Some(r.create_revision),
            version: Some(r.version),
            ..KeyValue::new(key, &r.value, r.mod_revision)
        })
    };
    match request {
        Request::Get { key, .. } => Response::Get { revision: before.revision, kv: read(before, key) },
        Request::Put { .. } => Response::Put { revision: after.revision },
        Request::Delete { key } => {
            Response::Delete { revision: after.revision, deleted: i64::from(before.keys.contains_key(key)) }
        }
        Request::Txn { compares, then, .. } => {
            let (key, expect) = &compares[0];
            let succeeded = before.keys.get(key).map_or(0, |r| r.mod_revision) == *expect;
            let results = if succeeded {
                then.iter().map(|_| TxnOpResult::Put).collect()
            } else {
                vec![TxnOpResult::Get(read(before, key))]
            };
            Response::Txn { revision: after.revision, succeeded, results }
        }
        _ => unreachable!("the generator makes no other requests"),
    }
}

#[test]
fn generated_concurrent_histories_with_unknowns_pass_and_a_corrupted_read_fails() {
    for seed in 1..=5 {
        let record = generated_history(seed, 5, 300);
        let started = std::time::Instant::now();
        let report = check_run(&record);
        assert_pass(&report);
        assert!(report.unknowns > 0);
        eprintln!(
            "seed {seed}: {} ops, {} unknown, checked in {:?}",
            report.operations,
            report.unknowns,
            started.elapsed()
        );
        // Make one read return a value nobody wrote.
        let mut bad = record.clone();
        let target = bad
            .ops
            .iter()
            .position(|op| matches!(&op.response, Some(Response::Get { kv: Some(kv), .. }) if kv.mod_revision > 10))
            .expect("a read of a key that exists");
        if let Some(Response::Get { kv: Some(kv), .. }) = &mut bad.ops[target].response {
            kv.value = "never-written".into();
        }
        assert_fail(&check_run(&bad), "not linearizable");
    }
}

#[test]
fn read_with_a_wrong_version_or_create_revision_fails() {
    let read = |create: i64, version: i64| {
        Operation::ok(
            1,
            40,
            50,
            Request::Get { key: "k1".into(), serializable: false },
            Response::Get {
                revision: 3,
                kv: Some(KeyValue {
                    create_revision: Some(create),
                    version: Some(version),
                    ..KeyValue::new("k1", "b", 3)
                }),
            },
        )
    };
    let events = vec![Event::put(2, "k1", "a"), Event::put(3, "k1", "b")];
    let ops = |r: Operation| vec![put(0, 0, 10, "k1", "a", 2), put(0, 20, 30, "k1", "b", 3), r];
    assert_pass(&check_run(&run(ops(read(2, 2)), events.clone())));
    assert_fail(&check_run(&run(ops(read(2, 1)), events.clone())), "not linearizable");
    assert_fail(&check_run(&run(ops(read(3, 2)), events)), "not linearizable");
}

#[test]
fn write_applied_twice_fails() {
    let (ops, mut events) = two_puts();
    events.push(Event::put(5, "k2", "b"));
    assert_fail(&check_run(&run(ops, events)), "write applied twice");
}

#[test]
fn watcher_cancelled_by_a_compaction_before_any_event_passes() {
    let (ops, events) = two_puts();
    let mut r = run(ops, events);
    let mut late = watcher("late", 3, vec![]);
    late.ended = Some("compacted at 4".into());
    r.watchers.push(late);
    assert_pass(&check_run(&r));
}
