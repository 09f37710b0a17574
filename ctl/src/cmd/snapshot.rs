//! `snapshot save|status|restore`.
//!
//! `save` streams `Maintenance.Snapshot` into a file (from cairn or etcd alike) and logs what
//! etcdctl logs. `status` and `restore` read the file offline, in cairn's snapshot format (what
//! a cairn member streams); etcd's bolt files are not read. `restore` builds a data directory a
//! new `cairn` member starts from (see [`datadir`]).

mod datadir;
mod file;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use cairn_proto::etcdserverpb::SnapshotRequest;
use tokio_stream::StreamExt;

use super::bad_args;
use crate::exit::{self, Fail};
use crate::global::Ctx;
use crate::print::{self, Format, table, zap_escape};

/// The `snapshot` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum SnapshotCommand {
    /// Stores an etcd node backend snapshot to a given file
    Save {
        /// <filename>
        args: Vec<String>,
    },
    /// Restores an etcd member snapshot to an etcd directory
    Restore(RestoreArgs),
    /// Gets backend snapshot status of a given file
    Status {
        /// <filename>
        args: Vec<String>,
    },
}

/// `snapshot restore <filename> [options]`
#[derive(Debug, clap::Args)]
pub struct RestoreArgs {
    /// Path to the data directory
    #[arg(long = "data-dir", default_value = "")]
    data_dir: String,
    /// Path to the WAL directory (use --data-dir if none given)
    #[arg(long = "wal-dir", default_value = "")]
    wal_dir: String,
    /// Initial cluster configuration for restore bootstrap
    #[arg(long = "initial-cluster", default_value = "default=http://localhost:2380")]
    initial_cluster: String,
    /// Initial cluster token for the etcd cluster during restore bootstrap
    #[arg(long = "initial-cluster-token", default_value = "etcd-cluster")]
    initial_cluster_token: String,
    /// List of this member's peer URLs to advertise to the rest of the cluster
    #[arg(long = "initial-advertise-peer-urls", default_value = "http://localhost:2380")]
    initial_advertise_peer_urls: String,
    /// Human-readable name for this member
    #[arg(long, default_value = "default")]
    name: String,
    /// Ignore snapshot integrity hash value (required if copied from data directory)
    #[arg(long = "skip-hash-check", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_parser = super::go_bool)]
    skip_hash_check: bool,
    /// <filename>
    args: Vec<String>,
}

/// Runs a `snapshot` subcommand.
pub async fn run(ctx: &Ctx, command: SnapshotCommand) -> Result<(), Fail> {
    match command {
        SnapshotCommand::Save { args } => save(ctx, args).await,
        SnapshotCommand::Status { args } => status(ctx, args),
        SnapshotCommand::Restore(args) => restore(args),
    }
}

/// A Go `os` error as Go words it: `<op> <path>: <reason>`.
pub fn go_io_error(op: &str, path: &Path, error: &std::io::Error) -> String {
    format!("{op} {}: {}", path.display(), go_errno(error))
}

/// The text Go's `syscall.Errno` prints for an I/O error's errno.
fn go_errno(error: &std::io::Error) -> String {
    match error.raw_os_error() {
        Some(2) => "no such file or directory".to_owned(),
        Some(13) => "permission denied".to_owned(),
        Some(17) => "file exists".to_owned(),
        Some(20) => "not a directory".to_owned(),
        Some(21) => "is a directory".to_owned(),
        Some(28) => "no space left on device".to_owned(),
        _ => {
            let text = error.to_string();
            let text = text.split(" (os error").next().unwrap_or(&text);
            let mut chars = text.chars();
            chars.next().map(|c| c.to_lowercase().collect::<String>() + chars.as_str()).unwrap_or_default()
        }
    }
}

