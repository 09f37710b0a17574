//! One server process (etcd or cairn) started with etcd's flags.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::binaries::Kind;
use crate::etcdctl::Etcdctl;
use crate::ports::free_ports;

/// How long a server may take to become healthy.
pub(crate) const HEALTH_TIMEOUT: Duration = Duration::from_secs(20);
/// How long `stop()` waits after SIGTERM before SIGKILL.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// How many times a start is retried when a picked port was taken meanwhile.
pub(crate) const START_ATTEMPTS: usize = 5;

/// Why a start failed.
#[derive(Debug)]
pub(crate) enum StartError {
    /// A port was taken between picking and binding: retry with new ports.
    BindConflict(String),
    /// Anything else: report it.
    Failed(String),
}

/// What a starting member must answer before it counts as started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ready {
    /// `etcdctl endpoint health` (a linearizable read: a voter with a quorum).
    Health,
    /// `etcdctl endpoint status` (what a learner answers: it serves no linearizable read).
    Status,
}

impl Ready {
    fn command(self) -> &'static [&'static str] {
        match self {
            Ready::Health => &["endpoint", "health"],
            Ready::Status => &["endpoint", "status"],
        }
    }

    fn label(self) -> &'static str {
        match self {
            Ready::Health => "healthy",
            Ready::Status => "answering `endpoint status`",
        }
    }
}

/// What one member is started with.
#[derive(Clone, Debug)]
pub(crate) struct MemberSpec {
    pub(crate) name: String,
    pub(crate) client_port: u16,
    pub(crate) peer_port: u16,
}

impl MemberSpec {
    pub(crate) fn peer_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.peer_port)
    }
}

/// A running (or stopped) server process with its own temporary data directory.
///
/// The process is killed (SIGKILL by pid) and reaped on drop, also when a test panics.
#[derive(Debug)]
pub struct Server {
    kind: Kind,
    spec: MemberSpec,
    program: PathBuf,
    args: Vec<String>,
    dir: TempDir,
    child: Option<Child>,
}

impl Server {
    /// Starts a single-member server named `n1` and waits until it is healthy.
    pub fn start(kind: Kind) -> Server {
        Server::start_with(kind, "n1", "cairn-test", &[])
    }

    /// Starts a single-member server with this name, cluster token and extra flags, and waits
    /// until it is healthy. Retries on a port bind conflict; panics with the server's log tail
    /// otherwise.
    pub fn start_with(kind: Kind, name: &str, token: &str, extra: &[&str]) -> Server {
        let mut last = String::new();
        for _ in 0..START_ATTEMPTS {
            let ports = free_ports(2);
            let spec = MemberSpec { name: name.to_owned(), client_port: ports[0], peer_port: ports[1] };
            let initial_cluster = format!("{}={}", spec.name, spec.peer_url());
            let mut server = Server::spawn(kind, spec, &initial_cluster, token, extra);
            match server.wait_healthy(Instant::now() + HEALTH_TIMEOUT) {
                Ok(()) => return server,
                Err(StartError::BindConflict(msg)) => last = msg,
                Err(StartError::Failed(msg)) => panic!("{msg}"),
            }
        }
        panic!("{} did not start after {START_ATTEMPTS} attempts (port conflicts); last: {last}", kind.label())
    }

