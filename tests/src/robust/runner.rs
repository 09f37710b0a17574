//! One run: a cluster, traffic, one fault, then the checks; and a campaign of many runs with a
//! table of the results.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use tokio::sync::watch;

use super::check::{Report, RunRecord, check_run};
use super::cluster::{ProxiedCluster, connect};
use super::faults::{Fault, inject};
use super::history::{Recorder, Request};
use super::traffic::{Endpoints, Rng, TrafficConfig, execute, read_history, run_client, run_watcher};
use super::watch::WatcherLog;
use crate::Kind;

/// What one run does.
#[derive(Clone, Debug)]
pub struct RunConfig {
    /// Which server the members run.
    pub kind: Kind,
    /// The fault.
    pub fault: Fault,
    /// Seeds the traffic and the fault's choices.
    pub seed: u64,
    /// The traffic.
    pub traffic: TrafficConfig,
    /// Traffic before the fault.
    pub before: Duration,
    /// Traffic after the fault was repaired.
    pub after: Duration,
    /// Members per cluster.
    pub members: usize,
    /// Where run directories go; a failing run's directory (history, report, data dirs, logs) is
    /// kept there, a passing one is deleted unless `keep`.
    pub dir: PathBuf,
    /// Keep the run directory even when the run passes.
    pub keep: bool,
}

impl RunConfig {
    /// A short run of `fault` against cairn with the default traffic, in the system temp dir.
    pub fn new(kind: Kind, fault: Fault, seed: u64) -> RunConfig {
        RunConfig {
            kind,
            fault,
            seed,
            traffic: TrafficConfig::default(),
            before: Duration::from_millis(1000),
            after: Duration::from_millis(1000),
            members: 3,
            dir: std::env::temp_dir().join("cairn-robustness"),
            keep: false,
        }
    }
}

/// What came of one run.
#[derive(Clone, Debug)]
pub struct RunResult {
    /// The fault.
    pub fault: Fault,
    /// The seed.
    pub seed: u64,
    /// The checks' findings.
    pub report: Report,
    /// The fault could not be injected or repaired (the run's history is still checked), or the run
    /// failed before its history could be checked (a cluster that did not start or recover).
    pub fault_error: Option<String>,
    /// What the fault did.
    pub note: String,
    /// How long the run took.
    pub wall: Duration,
    /// The run's record (also for failed checks), when the run got that far.
    pub record: Option<RunRecord>,
    /// Where the failing run was kept.
    pub kept: Option<PathBuf>,
}

impl RunResult {
    /// True when nothing was violated, the linearizability search finished, and the fault ran as
    /// planned.
    pub fn passed(&self) -> bool {
        self.report.passed() && !self.report.inconclusive && self.fault_error.is_none()
    }
}

/// Runs one (fault, traffic) combination and checks it.
pub fn run_once(cfg: &RunConfig) -> RunResult {
    let started = Instant::now();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime for the run");
    std::fs::create_dir_all(&cfg.dir).expect("create the robustness directory");
    let dir = tempfile::Builder::new()
        .prefix(&format!("{}-{}-{:x}-", cfg.kind.label(), cfg.fault.name(), cfg.seed))
        .tempdir_in(&cfg.dir)
        .expect("create a run directory");
    let outcome = runtime.block_on(run_async(cfg, dir.path()));
    runtime.shutdown_timeout(Duration::from_secs(2));
    let (report, fault_error, note, record) = match outcome {
        Ok((record, report, fault_error, note)) => {
            if !report.passed() || report.inconclusive || fault_error.is_some() || cfg.keep {
                let _ = save(dir.path(), &record, &report, fault_error.as_deref());
            }
            (report, fault_error, note, Some(record))
        }
        Err(e) => {
            let error = format!("the run failed: {e:#}");
            let _ = std::fs::write(dir.path().join("error.txt"), &error);
            (Report::default(), Some(error), String::new(), None)
        }
    };
    let passed = report.passed() && !report.inconclusive && fault_error.is_none();
    let kept = if passed && !cfg.keep { None } else { Some(dir.keep()) };
    RunResult { fault: cfg.fault, seed: cfg.seed, report, fault_error, note, wall: started.elapsed(), kept, record }
}

fn save(dir: &Path, record: &RunRecord, report: &Report, fault_error: Option<&str>) -> Result<()> {
    std::fs::write(dir.join("history.json"), serde_json::to_vec_pretty(record)?)?;
    let mut text = report.violations.join("\n\n");
    if let Some(e) = fault_error {
        text.push_str(&format!("\n\nfault error: {e}"));
    }
    std::fs::write(dir.join("report.txt"), text)?;
    Ok(())
}