/// One line of the zap production logger etcdctl's snapshot manager writes to stderr (time as
/// Unix seconds), with `fields` already encoded as `"key":value`.
fn zap_info(caller: &str, msg: &str, fields: &[String]) {
    let ts = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs_f64();
    let mut line = format!("{{\"level\":\"info\",\"ts\":{ts},\"caller\":\"{caller}\",\"msg\":\"{}\"", zap_escape(msg));
    for field in fields {
        line.push(',');
        line.push_str(field);
    }
    line.push('}');
    eprintln!("{line}");
}

/// The logger of etcd's client (ISO 8601 time).
fn client_log(level: &str, caller: &str, msg: &str, extra: &str) {
    eprintln!(
        "{{\"level\":\"{level}\",\"ts\":\"{}\",\"caller\":\"{caller}\",\"msg\":\"{msg}\"{extra}}}",
        print::rfc3339_millis(SystemTime::now())
    );
}

/// A zap string field.
fn field(key: &str, value: &str) -> String {
    format!("\"{key}\":\"{}\"", zap_escape(value))
}

/// Whether `--command-timeout` was given (flag or variable): only then does `save` have a
/// deadline, as in etcdctl.
fn command_timeout_set() -> bool {
    std::env::var_os("ETCDCTL_COMMAND_TIMEOUT").is_some()
        || std::env::args().any(|a| a == "--command-timeout" || a.starts_with("--command-timeout="))
}

async fn save(ctx: &Ctx, args: Vec<String>) -> Result<(), Fail> {
    let [path] = args.as_slice() else {
        return Err(bad_args("snapshot save expects one argument"));
    };
    let interrupted = |message: String| Fail::new(exit::INTERRUPTED, message);
    ctx.config()?;
    let endpoints = ctx.endpoints();
    if endpoints.len() != 1 {
        return Err(interrupted(format!(
            "snapshot must be requested to one selected node, not multiple [{}]",
            endpoints.join(" ")
        )));
    }
    let work = async {
        let part = PathBuf::from(format!("{path}.part"));
        let saved = save_to(ctx, &endpoints[0], &part, Path::new(path)).await;
        let _ = std::fs::remove_file(&part);
        saved
    };
    if command_timeout_set() {
        match tokio::time::timeout(ctx.global.command_timeout, work).await {
            Ok(result) => result.map_err(interrupted)?,
            Err(_) => return Err(interrupted("context deadline exceeded".to_owned())),
        }
    } else {
        work.await.map_err(interrupted)?;
    }
    println!("Snapshot saved at {path}");
    Ok(())
}

/// etcd's `snapshot.Save`: the stream into `part`, checked for the SHA-256 trailer, synced,
/// renamed to `path`.
async fn save_to(ctx: &Ctx, endpoint: &str, part: &Path, path: &Path) -> Result<(), String> {
    let mut file = open_private(part)
        .map_err(|e| format!("could not open {} ({})", part.display(), go_io_error("open", part, &e)))?;
    zap_info("snapshot/v3_snapshot.go:119", "created temporary db file", &[field("path", &part.to_string_lossy())]);
    let started = Instant::now();
    let client = ctx.client().await.map_err(|f| f.message)?;
    let mut stream = client
        .maintenance()
        .snapshot(SnapshotRequest {})
        .await
        .map_err(|s| cairn_client::status_text(&s))?
        .into_inner();
    client_log("info", "clientv3/maintenance.go:200", "opened snapshot stream; downloading", "");
    zap_info("snapshot/v3_snapshot.go:127", "fetching snapshot", &[field("endpoint", endpoint)]);
    let mut size = 0u64;
    while let Some(message) = stream.next().await {
        let message = match message {
            Ok(message) => message,
            Err(status) => {
                let text = cairn_client::status_text(&status);
                client_log(
                    "warn",
                    "clientv3/maintenance.go:210",
                    "failed to receive from snapshot stream; closing",
                    &format!(
                        ",\"error\":\"{}\"",
                        zap_escape(&format!(
                            "rpc error: code = {} desc = {}",
                            cairn_client::go_code_name(status.code()),
                            status.message()
                        ))
                    ),
                );
                return Err(text);
            }
        };
        file.write_all(&message.blob).map_err(|e| go_io_error("write", part, &e))?;
        size += message.blob.len() as u64;
    }
    client_log("info", "clientv3/maintenance.go:208", "completed snapshot read; closing", "");
    if !file::has_checksum(size) {
        return Err(format!("sha256 checksum not found [bytes: {size}]"));
    }
    file.sync_all().map_err(|e| go_io_error("sync", part, &e))?;
    drop(file);
    zap_info(
        "snapshot/v3_snapshot.go:142",
        "fetched snapshot",
        &[
            field("endpoint", endpoint),
            field("size", &print::humanize_bytes(size)),
            format!("\"took\":{}", started.elapsed().as_secs_f64()),
        ],
    );
    std::fs::rename(part, path).map_err(|e| {
        format!("could not rename {} to {} ({})", part.display(), path.display(), go_io_error("rename", part, &e))
    })?;
    zap_info("snapshot/v3_snapshot.go:152", "saved", &[field("path", &path.to_string_lossy())]);
    Ok(())
}

