//! cairnctl's `lock` and `elect` behave and print as etcdctl 3.4 does, against cairn and against a
//! real etcd. Both tools run clientv3's `concurrency` recipes (a session lease, keys under a
//! prefix, create revisions, watches for deletes), so the keys and revisions they leave compare
//! too. Waiting processes run in the background and are killed by pid when collected (each wait
//! bounded by 10 s). Session lease ids differ between the servers: each side's is learned from
//! `lease list` while it is the only lease, and masked.

use cairn_tests::{Differ, Kind};

/// lock with a command: the command runs while the lock is held (with the lock's key and revision
/// in its environment), the lock is released after, and a failing command is reported.
fn lock_runs_a_command(kind: Kind) {
    let mut d = Differ::tools(kind);
    d.run(&["put", "before", "x"]);
    d.run(&["lock", "mylock", "--", "echo", "held"]).expect_etcd("held");
    d.run(&["lock", "mylock", "--", "sh", "-c", "echo rev=$ETCD_LOCK_REV key=${ETCD_LOCK_KEY%/*}"]);
    d.run(&["get", "mylock", "--prefix", "-w", "json"]);
    d.run(&["lock", "--ttl", "5", "mylock", "--", "false"]).expect_etcd("exit status 1");
    d.run(&["lock", "mylock", "--", "sh", "-c", "echo out; echo err >&2; exit 3"]).expect_etcd("exit status 3");
    d.run(&["lock", "mylock", "--", "no-such-command-here"]).expect_etcd("executable file not found");
    d.run(&["lock"]).expect_etcd("lock takes a lock name argument");
    d.run(&["get", "", "--from-key", "--keys-only"]);
    d.finish();
}

#[test]
fn lock_runs_a_command_against_cairn() {
    lock_runs_a_command(Kind::Cairn);
}

#[test]
fn lock_runs_a_command_against_etcd() {
    lock_runs_a_command(Kind::Etcd);
}

