//! cairnctl's maintenance commands print what etcdctl 3.4 prints: alarms (with a real NOSPACE
//! alarm from a tiny backend quota), defrag, move-leader, version, the argument checks of `check`,
//! against cairn and etcd with `Differ::tools`. `check perf` (a minute of load) and `check
//! datascale` run cairnctl alone: their numbers cannot match another run, so only the shape of
//! their verdict lines is checked. `completion` scripts are checked by bash itself.

use cairn_tests::{Differ, Etcdctl, Kind, Server, cairnctl_bin};
use regex::Regex;

fn maintenance(kind: Kind) {
    let mut d = Differ::tools_with(kind, &["--quota-backend-bytes", "200000"]);
    d.run(&["version"]).expect_etcd("etcdctl version: 3.4.23\nAPI version: 3.4\n");
    d.run(&["put", "a", "1"]);
    for format in ["simple", "json", "protobuf", "table"] {
        d.run(&["alarm", "list", "-w", format]);
    }
    d.run(&["alarm", "list", "extra"]).expect_etcd("alarm list command accepts no arguments");
    d.run(&["alarm", "disarm", "extra"]).expect_etcd("alarm disarm command accepts no arguments");
    d.run(&["alarm", "disarm"]);
    d.run(&["alarm", "disarm", "-w", "json"]);

    d.run(&["defrag"]).expect_etcd("Finished defragmenting etcd member[127.0.0.1:");
    d.run(&["defrag", "--cluster"]).expect_etcd("Finished defragmenting etcd member[http://127.0.0.1:");
    d.run(&["defrag"]);

    d.run(&["move-leader"]).expect_etcd("move-leader command needs 1 argument");
    d.run(&["move-leader", "zz"]).expect_etcd("strconv.ParseUint: parsing \"zz\": invalid syntax");
    d.run(&["move-leader", "$MEMBER"]).expect_etcd("Leadership transferred from");
    d.run(&["move-leader", "$MEMBER", "-w", "json"]);
    d.run(&["move-leader", "$MEMBER", "-w", "fields"]).expect_etcd("fields not supported as output format");
    d.run(&["move-leader", "1234"]).expect_etcd("bad leader transferee");

    d.run(&["check", "perf", "--load=bogus"]).expect_etcd("unknown load option bogus");
    d.run(&["check", "datascale", "--load=huge"]).expect_etcd("unknown load option huge");
    d.run(&["put", "/etcdctl-check-perf/x", "y"]);
    d.run(&["check", "perf"]).expect_etcd("has keys. Delete with etcdctl del --prefix /etcdctl-check-perf/ first");
    d.run(&["put", "/p/x", "y"]);
    d.run(&["check", "datascale", "--prefix=/p/"]).expect_etcd("prefix \"/p/\" has keys");

    // Overflow the quota in one put (so both servers refuse the same one): NOSPACE is raised,
    // listed, shown in the status's errors, and disarmed.
    d.run_stdin(&["put", "big"], &"x".repeat(300_000)).expect_etcd("database space exceeded");
    d.run(&["alarm", "list"]).expect_etcd("alarm:NOSPACE");
    d.run(&["alarm", "list", "-w", "json"]);
    d.run(&["alarm", "list", "-w", "protobuf"]);
    d.run(&["endpoint", "status"]);
    d.run(&["endpoint", "status", "-w", "table"]).expect_etcd("alarm:NOSPACE");
    d.run(&["endpoint", "status", "-w", "json"]);
    d.run(&["alarm", "disarm"]).expect_etcd("alarm:NOSPACE");
    d.run(&["alarm", "list"]);

    d.finish();
}

#[test]
fn maintenance_against_cairn() {
    maintenance(Kind::Cairn);
}

#[test]
fn maintenance_against_etcd() {
    maintenance(Kind::Etcd);
}

