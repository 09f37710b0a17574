//! `cairn-bench`: etcd's `tools/benchmark` load generator, for cairn and for
//! etcd itself: the same workloads, flags and summary, plus `--output json`.
//!
//! ```text
//! cairn-bench --endpoints 127.0.0.1:2379 --conns 100 --clients 1000 put --total 100000 --key-size 8 --val-size 256
//! cairn-bench --endpoints 127.0.0.1:2379 --conns 100 --clients 1000 range foo --total 100000 --consistency s
//! cairn-bench --conns 10 --clients 100 txn-mixed --total 10000 --rw-ratio 4 --key-space-size 1000
//! cairn-bench --conns 10 --clients 10 watch --streams 10 --watch-per-stream 100 --put-total 1000
//! cairn-bench --clients 10 watch-latency --total 1000 --put-rate 100
//! cairn-bench --output json --clients 50 stm --keys 100 --keys-per-txn 2 --isolation s
//! ```
//!
//! Where it measures differently from etcd's tool, it says so in the
//! workload's help: `watch` times each event from its put being sent (etcd
//! counts events), `watch-latency` times from the put being sent (etcd from
//! its answer), and `lease-keepalive` keeps one stream per client open (etcd
//! opens one per request).

// The modules live in `cairn-bench/`; a file directly in `src/bin/` would be
// taken for another binary.
#[path = "cairn-bench/conn.rs"]
mod conn;
#[path = "cairn-bench/keys.rs"]
mod keys;
#[path = "cairn-bench/kv.rs"]
mod kv;
#[path = "cairn-bench/lease.rs"]
mod lease;
#[path = "cairn-bench/progress.rs"]
mod progress;
#[path = "cairn-bench/report.rs"]
mod report;
#[path = "cairn-bench/stm.rs"]
mod stm;
#[path = "cairn-bench/watch.rs"]
mod watch;
#[path = "cairn-bench/workers.rs"]
mod workers;

use std::time::Duration;

use anyhow::{Result, bail};
use clap::{Parser, Subcommand, ValueEnum};

use crate::conn::Dial;
use crate::workers::Phase;

