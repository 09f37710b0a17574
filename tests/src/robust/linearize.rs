//! A linearizability checker: Wing & Gong's search over the history's call and return events, with
//! Lowe's memoization (a cache of (set of linearized operations, model state) pairs already
//! explored), as in Porcupine and Knossos.
//!
//! It is generic over the model: a state type and a step function that applies operation `i` to a
//! state, or refuses it. Operations whose outcome is unknown have their return at the end of time:
//! they may be linearized anywhere after their call; linearizing one last is the same as it never
//! having happened, so the model's step must accept any unknown operation in any state.

use std::collections::HashSet;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

/// When one operation was called and when it returned (`None`: unknown outcome).
#[derive(Clone, Copy, Debug)]
pub struct Span {
    /// Invoke time.
    pub call: u64,
    /// Return time, `None` for an unknown outcome.
    pub ret: Option<u64>,
}

/// What the search concluded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// A linearization exists; `order` lists the operations in it.
    Linearizable {
        /// The operations (indexes) in linearization order.
        order: Vec<usize>,
    },
    /// No linearization exists.
    Violation {
        /// The operations of the longest linearizable prefix the search found.
        longest_prefix: Vec<usize>,
        /// The operations that could come next after that prefix (called before any pending
        /// operation returned) and which the model refused there.
        stuck: Vec<usize>,
    },
    /// The search gave up after its step budget.
    Inconclusive {
        /// How many steps it took.
        steps: u64,
    },
}

#[derive(Clone, Copy)]
struct Event {
    op: usize,
    is_call: bool,
    /// For a call: the index of its return event.
    matching: usize,
}

/// A doubly linked list over events, with removal and re-insertion of a call and its return.
struct Events {
    events: Vec<Event>,
    next: Vec<usize>,
    prev: Vec<usize>,
}

const NIL: usize = usize::MAX;
/// The list's sentinel head lives at index `events.len()`.
impl Events {
    fn new(spans: &[Span]) -> Events {
        let mut timed: Vec<(u64, bool, usize)> = Vec::with_capacity(spans.len() * 2);
        for (i, s) in spans.iter().enumerate() {
            timed.push((s.call, true, i));
            timed.push((s.ret.unwrap_or(u64::MAX), false, i));
        }
        // Calls before returns at equal times: the more permissive order.
        timed.sort_by_key(|&(t, is_call, op)| (t, !is_call, op));
        let mut events: Vec<Event> =
            timed.iter().map(|&(_, is_call, op)| Event { op, is_call, matching: NIL }).collect();
        let mut ret_at = vec![NIL; spans.len()];
        for (idx, e) in events.iter().enumerate() {
            if !e.is_call {
                ret_at[e.op] = idx;
            }
        }
        for e in events.iter_mut() {
            if e.is_call {
                e.matching = ret_at[e.op];
            }
        }
        let n = events.len();
        let head = n;
        let mut next = vec![NIL; n + 1];
        let mut prev = vec![NIL; n + 1];
        let mut last = head;
        for (idx, p) in prev.iter_mut().enumerate().take(n) {
            next[last] = idx;
            *p = last;
            last = idx;
        }
        Events { events, next, prev }
    }

    fn head(&self) -> usize {
        self.events.len()
    }

    fn first(&self) -> usize {
        self.next[self.head()]
    }

    fn unlink(&mut self, idx: usize) {
        let (p, n) = (self.prev[idx], self.next[idx]);
        self.next[p] = n;
        if n != NIL {
            self.prev[n] = p;
        }
    }

    fn relink(&mut self, idx: usize) {
        let (p, n) = (self.prev[idx], self.next[idx]);
        self.next[p] = idx;
        if n != NIL {
            self.prev[n] = idx;
        }
    }

    /// Removes a call and its return.
    fn lift(&mut self, call: usize) {
        self.unlink(call);
        self.unlink(self.events[call].matching);
    }

