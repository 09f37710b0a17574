//! `endpoint health|status|hashkv`, each for the endpoints given or, with `--cluster`, for every
//! client URL of the cluster's members. Also the per-endpoint helpers `defrag`, `move-leader` and
//! `check` share: dialing one endpoint as clientv3's maintenance calls do, and Go's warnings.

use std::time::{Duration, Instant};

use cairn_client::{Client, Config};
use cairn_proto::etcdserverpb::{HashKvRequest, HashKvResponse, RangeRequest, StatusRequest, StatusResponse};

use super::go_bool;
use crate::exit::{self, Fail};
use crate::global::Ctx;
use crate::print::{self, Format, go_quote, gojson, json_escape};

/// The `endpoint` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum EndpointCommand {
    /// Checks the healthiness of endpoints specified in `--endpoints` flag
    Health(ClusterArgs),
    /// Prints out the status of endpoints specified in `--endpoints` flag
    Status(ClusterArgs),
    /// Prints the KV history hash for each endpoint in --endpoints
    Hashkv(HashKvArgs),
}

/// `--cluster` (etcdctl's persistent flag of `endpoint`; here it follows the subcommand).
#[derive(Debug, Clone, clap::Args)]
pub struct ClusterArgs {
    /// use all endpoints from the cluster member list
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_parser = go_bool)]
    pub cluster: bool,
    /// Ignored, as cobra ignores them.
    #[arg(hide = true)]
    args: Vec<String>,
}

/// `endpoint hashkv [--rev N]`
#[derive(Debug, clap::Args)]
pub struct HashKvArgs {
    #[command(flatten)]
    cluster: ClusterArgs,
    /// maximum revision to hash (default: all revisions)
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    rev: i64,
}

/// Runs an `endpoint` subcommand.
pub async fn run(ctx: &Ctx, command: EndpointCommand) -> Result<(), Fail> {
    match command {
        EndpointCommand::Health(args) => health(ctx, &args).await,
        EndpointCommand::Status(args) => status(ctx, &args).await,
        EndpointCommand::Hashkv(args) => hashkv(ctx, &args).await,
    }
}

/// etcdctl's `endpointsFromCluster`: the endpoints given, or with `--cluster` the client URLs of
/// every member (asked without authentication, as etcdctl does).
pub async fn endpoints_from_cluster(ctx: &Ctx, cluster: bool) -> Result<Vec<String>, Fail> {
    if !cluster {
        return Ok(ctx.global.endpoints.clone());
    }
    let mut config = ctx.config()?;
    config.user = None;
    let deadline = Instant::now() + ctx.global.command_timeout;
    let fetched = async {
        let client = loop {
            match Client::connect(config.clone()).await {
                Ok(client) => break client,
                Err(cairn_client::Error::Config(message)) => return Err(Fail::error(message)),
                Err(e) if Instant::now() >= deadline => {
                    warn_balancer(config.endpoints.first().map_or("", String::as_str), &e);
                    return Err(Fail::error("context deadline exceeded"));
                }
                Err(_) => {
                    tokio::time::sleep(
                        Duration::from_millis(100).min(deadline.saturating_duration_since(Instant::now())),
                    )
                    .await
                }
            }
        };
        client.cluster_endpoints().await.map_err(Fail::from)
    };
    match tokio::time::timeout_at(deadline.into(), fetched).await {
        Ok(Ok(endpoints)) => Ok(endpoints),
        Ok(Err(fail)) => {
            Err(Fail::error(format!("failed to fetch endpoints from etcd cluster member list: {}", fail.message)))
        }
        Err(_) => {
            Err(Fail::error("failed to fetch endpoints from etcd cluster member list: context deadline exceeded"))
        }
    }
}

