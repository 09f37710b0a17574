//! Faults and runtime reconfiguration of 3-member clusters of real processes: the leader's SIGKILL
//! under a stream of puts, `member add` / `member remove` of a fourth member, and a learner that is
//! added, catches up and is promoted.
//!
//! Every test runs against cairn, or against a real etcd with `CAIRN_DIFF_PEER=etcd` (which checks
//! the tests themselves).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use cairn_tests::{Cluster, Etcdctl, HashKv, Kind, endpoint_hashkv, endpoint_status, etcdctl, member_list};

/// How many keys the writer puts (`k0000..k0199`).
const KEYS: usize = 200;
/// After how many settled puts the leader is killed.
const KILL_AFTER: usize = 60;
/// How long a new leader may take to be elected (several election timeouts of 1 s).
const ELECTION_BOUND: Duration = Duration::from_secs(10);
/// How long one put may keep being retried at the live endpoints before it is "unknown".
const PUT_RETRY_BOUND: Duration = Duration::from_secs(15);
/// How long members may take to converge (reads, hashes, member lists).
const CONVERGE_BOUND: Duration = Duration::from_secs(20);

fn key(i: usize) -> String {
    format!("k{i:04}")
}

fn value(i: usize) -> String {
    format!("v{i:04}")
}

/// What became of one put.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Outcome {
    /// etcdctl printed `OK` (at the `attempt`-th try, at `endpoint`).
    Acked { attempt: usize, endpoint: String },
    /// Every try failed: it may or may not have been applied.
    Unknown { attempts: usize, last: String },
}

/// One `etcdctl put` with short timeouts, so that a dead endpoint costs at most a few seconds.
fn put_once(endpoint: &str, key: &str, value: &str) -> Result<(), String> {
    let out = Etcdctl::new(endpoint).timeout(Duration::from_secs(6)).run(&[
        "--dial-timeout=1s",
        "--command-timeout=3s",
        "put",
        key,
        value,
    ]);
    if out.stdout == "OK\n" {
        Ok(())
    } else {
        Err(format!(
            "status {:?} timed_out {} stdout {:?} stderr {:?}",
            out.status, out.timed_out, out.stdout, out.stderr
        ))
    }
}

/// The writer's endpoints, with a back-off for those that just failed (a dead endpoint costs a
/// whole command timeout per try).
struct Endpoints {
    endpoints: Vec<String>,
    /// Per endpoint: not preferred until then, and the consecutive failures.
    backoff: Vec<(Instant, u32)>,
}

impl Endpoints {
    fn new(endpoints: Vec<String>) -> Self {
        let now = Instant::now();
        Endpoints { backoff: vec![(now, 0); endpoints.len()], endpoints }
    }

    /// The endpoint for attempt `attempt` of put `i`: round-robin from `i`, skipping endpoints in
    /// back-off unless every one is.
    fn pick(&self, i: usize, attempt: usize) -> usize {
        let n = self.endpoints.len();
        let now = Instant::now();
        let order: Vec<usize> = (0..n).map(|k| (i + attempt + k) % n).collect();
        order
            .iter()
            .copied()
            .find(|&e| self.backoff[e].0 <= now)
            .unwrap_or_else(|| order.iter().copied().min_by_key(|&e| self.backoff[e].0).unwrap_or(0))
    }

    fn failed(&mut self, e: usize) {
        let failures = self.backoff[e].1 + 1;
        self.backoff[e] = (Instant::now() + Duration::from_secs(1 << failures.min(3)), failures);
    }

    fn succeeded(&mut self, e: usize) {
        self.backoff[e] = (Instant::now(), 0);
    }
}

