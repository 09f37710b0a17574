//! cairnctl's `watch` prints what etcdctl 3.4 prints, byte for byte after ids and ports are
//! normalized, against cairn and against a real etcd: keys, ranges, prefixes, history (`--rev`),
//! `--prev-kv`, every output format, commands run per event (`-- cmd`), the `ETCDCTL_WATCH_*`
//! variables, interactive mode (`-i`) and the server's cancellations.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cairn_tests::{Differ, Kind, cairnctl_bin, etcdctl_bin};

/// Watches of a key, a prefix, a range, from history, with --prev-kv, in every format, live, and
/// from a compacted revision (what tests/tests/watch_diff.rs drives against the servers).
fn watch(kind: Kind) {
    let mut d = Differ::tools(kind);
    d.run(&["put", "a", "1"]);
    d.run(&["put", "foo/1", "x"]);
    d.run(&["put", "a", "2"]);
    d.run(&["del", "a"]);
    d.run(&["put", "foo/2", "y"]);
    d.run(&["put", "foo/1", "xx"]);

    let w = d.spawn_watch(&["watch", "a", "--rev", "1"]);
    d.collect_watch(w).expect_etcd("DELETE");
    let w = d.spawn_watch(&["watch", "foo", "--prefix", "--rev", "1", "--prev-kv"]);
    d.collect_watch(w);
    let w = d.spawn_watch(&["watch", "a", "foo/2", "--rev", "2", "-w", "json"]);
    d.collect_watch(w);
    let w = d.spawn_watch(&["watch", "a", "foo/2", "--rev", "2", "-w", "fields"]);
    d.collect_watch(w);
    let w = d.spawn_watch(&["watch", "foo", "--prefix", "--rev", "2", "--prev-kv", "-w", "fields"]);
    d.collect_watch(w);
    let w = d.spawn_watch(&["watch", "a", "foo/2", "--rev", "2", "-w", "protobuf"]);
    d.collect_watch(w);
    let w = d.spawn_watch(&["watch", "", "--prefix", "--rev", "1", "--hex"]);
    d.collect_watch(w);
    let w = d.spawn_watch(&["watch", "a", "--rev", "1", "-w", "table"]);
    d.collect_watch(w).expect_etcd("table not supported as output format");

    // From the next revision (the future when created), then puts follow.
    let w = d.spawn_watch(&["watch", "foo", "--prefix", "--rev", "8", "--prev-kv"]);
    let w2 = d.spawn_live_watch(&["watch", "b", "--rev", "8", "-w", "json"]);
    d.run(&["put", "foo/3", "z"]);
    d.run(&["put", "b", "1"]);
    d.run(&["del", "foo", "--prefix"]);
    d.run(&["put", "b", "2"]);
    d.collect_watch(w);
    d.collect_watch(w2);

    // Live (no --rev).
    let w = d.spawn_live_watch(&["watch", "live", "--prev-kv"]);
    let w2 = d.spawn_live_watch(&["watch", "live", "-w", "json"]);
    d.run(&["put", "live", "1"]);
    d.run(&["put", "live", "2"]);
    d.run(&["del", "live"]);
    d.collect_watch(w);
    d.collect_watch(w2);

    // From a compacted revision: the server cancels the watch; etcdctl exits by itself.
    d.run(&["compaction", "5"]);
    let w = d.spawn_watch(&["watch", "a", "--rev", "2"]);
    d.collect_watch(w).expect_etcd("required revision has been compacted");
    let w = d.spawn_watch(&["watch", "a", "--rev", "2", "-w", "json"]);
    d.collect_watch(w);
    let w = d.spawn_watch(&["watch", "a", "--rev", "2", "-w", "fields"]);
    d.collect_watch(w);
    // An empty range: the server refuses to create the watch.
    let w = d.spawn_watch(&["watch", "z", "a", "--rev", "6", "-w", "json"]);
    d.collect_watch(w).expect_etcd("watcher range is empty");
    d.finish();
}

#[test]
fn watch_against_cairn() {
    watch(Kind::Cairn);
}

#[test]
fn watch_against_etcd() {
    watch(Kind::Etcd);
}

