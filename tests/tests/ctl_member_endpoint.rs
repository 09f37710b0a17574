//! cairnctl's `member` and `endpoint` commands print what etcdctl 3.4 prints: single-member with
//! `Differ::tools` (a learner is added, updated, refused promotion and removed, since a learner
//! does not change the quorum), and on a three-member cluster by running etcdctl and cairnctl
//! one after the other against the same members (member list, status, hashkv and health of
//! every member, defrag, move-leader, promoting a started learner). Against cairn and etcd.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use cairn_tests::{Cluster, Differ, Etcdctl, Kind, Normalizer, Output, cairnctl_bin};
use regex::Regex;

fn single_member(kind: Kind) {
    let mut d = Differ::tools(kind);
    d.run(&["put", "a", "1"]);
    d.run(&["put", "b", "2"]);
    d.run(&["del", "a"]);
    for format in ["simple", "json", "fields", "table", "protobuf"] {
        d.run(&["member", "list", "-w", format]);
        d.run(&["endpoint", "status", "-w", format]);
        d.run(&["endpoint", "health", "-w", format]);
        d.run(&["endpoint", "hashkv", "-w", format]);
    }
    d.run(&["endpoint", "health"]).expect_etcd("is healthy: successfully committed proposal: took =");
    d.run(&["endpoint", "hashkv", "--rev", "2"]);
    d.run(&["endpoint", "hashkv", "--rev", "3", "-w", "json"]);
    d.run(&["endpoint", "hashkv", "--rev", "100"]).expect_etcd("future revision");
    d.run(&["endpoint", "status", "--cluster"]);
    d.run(&["endpoint", "status", "--cluster", "-w", "table"]);
    d.run(&["endpoint", "health", "--cluster", "-w", "json"]);
    d.run(&["endpoint", "hashkv", "--cluster", "-w", "fields"]);

    // Arguments are checked before anything is asked.
    d.run(&["member", "add"]).expect_etcd("member name not provided");
    d.run(&["member", "add", "x", "http://a:1", "HTTPS://b:2"]).expect_etcd("did you mean --peer-urls=http://a:1");
    d.run(&["member", "add", "x"]).expect_etcd("member peer urls not provided");
    d.run(&["member", "add", "x", "--peer-urls=bogus"]).expect_etcd("URL scheme must be");
    d.run(&["member", "add", "x", "--peer-urls=http://127.0.0.1"]).expect_etcd("does not have the form");
    d.run(&["member", "add", "x", "--peer-urls=http://127.0.0.1:9/path"]).expect_etcd("must not contain a path");
    d.run(&["member", "remove"]).expect_etcd("member ID is not provided");
    d.run(&["member", "remove", "zz"]).expect_etcd("bad member ID arg");
    d.run(&["member", "remove", "1234"]).expect_etcd("member not found");
    d.run(&["member", "update", "1234"]).expect_etcd("member peer urls not provided");
    d.run(&["member", "update", "1234", "--peer-urls=http://127.0.0.1:9"]).expect_etcd("member not found");
    d.run(&["member", "promote", "1234"]).expect_etcd("member not found");
    d.run(&["member", "promote", "+1"]).expect_etcd("bad member ID arg");

    // A learner (json, so its id can be taken: it becomes `$NEW` and is masked as <LEASE:NEW>).
    d.grant_lease_with(
        "NEW",
        &["member", "add", "newm", "--peer-urls=http://127.0.0.1:9999", "--learner", "-w", "json"],
    );
    // etcd 3.4 allows one learner at a time.
    d.run(&["member", "add", "other", "--peer-urls=http://127.0.0.1:9998", "--learner"])
        .expect_etcd("too many learner");
    d.run(&["member", "update", "$NEW", "--peer-urls=http://127.0.0.1:9997"]).expect_etcd("updated in cluster");
    // (Not in the other formats: they list the members in id order, and the new id is derived
    // from the second it was added in, which may differ between the twins.)
    d.run(&["member", "promote", "$NEW"]).expect_etcd("can only promote a learner member which is in sync");
    d.run(&["member", "remove", "$NEW", "-w", "fields"]).expect_etcd("fields not supported as output format");
    d.run(&["member", "list"]);
    // The simple format's variables; the new id is random, and the members come in id order.
    d.mask(r"Member +[0-9a-f]+ added", "Member <NEW2> added");
    d.mask(
        r#"ETCD_INITIAL_CLUSTER="(n1=http://127\.0\.0\.1:2380,n2=http://127\.0\.0\.1:9995|n2=http://127\.0\.0\.1:9995,n1=http://127\.0\.0\.1:2380)""#,
        r#"ETCD_INITIAL_CLUSTER="<n1 and n2>""#,
    );
    d.run(&["member", "add", "n2", "--peer-urls=http://127.0.0.1:9995", "--learner"])
        .expect_etcd("ETCD_INITIAL_CLUSTER_STATE=\"existing\"");
    d.finish();
}

#[test]
fn single_member_against_cairn() {
    single_member(Kind::Cairn);
}

#[test]
fn single_member_against_etcd() {
    single_member(Kind::Etcd);
}

/// etcdctl's and cairnctl's run of `args` against the same endpoints.
fn both(endpoints: &str, args: &[&str]) -> (Output, Output) {
    let etcdctl = Etcdctl::new(endpoints).run(args);
    let cairnctl = Etcdctl::new(endpoints).program(cairnctl_bin()).run(args);
    (etcdctl, cairnctl)
}

