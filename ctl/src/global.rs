//! etcdctl's global flags (each also read from `ETCDCTL_<FLAG>`), and the context every command
//! runs in: the client, the command timeout, the output format.

use std::future::Future;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use cairn_client::{Client, Config, TlsConfig};

use crate::exit::Fail;
use crate::print::{Format, Printer};

/// The flags every command takes.
#[derive(Debug, Clone, clap::Args)]
pub struct Global {
    /// gRPC endpoints
    #[arg(long, global = true, env = "ETCDCTL_ENDPOINTS", value_delimiter = ',', default_value = "127.0.0.1:2379")]
    pub endpoints: Vec<String>,
    /// enable client-side debug logging
    #[arg(long, global = true, env = "ETCDCTL_DEBUG", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_parser = go_bool)]
    pub debug: bool,
    /// set the output format (fields, json, protobuf, simple, table)
    #[arg(short = 'w', long = "write-out", global = true, env = "ETCDCTL_WRITE_OUT", default_value = "simple")]
    pub write_out: String,
    /// print byte strings as hex encoded strings
    #[arg(long, global = true, env = "ETCDCTL_HEX", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_parser = go_bool)]
    pub hex: bool,
    /// dial timeout for client connections
    #[arg(long, global = true, env = "ETCDCTL_DIAL_TIMEOUT", default_value = "2s", value_parser = go_duration)]
    pub dial_timeout: Duration,
    /// timeout for short running command (excluding dial timeout)
    #[arg(long, global = true, env = "ETCDCTL_COMMAND_TIMEOUT", default_value = "5s", value_parser = go_duration)]
    pub command_timeout: Duration,
    /// keepalive time for client connections
    #[arg(long, global = true, env = "ETCDCTL_KEEPALIVE_TIME", default_value = "2s", value_parser = go_duration)]
    pub keepalive_time: Duration,
    /// keepalive timeout for client connections
    #[arg(long, global = true, env = "ETCDCTL_KEEPALIVE_TIMEOUT", default_value = "6s", value_parser = go_duration)]
    pub keepalive_timeout: Duration,
    /// disable transport security for client connections
    #[arg(long, global = true, env = "ETCDCTL_INSECURE_TRANSPORT", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "true", value_parser = go_bool)]
    pub insecure_transport: bool,
    /// accept insecure SRV records describing cluster endpoints
    #[arg(long, global = true, env = "ETCDCTL_INSECURE_DISCOVERY", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "true", value_parser = go_bool)]
    pub insecure_discovery: bool,
    /// skip server certificate verification (CAUTION: this option should be enabled only for testing purposes)
    #[arg(long, global = true, env = "ETCDCTL_INSECURE_SKIP_TLS_VERIFY", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_parser = go_bool)]
    pub insecure_skip_tls_verify: bool,
    /// identify secure client using this TLS certificate file
    #[arg(long, global = true, env = "ETCDCTL_CERT")]
    pub cert: Option<String>,
    /// identify secure client using this TLS key file
    #[arg(long, global = true, env = "ETCDCTL_KEY")]
    pub key: Option<String>,
    /// verify certificates of TLS-enabled secure servers using this CA bundle
    #[arg(long, global = true, env = "ETCDCTL_CACERT")]
    pub cacert: Option<String>,
    /// username[:password] for authentication (prompt if password is not supplied)
    #[arg(long, global = true, env = "ETCDCTL_USER")]
    pub user: Option<String>,
    /// password for authentication (if this option is used, --user option shouldn't include password)
    #[arg(long, global = true, env = "ETCDCTL_PASSWORD")]
    pub password: Option<String>,
    /// domain name to query for SRV records describing cluster endpoints
    #[arg(short = 'd', long, global = true, env = "ETCDCTL_DISCOVERY_SRV")]
    pub discovery_srv: Option<String>,
    /// service name to query when using DNS discovery
    #[arg(long, global = true, env = "ETCDCTL_DISCOVERY_SRV_NAME")]
    pub discovery_srv_name: Option<String>,
}

/// Parses a bool as Go's `strconv.ParseBool` does (pflag's bool flags).
pub fn go_bool(text: &str) -> Result<bool, String> {
    match text {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        _ => Err(format!("strconv.ParseBool: parsing {text:?}: invalid syntax")),
    }
}

/// Parses a duration as Go's `time.ParseDuration` does: `300ms`, `1.5h`, `2h45m`, `0`.
pub fn go_duration(text: &str) -> Result<Duration, String> {
    let invalid = || format!("time: invalid duration {text:?}");
    let body = text.strip_prefix('+').unwrap_or(text);
    if body.starts_with('-') {
        return if body.trim_start_matches('-').trim_start_matches(['0', '.']).chars().all(|c| !c.is_ascii_digit()) {
            Ok(Duration::ZERO)
        } else {
            Err(invalid())
        };
    }
    if body == "0" {
        return Ok(Duration::ZERO);
    }
    if body.is_empty() {
        return Err(invalid());
    }
    let mut rest = body;
    let mut total = 0f64;
    while !rest.is_empty() {
        let number_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let (number, tail) = rest.split_at(number_len);
        if number.is_empty() || number == "." {
            return Err(invalid());
        }
        let value: f64 = number.parse().map_err(|_| invalid())?;
        let unit_len = tail.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_len);
        let nanos = match unit {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            "" => return Err(format!("time: missing unit in duration {text:?}")),
            other => return Err(format!("time: unknown unit {other:?} in duration {text:?}")),
        };
        total += value * nanos;
        rest = tail;
    }
    if total > u64::MAX as f64 {
        return Err(invalid());
    }
    Ok(Duration::from_nanos(total as u64))
}

