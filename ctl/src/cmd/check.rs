//! `check perf` and `check datascale`: etcdctl's load checks, with its workloads (s, m, l, xl),
//! its key and value sizes, and its verdict lines. The progress bar is a plain counter on
//! stdout, redrawn with `\r` (etcdctl's is cheggaaa/pb's); everything after it is etcdctl's.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use cairn_client::Client;
use cairn_proto::etcdserverpb::{CompactionRequest, DeleteRangeRequest, PutRequest, RangeRequest};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::endpoint::{client_uuid, on_endpoint, warn};
use super::{go_bool, prefix_end};
use crate::exit::Fail;
use crate::global::Ctx;
use crate::print::{self, go_quote};

/// The `check` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum CheckCommand {
    /// Check the performance of the etcd cluster
    Perf(CheckArgs),
    /// Check the memory usage of holding data for different workloads on a given server endpoint.
    Datascale(CheckArgs),
}

/// The flags both checks take (their defaults differ only in the prefix).
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// The check's workload model. Accepted workloads: s(small), m(medium), l(large), xl(xLarge)
    #[arg(long, default_value = "s")]
    load: String,
    /// The prefix for writing the check's keys (default /etcdctl-check-perf/ or /etcdctl-check-datascale/).
    #[arg(long)]
    prefix: Option<String>,
    /// Compact storage with last revision after test is finished.
    #[arg(long = "auto-compact", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_parser = go_bool)]
    auto_compact: bool,
    /// Defragment storage after test is finished.
    #[arg(long = "auto-defrag", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_parser = go_bool)]
    auto_defrag: bool,
    /// Ignored, as cobra ignores them.
    #[arg(hide = true)]
    args: Vec<String>,
}

/// Runs a `check` subcommand.
pub async fn run(ctx: &Ctx, command: CheckCommand) -> Result<(), Fail> {
    match command {
        CheckCommand::Perf(args) => perf(ctx, args).await,
        CheckCommand::Datascale(args) => datascale(ctx, args).await,
    }
}

/// The workload model a `--load` names (etcdctl's aliases).
fn model(load: &str) -> Result<usize, Fail> {
    match load {
        "s" | "small" => Ok(0),
        "m" | "medium" => Ok(1),
        "l" | "large" => Ok(2),
        "xl" | "xLarge" => Ok(3),
        other => Err(Fail::bad_feature(format!("unknown load option {other}"))),
    }
}

/// `check perf`'s models: writes per second, clients, seconds.
const PERF: [(u32, usize, u64); 4] = [(150, 50, 60), (1000, 200, 60), (8000, 500, 60), (15000, 1000, 60)];
/// `check datascale`'s models: keys, bytes per key-value, clients.
const DATASCALE: [(u64, usize, usize); 4] =
    [(10_000, 1024, 50), (100_000, 1024, 200), (1_000_000, 1024, 500), (3_000_000, 1024, 1000)];

/// One client of the load, with the id Go's client would log failures under.
struct LoadClient {
    client: Client,
    target: String,
}

async fn clients(ctx: &Ctx, n: usize) -> Result<Vec<LoadClient>, Fail> {
    let mut clients = Vec::with_capacity(n);
    for _ in 0..n {
        let client = ctx.client().await?;
        let target = format!(
            "endpoint://client-{}/{}",
            client_uuid(),
            client.endpoint().split("://").last().unwrap_or_default()
        );
        clients.push(LoadClient { client, target });
    }
    Ok(clients)
}

