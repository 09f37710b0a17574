//! `cargo xtask bench-compare [--quick] [--engines lmdb,sled,fjall] [--members 1,3]`:
//! cairn on each storage engine and a real etcd 3.4, side by side.
//!
//! Builds `cairn` (release, with the engines asked for; RocksDB only when
//! `--engines` names `rocks`, since it takes long to compile) and
//! `cairn-bench`, then for each topology (one member, then three on
//! loopback) starts every system at once on free ports with its own temporary
//! data dirs, and runs each `cairn-bench` workload against each system in
//! turn: workload by workload, so load from elsewhere on the machine falls on
//! every system alike. Afterwards it reads each member's peak RSS (`VmHWM`)
//! and kills the members by pid. It writes `results.md` (a side-by-side
//! table), `chart.svg` (grouped bars of throughput and p99), the raw JSON of
//! every run and the servers' logs to the output directory (default
//! `<target>/bench-compare/`), and prints the table.
//!
//! This file runs the servers and the benchmarks; `results.rs` reads
//! `cairn-bench`'s JSON back, `table.rs` and `chart.rs` draw what it read.

mod chart;
mod results;
mod table;

use std::fmt::Write as _;
use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use self::chart::svg;
use self::results::{Results, parse_reports};
use self::table::{markdown, millis};
use crate::{cargo, run, target_dir};

/// Default engines: the ones that compile quickly.
const CHEAP_ENGINES: &[&str] = &["lmdb", "sled", "fjall"];
/// How long a system may take to serve its first request.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// The command line.
#[derive(Debug, Clone, PartialEq)]
struct Options {
    quick: bool,
    engines: Vec<String>,
    members: Vec<usize>,
    etcd: Option<PathBuf>,
    out: PathBuf,
    cairn_bin: Option<PathBuf>,
    bench_bin: Option<PathBuf>,
}

const USAGE: &str = "usage: cargo xtask bench-compare [--quick] [--engines lmdb,sled,fjall[,rocks]] [--members 1,3] \
                     [--etcd PATH | --no-etcd] [--out DIR] [--cairn-bin PATH] [--bench-bin PATH]";

fn parse_options(args: &[String]) -> Result<Options> {
    let mut o = Options {
        quick: false,
        engines: CHEAP_ENGINES.iter().map(|e| e.to_string()).collect(),
        members: vec![1, 3],
        etcd: Some(PathBuf::from("/usr/bin/etcd")),
        out: target_dir().join("bench-compare"),
        cairn_bin: None,
        bench_bin: None,
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().cloned().with_context(|| format!("{name} needs a value\n{USAGE}"));
        match arg.as_str() {
            "--quick" => o.quick = true,
            "--engines" => o.engines = value("--engines")?.split(',').map(str::to_string).collect(),
            "--members" => {
                o.members = value("--members")?
                    .split(',')
                    .map(|n| n.parse::<usize>().with_context(|| format!("--members: {n:?} is not a number")))
                    .collect::<Result<_>>()?;
            }
            "--etcd" => o.etcd = Some(PathBuf::from(value("--etcd")?)),
            "--no-etcd" => o.etcd = None,
            "--out" => o.out = PathBuf::from(value("--out")?),
            "--cairn-bin" => o.cairn_bin = Some(PathBuf::from(value("--cairn-bin")?)),
            "--bench-bin" => o.bench_bin = Some(PathBuf::from(value("--bench-bin")?)),
            other => bail!("unknown argument {other:?}\n{USAGE}"),
        }
    }
    for engine in &o.engines {
        if !["lmdb", "sled", "fjall", "rocks"].contains(&engine.as_str()) {
            bail!("unknown engine {engine:?} (lmdb, sled, fjall, rocks)");
        }
    }
    if o.members.contains(&0) {
        bail!("--members: a cluster has at least one member");
    }
    Ok(o)
}

