//! `cairn-bench`: etcd's `tools/benchmark` load generator for cairn and etcd,
//! with its flags and its summary. Workloads so far: `put` and `range`.
//!
//! ```text
//! cairn-bench --endpoints 127.0.0.1:2379 --conns 100 --clients 1000 put --total 100000 --key-size 8 --val-size 256
//! cairn-bench --endpoints 127.0.0.1:2379 --conns 100 --clients 1000 range foo --total 100000 --consistency s
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use cairn_proto::etcdserverpb::kv_client::KvClient;
use cairn_proto::etcdserverpb::{PutRequest, RangeRequest};
use clap::{Parser, Subcommand};
use tonic::transport::{Channel, Endpoint};

#[derive(Parser, Debug)]
#[command(name = "cairn-bench", about = "A load generator for cairn and etcd (etcd's tools/benchmark)")]
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
    #[command(subcommand)]
    workload: Workload,
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
        /// Maximum possible keys.
        #[arg(long, default_value_t = 1)]
        key_space_size: u64,
        /// Use sequential keys.
        #[arg(long, default_value_t = false)]
        sequential_keys: bool,
        /// Maximum puts per second (0 is no limit).
        #[arg(long, default_value_t = 0)]
        rate: u64,
    },
    /// Benchmark range.
    Range {
        /// The key (start of the range).
        key: String,
        /// The end of the range.
        end: Option<String>,
        /// Total number of range requests.
        #[arg(long, default_value_t = 10_000)]
        total: u64,
        /// Linearizable (l) or serializable (s).
        #[arg(long, default_value = "l")]
        consistency: String,
        /// Maximum requests per second (0 is no limit).
        #[arg(long, default_value_t = 0)]
        rate: u64,
    },
}

/// What one client sends next.
#[derive(Clone)]
enum Request {
    Put { key_size: usize, value: Arc<Vec<u8>>, key_space: u64, sequential: bool },
    Range(RangeRequest),
}

fn key_of(n: u64, size: usize) -> Vec<u8> {
    // etcd writes the number little-endian into a key of `size` bytes.
    let mut key = vec![0u8; size.max(1)];
    for (i, byte) in n.to_le_bytes().iter().enumerate().take(key.len()) {
        key[i] = *byte;
    }
    key
}

async fn connect(endpoints: &[String], conns: usize) -> Result<Vec<KvClient<Channel>>> {
    let mut clients = Vec::with_capacity(conns);
    for i in 0..conns.max(1) {
        let endpoint = &endpoints[i % endpoints.len()];
        let url = if endpoint.contains("://") { endpoint.clone() } else { format!("http://{endpoint}") };
        let channel = Endpoint::from_shared(url.clone())?
            .tcp_nodelay(true)
            .connect()
            .await
            .with_context(|| format!("cannot connect to {url}"))?;
        clients.push(KvClient::new(channel).max_decoding_message_size(usize::MAX));
    }
    Ok(clients)
}

fn summary(mut latencies: Vec<Duration>, total: Duration, errors: u64) {
    latencies.sort_unstable();
    let secs = |d: Duration| d.as_secs_f64();
    let n = latencies.len().max(1) as f64;
    let average = latencies.iter().map(|d| secs(*d)).sum::<f64>() / n;
    let variance = latencies.iter().map(|d| (secs(*d) - average).powi(2)).sum::<f64>() / n;
    let slowest = latencies.last().copied().unwrap_or_default();
    let fastest = latencies.first().copied().unwrap_or_default();
    println!();
    println!("Summary:");
    println!("  Total:\t{:.4} secs.", secs(total));
    println!("  Slowest:\t{:.4} secs.", secs(slowest));
    println!("  Fastest:\t{:.4} secs.", secs(fastest));
    println!("  Average:\t{:.4} secs.", average);
    println!("  Stddev:\t{:.4} secs.", variance.sqrt());
    println!("  Requests/sec:\t{:.4}", latencies.len() as f64 / secs(total).max(1e-9));
    println!();
    println!("Response time histogram:");
    let buckets = 10;
    let step = (secs(slowest) - secs(fastest)) / buckets as f64;
    let mut counts = vec![0usize; buckets + 1];
    for d in &latencies {
        let i = if step > 0.0 { ((secs(*d) - secs(fastest)) / step) as usize } else { 0 };
        counts[i.min(buckets)] += 1;
    }
    let max = counts.iter().copied().max().unwrap_or(1).max(1);
    for (i, count) in counts.iter().enumerate() {
        let mark = secs(fastest) + step * i as f64;
        println!("  {mark:.4} [{count}]\t|{}", "∎".repeat(count * 40 / max));
    }
    println!();
    println!("Latency distribution:");
    for p in [10.0, 25.0, 50.0, 75.0, 90.0, 95.0, 99.0, 99.9] {
        let at = ((p / 100.0) * latencies.len() as f64) as usize;
        if let Some(d) = latencies.get(at.min(latencies.len().saturating_sub(1))) {
            println!("  {p}% in {:.4} secs.", secs(*d));
        }
    }
    if errors > 0 {
        println!();
        println!("Error distribution:\n  [{errors}]\trequests failed");
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let (request, total, rate) = match &args.workload {
        Workload::Put { total, key_size, val_size, key_space_size, sequential_keys, rate } => (
            Request::Put {
                key_size: *key_size,
                value: Arc::new(vec![b'v'; *val_size]),
                key_space: (*key_space_size).max(1),
                sequential: *sequential_keys,
            },
            *total,
            *rate,
        ),
        Workload::Range { key, end, total, consistency, rate } => (
            Request::Range(RangeRequest {
                key: key.clone().into_bytes(),
                range_end: end.clone().map(String::into_bytes).unwrap_or_default(),
                serializable: consistency == "s",
                ..Default::default()
            }),
            *total,
            *rate,
        ),
    };
    let channels = connect(&args.endpoints, args.conns).await?;
    let next = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(args.clients);
    for c in 0..args.clients.max(1) {
        let mut client = channels[c % channels.len()].clone();
        let (request, next, errors) = (request.clone(), next.clone(), errors.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut seed = 0x9e37_79b9_7f4a_7c15_u64 ^ (c as u64 + 1);
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= total {
                    break;
                }
                if rate > 0 {
                    let due = started + Duration::from_secs_f64(n as f64 / rate as f64);
                    tokio::time::sleep_until(due.into()).await;
                }
                let begin = Instant::now();
                let result = match &request {
                    Request::Put { key_size, value, key_space, sequential } => {
                        seed ^= seed << 13;
                        seed ^= seed >> 7;
                        seed ^= seed << 17;
                        let k = if *sequential { n % key_space } else { seed % key_space };
                        let put = PutRequest { key: key_of(k, *key_size), value: value.to_vec(), ..Default::default() };
                        client.put(put).await.map(|_| ())
                    }
                    Request::Range(range) => client.range(range.clone()).await.map(|_| ()),
                };
                match result {
                    Ok(()) => latencies.push(begin.elapsed()),
                    Err(_) => {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            latencies
        }));
    }
    let progress = {
        let next = next.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                let done = next.load(Ordering::Relaxed).min(total);
                eprint!("\r {done} / {total} {:>6.2}%", done as f64 * 100.0 / total.max(1) as f64);
            }
        })
    };
    let mut latencies = Vec::with_capacity(total as usize);
    for task in tasks {
        latencies.extend(task.await?);
    }
    progress.abort();
    eprintln!("\r {total} / {total} 100.00%");
    summary(latencies, started.elapsed(), errors.load(Ordering::Relaxed));
    Ok(())
}
