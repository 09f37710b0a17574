//! A client of etcd's v3 API, for cairn's command-line tools (and anyone who
//! wants the generated gRPC clients with the plumbing done): endpoints given
//! as etcd's tools take them (`host:port`, `http://`, `https://`), TLS with
//! rustls (a CA, a client certificate, or no verification at all), and the
//! auth token of a user attached to every call.
//!
//! It speaks the wire protocol only, so it works against a real etcd 3.4 as
//! well as against cairn.
//!
//! ```no_run
//! # async fn demo() -> Result<(), cairn_client::Error> {
//! use cairn_client::{Client, Config};
//! use cairn_proto::etcdserverpb::PutRequest;
//!
//! let client = Client::connect(Config::new(["127.0.0.1:2379"])).await?;
//! let put = PutRequest { key: b"greeting".to_vec(), value: b"hello".to_vec(), ..Default::default() };
//! client.kv().put(put).await.map_err(cairn_client::Error::from)?;
//! # Ok(())
//! # }
//! ```

mod error;
mod tls;

use std::time::Duration;

use cairn_proto::etcdserverpb::auth_client::AuthClient;
use cairn_proto::etcdserverpb::cluster_client::ClusterClient;
use cairn_proto::etcdserverpb::kv_client::KvClient;
use cairn_proto::etcdserverpb::lease_client::LeaseClient;
use cairn_proto::etcdserverpb::maintenance_client::MaintenanceClient;
use cairn_proto::etcdserverpb::watch_client::WatchClient;
use cairn_proto::etcdserverpb::{AuthenticateRequest, MemberListRequest};
use cairn_proto::v3electionpb::election_client::ElectionClient;
use cairn_proto::v3lockpb::lock_client::LockClient;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};

pub use error::{Error, go_code_name, status_text};
pub use tls::TlsConfig;

/// The shortest keepalive ping interval used, as in Go's gRPC.
pub const MIN_KEEPALIVE_TIME: Duration = Duration::from_secs(10);

/// How to reach a cluster.
#[derive(Clone, Debug)]
pub struct Config {
    /// Endpoints: `host:port`, `http://host:port` or `https://host:port`. The first one that
    /// connects is used.
    pub endpoints: Vec<String>,
    /// How long connecting to one endpoint may take.
    pub dial_timeout: Duration,
    /// HTTP/2 keepalive ping interval (none when zero).
    pub keepalive_time: Duration,
    /// How long a keepalive ping may go unanswered.
    pub keepalive_timeout: Duration,
    /// TLS settings; `None` is plain text (an `https://` endpoint then uses TLS with the
    /// system's CA bundle).
    pub tls: Option<TlsConfig>,
    /// A user and password to authenticate as.
    pub user: Option<(String, String)>,
}

impl Config {
    /// Plain-text connections to `endpoints`, etcdctl's timeouts, no user.
    pub fn new<I, S>(endpoints: I) -> Config
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Config {
            endpoints: endpoints.into_iter().map(Into::into).collect(),
            dial_timeout: Duration::from_secs(2),
            keepalive_time: Duration::from_secs(2),
            keepalive_timeout: Duration::from_secs(6),
            tls: None,
            user: None,
        }
    }
}

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

/// The service stack of every generated client.
pub type Svc = InterceptedService<Channel, Token>;

/// A connection to one endpoint of a cluster, with the token of its user.
#[derive(Clone, Debug)]
pub struct Client {
    channel: Channel,
    token: Token,
    endpoint: String,
    config: Config,
}

