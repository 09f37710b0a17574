//! etcdctl's v2 mode (`ETCDCTL_API=2`, or `cairnctl v2 ...`): etcdctl 3.4's v2 commands over
//! etcd's v2 HTTP API (`/v2/keys`, `/v2/members`, `/v2/auth`, `/health`), with urfave/cli's
//! command line, etcdctl's outputs (`-o simple|extended|json`) and exit codes, and the Go v2
//! client's errors.
//!
//! Not here: `backup` (it rewrites an etcd data directory's WAL and bolt files, which cairn
//! does not have; it fails with a message saying so), SRV discovery (`--discovery-srv` fails
//! as a lookup with no answer would), and redirects (etcd 3.4 does not send any).

mod app;
mod auth;
mod cli;
mod client;
mod gourl;
mod http;
mod keys;
mod keys_cmd;
mod members;
mod watch;

use std::io::Write;

use cli::Flags;
use client::{Client, DEADLINE, V2Error};
use http::HttpError;

/// How a command ended, when not with success: the exit code (what to say was printed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Exit(pub i32);

/// A command's outcome.
pub type Outcome = Result<(), Exit>;

/// etcdctl v2's exit codes (`command/error.go`).
pub mod code {
    /// Bad arguments.
    pub const BAD_ARGS: i32 = 1;
    /// No connection.
    pub const BAD_CONNECTION: i32 = 2;
    /// A failed request.
    pub const SERVER_ERROR: i32 = 4;
    /// Some members are not healthy.
    pub const CLUSTER_NOT_HEALTHY: i32 = 5;
}

/// Runs a v2 command line; returns the exit code.
pub fn main(args: Vec<String>) -> i32 {
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            return 1;
        }
    };
    let code = runtime.block_on(app::run(args));
    let _ = std::io::stdout().flush();
    code
}

/// What a command runs with: the global flags.
#[derive(Debug)]
pub struct Ctl {
    /// The global flags.
    pub global: Flags,
}

impl Ctl {
    /// `--output`.
    pub fn output(&self) -> String {
        self.global.string("output")
    }

    /// etcdctl's `handleError`: `Error:  <err>` (and a cluster error's detail), exit `code`.
    pub fn fail(&self, code: i32, error: &V2Error) -> Exit {
        eprintln!("Error:  {error}");
        if let Some(detail) = error.detail() {
            eprintln!("{detail}");
        }
        Exit(code)
    }

    /// Prints `text` on stderr and exits 1, as the member, user and role commands fail.
    pub fn exit_with(&self, text: impl std::fmt::Display) -> Exit {
        eprintln!("{text}");
        Exit(1)
    }

    /// Runs `call` within `--total-timeout` (Go's `contextWithTotalTimeout`).
    pub async fn timed<T>(&self, call: impl Future<Output = Result<T, V2Error>>) -> Result<T, V2Error> {
        let total = self.global.duration("total-timeout");
        if total.is_zero() {
            return Err(deadline());
        }
        tokio::time::timeout(total, call).await.unwrap_or_else(|_| Err(deadline()))
    }

    /// The endpoints: `--endpoints`, `ETCDCTL_ENDPOINTS`, `--endpoint`, `ETCDCTL_ENDPOINT`,
    /// `--peers`, `ETCDCTL_PEERS`, else etcd's defaults; a missing scheme is `http`.
    fn endpoints(&self) -> Result<Vec<gourl::Url>, String> {
        let env = |name: &str| std::env::var(name).unwrap_or_default();
        let mut text = self.global.string("endpoints");
        for fallback in [
            env("ETCDCTL_ENDPOINTS"),
            self.global.string("endpoint"),
            env("ETCDCTL_ENDPOINT"),
            self.global.string("peers"),
            env("ETCDCTL_PEERS"),
            "http://127.0.0.1:2379,http://127.0.0.1:4001".to_owned(),
        ] {
            if !text.is_empty() {
                break;
            }
            text = fallback;
        }
        text.split(',')
            .map(|ep| {
                let mut url = gourl::Url::parse(ep)?;
                if url.scheme.is_empty() {
                    url.scheme = "http".to_owned();
                }
                Ok(url)
            })
            .collect()
    }