#[derive(Parser, Debug)]
#[command(name = "cairn-bench", about = "A low-level benchmark tool for cairn and etcd3 (etcd's tools/benchmark)")]
struct Args {
    /// gRPC endpoints.
    #[arg(long, default_value = "127.0.0.1:2379", value_delimiter = ',', global = true)]
    endpoints: Vec<String>,
    /// Total number of gRPC connections.
    #[arg(long, default_value_t = 1, global = true)]
    conns: usize,
    /// Total number of gRPC clients.
    #[arg(long, default_value_t = 1, global = true)]
    clients: usize,
    /// Use full floating point precision.
    #[arg(long, global = true)]
    precise: bool,
    /// Dial timeout for each connection (Go duration: 500ms, 2s, 1m).
    #[arg(long, default_value = "30s", value_parser = parse_duration, global = true)]
    dial_timeout: Duration,
    /// Benchmark the leader: connect only to its client URLs.
    #[arg(long, global = true)]
    target_leader: bool,
    /// Username and password, as username:password.
    #[arg(long, global = true)]
    user: Option<String>,
    /// Verify certificates of TLS-enabled secure servers using this CA bundle.
    #[arg(long, global = true)]
    cacert: Option<std::path::PathBuf>,
    /// Identify the secure client using this TLS certificate file.
    #[arg(long, global = true)]
    cert: Option<std::path::PathBuf>,
    /// Identify the secure client using this TLS key file.
    // Named apart from the `key` arguments of workloads (clap ids share one namespace).
    #[arg(long = "key", id = "tls_key", global = true)]
    tls_key: Option<std::path::PathBuf>,
    /// Skip server certificate verification (testing only).
    #[arg(long, global = true)]
    insecure_skip_tls_verify: bool,
    /// Report format: etcd's text, or JSON for machines.
    #[arg(long, value_enum, default_value_t = Output::Text, global = true)]
    output: Output,
    #[command(subcommand)]
    workload: Workload,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Output {
    Text,
    Json,
}

#[derive(Subcommand, Debug)]
enum Workload {
    /// Benchmark put.
    Put {
        /// Total number of put requests.
        #[arg(long, default_value_t = 10_000)]
        total: u64,
        /// Key size of put request.
        #[arg(long, default_value_t = 8)]
        key_size: usize,
        /// Value size of put request.
        #[arg(long, default_value_t = 8)]
        val_size: usize,
        /// Maximum puts per second (0 is no limit).
        #[arg(long, default_value_t = 0)]
        rate: u64,
        /// Interval to compact database (do not duplicate this with --auto-compaction-retention, e.g. 10s).
        #[arg(long, default_value = "0s", value_parser = parse_duration)]
        compact_interval: Duration,
        /// Delta between current revision and compact revision (e.g. current revision 10000, compact at 9000).
        #[arg(long, default_value_t = 1000)]
        compact_index_delta: i64,
        /// Use sequential keys.
        #[arg(long)]
        sequential_keys: bool,
        /// Maximum possible keys.
        #[arg(long, default_value_t = 1)]
        key_space_size: u64,
        /// 'true' to check hashkv of every endpoint after the puts.
        #[arg(long)]
        check_hashkv: bool,
    },
    /// Benchmark range.
    Range {
        /// The key (start of the range).
        key: String,
        /// The end of the range.
        end: Option<String>,
        /// Maximum range requests per second (0 is no limit).
        #[arg(long, default_value_t = 0)]
        rate: u64,
        /// Total number of range requests.
        #[arg(long, default_value_t = 10_000)]
        total: u64,
        /// Linearizable(l) or Serializable(s).
        #[arg(long, default_value = "l", value_parser = ["l", "s"])]
        consistency: String,
    },
    /// Benchmark txn-put.
    TxnPut {
        /// Key size of txn put.
        #[arg(long, default_value_t = 8)]
        key_size: usize,
        /// Value size of txn put.
        #[arg(long, default_value_t = 8)]
        val_size: usize,
        /// Number of puts per txn.
        #[arg(long, default_value_t = 1)]
        txn_ops: u64,
        /// Maximum txns per second (0 is no limit).
        #[arg(long, default_value_t = 0)]
        rate: u64,
        /// Total number of txn requests.
        #[arg(long, default_value_t = 10_000)]
        total: u64,
        /// Maximum possible keys.
        #[arg(long, default_value_t = 1)]
        key_space_size: u64,
    },
    /// Benchmark a mixed load of txn-put & txn-range.
    TxnMixed {
        /// The key the reads start at (default: all keys).
        key: Option<String>,
        /// The end of the reads' range (default: every key with the prefix `key`).
        end: Option<String>,
        /// Key size of mixed txn.
        #[arg(long, default_value_t = 8)]
        key_size: usize,
        /// Value size of mixed txn.
        #[arg(long, default_value_t = 8)]
        val_size: usize,
        /// Maximum txns per second (0 is no limit).
        #[arg(long, default_value_t = 0)]
        rate: u64,
        /// Total number of txn requests.
        #[arg(long, default_value_t = 10_000)]
        total: u64,
        /// Read operation range end key. By default, we do full range query with the default limit of 1000.
        #[arg(long)]
        end_key: Option<String>,
        /// Read operation range result limit.
        #[arg(long, default_value_t = 1000)]
        limit: i64,
        /// Maximum possible keys.
        #[arg(long, default_value_t = 1)]
        key_space_size: u64,
        /// Linearizable(l) or Serializable(s).
        #[arg(long, default_value = "l", value_parser = ["l", "s"])]
        consistency: String,
        /// Read/write ops ratio.
        #[arg(long, default_value_t = 1.0)]
        rw_ratio: f64,
    },
    /// Benchmark watch: create watchers, then time each event from its put.
    Watch {
        /// Total watch streams.
        #[arg(long, default_value_t = 10)]
        streams: usize,
        /// Total watchers per stream.
        #[arg(long, default_value_t = 100)]
        watch_per_stream: usize,
        /// Total number of keys to be watched.
        #[arg(long, default_value_t = 1)]
        watched_key_total: usize,
        /// Number of keys to put per second (0 is no limit).
        #[arg(long, default_value_t = 0)]
        put_rate: u64,
        /// Number of put requests.
        #[arg(long, default_value_t = 1000)]
        put_total: u64,
        /// Key size of watch request.
        #[arg(long, default_value_t = 32)]
        key_size: usize,
        /// Maximum possible keys.
        #[arg(long, default_value_t = 1)]
        key_space_size: u64,
        /// Use sequential keys.
        #[arg(long)]
        sequential_keys: bool,
    },
    /// Benchmark watch with get: serialized key gets with many unsynced watchers.
    WatchGet {
        /// Total number of watchers.
        #[arg(long, default_value_t = 10_000)]
        watchers: usize,
        /// Total number of watcher streams.
        #[arg(long, default_value_t = 1)]
        streams: usize,
        /// Number of events per watcher.
        #[arg(long, default_value_t = 8)]
        events: u64,
    },
    /// Benchmark watch latency: from sending a put to each watcher receiving its event.
    WatchLatency {
        /// Total number of put requests.
        #[arg(long, default_value_t = 10_000)]
        total: u64,
        /// Number of keys to put per second.
        #[arg(long, default_value_t = 100)]
        put_rate: u64,
        /// Key size of watch response.
        #[arg(long, default_value_t = 32)]
        key_size: usize,
        /// Value size of watch response.
        #[arg(long, default_value_t = 32)]
        val_size: usize,
    },
    /// Benchmark lease keepalive (one keep-alive stream per client).
    LeaseKeepalive {
        /// Total number of lease keepalive requests.
        #[arg(long, default_value_t = 10_000)]
        total: u64,
    },
    /// Benchmark STM.
    Stm {
        /// Read Committed (c), Repeatable Reads (r), Serializable (s), or Snapshot (ss).
        #[arg(long, default_value = "r")]
        isolation: stm::Isolation,
        /// Total unique keys accessible by the benchmark.
        #[arg(long, default_value_t = 1)]
        keys: u64,
        /// Total number of completed STM transactions.
        #[arg(long, default_value_t = 10_000)]
        total: u64,
        /// Number of keys to access per transaction.
        #[arg(long, default_value_t = 1)]
        keys_per_txn: usize,
        /// Percentage of keys to overwrite per transaction.
        #[arg(long, default_value_t = 50)]
        txn_wr_percent: u64,
        /// Wrap STM transaction with a custom locking mechanism (stm, lock-client, lock-rpc).
        #[arg(long, default_value = "stm")]
        stm_locker: stm::Locker,
        /// Value size of each STM put request.
        #[arg(long, default_value_t = 8)]
        val_size: usize,
        /// Maximum STM transactions per second (0 is no limit).
        #[arg(long, default_value_t = 0)]
        rate: u64,
    },
}

impl Workload {
    fn name(&self) -> &'static str {
        match self {
            Workload::Put { .. } => "put",
            Workload::Range { .. } => "range",
            Workload::TxnPut { .. } => "txn-put",
            Workload::TxnMixed { .. } => "txn-mixed",
            Workload::Watch { .. } => "watch",
            Workload::WatchGet { .. } => "watch-get",
            Workload::WatchLatency { .. } => "watch-latency",
            Workload::LeaseKeepalive { .. } => "lease-keepalive",
            Workload::Stm { .. } => "stm",
        }
    }
}