/// A client of `endpoint` alone (clientv3's `maintenance.dial`), with the configuration's TLS
/// settings and user, retried until `deadline` as Go's lazy dial waits for the connection; then
/// `context deadline exceeded`, with the warning Go's retry interceptor logs for that endpoint.
pub async fn dial(config: &Config, endpoint: &str, deadline: Instant) -> Result<Client, Fail> {
    let mut config = config.clone();
    config.endpoints = vec![endpoint.to_owned()];
    loop {
        match Client::connect(config.clone()).await {
            Ok(client) => return Ok(client),
            Err(cairn_client::Error::Status(status)) => return Err(status.into()),
            Err(cairn_client::Error::Config(message)) => return Err(Fail::error(message)),
            Err(e) if Instant::now() >= deadline => {
                warn_passthrough(
                    endpoint,
                    &format!(
                        "rpc error: code = DeadlineExceeded desc = latest balancer error: {}",
                        dial_error(endpoint, &e)
                    ),
                );
                return Err(Fail::error("context deadline exceeded"));
            }
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(100).min(deadline.saturating_duration_since(Instant::now())))
                    .await
            }
        }
    }
}

/// Runs `call` on a client of `endpoint` alone within the command timeout, as clientv3's
/// per-endpoint maintenance calls (`Status`, `HashKV`, `Defragment`) do, logging a failed call.
pub async fn on_endpoint<T, F, Fut>(ctx: &Ctx, config: &Config, endpoint: &str, call: F) -> Result<(Client, T), Fail>
where
    F: FnOnce(Client) -> Fut,
    Fut: std::future::Future<Output = Result<tonic::Response<T>, tonic::Status>>,
{
    let deadline = Instant::now() + ctx.global.command_timeout;
    let work = async {
        let one = dial(config, endpoint, deadline).await?;
        match call(one.clone()).await {
            Ok(response) => Ok((one, response.into_inner())),
            Err(status) => {
                warn_passthrough(endpoint, &status_line(&status));
                Err(Fail::from(status))
            }
        }
    };
    match tokio::time::timeout_at(deadline.into(), work).await {
        Ok(result) => result,
        Err(_) => Err(Fail::error("context deadline exceeded")),
    }
}

/// `rpc error: code = X desc = Y`, as gRPC-Go prints a status.
fn status_line(status: &tonic::Status) -> String {
    format!("rpc error: code = {} desc = {}", cairn_client::go_code_name(status.code()), status.message())
}

/// What gRPC-Go reports for a connection that could not be made: a refused connection in its
/// words, anything else as our client words it.
fn dial_error(endpoint: &str, error: &cairn_client::Error) -> String {
    let text = error.to_string();
    if text.to_lowercase().contains("connection refused") {
        let address = endpoint.split("://").last().unwrap_or(endpoint);
        format!(
            "connection error: desc = \"transport: Error while dialing dial tcp {address}: connect: connection refused\""
        )
    } else {
        text
    }
}

/// Go's warning for a call of a client (of `endpoint` first) that never connected.
pub fn warn_balancer(endpoint: &str, error: &cairn_client::Error) {
    let error = match dial_error(endpoint, error) {
        refused if refused.starts_with("connection error") => "all SubConns are in TransientFailure".to_owned(),
        other => other,
    };
    warn(
        &format!("endpoint://client-{}/{endpoint}", client_uuid()),
        &format!("rpc error: code = DeadlineExceeded desc = latest balancer error: {error}"),
    );
}

/// Go's retry-interceptor warning for a call on a connection dialed to one endpoint.
pub fn warn_passthrough(endpoint: &str, error: &str) {
    warn(&format!("passthrough:///{endpoint}"), error);
}

/// Go's retry-interceptor warning (`retrying of unary invoker failed`) for `target`.
pub fn warn(target: &str, error: &str) {
    eprintln!(
        "{{\"level\":\"warn\",\"ts\":\"{}\",\"caller\":\"clientv3/retry_interceptor.go:62\",\"msg\":\"retrying of unary invoker failed\",\"target\":\"{}\",\"attempt\":0,\"error\":\"{}\"}}",
        print::rfc3339_millis(std::time::SystemTime::now()),
        print::zap_escape(target),
        print::zap_escape(error),
    );
}