/// Fails (exit code 3) when `prefix` holds a key, as etcdctl refuses to write among them.
async fn check_prefix_is_empty(
    ctx: &Ctx,
    client: &Client,
    prefix: &str,
    timeout: Option<Duration>,
) -> Result<(), Fail> {
    let request = RangeRequest {
        key: prefix.as_bytes().to_vec(),
        range_end: prefix_end(prefix.as_bytes()),
        limit: 1,
        ..Default::default()
    };
    let mut kv = client.kv();
    let call = kv.range(request);
    let response = match timeout {
        Some(limit) => match tokio::time::timeout(limit, call).await {
            Ok(result) => result,
            Err(_) => return Err(Fail::error("context deadline exceeded")),
        },
        None => call.await,
    };
    let response = response.map_err(|status| {
        ctx.warn_failed(&status);
        Fail::from(status)
    })?;
    if !response.into_inner().kvs.is_empty() {
        return Err(Fail::invalid_input(format!(
            "prefix {} has keys. Delete with etcdctl del --prefix {prefix} first",
            go_quote(prefix)
        )));
    }
    Ok(())
}

/// A key of the load: `prefix` and `size` bytes holding Go's `binary.PutVarint` of a random
/// positive number (zeros after it).
fn random_key(prefix: &str, size: usize, rng: &mut u64) -> Vec<u8> {
    *rng ^= *rng << 13;
    *rng ^= *rng >> 7;
    *rng ^= *rng << 17;
    let mut zigzag = (*rng >> 1) << 1;
    let mut key = prefix.as_bytes().to_vec();
    let start = key.len();
    key.resize(start + size, 0);
    let mut i = start;
    while zigzag >= 0x80 {
        key[i] = (zigzag as u8) | 0x80;
        zigzag >>= 7;
        i += 1;
    }
    key[i] = zigzag as u8;
    key
}

fn seed() -> u64 {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
    (nanos as u64 ^ u64::from(std::process::id()).rotate_left(32)) | 1
}

/// What the load's requests came to (etcd's `pkg/report` statistics that the checks read).
#[derive(Debug, Default)]
struct Stats {
    latencies: Vec<f64>,
    errors: BTreeMap<String, u64>,
    total: Duration,
}

impl Stats {
    fn rps(&self) -> f64 {
        self.latencies.len() as f64 / self.total.as_secs_f64()
    }

    fn slowest(&self) -> f64 {
        self.latencies.iter().copied().fold(0.0, f64::max)
    }

    fn stddev(&self) -> f64 {
        let n = self.latencies.len() as f64;
        let average = self.latencies.iter().sum::<f64>() / n;
        (self.latencies.iter().map(|l| (l - average) * (l - average)).sum::<f64>() / n).sqrt()
    }

    /// etcdctl's lines for failed requests: `FAIL: too many errors`, then one line per error.
    fn error_lines(&self) -> String {
        let mut text = "FAIL: too many errors\n".to_owned();
        for (error, count) in &self.errors {
            text.push_str(&format!("FAIL: ERROR({error}) -> {count}\n"));
        }
        text
    }
}

