//! The server's settings: etcd's flags with etcd's defaults, the same settings
//! from `CAIRN_*` (or etcd's `ETCD_*`) environment variables, or a YAML file
//! (`--config-file`, which then replaces flags and environment, as in etcd).

mod file;
mod urls;

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

pub use urls::{InitialCluster, listen_addr as urls_listen_addr, parse_urls};

/// The default client URL, as etcd's.
pub const DEFAULT_CLIENT_URL: &str = "http://localhost:2379";
/// The default peer URL, as etcd's.
pub const DEFAULT_PEER_URL: &str = "http://localhost:2380";

/// What `cairn --version` prints: the crate's version, and whether failpoints are
/// compiled in (the robustness suite checks that before injecting any).
pub const VERSION: &str = if cfg!(feature = "failpoints") {
    concat!(env!("CARGO_PKG_VERSION"), " (failpoints)")
} else {
    env!("CARGO_PKG_VERSION")
};

/// What `cairn` is started with. Field names are etcd's flags.
#[derive(Debug, Clone, Parser, serde::Deserialize)]
#[command(name = "cairn", version = VERSION, args_override_self = true, about = "cairn: a distributed, reliable key-value store (etcd-compatible)")]
#[serde(rename_all = "kebab-case", default)]
pub struct Config {
    /// Human-readable name for this member.
    #[arg(long, env = "CAIRN_NAME", default_value = "default")]
    pub name: String,
    /// Path to the data directory (default `<name>.cairn`).
    #[arg(long, env = "CAIRN_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Path to a dedicated WAL directory (default `<data-dir>/member/wal`).
    #[arg(long, env = "CAIRN_WAL_DIR")]
    pub wal_dir: Option<PathBuf>,
    /// List of URLs to listen on for client traffic.
    #[arg(long, env = "CAIRN_LISTEN_CLIENT_URLS", default_value = DEFAULT_CLIENT_URL)]
    pub listen_client_urls: String,
    /// List of this member's client URLs to advertise to the rest of the cluster.
    #[arg(long, env = "CAIRN_ADVERTISE_CLIENT_URLS", default_value = DEFAULT_CLIENT_URL)]
    pub advertise_client_urls: String,
    /// List of URLs to listen on for peer traffic.
    #[arg(long, env = "CAIRN_LISTEN_PEER_URLS", default_value = DEFAULT_PEER_URL)]
    pub listen_peer_urls: String,
    /// List of this member's peer URLs to advertise to the rest of the cluster.
    #[arg(long, env = "CAIRN_INITIAL_ADVERTISE_PEER_URLS", default_value = DEFAULT_PEER_URL)]
    pub initial_advertise_peer_urls: String,
    /// Initial cluster configuration for bootstrapping (default `<name>=<initial-advertise-peer-urls>`).
    #[arg(long, env = "CAIRN_INITIAL_CLUSTER")]
    pub initial_cluster: Option<String>,
    /// Initial cluster state ('new' or 'existing').
    #[arg(long, env = "CAIRN_INITIAL_CLUSTER_STATE", default_value = "new")]
    pub initial_cluster_state: ClusterState,
    /// Initial cluster token for the cluster during bootstrap.
    #[arg(long, env = "CAIRN_INITIAL_CLUSTER_TOKEN", default_value = "etcd-cluster")]
    pub initial_cluster_token: String,
    /// Time (in milliseconds) of a heartbeat interval.
    #[arg(long, env = "CAIRN_HEARTBEAT_INTERVAL", default_value_t = 100)]
    pub heartbeat_interval: u64,
    /// Time (in milliseconds) for an election to timeout.
    #[arg(long, env = "CAIRN_ELECTION_TIMEOUT", default_value_t = 1000)]
    pub election_timeout: u64,
    /// Number of committed transactions to trigger a snapshot to disk.
    #[arg(long, env = "CAIRN_SNAPSHOT_COUNT", default_value_t = 100_000)]
    pub snapshot_count: u64,
    /// Entries kept in the log behind a snapshot for slow followers to catch up
    /// from (etcd 3.5's flag); a follower further behind is sent a snapshot.
    #[arg(long, env = "CAIRN_EXPERIMENTAL_SNAPSHOT_CATCHUP_ENTRIES", default_value_t = 5_000)]
    pub experimental_snapshot_catchup_entries: u64,
    /// Raise alarms when backend size exceeds the given quota (0 defaults to low space quota).
    #[arg(long, env = "CAIRN_QUOTA_BACKEND_BYTES", default_value_t = 0)]
    pub quota_backend_bytes: i64,
    /// Maximum client request size in bytes the server will accept.
    #[arg(long, env = "CAIRN_MAX_REQUEST_BYTES", default_value_t = 1_572_864)]
    pub max_request_bytes: u32,
    /// Maximum number of operations permitted in a transaction.
    #[arg(long, env = "CAIRN_MAX_TXN_OPS", default_value_t = 128)]
    pub max_txn_ops: u32,
    /// Interpret 'auto-compaction-retention' as hours when 'periodic', or as a revision count when 'revision'.
    #[arg(long, env = "CAIRN_AUTO_COMPACTION_MODE", default_value = "periodic")]
    pub auto_compaction_mode: String,
    /// Auto compaction retention for the mvcc key value store ('0' disables it; '5m', '1h' or a number).
    #[arg(long, env = "CAIRN_AUTO_COMPACTION_RETENTION", default_value = "0")]
    pub auto_compaction_retention: String,
    /// Storage engine: lmdb, sled, rocks or fjall (default: the first compiled in).
    #[arg(long, env = "CAIRN_BACKEND")]
    pub backend: Option<String>,
    /// Log level: debug, info, warn, error, panic or fatal.
    #[arg(long, env = "CAIRN_LOG_LEVEL", default_value = "info")]
    pub log_level: String,
    /// Specify auth token type and its options: 'simple' or 'jwt,pub-key=...,priv-key=...,sign-method=...,ttl=...'.
    #[arg(long, env = "CAIRN_AUTH_TOKEN", default_value = "simple")]
    pub auth_token: String,
    /// The lifetime in seconds of an unused simple auth token.
    #[arg(long, env = "CAIRN_AUTH_TOKEN_TTL", default_value_t = 300)]
    pub auth_token_ttl: u64,
    /// Cost of bcrypt for password hashing (4 to 31).
    #[arg(long, env = "CAIRN_BCRYPT_COST", default_value_t = 10)]
    pub bcrypt_cost: u32,
    /// Path to the client server TLS cert file.
    #[arg(long, env = "CAIRN_CERT_FILE")]
    pub cert_file: Option<PathBuf>,
    /// Path to the client server TLS key file.
    #[arg(long, env = "CAIRN_KEY_FILE")]
    pub key_file: Option<PathBuf>,
    /// Path to the client server TLS trusted CA cert file.
    #[arg(long, env = "CAIRN_TRUSTED_CA_FILE")]
    pub trusted_ca_file: Option<PathBuf>,
    /// Enable client cert authentication.
    #[arg(long, env = "CAIRN_CLIENT_CERT_AUTH", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_parser = clap::builder::BoolishValueParser::new(), action = clap::ArgAction::Set)]
    pub client_cert_auth: bool,
    /// Client TLS using generated certificates.
    #[arg(long, env = "CAIRN_AUTO_TLS", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_parser = clap::builder::BoolishValueParser::new(), action = clap::ArgAction::Set)]
    pub auto_tls: bool,
    /// Path to the peer server TLS cert file.
    #[arg(long, env = "CAIRN_PEER_CERT_FILE")]
    pub peer_cert_file: Option<PathBuf>,
    /// Path to the peer server TLS key file.
    #[arg(long, env = "CAIRN_PEER_KEY_FILE")]
    pub peer_key_file: Option<PathBuf>,
    /// Path to the peer server TLS trusted CA file.
    #[arg(long, env = "CAIRN_PEER_TRUSTED_CA_FILE")]
    pub peer_trusted_ca_file: Option<PathBuf>,
    /// Enable peer client cert authentication.
    #[arg(long, env = "CAIRN_PEER_CLIENT_CERT_AUTH", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_parser = clap::builder::BoolishValueParser::new(), action = clap::ArgAction::Set)]
    pub peer_client_cert_auth: bool,
    /// Peer TLS using generated certificates.
    #[arg(long, env = "CAIRN_PEER_AUTO_TLS", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_parser = clap::builder::BoolishValueParser::new(), action = clap::ArgAction::Set)]
    pub peer_auto_tls: bool,
    /// Comma-separated list of supported TLS cipher suites between client/server and peers (empty will be auto-populated).
    #[arg(long, env = "CAIRN_CIPHER_SUITES", default_value = "")]
    pub cipher_suites: String,
    /// Minimum TLS version supported: TLS1.2 or TLS1.3.
    #[arg(long, env = "CAIRN_TLS_MIN_VERSION", default_value = "TLS1.2")]
    pub tls_min_version: String,
    /// Enable the v2 API (accepted for compatibility).
    #[arg(long, env = "CAIRN_ENABLE_V2", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_parser = clap::builder::BoolishValueParser::new(), action = clap::ArgAction::Set)]
    pub enable_v2: bool,
    /// Path to the server configuration file (YAML, etcd's keys). Flags and environment are then ignored.
    #[arg(long, env = "CAIRN_CONFIG_FILE")]
    #[serde(skip)]
    pub config_file: Option<PathBuf>,
}