/// A locker waits behind a key put by hand under the lock's prefix (the oldest key owns the
/// lock) and gets the lock once that key is deleted.
fn lock_waits_for_an_older_key(kind: Kind) {
    let mut d = Differ::tools(kind);
    d.run(&["put", "mylock/0", "manual"]);
    let waiter = d.spawn_live_watch(&["lock", "mylock", "--", "sh", "-c", "echo got rev=$ETCD_LOCK_REV"]);
    d.grant_lease_with("WAITER", &["lease", "list", "-w", "fields"]);
    d.run(&["get", "mylock", "--prefix", "-w", "fields"]).expect_etcd(r#""Count" : 2"#);
    d.run(&["del", "mylock/0"]);
    d.collect_watch(waiter).expect_etcd("got rev=");
    d.run(&["get", "mylock", "--prefix", "-w", "fields"]);
    d.finish();
}

#[test]
fn lock_waits_for_an_older_key_against_cairn() {
    lock_waits_for_an_older_key(Kind::Cairn);
}

#[test]
fn lock_waits_for_an_older_key_against_etcd() {
    lock_waits_for_an_older_key(Kind::Etcd);
}

/// Two lockers: the second runs its command once the first's command ended.
fn lock_contention(kind: Kind) {
    let mut d = Differ::tools(kind);
    let first = d.spawn_live_watch(&["lock", "mylock", "--", "sh", "-c", "echo first; sleep 5; echo first done"]);
    d.grant_lease_with("FIRST", &["lease", "list", "-w", "fields"]);
    let second = d.spawn_live_watch(&["lock", "mylock", "--", "sh", "-c", "echo second rev=$ETCD_LOCK_REV"]);
    d.run(&["get", "mylock", "--prefix", "--sort-by=CREATE", "--limit=1", "-w", "fields"])
        .expect_etcd(r#""Count" : 2"#);
    d.collect_watch(second).expect_etcd("second rev=");
    d.collect_watch(first).expect_etcd("first done");
    d.run(&["get", "mylock", "--prefix", "-w", "fields"]);
    d.finish();
}

#[test]
fn lock_contention_against_cairn() {
    lock_contention(Kind::Cairn);
}

#[test]
fn lock_contention_against_etcd() {
    lock_contention(Kind::Etcd);
}

/// lock without a command prints the key it holds (named after its lease) until SIGTERM, which
/// releases it; in json too.
fn lock_prints_its_key(kind: Kind) {
    let mut d = Differ::tools(kind);
    let holder = d.spawn_live_watch(&["lock", "--ttl", "30", "held"]);
    d.grant_lease_with("HOLDER", &["lease", "list", "-w", "fields"]);
    d.run(&["get", "held", "--prefix", "-w", "fields"]).expect_etcd(r#""Count" : 1"#);
    d.terminate(&holder);
    d.collect_watch(holder).expect_etcd("held/");
    d.run(&["get", "held", "--prefix", "-w", "fields"]).expect_etcd(r#""Count" : 0"#);
    d.run(&["lease", "timetolive", "$HOLDER"]).expect_etcd("granted with TTL(30s)");
    let holder = d.spawn_live_watch(&["lock", "held", "-w", "json"]);
    d.terminate(&holder);
    d.mask(r#""lease":\d+"#, r#""lease":<LEASE>"#);
    d.mask(r#""key":"[A-Za-z0-9+/=]+""#, r#""key":"<KEY>""#);
    d.collect_watch(holder).expect_etcd(r#""count":1"#);
    d.finish();
}

#[test]
fn lock_prints_its_key_against_cairn() {
    lock_prints_its_key(Kind::Cairn);
}

#[test]
fn lock_prints_its_key_against_etcd() {
    lock_prints_its_key(Kind::Etcd);
}

/// elect: a candidate waits behind the leader, observers (`elect -l`) see the leader and each value
/// it puts, or wait for a first candidate, and the candidate is elected once the leader's key is
/// deleted; then etcdctl's argument checks.
fn elect_and_listen(kind: Kind) {
    let mut d = Differ::tools(kind);
    d.run(&["put", "myelection/0", "p0"]);
    let candidate = d.spawn_live_watch(&["elect", "myelection", "p1"]);
    d.grant_lease_with("CANDIDATE", &["lease", "list", "-w", "fields"]);
    let listener = d.spawn_live_watch(&["elect", "-l", "myelection"]);
    let early = d.spawn_live_watch(&["elect", "-l", "other"]);
    d.run(&["get", "myelection", "--prefix"]);
    d.run(&["put", "myelection/0", "p0b"]);
    d.run(&["put", "other/x", "first"]);
    d.run(&["del", "myelection/0"]);
    d.collect_watch(candidate).expect_etcd("p1");
    d.collect_watch(listener).expect_etcd("p1");
    d.collect_watch(early).expect_etcd("first");
    d.run(&["get", "myelection", "--prefix", "-w", "fields"]);
    d.run(&["elect"]).expect_etcd("elect takes one election name argument");
    d.run(&["elect", "a", "b", "c"]).expect_etcd("elect takes one election name argument");
    d.run(&["elect", "a"]).expect_etcd("no proposal argument but -l not set");
    d.run(&["elect", "-l", "a", "b"]).expect_etcd("proposal given but -l is set");
    d.finish();
}

#[test]
fn elect_and_listen_against_cairn() {
    elect_and_listen(Kind::Cairn);
}

#[test]
fn elect_and_listen_against_etcd() {
    elect_and_listen(Kind::Etcd);
}

/// A second candidate becomes leader when the first resigns (on SIGTERM), and listeners see both,
/// in the simple and json formats.
fn a_second_candidate_takes_over_after_resign(kind: Kind) {
    let mut d = Differ::tools(kind);
    d.mask(r"myelection/[0-9a-f]{8,16}", "myelection/<LEASE>");
    d.mask(r#""lease":\d+"#, r#""lease":<LEASE>"#);
    d.mask(r#""key":"[A-Za-z0-9+/=]+""#, r#""key":"<KEY>""#);
    let first = d.spawn_live_watch(&["elect", "myelection", "p1"]);
    let second = d.spawn_live_watch(&["elect", "myelection", "p2"]);
    let listener = d.spawn_live_watch(&["elect", "-l", "myelection"]);
    let json = d.spawn_live_watch(&["elect", "-l", "myelection", "-w", "json"]);
    d.run(&["get", "myelection", "--prefix", "--print-value-only"]).expect_etcd("p1");
    d.terminate(&first);
    d.collect_watch(first).expect_etcd("p1");
    d.collect_watch(second).expect_etcd("p2");
    d.collect_watch(listener).expect_etcd("p2");
    d.collect_watch(json).expect_etcd("cDI=");
    d.run(&["get", "myelection", "--prefix", "--print-value-only"]).expect_etcd("p2");
    d.finish();
}

#[test]
fn a_second_candidate_takes_over_after_resign_against_cairn() {
    a_second_candidate_takes_over_after_resign(Kind::Cairn);
}

#[test]
fn a_second_candidate_takes_over_after_resign_against_etcd() {
    a_second_candidate_takes_over_after_resign(Kind::Etcd);
}