/// A progress counter on stdout, redrawn in place.
#[derive(Clone)]
struct Bar {
    total: u64,
    done: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl Bar {
    fn new(total: u64) -> Bar {
        Bar { total, done: std::sync::Arc::default() }
    }

    fn add(&self, n: u64) {
        self.done.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
    }

    fn draw(&self) {
        let done = self.done.load(std::sync::atomic::Ordering::Relaxed).min(self.total);
        let percent = if self.total == 0 { 100.0 } else { done as f64 * 100.0 / self.total as f64 };
        print::out(&format!("\r{done} / {} {percent:7.2}%", self.total));
    }

    /// Redraws every second until `stop` resolves, then draws the last state and ends the line.
    async fn run(self, stop: tokio::sync::oneshot::Receiver<()>) {
        let mut stop = stop;
        loop {
            self.draw();
            tokio::select! {
                _ = &mut stop => break,
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
        self.draw();
        print::out("\n");
    }
}

/// Runs every put of `ops` on the clients (one worker each) and collects the statistics.
async fn load(clients: &[LoadClient], ops: tokio::sync::mpsc::Receiver<PutRequest>, bar: Option<&Bar>) -> Stats {
    let ops = std::sync::Arc::new(tokio::sync::Mutex::new(ops));
    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for c in clients {
        let (ops, mut kv, target, bar) = (ops.clone(), c.client.kv(), c.target.clone(), bar.cloned());
        workers.spawn(async move {
            let mut stats = Stats::default();
            loop {
                let Some(op) = ops.lock().await.recv().await else { break };
                let start = Instant::now();
                match kv.put(op).await {
                    Ok(_) => stats.latencies.push(start.elapsed().as_secs_f64()),
                    Err(status) => {
                        warn(
                            &target,
                            &format!(
                                "rpc error: code = {} desc = {}",
                                cairn_client::go_code_name(status.code()),
                                status.message()
                            ),
                        );
                        *stats.errors.entry(cairn_client::status_text(&status)).or_default() += 1;
                    }
                }
                if let Some(bar) = &bar {
                    bar.add(1);
                }
            }
            stats
        });
    }
    let mut all = Stats::default();
    while let Some(Ok(stats)) = workers.join_next().await {
        all.latencies.extend(stats.latencies);
        for (error, count) in stats.errors {
            *all.errors.entry(error).or_default() += count;
        }
    }
    all.total = started.elapsed();
    all
}

/// Deletes the check's keys, then compacts and defragments when asked, as etcdctl does after a
/// check (each step with a 30 s timeout).
async fn clean_up(
    ctx: &Ctx,
    client: &Client,
    prefix: &str,
    args: &CheckArgs,
    timeout: Option<Duration>,
) -> Result<(), Fail> {
    let request = DeleteRangeRequest {
        key: prefix.as_bytes().to_vec(),
        range_end: prefix_end(prefix.as_bytes()),
        ..Default::default()
    };
    let mut kv = client.kv();
    let call = kv.delete_range(request);
    let deleted = match timeout {
        Some(limit) => tokio::time::timeout(limit, call).await.map_err(|_| Fail::error("context deadline exceeded"))?,
        None => call.await,
    };
    let deleted = deleted.map_err(|status| {
        ctx.warn_failed(&status);
        Fail::from(status)
    })?;
    let revision = deleted.into_inner().header.map_or(0, |h| h.revision);
    let thirty = Duration::from_secs(30);
    if args.auto_compact {
        print::out(&format!("Compacting with revision {revision}\n"));
        let request = CompactionRequest { revision, physical: true };
        tokio::time::timeout(thirty, client.kv().compact(request))
            .await
            .map_err(|_| Fail::error("context deadline exceeded"))?
            .map_err(|status| {
                ctx.warn_failed(&status);
                Fail::from(status)
            })?;
        print::out(&format!("Compacted with revision {revision}\n"));
    }
    if args.auto_defrag {
        let config = ctx.config()?;
        for endpoint in ctx.endpoints() {
            print::out(&format!("Defragmenting {}\n", go_quote(&endpoint)));
            let call = |c: Client| async move {
                c.maintenance().defragment(cairn_proto::etcdserverpb::DefragmentRequest {}).await
            };
            tokio::time::timeout(thirty, on_endpoint(ctx, &config, &endpoint, call))
                .await
                .map_err(|_| Fail::error("context deadline exceeded"))??;
            print::out(&format!("Defragmented {}\n", go_quote(&endpoint)));
        }
    }
    Ok(())
}

async fn perf(ctx: &Ctx, args: CheckArgs) -> Result<(), Fail> {
    let (limit, n_clients, seconds) = PERF[model(&args.load)?];
    let prefix = args.prefix.clone().unwrap_or_else(|| "/etcdctl-check-perf/".to_owned());
    let clients = clients(ctx, n_clients).await?;
    let first = clients[0].client.clone();
    let duration = Duration::from_secs(seconds);
    check_prefix_is_empty(ctx, &first, &prefix, Some(duration)).await?;

    let bar = Bar::new(seconds);
    let (stop_bar, bar_stopped) = tokio::sync::oneshot::channel();
    let drawing = tokio::spawn(bar.clone().run(bar_stopped));
    let ticking = {
        let bar = bar.clone();
        tokio::spawn(async move {
            for _ in 0..seconds {
                tokio::time::sleep(Duration::from_secs(1)).await;
                bar.add(1);
            }
        })
    };
    // etcdctl's rate limiter (burst 1): a put every 1/limit seconds for the duration, none saved
    // up while the clients are busy.
    let (sender, receiver) = tokio::sync::mpsc::channel(n_clients);
    let generating = {
        let prefix = prefix.clone();
        tokio::spawn(async move {
            let end = Instant::now() + duration;
            let mut interval = tokio::time::interval(Duration::from_secs(1) / limit);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut rng = seed();
            let value = vec![0u8; 1024];
            loop {
                interval.tick().await;
                if Instant::now() >= end {
                    break;
                }
                let put =
                    PutRequest { key: random_key(&prefix, 256, &mut rng), value: value.clone(), ..Default::default() };
                if sender.send(put).await.is_err() {
                    break;
                }
            }
        })
    };
    let stats = load(&clients, receiver, None).await;
    let _ = generating.await;
    let _ = ticking.await;
    let _ = stop_bar.send(());
    let _ = drawing.await;

    clean_up(ctx, &first, &prefix, &args, Some(Duration::from_secs(30))).await?;
    let mut ok = true;
    let mut text = String::new();
    if !stats.errors.is_empty() {
        text.push_str(&stats.error_lines());
        ok = false;
    }
    let rps = stats.rps();
    if rps / f64::from(limit) <= 0.9 {
        text.push_str(&format!("FAIL: Throughput too low: {} writes/s\n", rps as i64 + 1));
        ok = false;
    } else {
        text.push_str(&format!("PASS: Throughput is {} writes/s\n", rps as i64 + 1));
    }
    let slowest = stats.slowest();
    if slowest > 0.5 {
        text.push_str(&format!("Slowest request took too long: {slowest:.6}s\n"));
        ok = false;
    } else {
        text.push_str(&format!("PASS: Slowest request took {slowest:.6}s\n"));
    }
    let stddev = stats.stddev();
    if stddev > 0.1 {
        text.push_str(&format!("Stddev too high: {stddev:.6}s\n"));
        ok = false;
    } else {
        text.push_str(&format!("PASS: Stddev is {stddev:.6}s\n"));
    }
    text.push_str(if ok { "PASS\n" } else { "FAIL\n" });
    print::out(&text);
    if !ok {
        std::process::exit(crate::exit::ERROR);
    }
    Ok(())
}

async fn datascale(ctx: &Ctx, args: CheckArgs) -> Result<(), Fail> {
    let (limit, kv_size, n_clients) = DATASCALE[model(&args.load)?];
    let prefix = args.prefix.clone().unwrap_or_else(|| "/etcdctl-check-datascale/".to_owned());
    let clients = clients(ctx, n_clients).await?;
    let first = clients[0].client.clone();
    let endpoint = ctx.endpoints().first().cloned().unwrap_or_default();
    check_prefix_is_empty(ctx, &first, &prefix, None).await?;

    let Some(before) = resident_memory(&endpoint).await else {
        print::out("FAIL: Could not read process_resident_memory_bytes before the put operations.\n");
        std::process::exit(crate::exit::ERROR);
    };
    print::out(&format!(
        "Start data scale check for work load [{limit} key-value pairs, {kv_size} bytes per key-value, {n_clients} concurrent clients].\n"
    ));
    let bar = Bar::new(limit);
    let (stop_bar, bar_stopped) = tokio::sync::oneshot::channel();
    let drawing = tokio::spawn(bar.clone().run(bar_stopped));
    let (sender, receiver) = tokio::sync::mpsc::channel(n_clients);
    let generating = {
        let prefix = prefix.clone();
        tokio::spawn(async move {
            let mut rng = seed();
            let value = vec![0u8; 512];
            for _ in 0..limit {
                let put =
                    PutRequest { key: random_key(&prefix, 512, &mut rng), value: value.clone(), ..Default::default() };
                if sender.send(put).await.is_err() {
                    break;
                }
            }
        })
    };
    let stats = load(&clients, receiver, Some(&bar)).await;
    let _ = generating.await;
    let _ = stop_bar.send(());
    let _ = drawing.await;

    let Some(after) = resident_memory(&endpoint).await else {
        print::out("FAIL: Could not read process_resident_memory_bytes after the put operations.\n");
        std::process::exit(crate::exit::ERROR);
    };
    clean_up(ctx, &first, &prefix, &args, None).await?;
    if !stats.errors.is_empty() {
        print::out(&stats.error_lines());
        std::process::exit(crate::exit::ERROR);
    }
    let mb_used = (after - before) / (1024.0 * 1024.0);
    print::out(&format!("PASS: Approximate system memory used : {mb_used:.2} MB.\n"));
    Ok(())
}

/// `process_resident_memory_bytes` from the endpoint's `/metrics` (plain HTTP), printing what
/// went wrong as etcdctl does when it cannot be read.
async fn resident_memory(endpoint: &str) -> Option<f64> {
    const KEY: &str = "process_resident_memory_bytes";
    let host = endpoint.strip_prefix("http://").unwrap_or(endpoint).trim_end_matches('/');
    let url = format!("http://{host}/metrics");
    if endpoint.starts_with("https://") {
        print::out("fetch error: cairnctl reads /metrics over plain HTTP only\n");
        return None;
    }
    let body = match fetch(host).await {
        Ok(body) => body,
        Err(e) => {
            print::out(&format!("fetch error: Get {}: {e}\n", go_quote(&url)));
            return None;
        }
    };
    let Some(line) = body.lines().find(|l| l.starts_with(KEY)) else {
        print::out(&format!("could not find: {KEY}\n"));
        return None;
    };
    let value = line[KEY.len()..].trim();
    match value.parse::<f64>() {
        Ok(bytes) => Some(bytes),
        Err(_) => {
            print::out(&format!("parse error: strconv.ParseFloat: parsing {}: invalid syntax\n", go_quote(value)));
            None
        }
    }
}

/// `GET /metrics` over HTTP/1.0 (so the server closes the connection after the body).
async fn fetch(host: &str) -> std::io::Result<String> {
    let mut stream = tokio::net::TcpStream::connect(host).await?;
    stream.write_all(format!("GET /metrics HTTP/1.0\r\nHost: {host}\r\n\r\n").as_bytes()).await?;
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut response))
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "timeout"))??;
    let text = String::from_utf8_lossy(&response);
    Ok(text.split_once("\r\n\r\n").map_or(String::new(), |(_, body)| body.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_hold_a_varint_after_the_prefix() {
        let mut rng = 12345;
        let key = random_key("/p/", 256, &mut rng);
        assert_eq!(key.len(), 3 + 256);
        assert!(key.starts_with(b"/p/"));
        assert_eq!(key[3] & 1, 0, "zigzag of a positive number is even");
    }

    #[test]
    fn loads_have_etcdctls_aliases() {
        assert_eq!(model("xLarge"), Ok(3));
        assert_eq!(model("bogus"), Err(Fail::bad_feature("unknown load option bogus")));
    }

    #[test]
    fn statistics_are_reports() {
        let stats = Stats { latencies: vec![0.1, 0.3], errors: BTreeMap::new(), total: Duration::from_secs(1) };
        assert_eq!(stats.rps(), 2.0);
        assert!((stats.stddev() - 0.1).abs() < 1e-9);
        assert_eq!(stats.slowest(), 0.3);
    }
}
