//! A WAL directory has one writer: a second `Wal::open`, in this process or
//! another, fails with `Error::Locked` until the first `Wal` is dropped (or its
//! process dies).
//!
//! The other process is this test binary again, running `child_holds_the_lock`
//! with `CAIRN_WAL_LOCK_CHILD` set to the directory.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use cairn_wal::{Error, LOCK_FILE, Wal};
use common::options;

const CHILD_ENV: &str = "CAIRN_WAL_LOCK_CHILD";
/// What the child prints once it holds the lock (libtest may have printed on the same line before it).
const HOLDING: &str = "wal-lock-child: holding the lock";

fn assert_locked(dir: &Path) {
    match Wal::open(dir, options(4096)) {
        Err(Error::Locked { dir: locked }) => {
            assert_eq!(locked, std::path::absolute(dir).expect("absolute"));
            let message = Error::Locked { dir: locked }.to_string();
            assert!(message.contains(&dir.display().to_string()), "{message}");
        }
        Err(e) => panic!("expected Locked, got {e}"),
        Ok(_) => panic!("a second open of {} succeeded", dir.display()),
    }
}

#[test]
fn a_second_open_in_the_same_process_fails_until_the_first_is_dropped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut wal, _) = Wal::open(dir.path(), options(4096)).expect("open");
    assert!(dir.path().join(LOCK_FILE).is_file());
    wal.save(None, &common::entries(1, 3, 1, 10)).expect("save");
    assert_locked(dir.path());
    // The failed open changed nothing: the first Wal goes on writing.
    wal.save(None, &common::entries(4, 5, 1, 10)).expect("save after a refused open");
    drop(wal);

    let (_wal, recovered) = Wal::open(dir.path(), options(4096)).expect("reopen after drop");
    assert_eq!(recovered.entries, common::entries(1, 5, 1, 10));
}

/// Starts this test binary running only `child_holds_the_lock` on `dir`, and waits
/// until it holds the lock.
fn spawn_holder(dir: &Path) -> Child {
    let exe = std::env::current_exe().expect("current exe");
    let mut child = Command::new(exe)
        .args(["--exact", "child_holds_the_lock", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn the child");
    let stdout = child.stdout.take().expect("child stdout");
    // Read in a thread, so a child that never says it holds the lock fails the test
    // instead of hanging it; it reads to the end, so the child can print its result.
    let (said, heard) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            match line {
                Ok(line) if line.trim_end().ends_with(HOLDING) => {
                    let _ = said.send(Ok(()));
                }
                Ok(_) => {}
                Err(e) => {
                    let _ = said.send(Err(e.to_string()));
                    return;
                }
            }
        }
        let _ = said.send(Err("the child closed its stdout".into()));
    });
    match heard.recv_timeout(Duration::from_secs(60)) {
        Ok(Ok(())) => {}
        other => {
            let _ = child.kill();
            panic!("the child did not take the lock: {other:?}");
        }
    }
    child
}

#[test]
fn another_process_holding_the_lock_keeps_this_one_out() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = spawn_holder(dir.path());
    assert_locked(dir.path());

    // The child lets go when its stdin closes, and exits cleanly.
    drop(child.stdin.take());
    let status = child.wait().expect("wait for the child");
    assert!(status.success(), "child: {status}");
    let (_wal, recovered) = Wal::open(dir.path(), options(4096)).expect("open after the child let go");
    assert_eq!(recovered.entries, common::entries(1, 2, 1, 10));
}

#[test]
fn a_killed_process_leaves_no_lock_behind() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = spawn_holder(dir.path());
    assert_locked(dir.path());
    child.kill().expect("kill the child");
    child.wait().expect("wait for the child");
    assert!(dir.path().join(LOCK_FILE).is_file());
    Wal::open(dir.path(), options(4096)).expect("open after the holder died");
}

#[test]
fn the_lock_is_an_flock_other_tools_see() {
    let dir = tempfile::tempdir().expect("tempdir");
    let lock = dir.path().join(LOCK_FILE);
    // util-linux `flock -n` fails (exit 1) on a held lock; skip where it is missing.
    let flock = |path: &Path| Command::new("flock").arg("-n").arg(path).arg("true").status();
    let (wal, _) = Wal::open(dir.path(), options(4096)).expect("open");
    let Ok(held) = flock(&lock) else { return };
    assert!(!held.success(), "flock -n took the lock of an open Wal");
    drop(wal);
    assert!(flock(&lock).expect("flock").success(), "the lock was not released on drop");
}

/// Run by the tests above in a child process (a no-op otherwise): opens the WAL in
/// `$CAIRN_WAL_LOCK_CHILD`, says so on stdout, and holds it until stdin closes.
#[test]
fn child_holds_the_lock() {
    let Some(dir) = std::env::var_os(CHILD_ENV) else { return };
    let (mut wal, _) = Wal::open(&dir, options(4096)).expect("child: open");
    wal.save(None, &common::entries(1, 2, 1, 10)).expect("child: save");
    println!("{HOLDING}");
    std::io::stdout().flush().expect("flush");
    let mut rest = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut rest);
}