/// A random client id (a version 4 style UUID), as each of Go's clients names its target.
pub fn client_uuid() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut words = [0u64; 2];
    for (i, word) in words.iter_mut().enumerate() {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u128(
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos(),
        );
        hasher.write_usize(i);
        *word = hasher.finish();
    }
    let hex = format!("{:016x}{:016x}", words[0], words[1]);
    format!("{}-{}-4{}-a{}-{}", &hex[0..8], &hex[8..12], &hex[13..16], &hex[17..20], &hex[20..32])
}

/// One endpoint's health (etcdctl's `epHealth`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Health {
    endpoint: String,
    health: bool,
    took: String,
    error: String,
}

async fn health(ctx: &Ctx, args: &ClusterArgs) -> Result<(), Fail> {
    let printer = ctx.printer()?;
    let endpoints = endpoints_from_cluster(ctx, args.cluster).await?;
    let base = ctx.config()?;
    let timeout = ctx.global.command_timeout;
    let mut checks = tokio::task::JoinSet::new();
    for endpoint in endpoints {
        let mut config = base.clone();
        config.endpoints = vec![endpoint.clone()];
        checks.spawn(check_health(config, endpoint, timeout));
    }
    // In the order the checks end, as etcdctl collects them from a channel.
    let mut list = Vec::new();
    while let Some(done) = checks.join_next().await {
        list.push(done.map_err(|e| Fail::error(format!("health check failed: {e}")))?);
    }
    match printer.format {
        Format::Simple => {
            let mut text = String::new();
            for h in &list {
                if h.error.is_empty() {
                    text.push_str(&format!(
                        "{} is healthy: successfully committed proposal: took = {}\n",
                        h.endpoint, h.took
                    ));
                } else {
                    text.push_str(&format!("{} is unhealthy: failed to commit proposal: {}\n", h.endpoint, h.error));
                }
            }
            eprint!("{text}");
        }
        Format::Json => print::out(&(health_json(&list) + "\n")),
        Format::Fields => print::out(
            &list
                .iter()
                .map(|h| {
                    format!(
                        "\"Endpoint\" : {}\n\"Health\" : {}\n\"Took\" : {}\n\"Error\" : {}\n\n",
                        go_quote(&h.endpoint),
                        h.health,
                        h.took,
                        h.error
                    )
                })
                .collect::<String>(),
        ),
        Format::Table => {
            let rows: Vec<Vec<String>> = list
                .iter()
                .map(|h| vec![h.endpoint.clone(), h.health.to_string(), h.took.clone(), h.error.clone()])
                .collect();
            print::out(&print::table::render(&["endpoint", "health", "took", "error"], &rows));
        }
        Format::Protobuf => return Err(printer.format.unsupported()),
    }
    if list.iter().any(|h| !h.error.is_empty()) {
        return Err(Fail::error("unhealthy cluster"));
    }
    Ok(())
}

/// One endpoint's check: a linearizable get of key `health` through a client of its own; a
/// permission denied answer is healthy too (the read went through consensus).
async fn check_health(config: cairn_client::Config, endpoint: String, timeout: Duration) -> Health {
    let start = Instant::now();
    let deadline = start + timeout;
    let unhealthy = |took: String, error: String| Health { endpoint: endpoint.clone(), health: false, took, error };
    let client = loop {
        match Client::connect(config.clone()).await {
            Ok(client) => break client,
            // Go's `clientv3.New` fails (before the clock starts) when it cannot authenticate.
            Err(cairn_client::Error::Status(status)) => {
                return unhealthy(String::new(), cairn_client::status_text(&status));
            }
            Err(cairn_client::Error::Config(message)) => return unhealthy(String::new(), message),
            Err(e) if Instant::now() >= deadline => {
                warn_balancer(&endpoint, &e);
                return unhealthy(print_took(start), "context deadline exceeded".to_owned());
            }
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(100).min(deadline.saturating_duration_since(Instant::now())))
                    .await
            }
        }
    };
    let request = RangeRequest { key: b"health".to_vec(), ..Default::default() };
    let result = tokio::time::timeout_at(deadline.into(), client.kv().range(request)).await;
    let took = print_took(start);
    match result {
        Ok(Ok(_)) => Health { endpoint, health: true, took, error: String::new() },
        Ok(Err(status)) if status.message() == "etcdserver: permission denied" => {
            Health { endpoint, health: true, took, error: String::new() }
        }
        Ok(Err(status)) => {
            warn(&format!("endpoint://client-{}/{endpoint}", client_uuid()), &status_line(&status));
            unhealthy(took, cairn_client::status_text(&status))
        }
        Err(_) => unhealthy(took, "context deadline exceeded".to_owned()),
    }
}

