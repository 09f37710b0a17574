//! cairnctl's v2 mode (`ETCDCTL_API=2`) prints what etcdctl 3.4's v2 mode prints, byte for byte
//! after ids, ports, expirations and remaining TTLs are normalized: the key commands and their
//! outputs (simple, extended, json), etcd's errors, watches, members, cluster health, users and
//! roles, usage errors and help, against twin servers started with `--enable-v2`, of cairn and of
//! a real etcd.

use std::time::Duration;

use cairn_tests::{Differ, Kind, cairnctl_bin};

fn v2_tools(kind: Kind) -> Differ {
    let mut d = Differ::tools_with(kind, &["--enable-v2"]);
    d.v2()
        .mask(r#""expiration":"[^"]*""#, r#""expiration":"<TIME>""#)
        // Seconds left on a key with a TTL: both sides ask at about the same time, not the same
        // instant.
        .mask(r#""ttl":\d+"#, r#""ttl":<TTL>"#)
        .mask(r"(?m)^TTL: [1-9]\d*$", "TTL: <TTL>");
    if kind == Kind::Etcd {
        // etcd writes its own records into the v2 store (member attributes, the cluster
        // version) when it gets to them, so one twin's index may run ahead of the other's.
        d.mask(r#""(modifiedIndex|createdIndex)":\d+"#, r#""$1":<N>"#)
            .mask(r"\d{20}", "<SEQ>")
            .mask(r"(?m)^(Created-Index|Modified-Index|Index): \d+$", "$1: <N>")
            .mask(r"(?m)\) \[\d+\]$", ") [<N>]")
            .mask(r"\[(\d+) != \d+\]", "[$1 != <N>]");
    }
    d
}

/// The intro's session (as in v2_diff), then every output format of every key command, etcd's
/// error answers, and arguments etcdctl refuses.
fn key_commands(kind: Kind) {
    let mut d = v2_tools(kind);
    d.run(&["set", "/message", "hello, etcd"]).expect_etcd("hello, etcd");
    d.run(&["get", "/message"]);
    d.run(&["-o", "extended", "get", "/message"]).expect_etcd("Created-Index");
    d.run(&["-o", "json", "get", "/message"]).expect_etcd(r#""nodes":null"#);
    d.run(&["get", "/notexist"]).expect_etcd("Error:  100: Key not found (/notexist)");
    d.run(&["-o", "json", "get", "/notexist"]).expect_etcd("100: Key not found");
    d.run(&["set", "--swap-with-value", "hello, world", "/message", "goodbye, etcd"])
        .expect_etcd("101: Compare failed");
    d.run(&["set", "--swap-with-value", "hello, etcd", "/message", "goodbye, etcd"]);
    d.run(&["set", "--swap-with-index", "1", "/message", "x"]).expect_etcd("101: Compare failed");
    d.run(&["-o", "extended", "set", "/message", "<&> \"quoted\"\tvalue"]).expect_etcd("PrevNode.Value");
    d.run(&["-o", "json", "set", "/message", "<&> \"quoted\"\tvalue"]).expect_etcd(r#"\u003c\u0026\u003e"#);
    d.run(&["mk", "/foo", "bar"]);
    d.run(&["mk", "/foo", "bar"]).expect_etcd("105: Key already exists");
    d.run(&["mk", "--in-order", "/queue", "job1"]);
    d.run(&["-o", "json", "mk", "--in-order", "/queue", "job2"]).expect_etcd(r#""action":"create""#);
    d.run(&["ls", "--sort", "/queue"]);
    d.run(&["-o", "extended", "get", "/queue", "--sort"]);
    d.run(&["get", "/queue"]).expect_etcd("/queue: is a directory");
    d.run(&["update", "/message", "I'am changed"]);
    d.run(&["get", "/message"]);
    d.run(&["update", "/notexist", "I'am changed"]).expect_etcd("100: Key not found");
    d.run(&["update", "--ttl", "30", "/message", "I'am changed"]);
    d.run(&["-o", "extended", "get", "/message"]).expect_etcd("TTL:");
    d.run(&["-o", "json", "update", "/message", "no ttl"]);
    d.run(&["rm", "/foo"]).expect_etcd("PrevNode.Value: bar");
    d.run(&["get", "/foo"]);
    d.run(&["mk", "/foo", "bar"]);
    d.run(&["rm", "--with-value", "wrong", "/foo"]).expect_etcd("101: Compare failed ([wrong != bar])");
    d.run(&["rm", "--with-index", "1", "/foo"]).expect_etcd("101: Compare failed");
    d.run(&["-o", "extended", "rm", "--with-value", "bar", "/foo"]).expect_etcd("Key: /foo");
    d.run(&["mkdir", "/dir"]);
    d.run(&["mkdir", "/dir"]).expect_etcd("105");
    d.run(&["-o", "json", "mkdir", "/dir/subdir/"]).expect_etcd(r#""dir":true"#);
    d.run(&["rmdir", "/dir/subdir/"]);
    d.run(&["set", "/dir/f", "x"]);
    d.run(&["set", "/dir", "x"]).expect_etcd("102: Not a file");
    d.run(&["set", "/dir/f/g", "x"]).expect_etcd("104: Not a directory");
    d.run(&["rmdir", "/dir"]).expect_etcd("108: Directory not empty");
    d.run(&["rm", "/dir"]).expect_etcd("102: Not a file");
    d.run(&["setdir", "/sdir"]);
    d.run(&["-o", "extended", "setdir", "/sdir"]);
    d.run(&["updatedir", "--ttl", "60", "/sdir"]);
    d.run(&["-o", "json", "updatedir", "/sdir"]);
    d.run(&["updatedir", "/nodir"]).expect_etcd("100: Key not found");
    d.run(&["ls", "--sort", "-p", "/"]);
    d.run(&["ls", "--sort", "--recursive", "/"]);
    d.run(&["ls", "/message"]);
    d.run(&["-o", "json", "ls", "--sort", "/dir"]);
    d.run(&["-o", "extended", "ls", "--sort", "/dir"]);
    d.run(&["ls", "/nothing"]).expect_etcd("100: Key not found");
    d.run(&["rm", "--dir", "/sdir"]);
    d.run(&["rm", "--recursive", "/dir"]);
    d.run(&["-o", "json", "rm", "-r", "/queue"]).expect_etcd(r#""action":"delete""#);
    d.run(&["ls", "--sort", "--recursive", "/"]);
    d.run(&["get", "--quorum", "/message"]);
    d.run_stdin(&["set", "/from-stdin"], "piped value\n");
    d.run(&["get", "/from-stdin"]).expect_etcd("piped value");
    // What etcdctl refuses before sending anything, and how urfave/cli reports flags.
    d.run(&["set"]).expect_etcd("Error:  key required");
    d.run(&["set", "/k"]).expect_etcd("Error:  value required");
    d.run(&["get"]).expect_etcd("key required");
    d.run(&["mk", "/k"]).expect_etcd("value required");
    d.run(&["rm"]).expect_etcd("key required");
    d.run(&["watch"]).expect_etcd("key required");
    d.run(&["exec-watch", "/k"]).expect_etcd("key and command to exec required");
    d.run(&["set", "--ttl", "abc", "/k", "v"]).expect_etcd("invalid value \"abc\" for flag -ttl: parse error");
    d.run(&["set", "/k", "--ttl"]).expect_etcd("invalid value \"/k\" for flag -ttl");
    d.run(&["set", "--ttl"]).expect_etcd("flag needs an argument: -ttl");
    d.run(&["get", "--bogus", "/k"]).expect_etcd("flag provided but not defined: -bogus");
    d.run(&["--bogus", "get", "/k"]).expect_etcd("Incorrect Usage.");
    d.run(&["-o", "bogus", "get", "/message"]).expect_etcd("Unsupported output format: bogus");
    d.run(&["--output=simple", "--total-timeout=3s", "--timeout", "1s", "get", "/message"]);
    d.run(&["bogus"]).expect_etcd("No help topic for 'bogus'");
    d.run(&[]).expect_etcd("GLOBAL OPTIONS:");
    d.run(&["--help"]);
    d.run(&["--version"]).expect_etcd("API version: 2");
    d.run(&["help", "set"]).expect_etcd("Insert '--' for workaround");
    d.run(&["help", "bogus"]).expect_etcd("No help topic");
    for command in ["get", "ls", "rm", "mk", "watch", "exec-watch", "cluster-health", "backup"] {
        d.run(&[command, "-h"]);
    }
    d.run(&["member"]).expect_etcd("member add, remove and list subcommands");
    d.run(&["member", "--help"]);
    d.run(&["member", "help", "update"]).expect_etcd("<memberID> <peerURLs>");
    d.run(&["member", "bogus"]).expect_etcd("No help topic for 'bogus'");
    d.run(&["role", "grant", "-h"]).expect_etcd("--readwrite, --rw");
    d.run(&["user", "revoke", "--bogus"]).expect_etcd("Incorrect Usage:");
    d.run(&["--debug", "get", "/message"]).expect_etcd("cURL Command: curl -X GET");
    d.run(&["--debug", "--no-sync", "set", "/debug", "a b&c"]).expect_etcd(r#"-d "value=a+b%26c""#);
    // Set last, so that no listing above races its expiry on one twin only.
    d.run(&["set", "/tempkey", "gone with wind", "--ttl", "2"]);
    d.run(&["-o", "json", "get", "/tempkey"]).expect_etcd("expiration");
    // The 2 s TTL has run out: the key is gone on both.
    std::thread::sleep(Duration::from_millis(3500));
    d.run(&["get", "/tempkey"]).expect_etcd("100: Key not found (/tempkey)");
    d.finish();
}

#[test]
fn key_commands_against_cairn() {
    key_commands(Kind::Cairn);
}

#[test]
fn key_commands_against_etcd() {
    key_commands(Kind::Etcd);
}

/// `watch`, `watch --recursive`, `watch --forever`, `--after-index` and `exec-watch` see the same
/// changes and print them the same way.
fn watches(kind: Kind) {
    let mut d = v2_tools(kind);
    d.run(&["set", "/message", "hello"]);
    let once = d.spawn_live_watch(&["watch", "/message"]);
    d.run(&["set", "/message", "changed once"]);
    d.collect_watch(once);
    let tree = d.spawn_live_watch(&["watch", "--recursive", "/"]);
    d.run(&["set", "/dir/key", "in a dir"]);
    d.collect_watch(tree);
    let extended = d.spawn_live_watch(&["-o", "extended", "watch", "/message"]);
    d.run(&["set", "/message", "extended"]);
    d.collect_watch(extended);
    let forever = d.spawn_live_watch(&["-o", "json", "watch", "--forever", "/message"]);
    d.run(&["set", "/message", "first"]);
    d.run(&["set", "/message", "second"]);
    d.run(&["rm", "/message"]);
    d.collect_watch(forever);
    // From history: the first change after index 1.
    let history = d.spawn_watch(&["watch", "--after-index", "1", "--recursive", "/"]);
    d.collect_watch(history);
    let exec = d.spawn_live_watch(&[
        "exec-watch",
        "--recursive",
        "/",
        "--",
        "sh",
        "-c",
        "echo change detected: $ETCD_WATCH_ACTION $ETCD_WATCH_KEY=$ETCD_WATCH_VALUE",
    ]);
    d.run(&["set", "/other", "x"]);
    d.run(&["mkdir", "/newdir"]);
    d.collect_watch(exec);
    d.finish();
}

#[test]
fn watches_against_cairn() {
    watches(Kind::Cairn);
}

#[test]
fn watches_against_etcd() {
    watches(Kind::Etcd);
}

/// Members, cluster health, users, roles and auth (whatever the server answers, both tools
/// must read it the same way), and endpoints where nothing listens.
fn cluster_commands(kind: Kind) {
    let mut d = v2_tools(kind);
    d.run(&["cluster-health"]).expect_etcd("cluster is healthy");
    d.run(&["member", "list"]).expect_etcd("isLeader=true");
    d.run(&["-o", "json", "member", "list"]);
    d.run(&["member", "list", "extra"]).expect_etcd("No arguments accepted");
    d.run(&["member", "add"]).expect_etcd("Provide a name and a single member peerURL");
    d.run(&["member", "add", "n2", "not-a-url"]);
    d.run(&["member", "remove"]).expect_etcd("Provide a single member ID");
    d.run(&["member", "remove", "abc"]).expect_etcd("Couldn't find a member in the cluster with an ID of abc.");
    d.run(&["member", "remove", "n1"]).expect_etcd("Found a member named n1");
    d.run(&["member", "update", "abc"]).expect_etcd("Provide an ID and a list of comma separated peerURL");
    d.run(&["member", "update", "abc", "http://127.0.0.1:2390"]);
    d.run(&["user", "list"]);
    d.run(&["user", "add", "alice:secret"]);
    d.run(&["user", "add", "alice:secret"]);
    d.run(&["user", "get", "alice"]);
    d.run(&["user", "get", "nobody"]);
    d.run(&["user", "get"]).expect_etcd("Please provide a username");
    d.run(&["user", "grant", "alice"]).expect_etcd("No roles specified; please use `--roles`");
    d.run(&["role", "list"]);
    d.run(&["role", "add", "reader"]);
    d.run(&["role", "add", "reader"]);
    d.run(&["role", "get", "reader"]);
    d.run(&["role", "grant", "reader"]).expect_etcd("No path specified; please use `--path`");
    d.run(&["role", "grant", "reader", "--path", "/a/../b"]).expect_etcd("Not canonical path; please use `--path=/b`");
    d.run(&["role", "grant", "reader", "--path", "/b"]).expect_etcd("Please specify exactly one of");
    d.run(&["role", "grant", "reader", "--path", "/b/*", "--read"]);
    d.run(&["role", "grant", "reader", "--path", "/b/*", "--read"]);
    d.run(&["role", "get", "reader"]);
    d.run(&["role", "revoke", "reader", "--path", "/b/*", "--rw"]);
    d.run(&["user", "grant", "--roles", "reader", "alice"]);
    d.run(&["user", "get", "alice"]);
    d.run(&["user", "revoke", "--roles", "reader", "alice"]);
    d.run(&["user", "remove", "alice"]);
    d.run(&["role", "remove", "reader"]);
    d.run(&["role", "remove", "reader"]);
    d.run(&["auth", "disable"]);
    d.run(&["auth", "enable", "now"]).expect_etcd("No arguments accepted");
    d.run(&["user", "list"]);
    d.run(&["role", "list"]);
    // Where nothing listens: the sync fails as a connection error (exit 2); without the sync the
    // request fails as a server error (exit 4); a one-shot create reports its own error.
    let dead = "--endpoints=http://127.0.0.1:1";
    d.run(&[dead, "get", "/k"]).expect_etcd("error #0: dial tcp 127.0.0.1:1: connect: connection refused");
    d.run(&[dead, "--no-sync", "get", "/k"]).expect_etcd("etcd cluster is unavailable or misconfigured");
    d.run(&[dead, "--no-sync", "mk", "/k", "v"]);
    d.run(&[dead, "--no-sync", "rm", "/k"]);
    d.run(&[dead, "member", "list"]);
    d.run(&[dead, "cluster-health"]).expect_etcd("cluster may be unhealthy: failed to list members");
    d.run(&["--endpoints=127.0.0.1:1", "get", "/k"]).expect_etcd("first path segment in URL cannot contain colon");
    d.run(&["--endpoints=localhost:1", "--no-sync", "get", "/k"]).expect_etcd("unsupported protocol scheme");
    d.run(&["--endpoints=$ENDPOINT", "--no-sync", "get", "/k"]);
    d.run(&["--total-timeout=0s", "get", "/k"]).expect_etcd("context deadline exceeded");
    d.finish();
}

#[test]
fn cluster_commands_against_cairn() {
    cluster_commands(Kind::Cairn);
}

#[test]
fn cluster_commands_against_etcd() {
    cluster_commands(Kind::Etcd);
}

/// `backup` rewrites an etcd data directory's WAL and snapshot files, which cairn does not have:
/// cairnctl refuses it with a message saying so (etcdctl's own checks would not apply).
#[test]
fn backup_is_refused() {
    let out = std::process::Command::new(cairnctl_bin())
        .args(["v2", "backup", "--data-dir", "missing", "--backup-dir", "out"])
        .output()
        .expect("run cairnctl");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("Error: backup is not supported by cairnctl"), "stderr: {stderr}");
}