    /// Puts back what [`lift`](Self::lift) removed (in reverse order).
    fn unlift(&mut self, call: usize) {
        self.relink(self.events[call].matching);
        self.relink(call);
    }
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

fn hash_of<S: Hash>(state: &S) -> u64 {
    let mut h = DefaultHasher::new();
    state.hash(&mut h);
    h.finish()
}

/// Searches for a linearization of the operations described by `spans`, starting the model at
/// `init`; `step(state, i)` applies operation `i` or refuses it (`None`). Gives up after `budget`
/// steps.
pub fn check<S, F>(spans: &[Span], init: S, step: F, budget: u64) -> Verdict
where
    S: Clone + Hash + Eq,
    F: Fn(&S, usize) -> Option<S>,
{
    check_with_levels(spans, init, step, |_| 0, &vec![None; spans.len()], budget)
}

/// [`check`] with pruning by a level of the state that no step lowers (etcd's store revision):
/// operation `i` can only be applied while `level(state) <= bounds[i]` (a read at revision R needs
/// the store at R, a write that made revision R needs it at R - 1). A state whose level passes the
/// smallest bound of the operations still to linearize is a dead end, found without searching it.
pub fn check_with_levels<S, F, L>(
    spans: &[Span],
    init: S,
    step: F,
    level: L,
    bounds: &[Option<i64>],
    budget: u64,
) -> Verdict
where
    S: Clone + Hash + Eq,
    F: Fn(&S, usize) -> Option<S>,
    L: Fn(&S) -> i64,
{
    let mut remaining: std::collections::BTreeMap<i64, usize> = std::collections::BTreeMap::new();
    for b in bounds.iter().flatten() {
        *remaining.entry(*b).or_default() += 1;
    }
    let take = |remaining: &mut std::collections::BTreeMap<i64, usize>, b: Option<i64>| {
        if let Some(b) = b
            && let Some(n) = remaining.get_mut(&b)
        {
            *n -= 1;
            if *n == 0 {
                remaining.remove(&b);
            }
        }
    };
    let give = |remaining: &mut std::collections::BTreeMap<i64, usize>, b: Option<i64>| {
        if let Some(b) = b {
            *remaining.entry(b).or_default() += 1;
        }
    };
    let mut list = Events::new(spans);
    // Zobrist keys: the set of linearized operations hashes to the XOR of its members' keys (two
    // independent 64-bit keys each), updated in O(1).
    let keys: Vec<(u64, u64)> = (0..spans.len() as u64).map(|i| (splitmix(2 * i), splitmix(2 * i + 1))).collect();
    let mut set_hash = (0u64, 0u64);
    let mut seen: HashSet<(u64, u64, u64)> = HashSet::new();
    let mut stack: Vec<(usize, S)> = Vec::new();
    let mut state = init;
    let mut steps = 0u64;
    let mut longest: Vec<usize> = Vec::new();
    let mut entry = list.first();
    while list.first() != NIL {
        steps += 1;
        if steps > budget {
            return Verdict::Inconclusive { steps };
        }
        if entry == NIL {
            // Only possible when the list is non-empty but every call was tried: backtrack.
            match backtrack(&mut list, &mut stack, &mut state, &mut set_hash, &keys) {
                Some((e, op)) => {
                    give(&mut remaining, bounds[op]);
                    entry = e;
                }
                None => break,
            }
            continue;
        }
        let ev = list.events[entry];
        if ev.is_call {
            if let Some(next_state) = step(&state, ev.op) {
                let k = keys[ev.op];
                let candidate = (set_hash.0 ^ k.0, set_hash.1 ^ k.1);
                take(&mut remaining, bounds[ev.op]);
                let reachable = remaining.keys().next().is_none_or(|min| level(&next_state) <= *min);
                if !reachable || !seen.insert((candidate.0, candidate.1, hash_of(&next_state))) {
                    give(&mut remaining, bounds[ev.op]);
                } else {
                    set_hash = candidate;
                    stack.push((entry, std::mem::replace(&mut state, next_state)));
                    list.lift(entry);
                    if stack.len() > longest.len() {
                        longest = stack.iter().map(|(e, _)| list.events[*e].op).collect();
                    }
                    entry = list.first();
                    continue;
                }
            }
            entry = list.next[entry];
        } else {
            match backtrack(&mut list, &mut stack, &mut state, &mut set_hash, &keys) {
                Some((e, op)) => {
                    give(&mut remaining, bounds[op]);
                    entry = e;
                }
                None => break,
            }
        }
    }
    if list.first() == NIL {
        return Verdict::Linearizable { order: stack.iter().map(|(e, _)| list.events[*e].op).collect() };
    }
    let stuck = frontier(spans, &longest);
    Verdict::Violation { longest_prefix: longest, stuck }
}

/// Undoes the last linearization; returns the event after the undone call and the undone operation,
/// or `None` when there is nothing to undo.
fn backtrack<S>(
    list: &mut Events,
    stack: &mut Vec<(usize, S)>,
    state: &mut S,
    set_hash: &mut (u64, u64),
    keys: &[(u64, u64)],
) -> Option<(usize, usize)> {
    let (call, previous) = stack.pop()?;
    list.unlift(call);
    *state = previous;
    let op = list.events[call].op;
    let k = keys[op];
    *set_hash = (set_hash.0 ^ k.0, set_hash.1 ^ k.1);
    Some((list.next[call], op))
}

/// The operations not in `prefix` that were called before the earliest return among those not in
/// `prefix`: the candidates for the next linearization point.
fn frontier(spans: &[Span], prefix: &[usize]) -> Vec<usize> {
    let done: HashSet<usize> = prefix.iter().copied().collect();
    let earliest_return =
        (0..spans.len()).filter(|i| !done.contains(i)).filter_map(|i| spans[i].ret).min().unwrap_or(u64::MAX);
    let mut stuck: Vec<usize> =
        (0..spans.len()).filter(|i| !done.contains(i) && spans[*i].call <= earliest_return).collect();
    stuck.sort_by_key(|&i| (spans[i].ret.is_none(), spans[i].call));
    stuck
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A single register with writes (`Some(v)`) and reads (`None` writes, value read in `.1`).
    fn register(ops: &[(u64, Option<u64>, Option<i32>, i32)]) -> Verdict {
        let spans: Vec<Span> = ops.iter().map(|&(call, ret, _, _)| Span { call, ret }).collect();
        check(
            &spans,
            0i32,
            |s, i| {
                let (_, ret, write, read) = ops[i];
                match write {
                    Some(v) => Some(v),
                    None if ret.is_none() => Some(*s),
                    None => (*s == read).then_some(*s),
                }
            },
            1_000_000,
        )
    }

    #[test]
    fn sequential_register_is_linearizable() {
        let v = register(&[(0, Some(1), Some(1), 0), (2, Some(3), None, 1)]);
        assert!(matches!(v, Verdict::Linearizable { .. }), "{v:?}");
    }

    #[test]
    fn stale_read_after_completed_write_is_a_violation() {
        let v = register(&[(0, Some(1), Some(1), 0), (2, Some(3), None, 0)]);
        assert!(matches!(v, Verdict::Violation { .. }), "{v:?}");
    }

    #[test]
    fn concurrent_read_may_see_either_value() {
        for read in [0, 1] {
            let v = register(&[(0, Some(10), Some(1), 0), (2, Some(5), None, read)]);
            assert!(matches!(v, Verdict::Linearizable { .. }), "read {read}: {v:?}");
        }
    }

    #[test]
    fn unknown_write_may_or_may_not_happen_but_only_after_its_call() {
        for read in [0, 1] {
            let v = register(&[(0, None, Some(1), 0), (2, Some(3), None, read)]);
            assert!(matches!(v, Verdict::Linearizable { .. }), "read {read}: {v:?}");
        }
        // Seen before it was called: impossible.
        let v = register(&[(0, Some(1), None, 1), (2, None, Some(1), 0)]);
        assert!(matches!(v, Verdict::Violation { .. }), "{v:?}");
        // Once a read saw it, a later read cannot miss it.
        let v = register(&[(0, None, Some(1), 0), (2, Some(3), None, 1), (4, Some(5), None, 0)]);
        assert!(matches!(v, Verdict::Violation { .. }), "{v:?}");
    }

    #[test]
    fn violation_names_the_stuck_operation() {
        let v = register(&[(0, Some(1), Some(1), 0), (2, Some(3), Some(2), 0), (4, Some(5), None, 1)]);
        match v {
            Verdict::Violation { longest_prefix, stuck } => {
                assert_eq!(longest_prefix, vec![0, 1]);
                assert_eq!(stuck, vec![2]);
            }
            other => panic!("expected a violation, got {other:?}"),
        }
    }
}
