//! etcdctl lock and elect against etcd and cairn. etcdctl 3.4 runs clientv3's `concurrency` recipes
//! itself (keys per lease under a prefix, create revisions, watches for deletes), so these compare
//! the KV, lease and watch behaviour the recipes depend on. Waiting processes run in the
//! background and are killed by pid when collected (each wait bounded by 10 s).

use cairn_tests::Differ;

/// lock with a command: the command runs while the lock is held (with the lock's revision in its
/// environment), the lock is released after, and a failing command is reported.
#[test]
fn lock_runs_a_command() {
    let mut d = Differ::start();
    d.run(&["put", "before", "x"]);
    d.run(&["lock", "mylock", "--", "echo", "held"]).expect_etcd("held");
    d.run(&["lock", "mylock", "--", "sh", "-c", "echo rev=$ETCD_LOCK_REV key=${ETCD_LOCK_KEY%/*}"]);
    d.run(&["get", "mylock", "--prefix", "-w", "json"]);
    d.run(&["lock", "--ttl", "5", "mylock", "--", "false"]);
    d.run(&["lock", "mylock", "--", "sh", "-c", "echo out; echo err >&2; exit 3"]);
    d.run(&["lock"]).expect_etcd("lock takes a lock name argument");
    d.run(&["get", "", "--from-key", "--keys-only"]);
    d.finish();
}

/// A locker waits behind a key put by hand under the lock's prefix (the oldest key owns the
/// lock) and gets the lock once that key is deleted.
#[test]
fn lock_waits_for_an_older_key() {
    let mut d = Differ::start();
    d.run(&["put", "mylock/0", "manual"]);
    let waiter = d.spawn_live_watch(&["lock", "mylock", "--", "sh", "-c", "echo got rev=$ETCD_LOCK_REV"]);
    // The waiter's session lease is the only lease: learn it on each side so it is masked.
    d.grant_lease_with("WAITER", &["lease", "list", "-w", "fields"]);
    d.run(&["get", "mylock", "--prefix", "-w", "fields"]).expect_etcd(r#""Count" : 2"#);
    d.run(&["del", "mylock/0"]);
    d.collect_watch(waiter).expect_etcd("got rev=");
    d.run(&["get", "mylock", "--prefix", "-w", "fields"]);
    d.finish();
}

/// Two etcdctl lockers: the second runs its command once the first's command ended.
#[test]
fn lock_contention() {
    let mut d = Differ::start();
    let first = d.spawn_live_watch(&["lock", "mylock", "--", "sh", "-c", "echo first; sleep 6; echo first done"]);
    d.grant_lease_with("FIRST", &["lease", "list", "-w", "fields"]);
    let second = d.spawn_live_watch(&["lock", "mylock", "--", "sh", "-c", "echo second rev=$ETCD_LOCK_REV"]);
    // Both keys are there while the first holds the lock (the second's is not shown: its lease
    // id differs between the servers).
    d.run(&["get", "mylock", "--prefix", "--sort-by=CREATE", "--limit=1", "-w", "fields"])
        .expect_etcd(r#""Count" : 2"#);
    d.collect_watch(second).expect_etcd("second rev=");
    d.collect_watch(first).expect_etcd("first done");
    d.run(&["get", "mylock", "--prefix", "-w", "fields"]);
    d.finish();
}

/// lock without a command prints the key it holds (named after its lease) until killed.
#[test]
fn lock_prints_its_key() {
    let mut d = Differ::start();
    let holder = d.spawn_live_watch(&["lock", "--ttl", "30", "held"]);
    d.grant_lease_with("HOLDER", &["lease", "list", "-w", "fields"]);
    d.run(&["get", "held", "--prefix", "-w", "fields"]);
    d.collect_watch(holder).expect_etcd("held/");
    d.finish();
}

/// elect: a candidate waits behind the leader, observers (`elect -l`) see the leader and each value
/// it puts, or wait for a first candidate, and the candidate is elected once the leader's key is
/// deleted.
#[test]
fn elect_and_listen() {
    let mut d = Differ::start();
    d.run(&["put", "myelection/0", "p0"]);
    let candidate = d.spawn_live_watch(&["elect", "myelection", "p1"]);
    // The candidate's session lease is the only lease: learn it on each side so it is masked.
    d.grant_lease_with("CANDIDATE", &["lease", "list", "-w", "fields"]);
    let listener = d.spawn_live_watch(&["elect", "-l", "myelection"]);
    // No leader yet: this observer waits for the first key put under the prefix.
    let early = d.spawn_live_watch(&["elect", "-l", "other"]);
    d.run(&["get", "myelection", "--prefix"]);
    // The leader changes its value (what Proclaim does).
    d.run(&["put", "myelection/0", "p0b"]);
    d.run(&["put", "other/x", "first"]);
    d.run(&["del", "myelection/0"]);
    d.collect_watch(candidate).expect_etcd("p1");
    d.collect_watch(listener).expect_etcd("p1");
    d.collect_watch(early).expect_etcd("first");
    d.run(&["get", "myelection", "--prefix", "-w", "fields"]);
    d.run(&["elect"]).expect_etcd("elect takes one election name argument");
    d.finish();
}

/// A lock whose holder dies goes to the next locker once the holder's session lease expires.
#[test]
fn lock_is_released_when_the_holders_lease_expires() {
    let mut d = Differ::start();
    let holder =
        d.spawn_live_watch(&["lock", "--ttl=2", "mylock", "--", "sh", "-c", "echo held; exec sleep 8 >/dev/null 2>&1"]);
    // SIGKILL: the holder's session is not closed, its lease runs out.
    d.collect_watch(holder).expect_etcd("held");
    let next = d.spawn_live_watch(&["lock", "mylock", "--", "echo", "next holder"]);
    d.collect_watch(next).expect_etcd("next holder");
    d.finish();
}

/// A second candidate becomes leader when the first resigns (etcdctl resigns on SIGTERM), and a
/// listener sees both.
#[test]
fn a_second_candidate_takes_over_after_resign() {
    let mut d = Differ::start();
    d.mask(r"myelection/[0-9a-f]{8,16}", "myelection/<LEASE>");
    let first = d.spawn_live_watch(&["elect", "myelection", "p1"]);
    let second = d.spawn_live_watch(&["elect", "myelection", "p2"]);
    let listener = d.spawn_live_watch(&["elect", "-l", "myelection"]);
    d.run(&["get", "myelection", "--prefix", "--print-value-only"]).expect_etcd("p1");
    d.terminate(&first);
    d.collect_watch(first).expect_etcd("p1");
    d.collect_watch(second).expect_etcd("p2");
    d.collect_watch(listener).expect_etcd("p2");
    d.finish();
}
