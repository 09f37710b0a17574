//! cairnctl's `make-mirror` does what etcdctl 3.4's does: its argument checks print the same, and
//! run side by side from one source into two twin destinations, both mirrors leave the same keys,
//! values and revisions there (the initial copy, then each source revision's events in one
//! transaction), and print the same count of synced keys after 30 seconds.

use std::time::{Duration, Instant};

use cairn_tests::{Differ, Etcdctl, Kind, Server, cairnctl_bin};

fn argument_checks(kind: Kind) {
    let mut d = Differ::tools(kind);
    d.run(&["make-mirror"]).expect_etcd("make-mirror takes one destination argument");
    d.run(&["make-mirror", "a", "b"]).expect_etcd("make-mirror takes one destination argument");
    d.run(&["make-mirror", "--dest-prefix=x", "--no-dest-prefix", "$ENDPOINT"])
        .expect_etcd("cannot be set at the same time");
    d.finish();
}

#[test]
fn argument_checks_against_cairn() {
    argument_checks(Kind::Cairn);
}

#[test]
fn argument_checks_against_etcd() {
    argument_checks(Kind::Etcd);
}

/// `get "" --from-key -w fields` without the header lines (ids and term differ between servers).
fn contents(endpoint: &str) -> String {
    let out = Etcdctl::new(endpoint).run(&["get", "", "--from-key", "-w", "fields"]);
    assert!(out.success(), "{}", out.stderr);
    out.stdout
        .lines()
        .filter(|l| !["\"ClusterID\"", "\"MemberID\"", "\"RaftTerm\""].iter().any(|h| l.starts_with(h)))
        .map(|l| format!("{l}\n"))
        .collect()
}

fn put(endpoint: &str, args: &[&str]) {
    let out = Etcdctl::new(endpoint).run(args);
    assert!(out.success(), "{args:?}: {}", out.stderr);
}

fn mirrors_alike(kind: Kind) {
    let source = Server::start(kind);
    let src = source.endpoint();
    let (etcd_dest, cairn_dest) = std::thread::scope(|s| {
        let a = s.spawn(|| Server::start(kind));
        let b = s.spawn(|| Server::start(kind));
        (a.join().expect("a destination"), b.join().expect("a destination"))
    });
    let (etcd_ep, cairn_ep) = (etcd_dest.endpoint(), cairn_dest.endpoint());
    for (k, v) in [("a/1", "x"), ("a/2", "y"), ("b/1", "z"), ("a/1", "x2")] {
        put(&src, &["put", k, v]);
    }
    put(&etcd_ep, &["put", "existing", "1"]);
    put(&cairn_ep, &["put", "existing", "1"]);
    let args = |dest: &Server| {
        vec!["make-mirror".to_owned(), "--prefix=a/".to_owned(), "--dest-prefix=m/".to_owned(), dest.endpoint()]
    };
    let etcd_args = args(&etcd_dest);
    let cairn_args = args(&cairn_dest);
    let etcdctl = Etcdctl::new(&src)
        .timeout(Duration::from_secs(50))
        .spawn(&etcd_args.iter().map(String::as_str).collect::<Vec<_>>());
    let cairnctl = Etcdctl::new(&src)
        .program(cairnctl_bin())
        .timeout(Duration::from_secs(50))
        .spawn(&cairn_args.iter().map(String::as_str).collect::<Vec<_>>());
    let spawned = Instant::now();
    std::thread::sleep(Duration::from_millis(1500));
    put(&src, &["put", "a/3", "w"]);
    put(&src, &["del", "a/2"]);
    put(&src, &["put", "b/2", "not mirrored"]);
    let txn = Etcdctl::new(&src).stdin(b"\nput a/4 t1\nput a/5 t2\ndel a/1\n\n\n").run(&["txn"]);
    assert!(txn.success(), "{}", txn.stderr);
    put(&src, &["del", "a/", "--prefix"]);
    put(&src, &["put", "a/6", "last"]);

    let deadline = Instant::now() + Duration::from_secs(10);
    let expected_tail = "\"Key\" : \"m/6\"";
    while !(contents(&etcd_ep).contains(expected_tail) && contents(&cairn_ep).contains(expected_tail)) {
        assert!(
            Instant::now() < deadline,
            "the mirrors did not catch up:\n{}\n{}",
            contents(&etcd_ep),
            contents(&cairn_ep)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let (by_etcdctl, by_cairnctl) = (contents(&etcd_ep), contents(&cairn_ep));
    assert_eq!(by_etcdctl, by_cairnctl, "destinations differ (etcdctl's, then cairnctl's)");
    assert!(by_etcdctl.contains("\"Key\" : \"existing\"") && !by_etcdctl.contains("\"Key\" : \"b/"), "{by_etcdctl}");

    // Both print how many keys they synced every 30 seconds.
    std::thread::sleep(Duration::from_secs(30).saturating_sub(spawned.elapsed()));
    let (mut etcdctl, mut cairnctl) = (etcdctl, cairnctl);
    etcdctl.wait_for_lines(1, Duration::from_secs(3));
    cairnctl.wait_for_lines(1, Duration::from_secs(3));
    etcdctl.stop();
    cairnctl.stop();
    let (e, c) = (etcdctl.finish(), cairnctl.finish());
    assert_eq!(e.stdout, "11\n", "etcdctl's report; stderr: {}", e.stderr);
    assert_eq!((c.stdout.as_str(), c.stderr.as_str()), (e.stdout.as_str(), e.stderr.as_str()));
}

#[test]
fn mirrors_alike_against_cairn() {
    mirrors_alike(Kind::Cairn);
}

#[test]
fn mirrors_alike_against_etcd() {
    mirrors_alike(Kind::Etcd);
}