    /// The domain of `--discovery-srv` (or `ETCDCTL_DISCOVERY_SRV`).
    fn discovery_domain(&self) -> String {
        let flag = self.global.string("discovery-srv");
        if flag.is_empty() { std::env::var("ETCDCTL_DISCOVERY_SRV").unwrap_or_default() } else { flag }
    }

    fn flag_or_env(&self, flag: &str, env: &str) -> String {
        let value = self.global.string(flag);
        if value.is_empty() { std::env::var(env).unwrap_or_default() } else { value }
    }

    /// etcdctl's `getTransport`: TLS files from the flags or `ETCDCTL_*_FILE`, a dial timeout
    /// of 30 s or the total timeout if shorter.
    pub fn transport(&self) -> Result<http::Transport, String> {
        let files = http::TlsFiles {
            ca: self.flag_or_env("ca-file", "ETCDCTL_CA_FILE"),
            cert: self.flag_or_env("cert-file", "ETCDCTL_CERT_FILE"),
            key: self.flag_or_env("key-file", "ETCDCTL_KEY_FILE"),
        };
        let total = self.global.duration("total-timeout");
        let mut dial = std::time::Duration::from_secs(30);
        if !total.is_zero() && total < dial {
            dial = total;
        }
        http::Transport::new(&files, None, dial)
    }

    /// etcdctl's `newClient`: endpoints, transport, credentials (prompting for a password
    /// not given after a colon).
    fn new_client(&self) -> Result<Client, String> {
        let domain = self.discovery_domain();
        if !domain.is_empty() {
            let service = std::env::var("ETCDCTL_DISCOVERY_SRV_NAME").unwrap_or_default();
            let suffix = if service.is_empty() { String::new() } else { format!("-{service}") };
            return Err(format!(
                "lookup _etcd-client-ssl{suffix}._tcp.{domain}: SRV discovery is not supported by cairnctl"
            ));
        }
        let endpoints = self.endpoints()?;
        let transport = self.transport()?;
        let user = self.flag_or_env("username", "ETCDCTL_USERNAME");
        let credentials = if user.is_empty() { None } else { Some(auth::username_password("Password: ", &user)?) };
        Client::new(transport, endpoints, credentials, self.global.duration("timeout")).map_err(|e| e.to_string())
    }

    /// etcdctl's `mustNewClient`: a client synced with the cluster's members (unless
    /// `--no-sync`).
    pub async fn client(&self) -> Result<Client, Exit> {
        let mut client = self.new_client().map_err(|e| self.exit_with(e))?;
        let debug = self.global.bool("debug");
        if debug {
            client.enable_curl_debug();
        }
        if !self.global.bool("no-sync") {
            if debug {
                eprintln!("start to sync cluster using endpoints({})", client.endpoints().join(","));
            }
            let synced = self.timed(client.sync()).await;
            if let Err(e) = synced {
                if e.to_string() == "client: no endpoints available" {
                    eprintln!("etcd cluster has no published client endpoints.");
                    eprintln!(
                        "Try '--no-sync' if you want to access non-published client endpoints({}).",
                        client.endpoints().join(",")
                    );
                    return Err(self.fail(code::SERVER_ERROR, &e));
                }
                if e.is_connection() {
                    return Err(self.fail(code::BAD_CONNECTION, &e));
                }
            }
            if debug {
                eprintln!("got endpoints({}) after sync", client.endpoints().join(","));
            }
        }
        if debug {
            eprintln!("Cluster-Endpoints: {}", client.endpoints().join(", "));
        }
        Ok(client)
    }

    /// etcdctl's `mustNewClientNoSync`.
    pub fn client_no_sync(&self) -> Result<Client, Exit> {
        let mut client = self.new_client().map_err(|e| self.exit_with(e))?;
        if self.global.bool("debug") {
            eprintln!("Cluster-Endpoints: {}", client.endpoints().join(", "));
            client.enable_curl_debug();
        }
        Ok(client)
    }
}

/// What an expired `--total-timeout` fails with (a timeout: Go counts it as a connection error).
fn deadline() -> V2Error {
    V2Error::Other(HttpError { text: DEADLINE.to_owned(), connection: true })
}
