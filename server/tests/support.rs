//! Starting a `cairn` process for a test: loopback ports it picks, a temporary
//! data directory, killed by its pid on drop.

#![allow(dead_code)]

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A free loopback port (bound, read, released).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local addr").port()
}

/// One running member.
pub struct Member {
    child: Child,
    /// `127.0.0.1:<client port>`.
    pub endpoint: String,
    /// Kept alive until the member is dropped.
    pub dir: tempfile::TempDir,
}

impl Member {
    /// Starts a single-member cluster with `extra` flags, waiting until it serves.
    pub fn start(extra: &[&str]) -> Member {
        Member::start_with_env(extra, &[])
    }

    /// [`start`](Member::start) with `env` set for the process.
    pub fn start_with_env(extra: &[&str], env: &[(&str, &str)]) -> Member {
        for _ in 0..5 {
            let dir = tempfile::tempdir().expect("tempdir");
            let (client, peer) = (free_port(), free_port());
            let client_url = format!("http://127.0.0.1:{client}");
            let peer_url = format!("http://127.0.0.1:{peer}");
            let child = Command::new(env!("CARGO_BIN_EXE_cairn"))
                .args(["--name", "t1", "--data-dir"])
                .arg(dir.path().join("data"))
                .args(["--listen-client-urls", &client_url, "--advertise-client-urls", &client_url])
                .args(["--listen-peer-urls", &peer_url, "--initial-advertise-peer-urls", &peer_url])
                .args(["--initial-cluster", &format!("t1={peer_url}")])
                .args(extra)
                .envs(env.iter().copied())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn cairn");
            let mut member = Member { child, endpoint: format!("127.0.0.1:{client}"), dir };
            if member.wait_serving(Duration::from_secs(20)) {
                return member;
            }
            // A port was taken between picking and binding: try other ports.
        }
        panic!("cairn did not start serving in 5 attempts");
    }

    fn wait_serving(&mut self, limit: Duration) -> bool {
        let started = Instant::now();
        while started.elapsed() < limit {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            if std::net::TcpStream::connect(&self.endpoint).is_ok() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    /// Waits (up to `limit`) for the process to exit on its own; true if it did.
    pub fn wait_exit(&mut self, limit: Duration) -> bool {
        let started = Instant::now();
        while started.elapsed() < limit {
            if let Ok(Some(_)) = self.child.try_wait() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