/// Creates (truncating) a file only its owner may read and write, as etcd's `PrivateFileMode`.
fn open_private(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)
}

fn status(ctx: &Ctx, args: Vec<String>) -> Result<(), Fail> {
    let [path] = args.as_slice() else {
        return Err(bad_args("snapshot status requires exactly one argument"));
    };
    let printer = ctx.printer()?;
    let path = Path::new(path);
    std::fs::metadata(path).map_err(|e| Fail::error(go_io_error("stat", path, &e)))?;
    let status = file::SnapshotFile::open(path).and_then(|mut f| f.status()).map_err(Fail::error)?;
    let row = vec![
        format!("{:x}", status.hash),
        status.revision.to_string(),
        status.total_key.to_string(),
        print::humanize_bytes(status.total_size),
    ];
    match printer.format {
        Format::Simple => print::out(&format!("{}\n", row.join(", "))),
        Format::Json => print::out(&format!(
            "{{\"hash\":{},\"revision\":{},\"totalKey\":{},\"totalSize\":{}}}\n",
            status.hash, status.revision, status.total_key, status.total_size
        )),
        Format::Fields => print::out(&format!(
            "\"Hash\" : {}\n\"Revision\" : {}\n\"Keys\" : {}\n\"Size\" : {}\n",
            status.hash, status.revision, status.total_key, status.total_size
        )),
        Format::Table => print::out(&table::render(&["hash", "revision", "total keys", "total size"], &[row])),
        Format::Protobuf => return Err(printer.format.unsupported()),
    }
    Ok(())
}

