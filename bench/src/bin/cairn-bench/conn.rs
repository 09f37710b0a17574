//! gRPC connections as etcd's benchmark makes them: `--conns` connections
//! spread round-robin over `--endpoints` (or over the leader's client URLs with
//! `--target-leader`), shared by `--clients` clients, each call carrying the
//! auth token of `--user` when one is given.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use cairn_proto::etcdserverpb::auth_client::AuthClient;
use cairn_proto::etcdserverpb::cluster_client::ClusterClient;
use cairn_proto::etcdserverpb::kv_client::KvClient;
use cairn_proto::etcdserverpb::lease_client::LeaseClient;
use cairn_proto::etcdserverpb::maintenance_client::MaintenanceClient;
use cairn_proto::etcdserverpb::watch_client::WatchClient;
use cairn_proto::etcdserverpb::{AuthenticateRequest, MemberListRequest, StatusRequest};
use cairn_proto::v3lockpb::lock_client::LockClient;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};

/// Adds the auth token, if any, to every call.
#[derive(Clone, Debug, Default)]
pub struct Token(Option<MetadataValue<Ascii>>);

impl Interceptor for Token {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(token) = &self.0 {
            request.metadata_mut().insert("token", token.clone());
        }
        Ok(request)
    }
}

/// The service stack every client uses.
pub type Svc = InterceptedService<Channel, Token>;

/// One gRPC connection and the token its calls carry.
#[derive(Clone, Debug)]
pub struct Conn {
    channel: Channel,
    token: Token,
    /// The URL it is connected to.
    pub url: String,
}

impl Conn {
    /// A KV client on this connection.
    pub fn kv(&self) -> KvClient<Svc> {
        KvClient::with_interceptor(self.channel.clone(), self.token.clone()).max_decoding_message_size(usize::MAX)
    }

    /// A Watch client on this connection.
    pub fn watch(&self) -> WatchClient<Svc> {
        WatchClient::with_interceptor(self.channel.clone(), self.token.clone()).max_decoding_message_size(usize::MAX)
    }

    /// A Lease client on this connection.
    pub fn lease(&self) -> LeaseClient<Svc> {
        LeaseClient::with_interceptor(self.channel.clone(), self.token.clone())
    }

    /// A Maintenance client on this connection.
    pub fn maintenance(&self) -> MaintenanceClient<Svc> {
        MaintenanceClient::with_interceptor(self.channel.clone(), self.token.clone())
    }

    /// A Lock client on this connection.
    pub fn lock(&self) -> LockClient<Svc> {
        LockClient::with_interceptor(self.channel.clone(), self.token.clone())
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
}

fn url_of(endpoint: &str) -> Result<String> {
    if endpoint.starts_with("https://") || endpoint.starts_with("unixs://") {
        bail!("{endpoint}: TLS endpoints are not supported by cairn-bench yet");
    }
    Ok(if endpoint.contains("://") { endpoint.to_string() } else { format!("http://{endpoint}") })
}

impl Dial {
    async fn open(&self, endpoint: &str) -> Result<Conn> {
        let url = url_of(endpoint)?;
        let channel = Endpoint::from_shared(url.clone())?
            .connect_timeout(self.timeout)
            .tcp_nodelay(true)
            .connect()
            .await
            .with_context(|| format!("dial error: cannot connect to {url}"))?;
        let mut token = Token::default();
        if let Some(user) = &self.user {
            let Some((name, password)) = user.split_once(':') else {
                bail!("--user: give it as name:password");
            };
            let request = AuthenticateRequest { name: name.to_string(), password: password.to_string() };
            let response = AuthClient::new(channel.clone())
                .authenticate(request)
                .await
                .with_context(|| format!("cannot authenticate {name:?} at {url}"))?;
            token = Token(Some(response.into_inner().token.parse().context("the server's token is not ASCII")?));
        }
        Ok(Conn { channel, token, url })
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
        let members = ClusterClient::with_interceptor(conn.channel.clone(), conn.token.clone())
            .member_list(MemberListRequest::default())
            .await?
            .into_inner()
            .members;
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