/// What legitimately differs between two runs against the same cluster (durations, raft
/// indexes, db sizes, log timestamps and client ids), masked; lines sorted when `sorted` (for
/// commands that print endpoints in the order their answers come).
fn comparable(out: &Output, sorted: bool) -> (Option<i32>, String, String) {
    let norm = Normalizer::new();
    let text = |t: &str| {
        let normalized = norm.normalize(t);
        if sorted {
            normalized.lines().collect::<BTreeSet<_>>().into_iter().map(|l| format!("{l}\n")).collect()
        } else {
            normalized
        }
    };
    (out.status, text(&out.stdout), text(&out.stderr))
}

#[track_caller]
fn same(endpoints: &str, args: &[&str], sorted: bool) -> Output {
    let (etcdctl, cairnctl) = both(endpoints, args);
    assert_eq!(
        comparable(&etcdctl, sorted),
        comparable(&cairnctl, sorted),
        "{args:?}: etcdctl {etcdctl:?}\ncairnctl {cairnctl:?}"
    );
    assert!(etcdctl.status.is_some(), "{args:?} timed out: {etcdctl:?}");
    etcdctl
}

fn cluster(kind: Kind) {
    let started = Instant::now();
    let mut cluster = Cluster::start(kind, 3);
    let all = cluster.endpoints();
    // Go's client asks a random one of several endpoints (cairnctl the first), which shows in
    // response headers: commands that print one are given one endpoint.
    let first = cluster.member(0).endpoint();
    for format in ["simple", "json", "fields", "table", "protobuf"] {
        same(&first, &["member", "list", "-w", format], false);
    }
    same(&first, &["put", "k", "v"], false);
    for format in ["simple", "json", "table"] {
        same(&first, &["endpoint", "status", "--cluster", "-w", format], false);
        same(&first, &["endpoint", "hashkv", "--cluster", "-w", format], false);
        same(&all, &["endpoint", "status", "-w", format], false);
    }
    same(&first, &["endpoint", "health", "--cluster"], true);
    same(&all, &["endpoint", "health"], true);
    same(&first, &["defrag", "--cluster"], false);
    same(&all, &["defrag"], false);

    // move-leader finds the leader among the endpoints given, or fails when none is.
    let leader = cluster.wait_leader(Duration::from_secs(10)).expect("a leader");
    let followers: Vec<String> = (0..3).filter(|i| *i != leader).map(|i| cluster.member(i).endpoint()).collect();
    let refused = same(&followers.join(","), &["move-leader", "1"], false);
    assert!(refused.stderr.contains("no leader endpoint given at"), "{refused:?}");
    let ids = member_ids(&all);
    let transferred = Regex::new(r"^Leadership transferred from ([0-9a-f]+) to ([0-9a-f]+)\n$").expect("a regex");
    for tool in [None, Some(cairnctl_bin())] {
        let leader = cluster.wait_leader(Duration::from_secs(10)).expect("a leader");
        let from = ids[leader].clone();
        let to = ids[(leader + 1) % 3].clone();
        let mut ctl = Etcdctl::new(&all);
        if let Some(program) = &tool {
            ctl = ctl.program(program.clone());
        }
        let out = ctl.run(&["move-leader", &to]);
        let caps = transferred.captures(&out.stdout).unwrap_or_else(|| panic!("{tool:?} move-leader: {out:?}"));
        assert_eq!((&caps[1], &caps[2]), (from.as_str(), to.as_str()), "{tool:?}: {out:?}");
        let deadline = Instant::now() + Duration::from_secs(10);
        while cluster.leader() != Some((leader + 1) % 3) {
            assert!(Instant::now() < deadline, "{tool:?}: leadership did not move to {to}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    // cairnctl promotes a started learner once it has caught up (etcd refuses before: retried).
    let added = cluster.add_member("n4", true);
    let cluster_id = cluster_id(&all);
    let deadline = Instant::now() + Duration::from_secs(15);
    let promoted = loop {
        let out = Etcdctl::new(&all).program(cairnctl_bin()).run(&["member", "promote", &added.id]);
        if out.success() || Instant::now() >= deadline {
            break out;
        }
        assert!(out.stderr.contains("can only promote a learner member which is in sync with leader"), "{out:?}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(
        promoted.stdout,
        format!("Member {:>16} promoted in cluster {cluster_id:>16}\n", added.id),
        "{promoted:?}"
    );
    let again = same(&all, &["member", "promote", &added.id], false);
    assert!(again.stderr.contains("can only promote a learner member"), "{again:?}");
    eprintln!("cluster checks took {:?}", started.elapsed());
}

fn member_ids(endpoints: &str) -> Vec<String> {
    // In the order of the cluster's members (their client URLs are the endpoints, in order).
    let list = Etcdctl::new(endpoints).run(&["member", "list"]);
    endpoints
        .split(',')
        .map(|endpoint| {
            list.stdout
                .lines()
                .find(|l| l.contains(&format!("http://{endpoint}")))
                .and_then(|l| l.split(", ").next())
                .unwrap_or_else(|| panic!("{endpoint} in {list:?}"))
                .to_owned()
        })
        .collect()
}

fn cluster_id(endpoints: &str) -> String {
    let out = Etcdctl::new(endpoints).run(&["member", "list", "-w", "json"]);
    let re = Regex::new(r#""cluster_id":(\d+)"#).expect("a regex");
    let id: u64 = re.captures(&out.stdout).and_then(|c| c[1].parse().ok()).unwrap_or_else(|| panic!("{out:?}"));
    format!("{id:x}")
}

#[test]
fn cluster_against_cairn() {
    cluster(Kind::Cairn);
}

#[test]
fn cluster_against_etcd() {
    cluster(Kind::Etcd);
}