/// Commands run per event with `ETCD_WATCH_*`, a failing command ends the watch, and etcdctl's
/// argument checks.
fn watch_exec_and_arguments(kind: Kind) {
    let mut d = Differ::tools(kind);
    d.run(&["put", "foo/1", "x"]);
    d.run(&["put", "foo/2", "y y"]);
    d.run(&["del", "foo/1"]);
    let w = d.spawn_watch(&[
        "watch",
        "foo",
        "--prefix",
        "--rev",
        "1",
        "--",
        "sh",
        "-c",
        "echo rev=$ETCD_WATCH_REVISION type=$ETCD_WATCH_EVENT_TYPE key=$ETCD_WATCH_KEY value=$ETCD_WATCH_VALUE",
    ]);
    d.collect_watch(w).expect_etcd("type=\"DELETE\"");
    // Flags and arguments interleaved before the separator.
    let w = d.spawn_watch(&["watch", "--rev", "1", "foo/", "--prefix", "--", "echo", "event"]);
    d.collect_watch(w).expect_etcd("event");
    let w = d.spawn_watch(&["watch", "foo/1", "foo/3", "--rev", "2", "--", "echo", "ranged"]);
    d.collect_watch(w);
    let w = d.spawn_watch(&["watch", "foo", "--prefix", "--rev", "1", "--", "false"]);
    d.collect_watch(w).expect_etcd("command [\"false\"] error (exit status 1)");
    let w = d.spawn_watch(&["watch", "foo", "--prefix", "--rev", "1", "--", "sh", "-c", "exit 7"]);
    d.collect_watch(w).expect_etcd("exit status 7");
    let w = d.spawn_watch(&["watch", "foo", "--prefix", "--rev", "1", "--", "no-such-command-here", "x"]);
    d.collect_watch(w).expect_etcd("executable file not found");
    d.run(&["watch"]).expect_etcd("bad number of arguments");
    d.run(&["watch", "--rev", "1"]).expect_etcd("bad number of arguments");
    d.run(&["watch", "a", "b", "--prefix"]).expect_etcd("mutually exclusive");
    d.run(&["watch", "a", "--"]).expect_etcd("found separator --, but no commands");
    d.run(&["watch", "-w", "bogus", "a"]);
    d.finish();
}

#[test]
fn watch_exec_and_arguments_against_cairn() {
    watch_exec_and_arguments(Kind::Cairn);
}

#[test]
fn watch_exec_and_arguments_against_etcd() {
    watch_exec_and_arguments(Kind::Etcd);
}

/// What a run printed: exit code, stdout and stderr.
#[derive(Debug, PartialEq, Eq)]
struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs etcdctl (against the first server) and cairnctl (against the second) at once with `env`,
/// writes `input` on their stdin and keeps it open for `hold` (interactive watches end at its
/// end), then waits for both (killing what still runs after `hold` + 3 s). Watch output in the
/// simple format has no ids, so it compares as is.
fn both(d: &Differ, args: &[&str], env: &[(&str, &str)], input: &str, hold: Duration) -> [Ran; 2] {
    let sides = [(etcdctl_bin(), d.etcd().endpoint()), (cairnctl_bin(), d.cairn().endpoint())];
    let mut children: Vec<_> = sides
        .iter()
        .map(|(program, endpoint)| {
            let mut command = Command::new(program);
            for (key, _) in std::env::vars_os() {
                let name = key.to_string_lossy();
                if name.starts_with("ETCDCTL_") || name.starts_with("CAIRNCTL_") {
                    command.env_remove(&key);
                }
            }
            command.env("ETCDCTL_API", "3").arg(format!("--endpoints={endpoint}")).args(args);
            command.envs(env.iter().copied());
            command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
            let mut child = command.spawn().unwrap_or_else(|e| panic!("spawning {}: {e}", program.display()));
            let mut stdin = child.stdin.take().expect("piped stdin");
            let _ = stdin.write_all(input.as_bytes());
            (child, Some(stdin))
        })
        .collect();
    std::thread::sleep(hold);
    for (_, stdin) in &mut children {
        stdin.take();
    }
    let deadline = Instant::now() + Duration::from_secs(3);
    let results: Vec<Ran> = children
        .into_iter()
        .map(|(mut child, _)| {
            let status = loop {
                match child.try_wait() {
                    Ok(Some(status)) => break Some(status),
                    Ok(None) if Instant::now() >= deadline => {
                        let _ = child.kill();
                        let _ = child.wait();
                        break None;
                    }
                    Ok(None) => std::thread::sleep(Duration::from_millis(10)),
                    Err(e) => panic!("waiting for a child: {e}"),
                }
            };
            let mut stdout = String::new();
            let mut stderr = String::new();
            let _ = child.stdout.take().expect("piped stdout").read_to_string(&mut stdout);
            let _ = child.stderr.take().expect("piped stderr").read_to_string(&mut stderr);
            Ran { code: status.and_then(|s| s.code()), stdout, stderr }
        })
        .collect();
    let mut results = results.into_iter();
    [results.next().expect("etcdctl's run"), results.next().expect("cairnctl's run")]
}