/// cairnctl's `defrag --data-dir` says why it cannot (etcdctl would defragment an etcd bbolt file).
#[test]
fn offline_defrag_is_refused_with_the_reason() {
    let out = Etcdctl::new("127.0.0.1:1").program(cairnctl_bin()).run(&["defrag", "--data-dir", "/nonexistent"]);
    assert_eq!(out.status, Some(1), "{out:?}");
    assert!(
        out.stderr
            .starts_with("Failed to defragment etcd data[/nonexistent] (offline defragmentation is not supported"),
        "{out:?}"
    );
}

/// The completion scripts parse, and know the commands and their flags.
#[test]
fn completion_scripts() {
    let ctl = Etcdctl::new("127.0.0.1:1").program(cairnctl_bin());
    let bash = ctl.run(&["completion", "bash"]);
    assert_eq!(bash.status, Some(0), "{bash:?}");
    for word in ["complete -F _cairnctl cairnctl", "\"member add\")", "--peer-urls", "\"check perf\")", "--auto-defrag"]
    {
        assert!(bash.stdout.contains(word), "{word} in the bash script");
    }
    let dir = tempfile::tempdir().expect("a temp dir");
    let script = dir.path().join("cairnctl.bash");
    std::fs::write(&script, &bash.stdout).expect("write the script");
    let check = std::process::Command::new("bash").arg("-n").arg(&script).output().expect("run bash -n");
    assert!(check.status.success(), "bash -n: {}", String::from_utf8_lossy(&check.stderr));
    let zsh = ctl.run(&["completion", "zsh"]);
    assert!(
        zsh.stdout.starts_with("#compdef cairnctl\n") && zsh.stdout.contains("compdef _cairnctl cairnctl"),
        "{zsh:?}"
    );
    let none = ctl.run(&["completion"]);
    assert_eq!(none.status, Some(128), "{none:?}");
}

/// `check datascale --load=s` (10 000 puts) ends with etcdctl's verdict, against both servers.
fn datascale(kind: Kind) {
    let server = Server::start(kind);
    let out = Etcdctl::new(&server.endpoint()).program(cairnctl_bin()).run(&[
        "check",
        "datascale",
        "--prefix=/ds/",
        "--auto-compact",
        "--auto-defrag",
    ]);
    assert_eq!(out.status, Some(0), "{out:?}");
    let start = "Start data scale check for work load [10000 key-value pairs, 1024 bytes per key-value, 50 concurrent clients].\n";
    assert!(out.stdout.starts_with(start), "{out:?}");
    let tail = Regex::new(
        r#"\nCompacting with revision \d+\nCompacted with revision \d+\nDefragmenting "127\.0\.0\.1:\d+"\nDefragmented "127\.0\.0\.1:\d+"\nPASS: Approximate system memory used : -?\d+\.\d\d MB\.\n$"#,
    )
    .expect("a regex");
    assert!(tail.is_match(&out.stdout), "{out:?}");
    let left = Etcdctl::new(&server.endpoint()).run(&["get", "/ds/", "--prefix", "--keys-only"]);
    assert_eq!(left.stdout, "", "keys deleted: {left:?}");
}

#[test]
fn datascale_against_cairn() {
    datascale(Kind::Cairn);
}

#[test]
fn datascale_against_etcd() {
    datascale(Kind::Etcd);
}

/// `check perf --load=s` (a minute at 150 writes/s) against cairn ends with etcdctl's verdict
/// lines, all PASS.
#[test]
fn check_perf_against_cairn() {
    let server = Server::start(Kind::Cairn);
    let out = Etcdctl::new(&server.endpoint())
        .program(cairnctl_bin())
        .timeout(std::time::Duration::from_secs(85))
        .run(&["check", "perf", "--load=s", "--prefix=/perf/"]);
    let verdict = Regex::new(
        r"\nPASS: Throughput is \d+ writes/s\nPASS: Slowest request took \d+\.\d{6}s\nPASS: Stddev is \d+\.\d{6}s\nPASS\n$",
    )
    .expect("a regex");
    assert!(verdict.is_match(&out.stdout), "{out:?}");
    assert_eq!(out.status, Some(0), "{out:?}");
}
