//! `cargo xtask robustness [--runs N] [--seed S] [--secs T] [--faults a,b,...] [--etcd] [--out DIR]`:
//! random (fault, traffic) runs against 3-member clusters of real `cairn` processes (or etcd 3.4
//! with `--etcd`), each checked for linearizability and the watch guarantees (see
//! `tests/src/robust/`). Failing runs keep their history, report, member data dirs and logs under
//! `--out` (default `$TMPDIR/cairn-robustness`); at the end a table per fault and the wall time.
//!
//! It builds the `cairn` binary with the `failpoints` feature (the `lose-unsynced` and
//! `failpoint-panic` faults inject them; the others do not care), then runs the ignored `campaign_from_env` test of
//! `tests/tests/robustness.rs`, configured through `CAIRN_ROBUST_*` variables.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::{cargo, run, target_dir};

/// Parses the flags, builds the server, runs the campaign.
pub(crate) fn robustness(args: &[String]) -> Result<()> {
    let mut runs = "50".to_owned();
    let mut seed = "1".to_owned();
    let mut secs = "4".to_owned();
    let mut faults = String::new();
    let mut etcd = false;
    let mut out = std::env::temp_dir().join("cairn-robustness");
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().cloned().with_context(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--runs" => runs = value("--runs")?,
            "--seed" => seed = value("--seed")?,
            "--secs" => secs = value("--secs")?,
            "--faults" => faults = value("--faults")?,
            "--out" => out = PathBuf::from(value("--out")?),
            "--etcd" => etcd = true,
            other => bail!(
                "unknown argument {other:?}; usage: cargo xtask robustness [--runs N] [--seed S] [--secs T] \
                 [--faults a,b] [--etcd] [--out DIR]"
            ),
        }
    }
    runs.parse::<usize>().context("--runs takes a number")?;
    seed.parse::<u64>().context("--seed takes a number")?;
    secs.parse::<f64>().context("--secs takes a number of seconds")?;
    let started = Instant::now();
    if !etcd {
        // With failpoints, for the faults that inject them (`--version` says so).
        run("build cairn", cargo(&["build", "-p", "cairn-server", "--bin", "cairn", "--features", "failpoints"]))?;
    }
    let bin = target_dir().join("debug").join(format!("cairn{}", std::env::consts::EXE_SUFFIX));
    let mut cmd = cargo(&[
        "test",
        "-p",
        "cairn-tests",
        "--test",
        "robustness",
        "--",
        "--ignored",
        "--exact",
        "campaign_from_env",
        "--nocapture",
    ]);
    cmd.env("CAIRN_BIN", &bin)
        .env("CAIRN_ROBUST_RUNS", &runs)
        .env("CAIRN_ROBUST_SEED", &seed)
        .env("CAIRN_ROBUST_SECS", &secs)
        .env("CAIRN_ROBUST_FAULTS", &faults)
        .env("CAIRN_ROBUST_ETCD", if etcd { "1" } else { "0" })
        .env("CAIRN_ROBUST_OUT", &out);
    let result = run("robustness runs", cmd);
    eprintln!(
        "robustness: {runs} runs from seed {seed} in {:.1}s; failing runs (if any) are kept under {}",
        started.elapsed().as_secs_f64(),
        out.display()
    );
    result
}
