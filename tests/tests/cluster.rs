//! Multi-member clusters of real processes: start, replicate, kill, restart.

use std::time::{Duration, Instant};

use cairn_tests::{Cluster, Kind, etcdctl};

/// Three members replicate a write, survive one member's SIGKILL, and the restarted member
/// catches up from its data dir.
#[test]
fn three_members_survive_a_kill_and_restart() {
    let mut cluster = Cluster::start(Kind::Cairn, 3);
    let all = cluster.endpoints();
    let list = etcdctl(&all, &["member", "list"], None);
    assert!(list.success(), "member list: {list:?}");
    assert_eq!(list.stdout.lines().count(), 3, "three members listed: {}", list.stdout);

    let first = cluster.member(0).endpoint();
    let put = etcdctl(&first, &["put", "k", "v1"], None);
    assert_eq!(put.stdout, "OK\n", "put via member 0: {put:?}");
    let third = cluster.member(2).endpoint();
    let get = etcdctl(&third, &["get", "k", "--print-value-only"], None);
    assert_eq!(get.stdout, "v1\n", "linearizable read via member 2: {get:?}");

    cluster.member(0).kill();
    assert!(!cluster.member(0).is_running());
    let second = cluster.member(1).endpoint();
    // If member 0 led, the first puts may time out until a new leader is elected.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let put = etcdctl(&second, &["put", "k", "v2"], None);
        if put.stdout == "OK\n" {
            break;
        }
        assert!(Instant::now() < deadline, "put with one member down failed for 20 s: {put:?}");
        std::thread::sleep(Duration::from_millis(200));
    }

    cluster.member(0).restart();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let get = etcdctl(&first, &["get", "k", "--print-value-only", "--consistency=s"], None);
        if get.stdout == "v2\n" {
            break;
        }
        assert!(Instant::now() < deadline, "restarted member 0 did not catch up within 15 s: {get:?}");
        std::thread::sleep(Duration::from_millis(100));
    }

    cluster.member(2).stop();
    let get = etcdctl(&first, &["get", "k", "--print-value-only"], None);
    assert_eq!(get.stdout, "v2\n", "two of three members still serve: {get:?}");
}