/// A Go duration: one or more `<number><unit>` with units ns, us, µs, ms, s, m, h; or `0`.
fn parse_duration(text: &str) -> Result<Duration> {
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    let mut total = 0.0;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let unit_len = rest[digits..].find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len() - digits);
        let (number, unit) = (&rest[..digits], &rest[digits..digits + unit_len]);
        let number: f64 = number.parse().map_err(|_| anyhow::anyhow!("invalid duration {text:?}"))?;
        let seconds = match unit {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => bail!("invalid duration {text:?}: unit {unit:?}"),
        };
        total += number * seconds;
        rest = &rest[digits + unit_len..];
    }
    Ok(Duration::from_secs_f64(total))
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let dial = Dial {
        endpoints: args.endpoints.clone(),
        timeout: args.dial_timeout,
        user: args.user.clone(),
        target_leader: args.target_leader,
        tls: (args.cacert.is_some() || args.cert.is_some() || args.tls_key.is_some() || args.insecure_skip_tls_verify)
            .then(|| cairn_client::TlsConfig {
                ca_file: args.cacert.clone(),
                cert_file: args.cert.clone(),
                key_file: args.tls_key.clone(),
                server_name: None,
                insecure_skip_verify: args.insecure_skip_tls_verify,
            }),
    };
    let conns = dial.connect(args.conns).await?;
    let clients = args.clients.max(1);
    let phases: Vec<Phase> = match &args.workload {
        Workload::Put {
            total,
            key_size,
            val_size,
            rate,
            compact_interval,
            compact_index_delta,
            sequential_keys,
            key_space_size,
            check_hashkv,
        } => {
            let o = kv::PutOpts {
                total: *total,
                key_size: *key_size,
                val_size: *val_size,
                key_space_size: *key_space_size,
                sequential_keys: *sequential_keys,
                rate: *rate,
                compact_interval: *compact_interval,
                compact_index_delta: *compact_index_delta,
                check_hashkv: *check_hashkv,
            };
            kv::put(&conns, clients, &dial, &o).await?
        }
        Workload::Range { key, end, rate, total, consistency } => {
            let o = kv::RangeOpts {
                key: key.clone(),
                end: end.clone(),
                total: *total,
                rate: *rate,
                serializable: consistency == "s",
            };
            kv::range(&conns, clients, &o).await?
        }
        Workload::TxnPut { key_size, val_size, txn_ops, rate, total, key_space_size } => {
            let o = kv::TxnPutOpts {
                total: *total,
                key_size: *key_size,
                val_size: *val_size,
                txn_ops: *txn_ops,
                key_space_size: *key_space_size,
                rate: *rate,
            };
            kv::txn_put(&conns, clients, &o).await?
        }
        Workload::TxnMixed {
            key,
            end,
            key_size,
            val_size,
            rate,
            total,
            end_key,
            limit,
            key_space_size,
            consistency,
            rw_ratio,
        } => {
            let o = kv::TxnMixedOpts {
                key: key.clone().unwrap_or_default(),
                end: end.clone(),
                total: *total,
                key_size: *key_size,
                val_size: *val_size,
                key_space_size: *key_space_size,
                rate: *rate,
                end_key: end_key.clone(),
                limit: *limit,
                serializable: consistency == "s",
                rw_ratio: *rw_ratio,
            };
            kv::txn_mixed(&conns, clients, &o).await?
        }
        Workload::Watch {
            streams,
            watch_per_stream,
            watched_key_total,
            put_rate,
            put_total,
            key_size,
            key_space_size,
            sequential_keys,
        } => {
            let o = watch::WatchOpts {
                streams: *streams,
                watch_per_stream: *watch_per_stream,
                watched_key_total: *watched_key_total,
                put_rate: *put_rate,
                put_total: *put_total,
                key_size: *key_size,
                key_space_size: *key_space_size,
                sequential_keys: *sequential_keys,
            };
            watch::watch(&conns, clients, &o).await?
        }
        Workload::WatchGet { watchers, streams, events } => {
            let o = watch::WatchGetOpts { watchers: *watchers, streams: *streams, events: *events };
            watch::watch_get(&conns, &dial, &o).await?
        }
        Workload::WatchLatency { total, put_rate, key_size, val_size } => {
            let o = watch::WatchLatencyOpts {
                total: *total,
                put_rate: *put_rate,
                key_size: *key_size,
                val_size: *val_size,
            };
            watch::watch_latency(&conns, clients, &dial, &o).await?
        }
        Workload::LeaseKeepalive { total } => lease::keepalive(&conns, clients, *total).await?,
        Workload::Stm { isolation, keys, total, keys_per_txn, txn_wr_percent, stm_locker, val_size, rate } => {
            let o = stm::StmOpts {
                isolation: *isolation,
                keys: *keys,
                total: *total,
                keys_per_txn: *keys_per_txn,
                txn_wr_percent: *txn_wr_percent,
                locker: *stm_locker,
                val_size: *val_size,
                rate: *rate,
            };
            stm::stm(&conns, clients, &o).await?
        }
    };
    match args.output {
        Output::Text => {
            for phase in &phases {
                if !phase.heading.is_empty() {
                    print!("{}", phase.heading);
                    if !phase.heading.ends_with(':') {
                        println!();
                    }
                }
                print!("{}", phase.report.text(args.precise));
            }
        }
        Output::Json => {
            let reports: Vec<report::Report> = phases.into_iter().map(|p| p.report).collect();
            println!("{}", report::json_document(args.workload.name(), &reports));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    /// Every workload's arguments parse beside the global flags (clap ids share one namespace:
    /// a global `--key` once broke `range <key>` at run time).
    #[test]
    fn the_command_line_is_consistent() {
        Args::command().debug_assert();
        let range = Args::try_parse_from(["cairn-bench", "--key", "k.pem", "range", "foo", "--total", "1"])
            .expect("range parses with the global --key");
        assert!(matches!(range.workload, Workload::Range { .. }));
        assert_eq!(range.tls_key.as_deref(), Some(std::path::Path::new("k.pem")));
    }

    #[test]
    fn go_durations() -> Result<()> {
        assert_eq!(parse_duration("0")?, Duration::ZERO);
        assert_eq!(parse_duration("0s")?, Duration::ZERO);
        assert_eq!(parse_duration("500ms")?, Duration::from_millis(500));
        assert_eq!(parse_duration("1m30s")?, Duration::from_secs(90));
        assert_eq!(parse_duration("1.5h")?, Duration::from_secs(5400));
        assert!(parse_duration("10").is_err());
        assert!(parse_duration("5x").is_err());
        Ok(())
    }

    #[test]
    fn flags_parse_like_etcds() -> Result<()> {
        let args = Args::try_parse_from([
            "cairn-bench",
            "--endpoints",
            "a:1,b:2",
            "--conns",
            "10",
            "txn-mixed",
            "--rw-ratio",
            "4",
            "--consistency",
            "s",
            "--clients",
            "100",
        ])?;
        assert_eq!(args.endpoints, vec!["a:1", "b:2"]);
        assert_eq!((args.conns, args.clients), (10, 100));
        assert!(matches!(args.workload, Workload::TxnMixed { rw_ratio, .. } if rw_ratio == 4.0));
        assert!(Args::try_parse_from(["cairn-bench", "range", "k", "--consistency", "x"]).is_err());
        Ok(())
    }
}