fn restore(a: RestoreArgs) -> Result<(), Fail> {
    let [path] = a.args.as_slice() else {
        return Err(bad_args("snapshot restore requires exactly one argument"));
    };
    let data_dir = if a.data_dir.is_empty() { format!("{}.etcd", a.name) } else { a.data_dir.clone() };
    let peer_urls = parse_urls(a.initial_advertise_peer_urls.split(',')).map_err(Fail::error)?;
    let initial = parse_initial_cluster(&a.initial_cluster).map_err(Fail::error)?;
    verify_bootstrap(&a.name, &peer_urls, &initial).map_err(Fail::error)?;
    let cluster = datadir::NewCluster::new(&initial, &a.initial_cluster_token, &a.name);
    let data_path = PathBuf::from(&data_dir);
    if data_path.exists() {
        return Err(Fail::error(format!("data-dir {} exists", print::go_quote(&data_dir))));
    }
    if !a.wal_dir.is_empty() {
        return Err(Fail::error(format!(
            "--wal-dir is not supported: a cairn member keeps its raft log in {}",
            data_path.join("member").join(datadir::RAFT_DIR).display()
        )));
    }
    let member = data_path.join("member");
    let locations = [
        field("path", path),
        field("wal-dir", &member.join(datadir::RAFT_DIR).to_string_lossy()),
        field("data-dir", &data_dir),
        field("snap-dir", &member.join(datadir::BACKEND_DIR).to_string_lossy()),
    ];
    zap_info("snapshot/v3_snapshot.go:296", "restoring snapshot", &locations);
    let mut snapshot = file::SnapshotFile::open(Path::new(path)).map_err(Fail::error)?;
    if !snapshot.hashed && !a.skip_hash_check {
        return Err(Fail::error("snapshot missing hash but --skip-hash-check=false"));
    }
    if snapshot.hashed && !a.skip_hash_check {
        snapshot.verify_checksum().map_err(Fail::error)?;
    }
    datadir::restore(&mut snapshot, &data_path, &cluster).map_err(Fail::error)?;
    for m in &cluster.members {
        let urls: Vec<String> = m.peer_urls.iter().map(|u| format!("\"{}\"", zap_escape(u))).collect();
        zap_info(
            "membership/cluster.go:392",
            "added member",
            &[
                field("cluster-id", &format!("{:x}", cluster.cluster_id)),
                field("local-member-id", "0"),
                field("added-peer-id", &format!("{:x}", m.id)),
                format!("\"added-peer-peer-urls\":[{}]", urls.join(",")),
            ],
        );
    }
    zap_info("snapshot/v3_snapshot.go:309", "restored snapshot", &locations);
    Ok(())
}

/// etcd's `types.NewURLs`: each URL trimmed, `http`, `https`, `unix` or `unixs`, with a
/// `host:port` and no path; sorted.
fn parse_urls<'a>(texts: impl Iterator<Item = &'a str>) -> Result<Vec<String>, String> {
    let mut urls = Vec::new();
    for text in texts {
        let url = text.trim();
        let Some((scheme, rest)) = url.split_once("://") else {
            return Err(format!("URL scheme must be http, https, unix, or unixs: {url}"));
        };
        if !["http", "https", "unix", "unixs"].contains(&scheme) {
            return Err(format!("URL scheme must be http, https, unix, or unixs: {url}"));
        }
        let (host, path) = rest.split_once('/').map_or((rest, ""), |(h, p)| (h, p));
        let has_port = host.rsplit_once(':').is_some_and(|(h, _)| !h.contains(':') || h.starts_with('['));
        if !has_port {
            return Err(format!("URL address does not have the form \"host:port\": {url}"));
        }
        if !path.is_empty() || rest.ends_with('/') {
            return Err(format!("URL must not contain a path: {url}"));
        }
        urls.push(url.to_owned());
    }
    if urls.is_empty() {
        return Err("no valid URLs given".to_owned());
    }
    urls.sort();
    Ok(urls)
}

/// etcd's `types.NewURLsMap`: `name=url` pairs (a name may repeat), in first-seen order.
fn parse_initial_cluster(text: &str) -> Result<Vec<(String, Vec<String>)>, String> {
    let mut members: Vec<(String, Vec<&str>)> = Vec::new();
    for pair in text.split(',') {
        let Some((name, url)) = pair.split_once('=') else { continue };
        match members.iter_mut().find(|(n, _)| n == name) {
            Some((_, urls)) => urls.push(url),
            None => members.push((name.to_owned(), vec![url])),
        }
    }
    members.into_iter().map(|(name, urls)| Ok((name, parse_urls(urls.into_iter())?))).collect()
}