/// etcd's `--initial-cluster-state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClusterState {
    /// Bootstrap a new cluster.
    #[default]
    New,
    /// Join an existing cluster.
    Existing,
}

impl Default for Config {
    fn default() -> Self {
        Config::parse_from(["cairn"])
    }
}

/// etcd's flag names taken from the environment, as `ETCD_<NAME>`; each also
/// works as `CAIRN_<NAME>`, which wins when both are set.
const ENV_SETTINGS: &[&str] = &[
    "NAME",
    "DATA_DIR",
    "WAL_DIR",
    "LISTEN_CLIENT_URLS",
    "ADVERTISE_CLIENT_URLS",
    "LISTEN_PEER_URLS",
    "INITIAL_ADVERTISE_PEER_URLS",
    "INITIAL_CLUSTER",
    "INITIAL_CLUSTER_STATE",
    "INITIAL_CLUSTER_TOKEN",
    "HEARTBEAT_INTERVAL",
    "ELECTION_TIMEOUT",
    "SNAPSHOT_COUNT",
    "QUOTA_BACKEND_BYTES",
    "MAX_REQUEST_BYTES",
    "MAX_TXN_OPS",
    "AUTO_COMPACTION_MODE",
    "AUTO_COMPACTION_RETENTION",
    "BACKEND",
    "LOG_LEVEL",
    "ENABLE_V2",
    "CONFIG_FILE",
];