/// What a command runs with.
#[derive(Debug)]
pub struct Ctx {
    /// The global flags.
    pub global: Global,
    /// The endpoint the client connected to (for the client's warnings).
    endpoint: std::sync::OnceLock<String>,
    /// This process's client id, as Go's client names its resolver target.
    client_id: String,
}

impl Ctx {
    /// A context for the global flags. Like etcdctl, they are checked only when a command asks
    /// for its printer or its client, after it has checked its own arguments.
    pub fn new(global: Global) -> Ctx {
        Ctx { global, endpoint: std::sync::OnceLock::new(), client_id: random_uuid() }
    }

    /// The output printer (`-w`, `--hex`); an unknown format fails (exit code 4).
    pub fn printer(&self) -> Result<Printer, Fail> {
        let Some(format) = Format::parse(&self.global.write_out) else {
            return Err(Fail::bad_feature("unsupported output format"));
        };
        Ok(Printer::new(format, self.global.hex))
    }

    /// The endpoints, trimmed as etcdctl trims them.
    pub fn endpoints(&self) -> Vec<String> {
        self.global.endpoints.iter().map(|e| e.trim().to_owned()).collect()
    }

    /// The client configuration the global flags describe (the printer is checked too, as
    /// etcdctl checks it while reading the client flags).
    pub fn config(&self) -> Result<Config, Fail> {
        for (name, value) in [("cert", &self.global.cert), ("key", &self.global.key), ("cacert", &self.global.cacert)] {
            if value.as_deref() == Some("") {
                return Err(Fail::bad_args(format!("empty string is passed to --{name} option")));
            }
        }
        self.printer()?;
        let mut config = Config::new(self.endpoints());
        config.dial_timeout = self.global.dial_timeout;
        config.keepalive_time = self.global.keepalive_time;
        config.keepalive_timeout = self.global.keepalive_timeout;
        let g = &self.global;
        let tls_files = g.cert.is_some() || g.key.is_some() || g.cacert.is_some();
        if tls_files || !g.insecure_transport || g.insecure_skip_tls_verify {
            config.tls = Some(TlsConfig {
                ca_file: g.cacert.as_ref().map(PathBuf::from),
                cert_file: g.cert.as_ref().map(PathBuf::from),
                key_file: g.key.as_ref().map(PathBuf::from),
                server_name: g.discovery_srv.clone().filter(|s| !s.is_empty()),
                insecure_skip_verify: g.insecure_skip_tls_verify,
            });
        }
        config.user = self.user()?;
        Ok(config)
    }

    fn user(&self) -> Result<Option<(String, String)>, Fail> {
        let Some(user) = self.global.user.clone().filter(|u| !u.is_empty()) else {
            return Ok(None);
        };
        if let Some(password) = self.global.password.clone().filter(|p| !p.is_empty()) {
            return Ok(Some((user, password)));
        }
        match user.split_once(':') {
            Some((name, password)) => Ok(Some((name.to_owned(), password.to_owned()))),
            None => {
                let password = read_password("Password: ").map_err(|e| Fail::error(e.to_string()))?;
                Ok(Some((user, password)))
            }
        }
    }