/// One `cairn-bench` run: a label for the table and the arguments.
#[derive(Debug, Clone)]
struct Workload {
    label: &'static str,
    args: Vec<String>,
}

fn workload(label: &'static str, args: &str) -> Workload {
    Workload { label, args: args.split_whitespace().map(str::to_string).collect() }
}

/// The workloads, small with `quick` (the whole comparison in a few minutes).
fn workloads(quick: bool) -> Vec<Workload> {
    let n = |quick_total: u64| if quick { quick_total } else { quick_total * 5 };
    let many = if quick { "--conns 10 --clients 50" } else { "--conns 100 --clients 1000" };
    vec![
        workload("put", &format!("{many} put --total {} --key-size 8 --val-size 256 --key-space-size 100000", n(6000))),
        workload("range", &format!("{many} range foo --total {}", n(6000))),
        workload("range (serializable)", &format!("{many} range foo --total {} --consistency s", n(6000))),
        workload(
            "txn-put",
            &format!("{many} txn-put --total {} --txn-ops 4 --key-space-size 10000 --val-size 256", n(4000)),
        ),
        workload(
            "txn-mixed",
            &format!("{many} txn-mixed --total {} --key-space-size 1000 --rw-ratio 4 --limit 100", n(4000)),
        ),
        workload(
            "watch",
            &format!(
                "--conns 5 --clients 5 watch --streams 10 --watch-per-stream 50 --watched-key-total 10 \
                 --key-space-size 10 --sequential-keys --put-total {}",
                n(1000)
            ),
        ),
        workload("watch-get", &format!("--conns 1 --clients 1 watch-get --watchers {} --events 8", n(2000))),
        workload(
            "watch-latency",
            &format!("--conns 5 --clients 10 watch-latency --total {} --put-rate 100", if quick { 200 } else { 1000 }),
        ),
        workload("lease-keepalive", &format!("{many} lease-keepalive --total {}", n(6000))),
        workload("stm", &format!("{many} stm --total {} --keys 1000 --keys-per-txn 2 --isolation r", n(2000))),
    ]
}

/// What is being compared: cairn on one engine, or etcd.
#[derive(Debug, Clone, PartialEq)]
enum Kind {
    Cairn { engine: String },
    Etcd,
}

#[derive(Debug, Clone)]
struct System {
    name: String,
    kind: Kind,
    binary: PathBuf,
}

/// One member's ports.
#[derive(Debug, Clone, Copy)]
struct Ports {
    client: u16,
    peer: u16,
}

/// A running member; killed (by its pid) when dropped.
struct Member {
    child: Child,
}