/// Puts key `i`, starting at endpoint `i % n` and moving to the next endpoint after each failure,
/// for at most [`PUT_RETRY_BOUND`].
fn put_with_retries(endpoints: &mut Endpoints, i: usize, stop: &AtomicBool) -> Outcome {
    let deadline = Instant::now() + PUT_RETRY_BOUND;
    let mut last = String::new();
    let mut attempt = 0;
    while !stop.load(Ordering::SeqCst) {
        let e = endpoints.pick(i, attempt);
        let endpoint = endpoints.endpoints[e].clone();
        attempt += 1;
        match put_once(&endpoint, &key(i), &value(i)) {
            Ok(()) => {
                endpoints.succeeded(e);
                return Outcome::Acked { attempt, endpoint };
            }
            Err(err) => {
                endpoints.failed(e);
                last = format!("{endpoint}: {err}");
            }
        }
        if Instant::now() >= deadline {
            break;
        }
        if attempt.is_multiple_of(endpoints.endpoints.len()) {
            // A full round failed (e.g. no leader yet): pause briefly before the next round.
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    Outcome::Unknown { attempts: attempt, last }
}

/// Sets the flag when dropped, so the writer thread stops when the test panics.
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// `get k --prefix` through one endpoint, as key → value.
fn read_all(endpoint: &str, serializable: bool) -> Result<BTreeMap<String, String>, String> {
    let mut args = vec!["--dial-timeout=1s", "--command-timeout=3s", "get", "k", "--prefix"];
    if serializable {
        args.push("--consistency=s");
    }
    let out = Etcdctl::new(endpoint).timeout(Duration::from_secs(6)).run(&args);
    if !out.success() {
        return Err(format!("get via {endpoint}: {out:?}"));
    }
    let lines: Vec<&str> = out.stdout.lines().collect();
    if !lines.len().is_multiple_of(2) {
        return Err(format!("odd number of lines from get via {endpoint}: {:?}", out.stdout));
    }
    Ok(lines.chunks(2).map(|kv| (kv[0].to_owned(), kv[1].to_owned())).collect())
}

/// Checks a member's view against the writer's record: every acknowledged put is there with its
/// value, an unknown one is absent or has its value, and nothing else is there.
fn check_view(view: &BTreeMap<String, String>, outcomes: &[Outcome]) -> Result<(), String> {
    for (i, outcome) in outcomes.iter().enumerate() {
        let got = view.get(&key(i));
        match outcome {
            Outcome::Acked { .. } if got != Some(&value(i)) => {
                return Err(format!("acknowledged {} = {} reads as {got:?}", key(i), value(i)));
            }
            Outcome::Unknown { .. } if got.is_some_and(|v| *v != value(i)) => {
                return Err(format!("unknown-outcome {} reads as {got:?}, not {}", key(i), value(i)));
            }
            _ => {}
        }
    }
    if let Some(extra) = view.keys().find(|k| !(0..outcomes.len()).any(|i| key(i) == **k)) {
        return Err(format!("unexpected key {extra}"));
    }
    Ok(())
}

/// Polls `check` until it returns `Ok`, for at most `bound`; panics with the last error.
fn poll<T>(what: &str, bound: Duration, mut check: impl FnMut() -> Result<T, String>) -> (T, Duration) {
    let start = Instant::now();
    loop {
        match check() {
            Ok(v) => return (v, start.elapsed()),
            Err(e) if start.elapsed() >= bound => panic!("{what}: not within {bound:?}; last: {e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

/// Polls until every endpoint answers `endpoint hashkv` with the same hash at the same revision.
fn wait_hashkv_agree(endpoints: &[String], bound: Duration) -> (HashKv, Duration) {
    poll("hashkv of all members agree", bound, || {
        let hashes: Vec<Option<HashKv>> = endpoints.iter().map(|e| endpoint_hashkv(e)).collect();
        match hashes.first() {
            Some(Some(first)) if hashes.iter().all(|h| h.as_ref() == Some(first)) => Ok(*first),
            _ => Err(format!("{:?}", endpoints.iter().zip(&hashes).collect::<Vec<_>>())),
        }
    })
}

#[test]
fn leader_kill_during_puts() {
    let started = Instant::now();
    let mut cluster = Cluster::start(Kind::Cairn, 3);
    let endpoints: Vec<String> = cluster.members.iter().map(|m| m.endpoint()).collect();

    let stop = Arc::new(AtomicBool::new(false));
    let _stop_guard = StopOnDrop(Arc::clone(&stop));
    let settled = Arc::new(AtomicUsize::new(0));
    let writer: JoinHandle<Vec<Outcome>> = {
        let (endpoints, stop, settled) = (endpoints.clone(), Arc::clone(&stop), Arc::clone(&settled));
        std::thread::spawn(move || {
            let mut endpoints = Endpoints::new(endpoints);
            let mut outcomes = Vec::with_capacity(KEYS);
            for i in 0..KEYS {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                outcomes.push(put_with_retries(&mut endpoints, i, &stop));
                settled.store(i + 1, Ordering::SeqCst);
            }
            outcomes
        })
    };

    poll("the writer settles its first puts", Duration::from_secs(60), || {
        let n = settled.load(Ordering::SeqCst);
        if n >= KILL_AFTER { Ok(()) } else { Err(format!("{n} settled")) }
    });
    let old = cluster.wait_leader(Duration::from_secs(10)).expect("a leader before the kill");
    let old_term = endpoint_status(&endpoints[old]).map_or(0, |s| s.raft_term);
    let pid = cluster.member(old).pid();
    cluster.member(old).kill();
    let killed_at = Instant::now();
    let settled_at_kill = settled.load(Ordering::SeqCst);
    eprintln!(
        "killed leader {} (pid {pid:?}, term {old_term}) after {settled_at_kill} puts",
        cluster.member(old).name()
    );

    let new = cluster.wait_leader(ELECTION_BOUND).unwrap_or_else(|| {
        panic!("no new leader within {ELECTION_BOUND:?} after killing member {old}; logs: {:?}", {
            cluster.members.iter().map(|m| (m.name().to_owned(), m.log_tail(20))).collect::<Vec<_>>()
        })
    });
    let election = killed_at.elapsed();
    let settled_at_election = settled.load(Ordering::SeqCst);
    assert_ne!(new, old, "the killed member cannot lead");
    let new_term = endpoint_status(&endpoints[new]).map_or(0, |s| s.raft_term);
    assert!(new_term > old_term, "the new leader's term {new_term} is above the old {old_term}");
    eprintln!("new leader {} (term {new_term}) after {election:?}", cluster.member(new).name());

    let deadline = Instant::now() + Duration::from_secs(KEYS as u64 * 20);
    while !writer.is_finished() {
        assert!(Instant::now() < deadline, "the writer did not finish");
        std::thread::sleep(Duration::from_millis(50));
    }
    let outcomes = writer.join().expect("the writer thread");
    assert_eq!(outcomes.len(), KEYS, "the writer put every key");
    let acked = outcomes.iter().filter(|o| matches!(o, Outcome::Acked { .. })).count();
    let retried = outcomes.iter().filter(|o| matches!(o, Outcome::Acked { attempt, .. } if *attempt > 1)).count();
    let unknown: Vec<(usize, &Outcome)> =
        outcomes.iter().enumerate().filter(|(_, o)| matches!(o, Outcome::Unknown { .. })).collect();
    eprintln!("puts: {acked} acknowledged ({retried} after a retry), {} unknown: {unknown:?}", unknown.len());
    let per_endpoint: Vec<(String, usize)> = endpoints
        .iter()
        .map(|e| {
            let n = outcomes[settled_at_kill..]
                .iter()
                .filter(|o| matches!(o, Outcome::Acked { endpoint, .. } if endpoint == e))
                .count();
            (e.clone(), n)
        })
        .collect();
    eprintln!("acknowledged after the kill, per endpoint: {per_endpoint:?}");
    // Puts keep succeeding at the survivors once a new leader is there.
    if let Some((i, o)) = unknown.iter().find(|(i, _)| *i >= settled_at_election) {
        panic!("put {} after the new leader was elected was not acknowledged: {o:?}", key(*i));
    }
    let after_kill = outcomes[settled_at_kill..].iter().filter(|o| matches!(o, Outcome::Acked { .. })).count();
    assert!(after_kill >= KEYS - settled_at_election, "puts after the kill acknowledged: {after_kill}");

    // Every acknowledged put is readable from every live member: linearizable, then serializable
    // once they converge.
    let survivors: Vec<String> = (0..3).filter(|&i| i != old).map(|i| endpoints[i].clone()).collect();
    for endpoint in &survivors {
        let view = read_all(endpoint, false).unwrap_or_else(|e| panic!("{e}"));
        check_view(&view, &outcomes).unwrap_or_else(|e| panic!("linearizable read via {endpoint}: {e}"));
        poll(&format!("serializable read via {endpoint} has every acknowledged put"), CONVERGE_BOUND, || {
            check_view(&read_all(endpoint, true)?, &outcomes)
        });
    }

    // The killed member comes back from its data dir and catches up.
    let restart = Instant::now();
    cluster.member(old).restart();
    let (_, catch_up) = poll("the restarted member's serializable read catches up", CONVERGE_BOUND, || {
        check_view(&read_all(&endpoints[old], true)?, &outcomes)
    });
    let (hash, agree) = wait_hashkv_agree(&endpoints, CONVERGE_BOUND);
    let views: Vec<BTreeMap<String, String>> =
        endpoints.iter().map(|e| read_all(e, true).unwrap_or_else(|e| panic!("{e}"))).collect();
    assert!(views.iter().all(|v| *v == views[0]), "all three members hold the same keys after hashkv agreed");
    eprintln!(
        "restart healthy+caught up in {:?} (read {catch_up:?}, hashkv agreed at rev {} after {agree:?}); total {:?}",
        restart.elapsed(),
        hash.revision,
        started.elapsed()
    );
}

#[test]
fn member_add_joins_a_fourth_member() {
    let started = Instant::now();
    let mut cluster = Cluster::start(Kind::Cairn, 3);
    let original = cluster.endpoints();
    let put = etcdctl(&original, &["put", "before", "3"], None);
    assert_eq!(put.stdout, "OK\n", "put before the add: {put:?}");

    let added = cluster.add_member("infra4", false);
    let out = &added.add_output.stdout;
    assert!(out.contains("ETCD_NAME=\"infra4\""), "member add prints the name: {out}");
    assert!(out.contains("ETCD_INITIAL_CLUSTER_STATE=\"existing\""), "member add prints the state: {out}");
    assert_eq!(added.initial_cluster.split(',').count(), 4, "four entries in {}", added.initial_cluster);
    assert!(added.initial_cluster.contains("infra4=http://127.0.0.1:"), "{}", added.initial_cluster);
    let joined = Instant::now();
    let new_endpoint = cluster.member(added.index).endpoint();

    let (members, _) = poll("member list shows 4 started members", CONVERGE_BOUND, || {
        let list = member_list(&original).ok_or("member list failed")?;
        if list.len() == 4 && list.iter().all(|m| m.started && !m.name.is_empty() && !m.is_learner) {
            Ok(list)
        } else {
            Err(format!("{list:?}"))
        }
    });
    let infra4 = members.iter().find(|m| m.id == added.id).expect("the added member is listed by its id");
    assert_eq!(infra4.name, "infra4");
    assert_eq!(infra4.client_urls, format!("http://{new_endpoint}"));

    // The new member serves: it has the old data, takes a put, the others read it.
    let get = etcdctl(&new_endpoint, &["get", "before", "--print-value-only"], None);
    assert_eq!(get.stdout, "3\n", "the new member has the data from before it joined: {get:?}");
    let put = etcdctl(&new_endpoint, &["put", "via-infra4", "4"], None);
    assert_eq!(put.stdout, "OK\n", "put through the new member: {put:?}");
    for i in 0..3 {
        let endpoint = cluster.member(i).endpoint();
        let get = etcdctl(&endpoint, &["get", "via-infra4", "--print-value-only"], None);
        assert_eq!(get.stdout, "4\n", "member {i} reads the new member's put: {get:?}");
    }
    let endpoints: Vec<String> = cluster.members.iter().map(|m| m.endpoint()).collect();
    let (hash, agree) = wait_hashkv_agree(&endpoints, CONVERGE_BOUND);
    eprintln!("4 members, hashkv agreed at rev {} after {agree:?}", hash.revision);

    // Removing it leaves three, and they keep serving.
    let removed = cluster.reconfigure(&["member", "remove", &added.id]);
    assert!(removed.stdout.contains(&format!("{} removed from cluster", added.id)), "{removed:?}");
    poll("member list shows 3 members", CONVERGE_BOUND, || {
        let list = member_list(&original).ok_or("member list failed")?;
        if list.len() == 3 && list.iter().all(|m| m.id != added.id && m.started) {
            Ok(())
        } else {
            Err(format!("{list:?}"))
        }
    });
    let put = etcdctl(&original, &["put", "after-remove", "3"], None);
    assert_eq!(put.stdout, "OK\n", "put after the remove: {put:?}");
    for i in 0..3 {
        let endpoint = cluster.member(i).endpoint();
        let get = etcdctl(&endpoint, &["get", "after-remove", "--print-value-only"], None);
        assert_eq!(get.stdout, "3\n", "member {i} serves after the remove: {get:?}");
    }
    // etcd's removed member stops itself; cairn should too (reported, not asserted here).
    let removed_member = cluster.member(added.index);
    let deadline = Instant::now() + Duration::from_secs(10);
    while removed_member.is_running() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!(
        "removed member still running 10 s after its removal: {}; joined→removed {:?}; total {:?}",
        removed_member.is_running(),
        joined.elapsed(),
        started.elapsed()
    );
}

#[test]
fn learner_add_and_promote() {
    let started = Instant::now();
    let mut cluster = Cluster::start(Kind::Cairn, 3);
    let original = cluster.endpoints();
    for i in 0..20 {
        let put = etcdctl(&original, &["put", &key(i), &value(i)], None);
        assert_eq!(put.stdout, "OK\n", "put {i}: {put:?}");
    }

    let added = cluster.add_member("learner4", true);
    let learner_endpoint = cluster.member(added.index).endpoint();
    let list = member_list(&original).expect("member list");
    let listed = list.iter().find(|m| m.id == added.id).unwrap_or_else(|| panic!("learner listed: {list:?}"));
    assert!(listed.is_learner, "listed as a learner: {listed:?}");

    // Caught up: it serves the last put serializably, and its raft index reached the leader's.
    let leader = cluster.wait_leader(Duration::from_secs(10)).expect("a leader");
    let leader_index = endpoint_status(&cluster.member(leader).endpoint()).expect("the leader's status").raft_index;
    let (_, caught_up) = poll("the learner catches up", CONVERGE_BOUND, || {
        let status = endpoint_status(&learner_endpoint).ok_or("no status from the learner")?;
        if !status.is_learner {
            return Err(format!("status does not say learner: {status:?}"));
        }
        if status.raft_index < leader_index {
            return Err(format!("raft index {} < leader's {leader_index}", status.raft_index));
        }
        let view = read_all(&learner_endpoint, true)?;
        if view.len() == 20 && (0..20).all(|i| view.get(&key(i)) == Some(&value(i))) {
            Ok(())
        } else {
            Err(format!("serializable read: {view:?}"))
        }
    });

    // Promote (etcd refuses while the learner is not in sync yet: retry that, bounded).
    let (promoted, _) = poll("member promote succeeds", Duration::from_secs(10), || {
        let out = etcdctl(&original, &["member", "promote", &added.id], None);
        if out.success() { Ok(out) } else { Err(format!("{out:?}")) }
    });
    assert!(
        promoted.stdout.contains(&format!("{} promoted in cluster", added.id)),
        "member promote output: {promoted:?}"
    );
    poll("member list shows the promoted member as a voter", CONVERGE_BOUND, || {
        let list = member_list(&original).ok_or("member list failed")?;
        let voters = list.iter().filter(|m| m.started && !m.is_learner).count();
        if list.len() == 4 && voters == 4 { Ok(()) } else { Err(format!("{list:?}")) }
    });
    let (_, voter) = poll("the promoted member serves a linearizable put", CONVERGE_BOUND, || {
        let out = etcdctl(&learner_endpoint, &["put", "via-promoted", "x"], None);
        if out.stdout == "OK\n" { Ok(()) } else { Err(format!("{out:?}")) }
    });
    let endpoints: Vec<String> = cluster.members.iter().map(|m| m.endpoint()).collect();
    let (hash, agree) = wait_hashkv_agree(&endpoints, CONVERGE_BOUND);
    eprintln!(
        "learner caught up in {caught_up:?}, promoted voter put after {voter:?}, hashkv agreed at rev {} after \
         {agree:?}; total {:?}",
        hash.revision,
        started.elapsed()
    );
}

#[test]
fn promote_refuses_a_learner_that_is_not_in_sync() {
    let mut cluster = Cluster::start(Kind::Cairn, 3);
    let original = cluster.endpoints();
    let put = etcdctl(&original, &["put", "a", "1"], None);
    assert_eq!(put.stdout, "OK\n", "put: {put:?}");
    // A learner that is added but never started has nothing of the log.
    let free = cairn_tests::free_ports(1);
    let peer_urls = format!("--peer-urls=http://127.0.0.1:{}", free[0]);
    let added = cluster.reconfigure(&["member", "add", "idle-learner", &peer_urls, "--learner"]);
    let id = added.stdout.split_whitespace().nth(1).expect("member id in `member add` output").to_owned();

    let promote = etcdctl(&original, &["member", "promote", &id], None);
    assert!(!promote.success(), "promoting a learner that has no log must fail: {promote:?}");
    assert!(
        promote.stderr.contains("etcdserver: can only promote a learner member which is in sync with leader"),
        "etcd's error for a learner not in sync: {promote:?}"
    );
    let list = member_list(&original).expect("member list");
    let learner = list.iter().find(|m| m.id == id).unwrap_or_else(|| panic!("learner listed: {list:?}"));
    assert!(learner.is_learner && !learner.started, "still an unstarted learner: {learner:?}");

    let removed = cluster.reconfigure(&["member", "remove", &id]);
    assert!(removed.stdout.contains(&format!("{id} removed from cluster")), "{removed:?}");
    let put = etcdctl(&original, &["put", "a", "2"], None);
    assert_eq!(put.stdout, "OK\n", "the three members serve after the learner's removal: {put:?}");
}