#[track_caller]
fn same(ran: [Ran; 2], expect: &str) {
    let [etcdctl, cairnctl] = ran;
    assert!(
        etcdctl.stdout.contains(expect) || etcdctl.stderr.contains(expect),
        "etcdctl's output lacks {expect:?}: {etcdctl:?}"
    );
    assert_eq!(etcdctl, cairnctl, "etcdctl (left) and cairnctl (right) differ");
}

/// `watch -i`: watch lines on stdin (events print while stdin is open), invalid lines, a bad
/// line's flags end the process, `progress`, and the end of stdin.
fn watch_interactive(kind: Kind) {
    let mut d = Differ::tools(kind);
    d.run(&["put", "foo/1", "x"]);
    d.run(&["put", "foo/2", "y"]);
    d.run(&["put", "bar", "z"]);
    let hold = Duration::from_millis(1500);
    same(
        both(&d, &["watch", "-i"], &[], "watch foo --prefix --rev 1\n", hold),
        "Error reading watch request line: EOF",
    );
    same(both(&d, &["watch", "-i", "--prev-kv"], &[], "watch bar --rev=1 -- echo ran\n", hold), "ran");
    same(both(&d, &["watch", "-i"], &[], "watch \"foo/1\" foo/3 --rev 2\n", hold), "foo/2");
    same(both(&d, &["watch", "-i"], &[("ETCDCTL_WATCH_KEY", "bar")], "watch --rev 1\n", hold), "bar");
    same(
        both(
            &d,
            &["watch", "-i"],
            &[("ETCDCTL_WATCH_KEY", "foo/"), ("ETCDCTL_WATCH_RANGE_END", "foo/2")],
            "watch --rev 1\n",
            hold,
        ),
        "foo/1",
    );
    same(
        both(&d, &["watch", "-i"], &[("ETCDCTL_WATCH_KEY", "bar")], "watch x --rev 1\n", hold),
        "conflicting environment key",
    );
    // Lines that start nothing: each is reported, then stdin ends.
    let invalid = "\nfoo\nwatch\nget a\nwatch a b --prefix\nwatch \"unterminated\n";
    same(both(&d, &["watch", "-i"], &[], invalid, Duration::from_millis(300)), "only support watch");
    same(both(&d, &["watch", "-i"], &[], "watch a --bogus\n", Duration::from_millis(300)), "unknown flag: --bogus");
    same(both(&d, &["watch", "-i"], &[], "watch a -- \n", Duration::from_millis(300)), "");
    same(
        both(&d, &["watch", "-i"], &[], "watch a --\n", Duration::from_millis(300)),
        "found separator --, but no commands",
    );
    same(both(&d, &["watch", "-i"], &[], "watch \"\\q\"\n", Duration::from_millis(300)), "invalid syntax");
    same(both(&d, &["watch", "-i"], &[], "watch a", Duration::from_millis(300)), "EOF");
    // A progress request: one notification per watch, with the current revision.
    same(both(&d, &["watch", "-i"], &[], "watch nothing\n", Duration::from_millis(500)), "EOF");
    let progress = both(&d, &["watch", "-i"], &[], "watch nothing\nprogress\n", hold);
    same(progress, "progress notify: 4");
    // Non-interactive: the variables name the key, a key given as well conflicts.
    same(both(&d, &["watch", "--rev", "1"], &[("ETCDCTL_WATCH_KEY", "bar")], "", hold), "bar");
    same(
        both(&d, &["watch", "--rev", "1", "foo"], &[("ETCDCTL_WATCH_KEY", "bar")], "", hold),
        "conflicting environment key",
    );
    same(
        both(&d, &["watch", "--rev", "1"], &[("ETCDCTL_WATCH_RANGE_END", "z")], "", hold),
        "ETCDCTL_WATCH_KEY is empty",
    );
    same(
        both(
            &d,
            &["watch", "--rev", "1", "--", "echo", "x"],
            &[("ETCDCTL_WATCH_KEY", "foo/"), ("ETCDCTL_WATCH_RANGE_END", "foo/9")],
            "",
            hold,
        ),
        "x",
    );
    d.finish();
}

#[test]
fn watch_interactive_against_cairn() {
    watch_interactive(Kind::Cairn);
}

#[test]
fn watch_interactive_against_etcd() {
    watch_interactive(Kind::Etcd);
}