impl Member {
    fn peak_rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        vm_hwm_kib(&status)
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `VmHWM` (peak resident set) from a `/proc/<pid>/status` text, in KiB.
fn vm_hwm_kib(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Free loopback ports: all bound at once, so they differ, then released.
fn free_ports(n: usize) -> Result<Vec<u16>> {
    let listeners: Vec<TcpListener> =
        (0..n).map(|_| TcpListener::bind("127.0.0.1:0")).collect::<std::io::Result<_>>()?;
    listeners.iter().map(|l| Ok(l.local_addr()?.port())).collect()
}

fn member_command(system: &System, index: usize, ports: &[Ports], data: &Path, token: &str) -> Command {
    let name = format!("m{index}");
    let url = |port: u16| format!("http://127.0.0.1:{port}");
    let cluster: Vec<String> = ports.iter().enumerate().map(|(i, p)| format!("m{i}={}", url(p.peer))).collect();
    let me = ports[index];
    let mut cmd = Command::new(&system.binary);
    cmd.args(["--name", &name])
        .arg("--data-dir")
        .arg(data)
        .args(["--listen-client-urls", &url(me.client), "--advertise-client-urls", &url(me.client)])
        .args(["--listen-peer-urls", &url(me.peer), "--initial-advertise-peer-urls", &url(me.peer)])
        .args(["--initial-cluster", &cluster.join(","), "--initial-cluster-state", "new"])
        .args(["--initial-cluster-token", token, "--log-level", "warn"]);
    match &system.kind {
        Kind::Cairn { engine } => {
            cmd.args(["--backend", engine]);
        }
        Kind::Etcd => {
            cmd.args(["--logger", "zap"]);
        }
    }
    cmd
}

/// A system's members, up and serving.
struct Cluster {
    members: Vec<Member>,
    endpoints: String,
}

/// How many times a system is started before it counts as not starting.
const START_ATTEMPTS: usize = 2;

fn start(system: &System, members: usize, attempt: usize, work: &Path, logs: &Path) -> Result<Cluster> {
    let ports: Vec<Ports> = free_ports(members * 2)?.chunks(2).map(|p| Ports { client: p[0], peer: p[1] }).collect();
    let token = format!("{}-{members}", system.name);
    let mut running = Vec::new();
    for i in 0..members {
        let data = work.join(format!("{}-{members}-m{i}-{attempt}", system.name));
        let log = File::create(logs.join(format!("{}-{members}-m{i}-{attempt}.log", system.name)))?;
        let child = member_command(system, i, &ports, &data, &token)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("cannot start {}", system.binary.display()))?;
        running.push(Member { child });
    }
    let endpoints: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{}", p.client)).collect();
    Ok(Cluster { members: running, endpoints: endpoints.join(",") })
}

/// Waits until every member answers a put, or `READY_TIMEOUT` passes.
fn wait_ready(bench: &Path, cluster: &mut Cluster, scratch: &Path) -> Result<()> {
    let deadline = Instant::now() + READY_TIMEOUT;
    for endpoint in cluster.endpoints.split(',') {
        loop {
            for (i, member) in cluster.members.iter_mut().enumerate() {
                if let Some(status) = member.child.try_wait()? {
                    bail!("member m{i} exited during startup ({status}); its log is in {}", scratch.display());
                }
            }
            let args: Vec<String> = ["--endpoints", endpoint, "--dial-timeout", "1s", "--output", "json"]
                .into_iter()
                .chain(["put", "--total", "1"])
                .map(str::to_string)
                .collect();
            let out = scratch.join("ready.json");
            let ok = run_bench(bench, &args, &out, scratch, Duration::from_secs(10))
                .ok()
                .and_then(|_| std::fs::read_to_string(&out).ok())
                .is_some_and(|json| parse_reports(&json).first().is_some_and(|r| r.count == 1));
            if ok {
                break;
            }
            if Instant::now() > deadline {
                bail!("{endpoint} did not serve a put within {READY_TIMEOUT:?}");
            }
            std::thread::sleep(Duration::from_millis(300));
        }
    }
    Ok(())
}

/// Runs `cairn-bench` with `args`, its stdout to `out`, killing it after `timeout`.
fn run_bench(bench: &Path, args: &[String], out: &Path, logs: &Path, timeout: Duration) -> Result<()> {
    let stderr = File::options().create(true).append(true).open(logs.join("cairn-bench.stderr"))?;
    let mut child = Command::new(bench)
        .args(args)
        .stdin(Stdio::null())
        .stdout(File::create(out)?)
        .stderr(stderr)
        .spawn()
        .with_context(|| format!("cannot start {}", bench.display()))?;
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait()? {
            if status.success() {
                return Ok(());
            }
            bail!("cairn-bench {} failed ({status})", args.join(" "));
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!("cairn-bench {} timed out after {timeout:?}", args.join(" "));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn build(o: &Options) -> Result<(PathBuf, PathBuf)> {
    let release = target_dir().join("release");
    let cairn = match &o.cairn_bin {
        Some(path) => path.clone(),
        None => {
            let features: Vec<&str> = o.engines.iter().map(String::as_str).filter(|e| *e != "lmdb").collect();
            let mut args = vec!["build", "--release", "-p", "cairn-server", "--bin", "cairn"];
            let features = features.join(",");
            if !features.is_empty() {
                args.extend(["--features", features.as_str()]);
            }
            run("build cairn (release)", cargo(&args))?;
            release.join("cairn")
        }
    };
    let bench = match &o.bench_bin {
        Some(path) => path.clone(),
        None => {
            run(
                "build cairn-bench (release)",
                cargo(&["build", "--release", "-p", "cairn-bench", "--bin", "cairn-bench"]),
            )?;
            release.join("cairn-bench")
        }
    };
    Ok((cairn, bench))
}

fn etcd_version(etcd: &Path) -> String {
    let out = Command::new(etcd).arg("--version").output().map(|o| String::from_utf8_lossy(&o.stdout).into_owned());
    out.ok()
        .and_then(|text| {
            text.lines().next().and_then(|l| l.strip_prefix("etcd Version: ")).map(|v| format!("etcd-{v}"))
        })
        .unwrap_or_else(|| "etcd".to_string())
}

/// Runs every workload against every system of one topology.
fn compare(systems: &[System], members: usize, bench: &Path, o: &Options, work: &Path, out: &Path) -> Result<Results> {
    let logs = out.join("logs");
    let mut results =
        Results { members, systems: systems.iter().map(|s| s.name.clone()).collect(), ..Default::default() };
    let mut clusters: Vec<(usize, Cluster)> = Vec::new();
    for (i, system) in systems.iter().enumerate() {
        eprintln!("==> start {} ({members} member{})", system.name, if members == 1 { "" } else { "s" });
        for attempt in 1..=START_ATTEMPTS {
            let started = start(system, members, attempt, work, &logs)
                .and_then(|mut cluster| wait_ready(bench, &mut cluster, &logs).map(|_| cluster));
            match started {
                Ok(cluster) => {
                    clusters.push((i, cluster));
                    break;
                }
                Err(e) => eprintln!("    {} did not start (attempt {attempt}): {e:#}", system.name),
            }
        }
        if !clusters.iter().any(|(c, _)| *c == i) {
            results.not_started.insert(system.name.clone());
        }
    }
    let timeout = if o.quick { Duration::from_secs(120) } else { Duration::from_secs(900) };
    let raw = out.join("raw");
    std::fs::create_dir_all(&raw)?;
    for (w, workload) in workloads(o.quick).iter().enumerate() {
        // Rotate who goes first, so no system always runs right after the same one.
        for k in 0..clusters.len() {
            let (i, cluster) = &clusters[(w + k) % clusters.len()];
            let system = &systems[*i];
            let mut args = vec!["--endpoints".to_string(), cluster.endpoints.clone(), "--output".into(), "json".into()];
            args.extend(workload.args.iter().cloned());
            let file =
                raw.join(format!("{members}-{}-{}.json", system.name, workload.label.replace([' ', '(', ')'], "")));
            let started = Instant::now();
            let outcome = run_bench(bench, &args, &file, &logs, timeout).and_then(|_| {
                let reports = parse_reports(&std::fs::read_to_string(&file)?);
                Ok(reports)
            });
            let summary = match &outcome {
                Ok(reports) => reports
                    .iter()
                    .map(|r| format!("{} {:.0} req/s p99 {} ms", r.name, r.rps, millis(r.p99)))
                    .collect::<Vec<_>>()
                    .join("; "),
                Err(e) => format!("FAILED: {e:#}"),
            };
            eprintln!(
                "    {:<22} {:<14} {:>5.1}s  {summary}",
                workload.label,
                system.name,
                started.elapsed().as_secs_f64()
            );
            results.record(workload.label, &system.name, outcome);
        }
    }
    for (i, cluster) in &clusters {
        if let Some(peak) = cluster.members.iter().filter_map(Member::peak_rss_kib).max() {
            results.rss_kib.insert(systems[*i].name.clone(), peak);
        }
    }
    drop(clusters);
    Ok(results)
}

/// `cargo xtask bench-compare`.
pub fn bench_compare(args: &[String]) -> Result<()> {
    let started = Instant::now();
    let o = parse_options(args)?;
    let (cairn, bench) = build(&o)?;
    let mut systems: Vec<System> = o
        .engines
        .iter()
        .map(|engine| System {
            name: format!("cairn-{engine}"),
            kind: Kind::Cairn { engine: engine.clone() },
            binary: cairn.clone(),
        })
        .collect();
    if let Some(etcd) = &o.etcd {
        if etcd.exists() {
            systems.push(System { name: etcd_version(etcd), kind: Kind::Etcd, binary: etcd.clone() });
        } else {
            eprintln!(
                "warning: {} not found; comparing cairn's engines only (apt-get install etcd-server)",
                etcd.display()
            );
        }
    }
    std::fs::create_dir_all(o.out.join("logs"))?;
    let work = std::env::temp_dir().join(format!("cairn-bench-compare-{}", std::process::id()));
    std::fs::create_dir_all(&work)?;
    let mut all = Vec::new();
    let outcome = (|| {
        for members in &o.members {
            all.push(compare(&systems, *members, &bench, &o, &work, &o.out)?);
        }
        anyhow::Ok(())
    })();
    let _ = std::fs::remove_dir_all(&work);
    outcome?;
    let elapsed = started.elapsed();
    let mut md = String::new();
    let _ = writeln!(md, "# cairn bench-compare\n");
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let _ = writeln!(
        md,
        "{} run, {cores} cores, wall time {:.0} s. Every system ran on the same machine, on loopback, with its data in a \
         temporary directory; each workload ran against every system in turn before the next workload. Throughput \
         is requests per second over the whole run; p50 and p99 are per-request latencies in milliseconds. \
         `watch create`/`watch events` are the watch workload's two phases (events: from a put being sent to its \
         event arriving); `txn-mixed read`/`write` its two kinds of request.\n",
        if o.quick { "Quick" } else { "Full" },
        elapsed.as_secs_f64()
    );
    for results in &all {
        md.push_str(&markdown(results));
        md.push('\n');
    }
    let _ = writeln!(md, "Workloads (`cairn-bench --endpoints <system> --output json <args>`):\n");
    for w in workloads(o.quick) {
        let _ = writeln!(md, "- {}: `{}`", w.label, w.args.join(" "));
    }
    let _ = writeln!(md, "\n![throughput and p99](chart.svg)");
    std::fs::write(o.out.join("results.md"), &md)?;
    std::fs::write(o.out.join("chart.svg"), svg(&all))?;
    println!("{md}");
    eprintln!(
        "bench-compare: wrote {} and {} in {:.0} s",
        o.out.join("results.md").display(),
        o.out.join("chart.svg").display(),
        elapsed.as_secs_f64()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|a| a.to_string()).collect()
    }

    #[test]
    fn options() -> Result<()> {
        let o = parse_options(&strings(&["--quick", "--engines", "lmdb,rocks", "--members", "3", "--no-etcd"]))?;
        assert!(o.quick);
        assert_eq!(o.engines, vec!["lmdb", "rocks"]);
        assert_eq!(o.members, vec![3]);
        assert_eq!(o.etcd, None);
        let default = parse_options(&[])?;
        assert_eq!(default.engines, vec!["lmdb", "sled", "fjall"], "rocks only when asked for");
        assert!(parse_options(&strings(&["--engines", "bolt"])).is_err());
        assert!(parse_options(&strings(&["--members", "0"])).is_err());
        assert!(parse_options(&strings(&["--engines"])).is_err());
        Ok(())
    }

    #[test]
    fn peak_rss_from_proc_status() {
        let status = "Name:\tcairn\nVmPeak:\t  900 kB\nVmHWM:\t   51234 kB\nVmRSS:\t 40000 kB\n";
        assert_eq!(vm_hwm_kib(status), Some(51234));
        assert_eq!(vm_hwm_kib("Name:\tx\n"), None);
    }
}