fn print_took(start: Instant) -> String {
    super::go_duration_string(start.elapsed())
}

/// Go's `json.Marshal` of `[]epHealth`.
fn health_json(list: &[Health]) -> String {
    let items: Vec<String> = list
        .iter()
        .map(|h| {
            let error =
                if h.error.is_empty() { String::new() } else { format!(",\"error\":\"{}\"", json_escape(&h.error)) };
            format!(
                "{{\"endpoint\":\"{}\",\"health\":{},\"took\":\"{}\"{error}}}",
                json_escape(&h.endpoint),
                h.health,
                json_escape(&h.took)
            )
        })
        .collect();
    format!("[{}]", items.join(","))
}

async fn status(ctx: &Ctx, args: &ClusterArgs) -> Result<(), Fail> {
    // Like clientv3's lazy dial, nothing is connected until an endpoint is asked.
    let config = ctx.config()?;
    let mut list = Vec::new();
    let mut failed = false;
    for endpoint in endpoints_from_cluster(ctx, args.cluster).await? {
        match on_endpoint(ctx, &config, &endpoint, |c| async move { c.maintenance().status(StatusRequest {}).await })
            .await
        {
            Ok((_, response)) => list.push((endpoint, response)),
            Err(fail) => {
                eprintln!("Failed to get the status of endpoint {endpoint} ({})", fail.message);
                failed = true;
            }
        }
    }
    let printer = ctx.printer()?;
    match printer.format {
        Format::Simple => print::out(&status_rows(&list).iter().map(|row| row.join(", ") + "\n").collect::<String>()),
        Format::Json => print::out(&(list_json(&list, "Status", "etcdserverpb.StatusResponse") + "\n")),
        Format::Fields => print::out(&list.iter().map(|(ep, r)| status_fields(ep, r)).collect::<String>()),
        Format::Table => print::out(&print::table::render(&STATUS_HEADER, &status_rows(&list))),
        Format::Protobuf => return Err(printer.format.unsupported()),
    }
    if failed {
        std::process::exit(exit::ERROR);
    }
    Ok(())
}

const STATUS_HEADER: [&str; 10] = [
    "endpoint",
    "ID",
    "version",
    "db size",
    "is leader",
    "is learner",
    "raft term",
    "raft index",
    "raft applied index",
    "errors",
];

fn status_rows(list: &[(String, StatusResponse)]) -> Vec<Vec<String>> {
    list.iter()
        .map(|(endpoint, r)| {
            let member = r.header.as_ref().map_or(0, |h| h.member_id);
            vec![
                endpoint.clone(),
                format!("{member:x}"),
                r.version.clone(),
                print::humanize_bytes(r.db_size as u64),
                (r.leader == member).to_string(),
                r.is_learner.to_string(),
                r.raft_term.to_string(),
                r.raft_index.to_string(),
                r.raft_applied_index.to_string(),
                r.errors.join(", "),
            ]
        })
        .collect()
}

fn status_fields(endpoint: &str, r: &StatusResponse) -> String {
    let mut text = print::fields_header(r.header.as_ref());
    text.push_str(&format!(
        "\"Version\" : {}\n\"DBSize\" : {}\n\"Leader\" : {}\n\"IsLearner\" : {}\n\"RaftIndex\" : {}\n\"RaftTerm\" : {}\n\"RaftAppliedIndex\" : {}\n\"Errors\" : [{}]\n\"Endpoint\" : {}\n\n",
        go_quote(&r.version),
        r.db_size,
        r.leader,
        r.is_learner,
        r.raft_index,
        r.raft_term,
        r.raft_applied_index,
        r.errors.join(" "),
        go_quote(endpoint),
    ));
    text
}

