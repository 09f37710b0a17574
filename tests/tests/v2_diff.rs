//! etcd's v2 API (`--enable-v2`) against etcd 3.4 and cairn: every etcdctl v2 command and every
//! curl call of the etcd introduction this project started from (../shared/reference/etcd-intro.md),
//! compared step by step; a v2 watch across a 3-member cluster; a v2 value across restarts.
//!
//! The v2 store's index legitimately differs: etcd also writes its members into the v2 store
//! (`/0/members`), so its index starts a few ahead. Indexes (and in-order key names, made of
//! them), expirations and raft indexes are masked; values, keys, actions, error codes, messages
//! and causes are not.

use std::time::{Duration, Instant};

use cairn_tests::{Cluster, Differ, Kind};

fn v2_differ() -> Differ {
    let mut d = Differ::start_with(&["--enable-v2"]);
    d.v2()
        .mask(r#""(modifiedIndex|createdIndex|index)":\d+"#, r#""$1":<N>"#)
        .mask(r"(?m)^(x-etcd-index|x-raft-index|x-raft-term|content-length): \d+$", "$1: <N>")
        .mask(r"\d{20}", "<SEQ>")
        .mask(r#""expiration":"[^"]*""#, r#""expiration":"<TIME>""#)
        .mask(r"(?m)^(Created-Index|Modified-Index|Index): \d+$", "$1: <N>")
        .mask(r"(?m)\) \[\d+\]$", ") [<N>]")
        // A failed prevIndex comparison names the node's modified index.
        .mask(r"\[(\d+) != \d+\]", "[$1 != <N>]");
    d
}

/// The intro's etcdctl v2 session: set, get (plain, extended, json), a missing key, TTLs and their
/// expiry, swap-with-value both ways, mk twice, in-order keys, update, rm with and without a value,
/// directories (mkdir, rmdir of a non-empty one, rm --recursive), ls, cluster-health, member list.
#[test]
fn v2_etcdctl_commands() {
    let mut d = v2_differ();
    d.run(&["set", "/message", "hello, etcd"]).expect_etcd("hello, etcd");
    d.run(&["get", "/message"]);
    d.run(&["-o", "extended", "get", "/message"]).expect_etcd("Created-Index");
    d.run(&["-o", "json", "get", "/message"]);
    d.run(&["get", "/notexist"]).expect_etcd("100: Key not found (/notexist)");
    d.run(&["set", "/tempkey", "gone with wind", "--ttl", "2"]);
    d.run(&["set", "--swap-with-value", "hello, world", "/message", "goodbye, etcd"])
        .expect_etcd("101: Compare failed");
    d.run(&["set", "--swap-with-value", "hello, etcd", "/message", "goodbye, etcd"]);
    d.run(&["mk", "/foo", "bar"]);
    d.run(&["mk", "/foo", "bar"]).expect_etcd("105: Key already exists");
    d.run(&["mk", "--in-order", "/queue", "job1"]);
    d.run(&["mk", "--in-order", "/queue", "job2"]);
    d.run(&["ls", "--sort", "/queue"]);
    d.run(&["-o", "extended", "get", "/queue", "--sort"]);
    d.run(&["update", "/message", "I'am changed"]);
    d.run(&["get", "/message"]);
    d.run(&["update", "/notexist", "I'am changed"]).expect_etcd("100: Key not found");
    d.run(&["update", "--ttl", "30", "/message", "I'am changed"]);
    d.run(&["-o", "extended", "get", "/message"]).expect_etcd("TTL:");
    d.run(&["rm", "/foo"]).expect_etcd("PrevNode.Value: bar");
    d.run(&["get", "/foo"]);
    d.run(&["mk", "/foo", "bar"]);
    d.run(&["rm", "--with-value", "wrong", "/foo"]).expect_etcd("101: Compare failed ([wrong != bar])");
    d.run(&["rm", "--with-value", "bar", "/foo"]);
    d.run(&["mkdir", "/dir"]);
    d.run(&["mkdir", "/dir"]).expect_etcd("105");
    d.run(&["mkdir", "/dir/subdir/"]);
    d.run(&["rmdir", "/dir/subdir/"]);
    d.run(&["set", "/dir/f", "x"]);
    d.run(&["set", "/dir", "x"]).expect_etcd("102: Not a file");
    d.run(&["set", "/dir/f/g", "x"]).expect_etcd("104: Not a directory");
    d.run(&["rmdir", "/dir"]).expect_etcd("108: Directory not empty");
    d.run(&["rm", "/dir"]).expect_etcd("102: Not a file");
    d.run(&["setdir", "/sdir"]);
    d.run(&["updatedir", "--ttl", "60", "/sdir"]);
    d.run(&["ls", "--sort", "-p", "/"]);
    d.run(&["ls", "--sort", "--recursive", "/"]);
    d.run(&["rm", "--recursive", "/dir"]);
    d.run(&["ls", "--sort", "--recursive", "/"]);
    d.run(&["cluster-health"]).expect_etcd("cluster is healthy");
    d.run(&["member", "list"]).expect_etcd("isLeader=true");
    // The 2 s TTL has run out: the key is gone on both.
    std::thread::sleep(Duration::from_millis(3500));
    d.run(&["get", "/tempkey"]).expect_etcd("100: Key not found (/tempkey)");
    d.finish();
}

/// `watch`, `watch --recursive`, `watch --forever` and `exec-watch` see the writes made after them.
#[test]
fn v2_etcdctl_watches() {
    let mut d = v2_differ();
    d.run(&["set", "/message", "hello"]);
    let once = d.spawn_live_watch(&["watch", "/message"]);
    d.run(&["set", "/message", "changed once"]);
    d.collect_watch(once).expect_etcd("changed once");
    let tree = d.spawn_live_watch(&["watch", "--recursive", "/"]);
    d.run(&["set", "/dir/key", "in a dir"]);
    d.collect_watch(tree).expect_etcd("in a dir");
    let forever = d.spawn_live_watch(&["watch", "--forever", "/message"]);
    d.run(&["set", "/message", "first"]);
    d.run(&["set", "/message", "second"]);
    d.run(&["rm", "/message"]);
    d.collect_watch(forever).expect_etcd("first\nsecond");
    let exec = d.spawn_live_watch(&["exec-watch", "--recursive", "/", "--", "sh", "-c", "echo change detected."]);
    d.run(&["set", "/other", "x"]);
    d.collect_watch(exec).expect_etcd("change detected.");
    d.finish();
}

/// The intro's HTTP calls with curl: PUT with a TTL, GET, DELETE, a directory, hidden `_` nodes,
/// compare-and-swap and compare-and-delete both ways, in-order POST, a long-polling `wait=true`,
/// etcd's request errors (202, 203, 209, 107, 405), `/v2/members`, `/v2/stats/*`, `/version`.
#[test]
fn v2_curl_calls() {
    let mut d = v2_differ();
    d.mask(r#""(uptime|startTime)":"[^"]*""#, r#""$1":"<T>""#)
        .mask(r#""(\w+(Success|Fail|Count|Cnt))":\d+"#, r#""$1":<N>"#);
    d.curl("PUT", "/v2/keys/message?value=hello,%20etcd&ttl=5", None).expect_etcd("201 Created");
    d.curl("GET", "/v2/keys/message", None);
    d.curl("DELETE", "/v2/keys/message", None).expect_etcd(r#""action":"delete""#);
    d.curl("GET", "/v2/keys/message", None).expect_etcd("404 Not Found");
    d.curl("PUT", "/v2/keys/anotherdir?dir=true", None);
    d.curl("PUT", "/v2/keys/anotherdir/_hidden", Some("value=secret"));
    d.curl("PUT", "/v2/keys/anotherdir/shown", Some("value=s"));
    d.curl("GET", "/v2/keys/anotherdir", None);
    d.curl("GET", "/v2/keys/anotherdir/_hidden", None).expect_etcd("secret");
    d.curl("GET", "/v2/keys/?recursive=true&sorted=true", None);
    d.curl("HEAD", "/v2/keys/anotherdir", None);
    d.curl("PUT", "/v2/keys/foo", Some("value=bar"));
    d.curl("PUT", "/v2/keys/foo?prevValue=bar&value=changed", None).expect_etcd("compareAndSwap");
    d.curl("PUT", "/v2/keys/foo?prevValue=bar&value=changed", None).expect_etcd("412 Precondition Failed");
    d.curl("PUT", "/v2/keys/foo?prevIndex=1&value=x", None).expect_etcd(r#""errorCode":101"#);
    d.curl("PUT", "/v2/keys/foo?prevExist=false", Some("value=x")).expect_etcd(r#""errorCode":105"#);
    d.curl("PUT", "/v2/keys/newkey?prevExist=true", Some("value=x")).expect_etcd(r#""errorCode":100"#);
    d.curl("DELETE", "/v2/keys/foo?prevValue=bar", None).expect_etcd(r#""errorCode":101"#);
    d.curl("DELETE", "/v2/keys/foo?prevValue=changed", None).expect_etcd("compareAndDelete");
    d.curl("DELETE", "/v2/keys/anotherdir", None).expect_etcd(r#""errorCode":102"#);
    d.curl("DELETE", "/v2/keys/anotherdir?dir=true", None).expect_etcd(r#""errorCode":108"#);
    d.curl("DELETE", "/v2/keys/anotherdir?recursive=true", None);
    d.curl("POST", "/v2/keys/queue", Some("value=job1")).expect_etcd(r#""action":"create""#);
    d.curl("GET", "/v2/keys/queue?recursive=true&sorted=true", None);
    d.curl("PUT", "/v2/keys/x?ttl=abc", Some("value=1")).expect_etcd(r#""errorCode":202"#);
    d.curl("PUT", "/v2/keys/x?prevIndex=abc", Some("value=1")).expect_etcd(r#""errorCode":203"#);
    d.curl("PUT", "/v2/keys/x?recursive=maybe", Some("value=1")).expect_etcd(r#""errorCode":209"#);
    d.curl("PUT", "/v2/keys/x?wait=true", Some("value=1")).expect_etcd(r#""errorCode":209"#);
    d.curl("PUT", "/v2/keys/x?prevValue=", Some("value=1")).expect_etcd(r#""errorCode":201"#);
    d.curl("PUT", "/v2/keys/x?refresh=true", None).expect_etcd(r#""errorCode":212"#);
    d.curl("PUT", "/v2/keys/x?refresh=true&ttl=5", None).expect_etcd(r#""errorCode":100"#);
    d.curl("GET", "/v2/keys/x?a=%zz", None).expect_etcd(r#""errorCode":210"#);
    d.curl("DELETE", "/v2/keys/", None).expect_etcd(r#""errorCode":107"#);
    d.curl("PUT", "/v2/keys/", Some("value=1")).expect_etcd(r#""errorCode":107"#);
    d.curl("PATCH", "/v2/keys/x", None).expect_etcd("405");
    d.curl("GET", "/v2/keys/queue?wait=true&waitIndex=1&recursive=true", None).expect_etcd("job1");
    d.curl_stream("/v2/keys/foo?wait=true", Duration::from_secs(10), |d| {
        d.curl("PUT", "/v2/keys/foo", Some("value=watched"));
    })
    .expect_etcd("watched");
    d.curl_stream("/v2/keys/dir?wait=true&recursive=true", Duration::from_secs(10), |d| {
        d.curl("PUT", "/v2/keys/dir/a/b", Some("value=deep"));
    })
    .expect_etcd("deep");
    d.curl("GET", "/v2/members", None).expect_etcd("peerURLs");
    d.curl("GET", "/v2/members/leader", None);
    d.curl("GET", "/v2/stats/store", None).expect_etcd("getsSuccess");
    d.curl("GET", "/v2/stats/self", None).expect_etcd("StateLeader");
    d.curl("GET", "/v2/stats/leader", None).expect_etcd("followers");
    d.curl("GET", "/version", None);
    d.curl("OPTIONS", "/v2/keys/message", None);
    // The intro's `curl -i http://127.0.0.1:2380/members`: the peer port answers too.
    d.curl_peer("GET", "/members").expect_etcd("peerURLs");
    d.curl_peer("GET", "/version").expect_etcd("etcdserver");
    d.finish();
}

/// Without `--enable-v2` (etcd 3.4's default) the v2 API is not there.
#[test]
fn v2_is_off_by_default() {
    let mut d = Differ::start();
    d.curl("GET", "/v2/keys/message", None).expect_etcd("404 page not found");
    d.curl("PUT", "/v2/keys/message?value=x", None);
    d.curl("GET", "/v2/members", None);
    d.finish();
}

fn curl_get(endpoint: &str, path: &str, max_time: u64) -> String {
    let out = std::process::Command::new("curl")
        .args(["-s", "-S", "--max-time", &max_time.to_string(), &format!("http://{endpoint}{path}")])
        .output()
        .expect("run curl");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn curl_put(endpoint: &str, path: &str, form: &str) -> String {
    let out = std::process::Command::new("curl")
        .args(["-s", "-S", "--max-time", "10", "-X", "PUT", "-d", form, &format!("http://{endpoint}{path}")])
        .output()
        .expect("run curl");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// On a 3-member cluster: a recursive v2 watch on one member sees a write made through another;
/// a value set on the leader is still there after every member restarted; and a member that was
/// down while the log moved past a snapshot gets the v2 store with the snapshot.
#[test]
fn v2_across_a_cluster_and_restarts() {
    let mut cluster = Cluster::start_with(
        Kind::Cairn,
        3,
        "cairn-v2",
        &["--enable-v2", "--snapshot-count", "20", "--experimental-snapshot-catchup-entries", "10"],
    );
    let leader = cluster.wait_leader(Duration::from_secs(20)).expect("a leader");
    let watcher_at = (leader + 1) % 3;
    let writer_at = (leader + 2) % 3;
    let watch_endpoint = cluster.member(watcher_at).endpoint();
    let watch = std::thread::spawn(move || curl_get(&watch_endpoint, "/v2/keys/svc?wait=true&recursive=true", 20));
    std::thread::sleep(Duration::from_millis(1000));
    let written = curl_put(&cluster.member(writer_at).endpoint(), "/v2/keys/svc/web1", "value=10.0.0.1");
    assert!(written.contains(r#""action":"set""#), "write through member {writer_at}: {written}");
    let seen = watch.join().expect("the watch thread");
    assert!(
        seen.contains(r#""action":"set""#) && seen.contains(r#""key":"/svc/web1","value":"10.0.0.1""#),
        "the watch on member {watcher_at} saw: {seen:?}"
    );

    let leader_endpoint = cluster.member(leader).endpoint();
    let set = curl_put(&leader_endpoint, "/v2/keys/durable", "value=kept");
    assert!(set.contains(r#""value":"kept""#), "set on the leader: {set}");
    for i in 0..3 {
        cluster.member(i).stop();
    }
    for i in 0..3 {
        cluster.member(i).restart_no_wait();
    }
    cluster.wait_leader(Duration::from_secs(30)).expect("a leader after the restart");
    let deadline = Instant::now() + Duration::from_secs(20);
    for i in 0..3 {
        let endpoint = cluster.member(i).endpoint();
        loop {
            let got = curl_get(&endpoint, "/v2/keys/durable?quorum=true", 5);
            if got.contains(r#""value":"kept""#) {
                break;
            }
            assert!(Instant::now() < deadline, "member {i} after restart: {got:?}");
            std::thread::sleep(Duration::from_millis(200));
        }
        let watched = curl_get(&endpoint, "/v2/keys/svc/web1", 5);
        assert!(watched.contains("10.0.0.1"), "member {i} kept /svc/web1: {watched:?}");
    }

    let leader = cluster.wait_leader(Duration::from_secs(20)).expect("a leader");
    let behind = (leader + 1) % 3;
    cluster.member(behind).stop();
    let leader_endpoint = cluster.member(leader).endpoint();
    for i in 0..120 {
        let set = curl_put(&leader_endpoint, &format!("/v2/keys/bulk/k{i}"), &format!("value=v{i}"));
        assert!(set.contains(&format!(r#""value":"v{i}""#)), "bulk set {i}: {set}");
    }
    cluster.member(behind).restart();
    let endpoint = cluster.member(behind).endpoint();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        // A local (not quorum) read: what this member has applied.
        let got = curl_get(&endpoint, "/v2/keys/bulk/k119", 5);
        if got.contains(r#""value":"v119""#) {
            break;
        }
        assert!(Instant::now() < deadline, "the restarted member has no /bulk/k119: {got:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
    let listed = curl_get(&endpoint, "/v2/keys/bulk", 5);
    assert_eq!(listed.matches(r#""key":"/bulk/k"#).count(), 120, "all 120 keys on the caught-up member");
    let log = cluster.member(behind).log_tail(400);
    assert!(log.contains("received a snapshot"), "the member caught up by snapshot; log:\n{log}");
}