    /// A client of the endpoints. Like etcdctl, an endpoint that cannot be reached is not an
    /// error at once: connecting is retried until the command timeout, which then fails the
    /// command with `context deadline exceeded`.
    pub async fn client(&self) -> Result<Client, Fail> {
        let config = self.config()?;
        let deadline = Instant::now() + self.global.command_timeout;
        loop {
            match Client::connect(config.clone()).await {
                Ok(client) => {
                    let _ = self.endpoint.set(client.endpoint().to_owned());
                    return Ok(client);
                }
                // Authentication failed: the client could not be made (etcdctl's exit code 2).
                Err(cairn_client::Error::Status(status)) => {
                    let _ = self.endpoint.set(config.endpoints.first().cloned().unwrap_or_default());
                    self.warn_failed(&status);
                    return Err(Fail::new(crate::exit::BAD_CONNECTION, cairn_client::status_text(&status)));
                }
                Err(cairn_client::Error::Config(message)) => return Err(Fail::bad_args(message)),
                Err(e) if Instant::now() >= deadline => {
                    warn_retrying(&config.endpoints, &e);
                    return Err(Fail::error("context deadline exceeded"));
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100).min(deadline - Instant::now())).await,
            }
        }
    }

    /// Runs a unary call within the command timeout (`context deadline exceeded` after it). A
    /// failed call is logged as Go's client logs it (`retrying of unary invoker failed`), before
    /// the command reports the error.
    pub async fn timed<T>(&self, request: impl Future<Output = Result<T, tonic::Status>>) -> Result<T, Fail> {
        match tokio::time::timeout(self.global.command_timeout, request).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(status)) => {
                self.warn_failed(&status);
                Err(status.into())
            }
            Err(_) => Err(Fail::error("context deadline exceeded")),
        }
    }

    /// Like [`timed`](Self::timed), for work that is not one unary call (no warning logged).
    pub async fn timed_any<T, E: Into<Fail>>(&self, work: impl Future<Output = Result<T, E>>) -> Result<T, Fail> {
        match tokio::time::timeout(self.global.command_timeout, work).await {
            Ok(result) => result.map_err(Into::into),
            Err(_) => Err(Fail::error("context deadline exceeded")),
        }
    }

    /// Go's client's warning for a failed unary call.
    pub fn warn_failed(&self, status: &tonic::Status) {
        let endpoint = self.endpoint.get().map(String::as_str).unwrap_or_default();
        let host = endpoint.split("://").last().unwrap_or(endpoint);
        eprintln!(
            "{{\"level\":\"warn\",\"ts\":\"{}\",\"caller\":\"clientv3/retry_interceptor.go:62\",\"msg\":\"retrying of unary invoker failed\",\"target\":\"endpoint://client-{}/{host}\",\"attempt\":0,\"error\":\"{}\"}}",
            crate::print::rfc3339_millis(std::time::SystemTime::now()),
            self.client_id,
            crate::print::zap_escape(&format!(
                "rpc error: code = {} desc = {}",
                cairn_client::go_code_name(status.code()),
                status.message()
            )),
        );
    }
}

/// The warning etcd's client logs when a call gave up retrying on an unreachable endpoint.
fn warn_retrying(endpoints: &[String], error: &cairn_client::Error) {
    let target = endpoints.first().map(String::as_str).unwrap_or_default();
    eprintln!(
        "{{\"level\":\"warn\",\"ts\":\"{}\",\"caller\":\"clientv3/retry_interceptor.go:62\",\"msg\":\"retrying of unary invoker failed\",\"target\":\"endpoint://client-{}/{target}\",\"attempt\":0,\"error\":\"rpc error: code = DeadlineExceeded desc = latest balancer error: {}\"}}",
        crate::print::rfc3339_millis(std::time::SystemTime::now()),
        random_uuid(),
        crate::print::zap_escape(&error.to_string()),
    );
}

/// A random (version 4 style) UUID, from the process's hash seed, pid and clock.
fn random_uuid() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut words = [0u64; 2];
    for (i, word) in words.iter_mut().enumerate() {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u128(
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos(),
        );
        hasher.write_u32(std::process::id());
        hasher.write_usize(i);
        *word = hasher.finish();
    }
    let hex = format!("{:016x}{:016x}", words[0], words[1]);
    format!("{}-{}-4{}-a{}-{}", &hex[0..8], &hex[8..12], &hex[13..16], &hex[17..20], &hex[20..32])
}

/// Reads a password from the terminal without echo (stdin when it is not a terminal).
pub fn read_password(prompt: &str) -> std::io::Result<String> {
    use std::io::{BufRead, Write};
    eprint!("{prompt}");
    std::io::stderr().flush()?;
    let tty = std::fs::OpenOptions::new().read(true).write(true).open("/dev/tty");
    let mut line = String::new();
    match tty {
        Ok(tty) => {
            let echo_off = std::process::Command::new("stty").arg("-echo").stdin(tty.try_clone()?).status();
            let read = std::io::BufReader::new(tty.try_clone()?).read_line(&mut line);
            if echo_off.is_ok_and(|s| s.success()) {
                let _ = std::process::Command::new("stty").arg("echo").stdin(tty).status();
            }
            eprintln!();
            read?;
        }
        Err(_) => {
            std::io::stdin().lock().read_line(&mut line)?;
        }
    }
    Ok(line.trim_end_matches(['\n', '\r']).to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_as_go_parses_them() {
        assert_eq!(go_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(go_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(go_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(go_duration("300ms"), Ok(Duration::from_millis(300)));
        assert_eq!(go_duration("0"), Ok(Duration::ZERO));
        assert_eq!(go_duration("5"), Err("time: missing unit in duration \"5\"".to_owned()));
        assert_eq!(go_duration("5x"), Err("time: unknown unit \"x\" in duration \"5x\"".to_owned()));
        assert!(go_duration("").is_err());
    }

    #[test]
    fn bools_parse_as_go_parses_them() {
        assert_eq!(go_bool("true"), Ok(true));
        assert_eq!(go_bool("F"), Ok(false));
        assert!(go_bool("yes").is_err());
    }
}