/// Go's `json.Marshal` of `[]epStatus` / `[]epHashKV`: `{"Endpoint":…,"<key>":<response>}`.
fn list_json<M: prost::Message>(list: &[(String, M)], key: &str, full_name: &str) -> String {
    let items: Vec<String> = list
        .iter()
        .map(|(endpoint, r)| {
            format!("{{\"Endpoint\":\"{}\",\"{key}\":{}}}", json_escape(endpoint), gojson::message(r, full_name))
        })
        .collect();
    format!("[{}]", items.join(","))
}

async fn hashkv(ctx: &Ctx, args: &HashKvArgs) -> Result<(), Fail> {
    let config = ctx.config()?;
    let mut list = Vec::new();
    let mut last_error = None;
    let revision = args.rev;
    for endpoint in endpoints_from_cluster(ctx, args.cluster.cluster).await? {
        let call = |c: Client| async move { c.maintenance().hash_kv(HashKvRequest { revision }).await };
        match on_endpoint(ctx, &config, &endpoint, call).await {
            Ok((_, response)) => list.push((endpoint, response)),
            Err(fail) => {
                eprintln!("Failed to get the hash of endpoint {endpoint} ({})", fail.message);
                last_error = Some(fail);
            }
        }
    }
    let printer = ctx.printer()?;
    let rows = |list: &[(String, HashKvResponse)]| -> Vec<Vec<String>> {
        list.iter().map(|(ep, r)| vec![ep.clone(), r.hash.to_string()]).collect()
    };
    match printer.format {
        Format::Simple => print::out(&rows(&list).iter().map(|row| row.join(", ") + "\n").collect::<String>()),
        Format::Json => print::out(&(list_json(&list, "HashKV", "etcdserverpb.HashKVResponse") + "\n")),
        Format::Fields => print::out(
            &list
                .iter()
                .map(|(ep, r)| {
                    format!(
                        "{}\"Endpoint\" : {}\n\"Hash\" : {}\n\n",
                        print::fields_header(r.header.as_ref()),
                        go_quote(ep),
                        r.hash
                    )
                })
                .collect::<String>(),
        ),
        Format::Table => print::out(&print::table::render(&["endpoint", "hash"], &rows(&list))),
        Format::Protobuf => return Err(printer.format.unsupported()),
    }
    match last_error {
        Some(fail) => Err(fail),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_json_is_gos() {
        let list = vec![
            Health { endpoint: "127.0.0.1:2379".into(), health: true, took: "8.158164ms".into(), error: String::new() },
            Health {
                endpoint: "127.0.0.1:1".into(),
                health: false,
                took: "5s".into(),
                error: "context deadline exceeded".into(),
            },
        ];
        assert_eq!(
            health_json(&list),
            r#"[{"endpoint":"127.0.0.1:2379","health":true,"took":"8.158164ms"},{"endpoint":"127.0.0.1:1","health":false,"took":"5s","error":"context deadline exceeded"}]"#
        );
    }

    #[test]
    fn status_fields_are_etcdctls() {
        let r = StatusResponse {
            version: "3.4.23".into(),
            db_size: 20480,
            leader: 7,
            raft_index: 15,
            raft_term: 2,
            raft_applied_index: 15,
            ..Default::default()
        };
        assert!(status_fields("127.0.0.1:2379", &r).ends_with(
            "\"Version\" : \"3.4.23\"\n\"DBSize\" : 20480\n\"Leader\" : 7\n\"IsLearner\" : false\n\"RaftIndex\" : 15\n\"RaftTerm\" : 2\n\"RaftAppliedIndex\" : 15\n\"Errors\" : []\n\"Endpoint\" : \"127.0.0.1:2379\"\n\n"
        ));
    }
}
