//! gRPC connections as etcd's benchmark makes them: `--conns` connections
//! spread round-robin over `--endpoints` (or over the leader's client URLs with
//! `--target-leader`), shared by `--clients` clients, each call carrying the
//! auth token of `--user` when one is given.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use cairn_client::{Client, Config, TlsConfig};
use cairn_proto::etcdserverpb::cluster_client::ClusterClient;
use cairn_proto::etcdserverpb::kv_client::KvClient;
use cairn_proto::etcdserverpb::lease_client::LeaseClient;
use cairn_proto::etcdserverpb::maintenance_client::MaintenanceClient;
use cairn_proto::etcdserverpb::watch_client::WatchClient;
use cairn_proto::etcdserverpb::{MemberListRequest, StatusRequest};
use cairn_proto::v3lockpb::lock_client::LockClient;

/// The service stack every client uses.
pub type Svc = cairn_client::Svc;

/// One gRPC connection and the token its calls carry.
#[derive(Clone, Debug)]
pub struct Conn {
    client: Client,
    /// The URL it is connected to.
    pub url: String,
}

impl Conn {
    /// A KV client on this connection.
    pub fn kv(&self) -> KvClient<Svc> {
        self.client.kv()
    }

    /// A Watch client on this connection.
    pub fn watch(&self) -> WatchClient<Svc> {
        self.client.watch()
    }

    /// A Lease client on this connection.
    pub fn lease(&self) -> LeaseClient<Svc> {
        self.client.lease()
    }

    /// A Maintenance client on this connection.
    pub fn maintenance(&self) -> MaintenanceClient<Svc> {
        self.client.maintenance()
    }

    /// A Lock client on this connection.
    pub fn lock(&self) -> LockClient<Svc> {
        self.client.lock()
    }

    fn cluster(&self) -> ClusterClient<Svc> {
        self.client.cluster()
    }
}

/// How to reach the cluster: the global flags.
#[derive(Clone, Debug)]
pub struct Dial {
    /// `--endpoints`.
    pub endpoints: Vec<String>,
    /// `--dial-timeout`.
    pub timeout: Duration,
    /// `--user` as `name:password`.
    pub user: Option<String>,
    /// `--target-leader`.
    pub target_leader: bool,
    /// `--cacert`, `--cert`, `--key`, `--insecure-skip-tls-verify`: TLS towards `https://`
    /// endpoints (and towards plain `host:port` ones when any is given).
    pub tls: Option<TlsConfig>,
}

impl Dial {
    async fn open(&self, endpoint: &str) -> Result<Conn> {
        let mut config = Config::new([endpoint]);
        config.dial_timeout = self.timeout;
        // One stream per connection carries the load; no keepalive pings on top of it.
        config.keepalive_time = Duration::ZERO;
        config.tls = self.tls.clone();
        if let Some(user) = &self.user {
            let Some((name, password)) = user.split_once(':') else {
                bail!("--user: give it as name:password");
            };
            config.user = Some((name.to_owned(), password.to_owned()));
        }
        let client =
            Client::connect(config).await.with_context(|| format!("dial error: cannot connect to {endpoint}"))?;
        Ok(Conn { client, url: endpoint.to_owned() })
    }

    /// The client URLs of the leader, as etcd's `--target-leader` finds them.
    async fn leader_endpoints(&self) -> Result<Vec<String>> {
        let mut last = None;
        for endpoint in &self.endpoints {
            match self.leader_from(endpoint).await {
                Ok(urls) => return Ok(urls),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| anyhow::anyhow!("no endpoints"))).context("failed to find a leader endpoint")
    }

    async fn leader_from(&self, endpoint: &str) -> Result<Vec<String>> {
        let conn = self.open(endpoint).await?;
        let leader = conn.maintenance().status(StatusRequest {}).await?.into_inner().leader;
        let members = conn.cluster().member_list(MemberListRequest::default()).await?.into_inner().members;
        members
            .into_iter()
            .find(|m| m.id == leader && leader != 0)
            .map(|m| m.client_ur_ls)
            .filter(|urls| !urls.is_empty())
            .context("no member is the leader")
    }

    /// `conns` connections, round-robin over the endpoints (or the leader's).
    pub async fn connect(&self, conns: usize) -> Result<Vec<Conn>> {
        let endpoints = if self.target_leader { self.leader_endpoints().await? } else { self.endpoints.clone() };
        if endpoints.is_empty() {
            bail!("--endpoints is empty");
        }
        let mut out = Vec::with_capacity(conns.max(1));
        for i in 0..conns.max(1) {
            out.push(self.open(&endpoints[i % endpoints.len()]).await?);
        }
        Ok(out)
    }

    /// One connection to each endpoint, for checks that ask every member.
    pub async fn each_endpoint(&self) -> Result<Vec<Conn>> {
        let mut out = Vec::with_capacity(self.endpoints.len());
        for endpoint in &self.endpoints {
            out.push(self.open(endpoint).await?);
        }
        Ok(out)
    }
}