    /// Spawns the process without waiting for it to be healthy.
    pub(crate) fn spawn(kind: Kind, spec: MemberSpec, initial_cluster: &str, token: &str, extra: &[&str]) -> Server {
        let program = kind.program();
        let dir = tempfile::Builder::new().prefix("cairn-tests-").tempdir().expect("create a temp dir for a server");
        let data_dir = dir.path().join("data");
        let client_url = format!("http://127.0.0.1:{}", spec.client_port);
        let peer_url = spec.peer_url();
        let mut args: Vec<String> = [
            "--name",
            &spec.name,
            "--data-dir",
            &data_dir.to_string_lossy(),
            "--listen-client-urls",
            &client_url,
            "--advertise-client-urls",
            &client_url,
            "--listen-peer-urls",
            &peer_url,
            "--initial-advertise-peer-urls",
            &peer_url,
            "--initial-cluster",
            initial_cluster,
            "--initial-cluster-token",
            token,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.extend(extra.iter().map(|s| s.to_string()));
        let mut server = Server { kind, spec, program, args, dir, child: None };
        server.spawn_process();
        server
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("server.log")
    }

    fn spawn_process(&mut self) {
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .expect("open the server log file in its temp dir");
        let log_err = log.try_clone().expect("clone the server log file handle");
        let mut cmd = Command::new(&self.program);
        for (key, _) in std::env::vars_os() {
            let key_str = key.to_string_lossy();
            if key_str.starts_with("ETCD") || key_str.starts_with("CAIRN") {
                cmd.env_remove(&key);
            }
        }
        cmd.args(&self.args).stdin(Stdio::null()).stdout(log).stderr(log_err);
        let child = cmd.spawn().unwrap_or_else(|e| panic!("spawning {} {:?}: {e}", self.program.display(), self.args));
        self.child = Some(child);
    }

    /// Waits until `etcdctl endpoint health` succeeds against this member, or the deadline.
    pub(crate) fn wait_healthy(&mut self, deadline: Instant) -> Result<(), StartError> {
        self.wait_ready(deadline, Ready::Health)
    }

    /// Waits until the etcdctl command of `ready` succeeds against this member, or the deadline.
    pub(crate) fn wait_ready(&mut self, deadline: Instant, ready: Ready) -> Result<(), StartError> {
        let endpoint = self.endpoint();
        let check = ready.command();
        loop {
            let exited = match self.child.as_mut() {
                Some(child) => child.try_wait().expect("poll the server process"),
                None => return Err(StartError::Failed(format!("{} is not running", self.describe()))),
            };
            if let Some(status) = exited {
                self.child = None;
                let tail = self.log_tail(40);
                let msg = format!(
                    "{} exited before becoming healthy ({status}); command: {} {}\n--- log tail ---\n{tail}",
                    self.describe(),
                    self.program.display(),
                    self.args.join(" ")
                );
                return Err(if tail.to_lowercase().contains("address already in use") {
                    StartError::BindConflict(msg)
                } else {
                    StartError::Failed(msg)
                });
            }
            let mut args = vec!["--dial-timeout=1s", "--command-timeout=2s"];
            args.extend_from_slice(check);
            let out = Etcdctl::new(&endpoint).timeout(Duration::from_secs(5)).run(&args);
            if out.success() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(StartError::Failed(format!(
                    "{} was not {} within {HEALTH_TIMEOUT:?}; last `etcdctl {}`: {}{}\n--- log tail ---\n{}",
                    self.describe(),
                    ready.label(),
                    check.join(" "),
                    out.stdout,
                    out.stderr,
                    self.log_tail(40)
                )));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn describe(&self) -> String {
        format!(
            "{} member {} (client :{}, peer :{})",
            self.kind.label(),
            self.spec.name,
            self.spec.client_port,
            self.spec.peer_port
        )
    }

    /// The last `lines` lines of the server's stdout+stderr log.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// Which program this member runs.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The member name (`--name`).
    pub fn name(&self) -> &str {
        &self.spec.name
    }

    /// `127.0.0.1:<client port>`, as etcdctl's `--endpoints` takes it.
    pub fn endpoint(&self) -> String {
        format!("127.0.0.1:{}", self.spec.client_port)
    }

    /// The client port.
    pub fn client_port(&self) -> u16 {
        self.spec.client_port
    }

    /// The peer port.
    pub fn peer_port(&self) -> u16 {
        self.spec.peer_port
    }

    /// The data directory (`--data-dir`).
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The member's temporary directory (holds the data dir and the log).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The process id, when running.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// True while the process has not exited.
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// SIGKILLs the process (by its pid) and reaps it. The data dir is kept for [`restart`](Self::restart).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERMs the process and waits up to 10 s for it to exit, then SIGKILLs it.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else { return };
        if matches!(child.try_wait(), Ok(None)) {
            let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
            let deadline = Instant::now() + STOP_TIMEOUT;
            while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Starts the member again with the same flags and data dir and waits until it is healthy
    /// (which, in a cluster, needs a quorum). Stops it first if it is still running.
    pub fn restart(&mut self) {
        self.restart_no_wait();
        if let Err(StartError::BindConflict(msg) | StartError::Failed(msg)) =
            self.wait_healthy(Instant::now() + HEALTH_TIMEOUT)
        {
            panic!("restart failed: {msg}");
        }
    }

    /// Starts the member again with the same flags and data dir without waiting.
    pub fn restart_no_wait(&mut self) {
        self.stop();
        self.spawn_process();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}