impl Config {
    /// Reads flags from `args` (the program name first) with the environment
    /// `env` behind them, or the config file they name.
    pub fn load<I, T>(args: I, env: impl Fn(&str) -> Option<String>) -> anyhow::Result<Config>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        // clap reads `CAIRN_*` itself; etcd's names are mapped onto flags that neither
        // the command line nor `CAIRN_*` set, by appending them as arguments.
        let mut args: Vec<std::ffi::OsString> = args.into_iter().map(Into::into).collect();
        let given: Vec<String> = args.iter().map(|a| a.to_string_lossy().into_owned()).collect();
        for name in ENV_SETTINGS {
            let flag = format!("--{}", name.to_lowercase().replace('_', "-"));
            let on_command_line = given.iter().any(|a| *a == flag || a.starts_with(&format!("{flag}=")));
            if on_command_line || env(&format!("CAIRN_{name}")).is_some() {
                continue;
            }
            if let Some(value) = env(&format!("ETCD_{name}")) {
                args.push(format!("{flag}={value}").into());
            }
        }
        let config = Config::try_parse_from(args)?;
        match &config.config_file {
            Some(path) => file::load(path),
            None => Ok(config),
        }
    }

    /// The client side's TLS files.
    pub fn client_tls_files(&self) -> crate::tls::TlsFiles {
        crate::tls::TlsFiles {
            cert: self.cert_file.clone(),
            key: self.key_file.clone(),
            trusted_ca: self.trusted_ca_file.clone(),
            client_cert_auth: self.client_cert_auth,
            auto_tls: self.auto_tls,
        }
    }

    /// The peer side's TLS files.
    pub fn peer_tls_files(&self) -> crate::tls::TlsFiles {
        crate::tls::TlsFiles {
            cert: self.peer_cert_file.clone(),
            key: self.peer_key_file.clone(),
            trusted_ca: self.peer_trusted_ca_file.clone(),
            client_cert_auth: self.peer_client_cert_auth,
            auto_tls: self.peer_auto_tls,
        }
    }

    /// `--tls-min-version` and `--cipher-suites`.
    pub fn tls_policy(&self) -> crate::tls::TlsPolicy {
        crate::tls::TlsPolicy {
            min_version: self.tls_min_version.clone(),
            cipher_suites: self
                .cipher_suites
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
        }
    }

    /// The data directory: `--data-dir`, or `<name>.cairn`.
    pub fn data_dir(&self) -> PathBuf {
        self.data_dir.clone().unwrap_or_else(|| PathBuf::from(format!("{}.cairn", self.name)))
    }

    /// The raft tick (the heartbeat interval).
    pub fn tick(&self) -> Duration {
        Duration::from_millis(self.heartbeat_interval.max(1))
    }

    /// Election timeout in ticks.
    pub fn election_ticks(&self) -> usize {
        (self.election_timeout / self.heartbeat_interval.max(1)).max(2) as usize
    }

    /// The backend quota in bytes: etcd's 2 GiB default when 0, and at most 8 GiB.
    pub fn quota_bytes(&self) -> u64 {
        const DEFAULT: u64 = 2 << 30;
        const MAX: u64 = 8 << 30;
        match self.quota_backend_bytes {
            q if q <= 0 => DEFAULT,
            q => (q as u64).min(MAX),
        }
    }

    /// `--initial-cluster`, or `<name>=<initial-advertise-peer-urls>`.
    pub fn initial_cluster(&self) -> anyhow::Result<InitialCluster> {
        let text = match &self.initial_cluster {
            Some(text) => text.clone(),
            None => self
                .initial_advertise_peer_urls
                .split(',')
                .map(|url| format!("{}={}", self.name, url.trim()))
                .collect::<Vec<_>>()
                .join(","),
        };
        InitialCluster::parse(&text)
    }

    /// Checks settings etcd also refuses, with etcd's wording where it has one.
    pub fn validate(&self) -> anyhow::Result<()> {
        if self.heartbeat_interval == 0 {
            anyhow::bail!("--heartbeat-interval must be > 0");
        }
        if self.election_timeout < 5 * self.heartbeat_interval {
            anyhow::bail!(
                "--election-timeout[{}ms] should be at least as 5 times as --heartbeat-interval[{}ms]",
                self.election_timeout,
                self.heartbeat_interval
            );
        }
        if self.max_txn_ops == 0 {
            anyhow::bail!("--max-txn-ops must be > 0");
        }
        match self.auth_token.split(',').next().unwrap_or_default() {
            "simple" => {}
            "jwt" => {
                crate::auth::jwt::Jwt::from_options(self.auth_token.split_once(',').map_or("", |(_, o)| o))?;
            }
            other => anyhow::bail!("unknown token type {other:?} in --auth-token"),
        }
        for (kind, files, urls) in [
            ("client", self.client_tls_files(), &self.listen_client_urls),
            ("peer", self.peer_tls_files(), &self.listen_peer_urls),
        ] {
            let https = urls.split(',').any(|u| u.trim().starts_with("https://"));
            let has_tls = files.auto_tls || files.cert.is_some() || files.key.is_some();
            if https && !has_tls {
                anyhow::bail!("TLS {kind} listener {urls} needs a certificate (cert and key files, or auto TLS)");
            }
        }
        if !(4..=31).contains(&self.bcrypt_cost) {
            anyhow::bail!("--bcrypt-cost {} is out of range 4..=31", self.bcrypt_cost);
        }
        parse_urls(&self.listen_client_urls)?;
        parse_urls(&self.advertise_client_urls)?;
        parse_urls(&self.listen_peer_urls)?;
        parse_urls(&self.initial_advertise_peer_urls)?;
        let cluster = self.initial_cluster()?;
        if self.initial_cluster_state == ClusterState::New && cluster.peer_urls(&self.name).is_none() {
            anyhow::bail!("couldn't find local name {:?} in the initial cluster configuration", self.name);
        }
        match self.auto_compaction_mode.as_str() {
            "periodic" | "revision" => {}
            other => anyhow::bail!("unknown auto-compaction-mode {other:?}"),
        }
        self.auto_compaction()?;
        Ok(())
    }

    /// The auto-compaction policy, if on.
    pub fn auto_compaction(&self) -> anyhow::Result<Option<AutoCompaction>> {
        let text = self.auto_compaction_retention.trim();
        if self.auto_compaction_mode == "revision" {
            let keep: i64 = text.parse().map_err(|_| anyhow::anyhow!("invalid auto-compaction-retention {text:?}"))?;
            return Ok((keep > 0).then_some(AutoCompaction::Revisions(keep)));
        }
        let period = if let Ok(hours) = text.parse::<u64>() {
            Duration::from_secs(hours * 3600)
        } else {
            parse_duration(text).ok_or_else(|| anyhow::anyhow!("invalid auto-compaction-retention {text:?}"))?
        };
        Ok((!period.is_zero()).then_some(AutoCompaction::Periodic(period)))
    }
}

