//! Running the real etcdctl (API v3) with a bounded lifetime.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::binaries::etcdctl_bin;

/// How long one etcdctl run may take before it is killed.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// What an etcdctl run printed, and how it ended.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Output {
    /// The exit code; `None` when killed by a signal (a timeout, or a background run ended by us).
    pub status: Option<i32>,
    /// Standard output, lossily decoded as UTF-8.
    pub stdout: String,
    /// Standard error, lossily decoded as UTF-8.
    pub stderr: String,
    /// True when the run overran its timeout and was killed.
    pub timed_out: bool,
}

impl Output {
    /// True when etcdctl exited with status 0.
    pub fn success(&self) -> bool {
        self.status == Some(0)
    }
}

/// Runs `etcdctl --endpoints <endpoints> <args>` with `ETCDCTL_API=3`, optional stdin, and a 30 s
/// bound (killed on overrun).
pub fn etcdctl(endpoints: &str, args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut ctl = Etcdctl::new(endpoints);
    if let Some(input) = stdin {
        ctl = ctl.stdin(input);
    }
    ctl.run(args)
}

/// A configured etcdctl invocation: endpoints, working directory, stdin, timeout.
#[derive(Clone, Debug)]
pub struct Etcdctl {
    endpoints: String,
    cwd: Option<PathBuf>,
    stdin: Option<Vec<u8>>,
    timeout: Duration,
    v2: bool,
    program: Option<PathBuf>,
}

impl Etcdctl {
    /// An invocation against `endpoints` (comma-separated `host:port`).
    pub fn new(endpoints: &str) -> Self {
        Etcdctl {
            endpoints: endpoints.to_owned(),
            cwd: None,
            stdin: None,
            timeout: DEFAULT_TIMEOUT,
            v2: false,
            program: None,
        }
    }

    /// Runs etcdctl in `dir` (so relative paths, e.g. of `snapshot save`, land there).
    pub fn cwd(mut self, dir: &Path) -> Self {
        self.cwd = Some(dir.to_owned());
        self
    }

    /// Feeds `input` on stdin (then closes it).
    pub fn stdin(mut self, input: &[u8]) -> Self {
        self.stdin = Some(input.to_vec());
        self
    }

    /// Speaks etcd's v2 API (`ETCDCTL_API=2`, endpoints as `http://host:port`).
    pub fn v2(mut self) -> Self {
        self.v2 = true;
        self
    }

    /// Runs `program` (e.g. cairnctl) instead of etcdctl, with the same arguments and environment.
    pub fn program(mut self, program: PathBuf) -> Self {
        self.program = Some(program);
        self
    }

    fn program_path(&self) -> PathBuf {
        self.program.clone().unwrap_or_else(etcdctl_bin)
    }

    /// Kills the run after `timeout`.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(self.program_path());
        for (key, _) in std::env::vars_os() {
            let name = key.to_string_lossy();
            if name.starts_with("ETCDCTL_") || name.starts_with("CAIRNCTL_") {
                cmd.env_remove(key);
            }
        }
        if self.v2 {
            let urls: Vec<String> = self.endpoints.split(',').map(|e| format!("http://{e}")).collect();
            cmd.env("ETCDCTL_API", "2").arg(format!("--endpoints={}", urls.join(","))).args(args);
        } else {
            cmd.env("ETCDCTL_API", "3").arg(format!("--endpoints={}", self.endpoints)).args(args);
        }
        if let Some(dir) = &self.cwd {
            cmd.current_dir(dir);
        }
        cmd.stdin(if self.stdin.is_some() { Stdio::piped() } else { Stdio::null() });
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        cmd
    }

    /// Runs etcdctl to completion (or until the timeout kills it).
    pub fn run(&self, args: &[&str]) -> Output {
        let bg = self.spawn(args);
        let deadline = Instant::now() + self.timeout;
        let mut bg = bg;
        loop {
            match bg.child.try_wait() {
                Ok(Some(_)) => return bg.finish(),
                Ok(None) if Instant::now() >= deadline => {
                    let mut out = bg.finish();
                    out.timed_out = true;
                    return out;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(5)),
                Err(e) => panic!("waiting for etcdctl {args:?}: {e}"),
            }
        }
    }

    /// Starts etcdctl in the background (e.g. `watch`); collect it with [`Background::finish`].
    pub fn spawn(&self, args: &[&str]) -> Background {
        let mut cmd = self.command(args);
        let mut child =
            cmd.spawn().unwrap_or_else(|e| panic!("spawning {} {args:?}: {e}", self.program_path().display()));
        let stdin_writer = match (child.stdin.take(), self.stdin.clone()) {
            (Some(mut pipe), Some(input)) => Some(std::thread::spawn(move || {
                // etcdctl may exit before reading everything (e.g. on a usage error): ignore EPIPE.
                let _ = pipe.write_all(&input);
            })),
            _ => None,
        };
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let readers = vec![
            pump(child.stdout.take().expect("etcdctl stdout is piped"), Arc::clone(&stdout)),
            pump(child.stderr.take().expect("etcdctl stderr is piped"), Arc::clone(&stderr)),
        ];
        Background { child, stdout, stderr, readers, stdin_writer, finished: false, status: None }
    }
}

