//! Members started on a data directory made beforehand (by `snapshot restore`), not on a fresh
//! one: the `cairn` binary with etcd's flags, on ports the caller picked (the peer URLs the
//! restore recorded), killed by pid on drop.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::binaries::Kind;
use crate::etcdctl::Etcdctl;

/// One member of a restored cluster: its name and ports.
#[derive(Clone, Debug)]
pub struct RestoredSpec {
    /// `--name`.
    pub name: String,
    /// The client port.
    pub client_port: u16,
    /// The peer port (`http://127.0.0.1:<port>` is its peer URL).
    pub peer_port: u16,
}

impl RestoredSpec {
    /// `http://127.0.0.1:<peer port>`.
    pub fn peer_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.peer_port)
    }

    /// `127.0.0.1:<client port>`.
    pub fn endpoint(&self) -> String {
        format!("127.0.0.1:{}", self.client_port)
    }
}

/// A `cairn` process on a restored data directory.
#[derive(Debug)]
pub struct RestoredMember {
    spec: RestoredSpec,
    log: PathBuf,
    child: Option<Child>,
}

impl RestoredMember {
    /// Starts `kind`'s program on `data_dir` as `spec`, in a cluster of `initial_cluster` with
    /// `token` (flags a restored member does not need, given as a new member would be). The log
    /// goes to `<data_dir>.log`. Does not wait: see [`wait_healthy`](Self::wait_healthy).
    pub fn spawn(
        kind: Kind,
        data_dir: &Path,
        spec: &RestoredSpec,
        initial_cluster: &str,
        token: &str,
    ) -> RestoredMember {
        let log = data_dir.with_extension("log");
        let out = OpenOptions::new().create(true).append(true).open(&log).expect("open a restored member's log");
        let err = out.try_clone().expect("clone the log file handle");
        let client_url = format!("http://{}", spec.endpoint());
        let mut cmd = Command::new(kind.program());
        for (key, _) in std::env::vars_os() {
            let name = key.to_string_lossy();
            if name.starts_with("ETCD") || name.starts_with("CAIRN") {
                cmd.env_remove(&key);
            }
        }
        cmd.args(["--name", &spec.name, "--data-dir", &data_dir.to_string_lossy()])
            .args(["--listen-client-urls", &client_url, "--advertise-client-urls", &client_url])
            .args(["--listen-peer-urls", &spec.peer_url(), "--initial-advertise-peer-urls", &spec.peer_url()])
            .args(["--initial-cluster", initial_cluster, "--initial-cluster-token", token])
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        let child = cmd.spawn().unwrap_or_else(|e| panic!("spawning {:?}: {e}", kind.program()));
        RestoredMember { spec: spec.clone(), log, child: Some(child) }
    }

    /// Waits (at most `timeout`) until `etcdctl endpoint health` succeeds; panics with the log's
    /// tail otherwise.
    pub fn wait_healthy(&mut self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                panic!("restored member {} exited ({status}):\n{}", self.spec.name, self.log_tail(40));
            }
            let out = Etcdctl::new(&self.spec.endpoint()).timeout(Duration::from_secs(5)).run(&[
                "--dial-timeout=1s",
                "--command-timeout=2s",
                "endpoint",
                "health",
            ]);
            if out.success() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "restored member {} not healthy within {timeout:?}: {}{}\n{}",
                self.spec.name,
                out.stdout,
                out.stderr,
                self.log_tail(40)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `127.0.0.1:<client port>`.
    pub fn endpoint(&self) -> String {
        self.spec.endpoint()
    }

    /// The last `lines` lines of its log.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

impl Drop for RestoredMember {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