async fn run_async(cfg: &RunConfig, dir: &Path) -> Result<(RunRecord, Report, Option<String>, String)> {
    let mut rng = Rng::new(cfg.seed);
    let flags = cfg.fault.member_flags();
    let program = if cfg.fault.needs_failpoints() && cfg.kind == Kind::Cairn {
        crate::cairn_failpoints_bin()
    } else {
        cfg.kind.program()
    };
    let mut cluster = ProxiedCluster::start_program(program, cfg.members, dir, &flags, cfg.seed).await?;
    let endpoints: Endpoints = Arc::new(Mutex::new(cluster.endpoints()));
    let recorder = Recorder::new();
    let (stop_tx, stop_rx) = watch::channel(false);
    let (until_tx, until_rx) = watch::channel(0i64);

    let mut logs = Vec::new();
    let mut watchers = Vec::new();
    for w in 0..cfg.traffic.watchers {
        let log = Arc::new(Mutex::new(WatcherLog {
            name: format!("w{w}"),
            prefix: cfg.traffic.prefix.clone(),
            start_revision: 1,
            ..WatcherLog::default()
        }));
        logs.push(log.clone());
        watchers.push(tokio::spawn(run_watcher(log, w + 1, endpoints.clone(), stop_rx.clone(), until_rx.clone())));
    }
    let mut clients = Vec::new();
    for c in 0..cfg.traffic.clients {
        clients.push(tokio::spawn(run_client(
            c,
            cfg.traffic.clone(),
            endpoints.clone(),
            recorder.clone(),
            rng.next_u64(),
            stop_rx.clone(),
        )));
    }

    tokio::time::sleep(cfg.before).await;
    // A watcher that starts in the past: it must get exactly the history from its start revision.
    let seen = recorder.operations().iter().filter_map(|op| op.response.as_ref()?.revision()).max().unwrap_or(1);
    let late = Arc::new(Mutex::new(WatcherLog {
        name: "late".into(),
        prefix: cfg.traffic.prefix.clone(),
        start_revision: (seen / 2).max(1),
        ..WatcherLog::default()
    }));
    logs.push(late.clone());
    watchers.push(tokio::spawn(run_watcher(late, 0, endpoints.clone(), stop_rx.clone(), until_rx.clone())));
    let injected =
        tokio::time::timeout(Duration::from_secs(120), inject(cfg.fault, &mut cluster, &endpoints, &mut rng)).await;
    let (fault_error, note) = match injected {
        Ok(Ok(note)) => (None, note),
        Ok(Err(e)) => (Some(format!("{e:#}")), String::new()),
        Err(_) => (Some("the fault did not finish within 120 s".into()), String::new()),
    };
    tokio::time::sleep(cfg.after).await;
    stop_tx.send_replace(true);
    for c in clients {
        let _ = c.await;
    }
    cluster.recover().await.context("recovering the cluster after the run")?;

    // One last acknowledged put: every watcher must reach its revision.
    let final_client = cfg.traffic.clients;
    let mut final_revision = 0;
    let live = cluster.endpoints();
    for attempt in 0..20 {
        let request =
            Request::Put { key: format!("{}final", cfg.traffic.prefix), value: format!("final.{attempt}"), lease: 0 };
        let call = recorder.now();
        let mut client = connect(&live[attempt % live.len()]).await?;
        match execute(&mut client, &request).await {
            Ok(response) => {
                final_revision = response.revision().unwrap_or(0);
                recorder.record_ok(final_client, call, request, response);
                break;
            }
            Err(e) => recorder.record_unknown(final_client, call, request, e),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    anyhow::ensure!(final_revision > 0, "the final put never succeeded");
    until_tx.send_replace(final_revision);
    for w in watchers {
        let _ = w.await;
    }
    let watcher_logs: Vec<WatcherLog> =
        logs.iter().map(|l| l.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()).collect();

    let mut reference = None;
    for endpoint in &live {
        reference = read_history(endpoint, &cfg.traffic.prefix, 1, final_revision).await;
        if reference.is_some() {
            break;
        }
    }
    let reference = match reference {
        Some(r) => r,
        // Compacted: the longest watcher that saw everything from revision 1 stands in; the others
        // are checked against it.
        None => watcher_logs
            .iter()
            .filter(|w| w.start_revision == 1 && w.ended.is_none() && w.last_revision() >= final_revision)
            .map(|w| w.events().cloned().collect::<Vec<_>>())
            .next()
            .context("history compacted and no watcher saw all of it")?,
    };
    let record =
        RunRecord { ops: recorder.operations(), watchers: watcher_logs, reference, reference_from: 1, final_revision };
    let report = tokio::task::spawn_blocking({
        let record = record.clone();
        move || check_run(&record)
    })
    .await
    .unwrap_or_else(|panic| Report {
        operations: record.ops.len(),
        violations: vec![format!("the checker itself failed: {panic}")],
        ..Report::default()
    });
    cluster.kill_all();
    Ok((record, report, fault_error, note))
}

/// Per fault: runs, operations, unknowns, violations.
#[derive(Clone, Debug, Default)]
pub struct Tally {
    /// Runs.
    pub runs: usize,
    /// Operations recorded.
    pub operations: usize,
    /// Unknown outcomes.
    pub unknowns: usize,
    /// Violations found.
    pub violations: usize,
    /// Runs whose fault failed to inject or repair.
    pub fault_errors: usize,
    /// Runs whose linearizability search was inconclusive.
    pub inconclusive: usize,
}

/// Runs `runs` random (fault, traffic) combinations from `seed` (each fault in `faults` comes up
/// in turn, in an order the seed shuffles), prints a line per run and returns the results.
pub fn campaign(kind: Kind, runs: usize, seed: u64, faults: &[Fault], dir: &Path, traffic_secs: f64) -> Vec<RunResult> {
    let mut rng = Rng::new(seed);
    let mut order: Vec<Fault> = Vec::new();
    let mut results = Vec::new();
    for i in 0..runs {
        if order.is_empty() {
            order = faults.to_vec();
            for j in (1..order.len()).rev() {
                order.swap(j, rng.below(j as u64 + 1) as usize);
            }
        }
        let fault = order.pop().unwrap_or(Fault::None);
        let mut cfg = RunConfig::new(kind, fault, rng.next_u64());
        cfg.dir = dir.to_path_buf();
        cfg.before = Duration::from_secs_f64(traffic_secs / 2.0);
        cfg.after = Duration::from_secs_f64(traffic_secs / 2.0);
        cfg.traffic.clients = 3 + rng.below(4) as usize;
        cfg.traffic.keys = 4 + rng.below(8) as usize;
        cfg.keep = std::env::var("CAIRN_ROBUST_KEEP").is_ok_and(|v| v == "1");
        let result = run_once(&cfg);
        println!(
            "run {:>3}/{runs} {:<19} seed {:016x} clients {} keys {:>2}: {:>5} ops {:>4} unknown {:>3} violations{}{} in {:.1}s{}\n    fault: {}",
            i + 1,
            fault.name(),
            cfg.seed,
            cfg.traffic.clients,
            cfg.traffic.keys,
            result.report.operations,
            result.report.unknowns,
            result.report.violations.len(),
            if result.report.inconclusive { " (inconclusive)" } else { "" },
            result.fault_error.as_ref().map(|e| format!(" FAULT ERROR: {e}")).unwrap_or_default(),
            result.wall.as_secs_f64(),
            result.kept.as_ref().map(|d| format!(" kept in {}", d.display())).unwrap_or_default(),
            result.note,
        );
        for v in result.report.violations.iter().take(3) {
            println!("    {v}");
        }
        results.push(RunResult { record: None, ..result });
    }
    results
}

/// The table: one line per fault, then a total.
pub fn table(results: &[RunResult]) -> String {
    let mut per: BTreeMap<Fault, Tally> = BTreeMap::new();
    for r in results {
        let t = per.entry(r.fault).or_default();
        t.runs += 1;
        t.operations += r.report.operations;
        t.unknowns += r.report.unknowns;
        t.violations += r.report.violations.len();
        t.fault_errors += usize::from(r.fault_error.is_some());
        t.inconclusive += usize::from(r.report.inconclusive);
    }
    let mut out = format!(
        "{:<20} {:>5} {:>10} {:>9} {:>11} {:>13} {:>13}\n",
        "fault", "runs", "operations", "unknowns", "violations", "fault errors", "inconclusive"
    );
    let mut total = Tally::default();
    for (fault, t) in &per {
        out.push_str(&format!(
            "{:<20} {:>5} {:>10} {:>9} {:>11} {:>13} {:>13}\n",
            fault.name(),
            t.runs,
            t.operations,
            t.unknowns,
            t.violations,
            t.fault_errors,
            t.inconclusive
        ));
        total.runs += t.runs;
        total.operations += t.operations;
        total.unknowns += t.unknowns;
        total.violations += t.violations;
        total.fault_errors += t.fault_errors;
        total.inconclusive += t.inconclusive;
    }
    out.push_str(&format!(
        "{:<20} {:>5} {:>10} {:>9} {:>11} {:>13} {:>13}\n",
        "total", total.runs, total.operations, total.unknowns, total.violations, total.fault_errors, total.inconclusive
    ));
    out
}

/// Reads a run's `history.json` (as a failing run keeps it) back, to check it again.
pub fn load_record(path: &Path) -> Result<RunRecord> {
    let bytes = std::fs::read(path).with_context(|| format!("read {}", path.display()))?;
    serde_json::from_slice(&bytes).with_context(|| format!("parse {}", path.display()))
}