/// etcd's `VerifyBootstrap` for a restore: this member is in the cluster, advertises the URLs
/// the cluster gives it (`localhost` counted as 127.0.0.1), and no URL is given twice.
fn verify_bootstrap(name: &str, peer_urls: &[String], initial: &[(String, Vec<String>)]) -> Result<(), String> {
    let Some((_, own)) = initial.iter().find(|(n, _)| n == name) else {
        return Err(format!("couldn't find local name {} in the initial cluster configuration", print::go_quote(name)));
    };
    let resolve = |u: &String| u.replace("://localhost:", "://127.0.0.1:");
    let mut resolved_own: Vec<String> = own.iter().map(resolve).collect();
    let mut resolved_peer: Vec<String> = peer_urls.iter().map(resolve).collect();
    resolved_own.sort();
    resolved_peer.sort();
    if resolved_own != resolved_peer {
        let reason = if own.len() != peer_urls.len() {
            format!("len({}) != len({})", go_quote_list(peer_urls), go_quote_list(own))
        } else {
            let (mut peer_sorted, mut own_sorted) = (peer_urls.to_vec(), own.to_vec());
            peer_sorted.sort();
            own_sorted.sort();
            let differing = peer_sorted.iter().zip(&own_sorted).find(|(a, b)| resolve(a) != resolve(b));
            let (a, b) = differing.unwrap_or((&peer_sorted[0], &own_sorted[0]));
            format!("resolved urls: {} != {}", print::go_quote(a), print::go_quote(b))
        };
        let missing: Vec<String> =
            own.iter().filter(|u| !peer_urls.contains(u)).map(|u| format!("{name}={u}")).collect();
        if !missing.is_empty() {
            return Err(format!(
                "--initial-cluster has {} but missing from --initial-advertise-peer-urls={} ({reason})",
                missing.join(","),
                peer_urls.join(",")
            ));
        }
        let extra: Vec<&String> = peer_urls.iter().filter(|u| !own.contains(u)).collect();
        let given: Vec<String> = peer_urls.iter().map(|u| format!("{name}={u}")).collect();
        if !extra.is_empty() {
            return Err(format!(
                "--initial-advertise-peer-urls has {} but missing from --initial-cluster={}",
                extra.iter().map(|u| u.as_str()).collect::<Vec<_>>().join(","),
                given.join(",")
            ));
        }
        return Err(format!(
            "failed to resolve {} to match --initial-cluster={} ({reason})",
            peer_urls.join(","),
            given.join(",")
        ));
    }
    let mut all: Vec<&String> = initial.iter().flat_map(|(_, urls)| urls).collect();
    let count = all.len();
    all.sort();
    all.dedup();
    if all.len() != count {
        let mut pairs: Vec<String> =
            initial.iter().flat_map(|(n, urls)| urls.iter().map(move |u| format!("{n}={u}"))).collect();
        pairs.sort();
        return Err(format!("initial cluster {} has duplicate url", pairs.join(",")));
    }
    Ok(())
}

/// Go's `%q` of a string slice: `["a" "b"]`.
fn go_quote_list(list: &[String]) -> String {
    format!("[{}]", list.iter().map(|s| print::go_quote(s)).collect::<Vec<_>>().join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bootstrap_checks_are_etcds() {
        let initial = parse_initial_cluster("default=http://localhost:2380").expect("valid");
        assert_eq!(verify_bootstrap("default", &["http://localhost:2380".to_owned()], &initial), Ok(()));
        assert_eq!(
            verify_bootstrap("x", &["http://localhost:2380".to_owned()], &initial),
            Err("couldn't find local name \"x\" in the initial cluster configuration".to_owned())
        );
        assert_eq!(
            verify_bootstrap("default", &["http://127.0.0.1:9".to_owned()], &initial),
            Err("--initial-cluster has default=http://localhost:2380 but missing from --initial-advertise-peer-urls=http://127.0.0.1:9 (resolved urls: \"http://127.0.0.1:9\" != \"http://localhost:2380\")".to_owned())
        );
        assert_eq!(
            parse_urls(["foo"].into_iter()),
            Err("URL scheme must be http, https, unix, or unixs: foo".to_owned())
        );
    }
}