impl Client {
    /// Connects to the first endpoint of `config` that answers, and authenticates its user.
    pub async fn connect(config: Config) -> Result<Client, Error> {
        if config.endpoints.is_empty() {
            return Err(Error::Config("no endpoints given".to_owned()));
        }
        let mut last = None;
        for endpoint in &config.endpoints {
            match Client::connect_one(&config, endpoint).await {
                Ok(client) => return Ok(client),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or(Error::DeadlineExceeded))
    }

    /// A client of `endpoint` alone, with this client's TLS settings and user.
    pub async fn connect_endpoint(&self, endpoint: &str) -> Result<Client, Error> {
        Client::connect_one(&self.config, endpoint).await
    }

    async fn connect_one(config: &Config, endpoint: &str) -> Result<Client, Error> {
        let url = url_of(endpoint, config.tls.is_some())?;
        let mut builder = Endpoint::from_shared(url.clone())
            .map_err(|e| Error::Config(format!("{endpoint}: {e}")))?
            .connect_timeout(config.dial_timeout)
            .tcp_nodelay(true);
        if !config.keepalive_time.is_zero() {
            // Go's gRPC never pings more often than every 10 s whatever is asked, and servers
            // (etcd's enforcement policy) drop clients that ping more often than every 5 s.
            builder = builder
                .http2_keep_alive_interval(config.keepalive_time.max(MIN_KEEPALIVE_TIME))
                .keep_alive_timeout(config.keepalive_timeout)
                .keep_alive_while_idle(true);
        }
        let connecting = async {
            if url.starts_with("https://") {
                let connector = tls::connector(config.tls.as_ref())?;
                builder.connect_with_connector(tls::service(connector)).await.map_err(|e| Error::Connect(chain(&e)))
            } else {
                builder.connect().await.map_err(|e| Error::Connect(chain(&e)))
            }
        };
        let channel =
            tokio::time::timeout(config.dial_timeout, connecting).await.map_err(|_| Error::DeadlineExceeded)??;
        let mut token = Token::default();
        if let Some((name, password)) = &config.user {
            let request = AuthenticateRequest { name: name.clone(), password: password.clone() };
            let response = AuthClient::new(channel.clone()).authenticate(request).await?;
            let value = response
                .into_inner()
                .token
                .parse()
                .map_err(|_| Error::Config("the server's token is not ASCII".into()))?;
            token = Token(Some(value));
        }
        Ok(Client { channel, token, endpoint: endpoint.to_owned(), config: config.clone() })
    }

    /// The endpoint this client is connected to, as it was given.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The configuration it was made from.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The underlying channel (for services this crate does not wrap).
    pub fn channel(&self) -> Channel {
        self.channel.clone()
    }

    /// The token interceptor of this client's user.
    pub fn token(&self) -> Token {
        self.token.clone()
    }

    /// The KV service.
    pub fn kv(&self) -> KvClient<Svc> {
        KvClient::with_interceptor(self.channel.clone(), self.token.clone()).max_decoding_message_size(usize::MAX)
    }

    /// The Watch service.
    pub fn watch(&self) -> WatchClient<Svc> {
        WatchClient::with_interceptor(self.channel.clone(), self.token.clone()).max_decoding_message_size(usize::MAX)
    }

    /// The Lease service.
    pub fn lease(&self) -> LeaseClient<Svc> {
        LeaseClient::with_interceptor(self.channel.clone(), self.token.clone())
    }

    /// The Cluster service.
    pub fn cluster(&self) -> ClusterClient<Svc> {
        ClusterClient::with_interceptor(self.channel.clone(), self.token.clone())
    }

    /// The Maintenance service.
    pub fn maintenance(&self) -> MaintenanceClient<Svc> {
        MaintenanceClient::with_interceptor(self.channel.clone(), self.token.clone())
            .max_decoding_message_size(usize::MAX)
    }

    /// The Auth service.
    pub fn auth(&self) -> AuthClient<Svc> {
        AuthClient::with_interceptor(self.channel.clone(), self.token.clone())
    }

    /// The Lock service (`v3lockpb`).
    pub fn lock(&self) -> LockClient<Svc> {
        LockClient::with_interceptor(self.channel.clone(), self.token.clone())
    }

    /// The Election service (`v3electionpb`).
    pub fn election(&self) -> ElectionClient<Svc> {
        ElectionClient::with_interceptor(self.channel.clone(), self.token.clone())
    }

    /// The client URLs of every member, as the cluster lists them (etcdctl's `--cluster`).
    pub async fn cluster_endpoints(&self) -> Result<Vec<String>, Error> {
        let members = self.cluster().member_list(MemberListRequest::default()).await?.into_inner().members;
        Ok(members.into_iter().flat_map(|m| m.client_ur_ls).collect())
    }
}

/// The URL of an endpoint: `host:port` gets `http://` (or `https://` when TLS is configured),
/// `unix://` and `unixs://` are refused.
fn url_of(endpoint: &str, tls: bool) -> Result<String, Error> {
    let endpoint = endpoint.trim();
    if endpoint.starts_with("http://") || endpoint.starts_with("https://") {
        return Ok(endpoint.trim_end_matches('/').to_owned());
    }
    if endpoint.starts_with("unix://") || endpoint.starts_with("unixs://") {
        return Err(Error::Config(format!("{endpoint}: unix socket endpoints are not supported")));
    }
    if endpoint.is_empty() {
        return Err(Error::Config("empty endpoint".to_owned()));
    }
    Ok(format!("{}://{endpoint}", if tls { "https" } else { "http" }))
}

/// An error and its causes on one line.
fn chain(error: &dyn std::error::Error) -> String {
    let mut line = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !line.ends_with(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        source = cause.source();
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_get_a_scheme() {
        assert_eq!(url_of("127.0.0.1:2379", false).expect("url"), "http://127.0.0.1:2379");
        assert_eq!(url_of("127.0.0.1:2379", true).expect("url"), "https://127.0.0.1:2379");
        assert_eq!(url_of("https://a:1/", false).expect("url"), "https://a:1");
        assert!(url_of("unix://sock", false).is_err());
        assert!(url_of("", false).is_err());
    }
}