fn pump(mut from: impl Read + Send + 'static, into: Arc<Mutex<Vec<u8>>>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => into.lock().expect("output buffer lock").extend_from_slice(&buf[..n]),
            }
        }
    })
}

/// An etcdctl process running in the background; killed by its pid on [`finish`](Self::finish) or
/// drop.
#[derive(Debug)]
pub struct Background {
    child: Child,
    stdout: Arc<Mutex<Vec<u8>>>,
    stderr: Arc<Mutex<Vec<u8>>>,
    readers: Vec<JoinHandle<()>>,
    stdin_writer: Option<JoinHandle<()>>,
    finished: bool,
    status: Option<ExitStatus>,
}

impl Background {
    /// Sends SIGTERM to the process (by its pid), as Ctrl-C or a supervisor would: etcdctl's
    /// `elect` then resigns and `lock` releases its lock.
    pub fn terminate(&self) {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
    }

    /// What it has printed on stdout so far.
    pub fn stdout_so_far(&self) -> String {
        String::from_utf8_lossy(&self.stdout.lock().expect("output buffer lock")).into_owned()
    }

    /// Waits until stdout has at least `lines` complete lines, or the process ended, or `timeout`
    /// passed. Returns true when the lines are there.
    pub fn wait_for_lines(&mut self, lines: usize, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self.stdout_so_far().matches('\n').count() >= lines {
                return true;
            }
            let exited = matches!(self.child.try_wait(), Ok(Some(_)));
            if exited || Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits until the process printed something (or exited) and then printed nothing more for
    /// `quiet`, at most `timeout` in all. Returns the number of complete stdout lines.
    pub fn wait_until_quiet(&mut self, quiet: Duration, timeout: Duration) -> usize {
        let deadline = Instant::now() + timeout;
        let mut last = self.stdout_so_far();
        let mut since = Instant::now();
        loop {
            let exited = matches!(self.child.try_wait(), Ok(Some(_)));
            let now = Instant::now();
            if exited || now >= deadline || (!last.is_empty() && now.duration_since(since) >= quiet) {
                return self.stdout_so_far().matches('\n').count();
            }
            std::thread::sleep(Duration::from_millis(10));
            let current = self.stdout_so_far();
            if current != last {
                last = current;
                since = Instant::now();
            }
        }
    }

    /// Kills the process if still running and records how it ended, without waiting for its
    /// output to close (a child it started may still hold the pipes). Stop every process of a step
    /// before [`finish`](Self::finish)ing any, so none outlives another's output drain.
    pub fn stop(&mut self) {
        if !self.finished {
            self.status = self.reap();
        }
    }

    /// Kills the process if still running and returns everything it printed.
    pub fn finish(mut self) -> Output {
        self.stop();
        let status = self.status;
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
        if let Some(writer) = self.stdin_writer.take() {
            let _ = writer.join();
        }
        Output {
            status: status.and_then(|s| s.code()),
            stdout: String::from_utf8_lossy(&self.stdout.lock().expect("output buffer lock")).into_owned(),
            stderr: String::from_utf8_lossy(&self.stderr.lock().expect("output buffer lock")).into_owned(),
            timed_out: false,
        }
    }

    fn reap(&mut self) -> Option<ExitStatus> {
        if self.finished {
            return None;
        }
        self.finished = true;
        if let Ok(Some(status)) = self.child.try_wait() {
            return Some(status);
        }
        // Child::kill sends SIGKILL to this child's pid only.
        let _ = self.child.kill();
        self.child.wait().ok()
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        self.reap();
    }
}