/// What `--auto-compaction-mode` and `--auto-compaction-retention` ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AutoCompaction {
    /// Keep this much history by time.
    Periodic(Duration),
    /// Keep this many revisions.
    Revisions(i64),
}

/// Parses Go-style durations such as `5m`, `1h30m`, `90s`, `500ms`.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let mut total = Duration::ZERO;
    let mut rest = text;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(rest.len());
        let number: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        let seconds = match &rest[..unit_len] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" => 1e-6,
            "ns" => 1e-9,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += Duration::from_secs_f64(number * seconds);
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn defaults_are_etcds() {
        let c = Config::load(["cairn"], no_env).expect("defaults parse");
        assert_eq!(c.name, "default");
        assert_eq!(c.data_dir(), PathBuf::from("default.cairn"));
        assert_eq!(c.listen_client_urls, "http://localhost:2379");
        assert_eq!(c.heartbeat_interval, 100);
        assert_eq!(c.election_ticks(), 10);
        assert_eq!(c.max_request_bytes, 1_572_864);
        assert_eq!(c.max_txn_ops, 128);
        assert_eq!(c.quota_bytes(), 2 << 30);
        c.validate().expect("defaults are valid");
        let cluster = c.initial_cluster().expect("default cluster");
        assert_eq!(cluster.members.len(), 1);
    }

    #[test]
    fn etcd_environment_names_work_and_cairn_names_win() {
        let env = |k: &str| match k {
            "ETCD_NAME" => Some("infra1".to_string()),
            "ETCD_MAX_TXN_OPS" => Some("7".to_string()),
            "ETCD_SNAPSHOT_COUNT" => Some("5".to_string()),
            "CAIRN_SNAPSHOT_COUNT" => Some("9".to_string()),
            _ => None,
        };
        let c = Config::load(["cairn", "--max-txn-ops", "3"], env).expect("parses");
        assert_eq!(c.name, "infra1");
        assert_eq!(c.max_txn_ops, 3, "the command line wins over ETCD_*");
        // CAIRN_SNAPSHOT_COUNT is read by clap from the real environment, not `env`;
        // here it only keeps ETCD_SNAPSHOT_COUNT from being applied.
        assert_eq!(c.snapshot_count, 100_000);
    }

    #[test]
    fn durations_and_compaction() {
        assert_eq!(parse_duration("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("5x"), None);
        let c = Config::load(["cairn", "--auto-compaction-retention", "1"], no_env).expect("parses");
        assert_eq!(c.auto_compaction().expect("valid"), Some(AutoCompaction::Periodic(Duration::from_secs(3600))));
        let c =
            Config::load(["cairn", "--auto-compaction-mode", "revision", "--auto-compaction-retention", "100"], no_env)
                .expect("parses");
        assert_eq!(c.auto_compaction().expect("valid"), Some(AutoCompaction::Revisions(100)));
    }

    #[test]
    fn election_timeout_must_be_five_heartbeats() {
        let c = Config::load(["cairn", "--election-timeout", "200"], no_env).expect("parses");
        assert!(c.validate().is_err());
    }
}
