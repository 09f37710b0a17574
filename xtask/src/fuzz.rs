//! `cargo xtask fuzz [--secs N] [--target NAME]...`: runs every cargo-fuzz target (or
//! the named ones) for a bounded time each, 60 s by default, one after another:
//!
//! | crate dir | target | what it feeds arbitrary bytes to | stable test of the same checks |
//! |---|---|---|---|
//! | `wal/fuzz` | `decode_record` | the WAL record decoder | `wal/tests/fuzz_decode_record.rs` |
//! | `storage/fuzz` | `snapshot_import` | snapshot stream reading and import | `storage/tests/fuzz_snapshot_import.rs` |
//! | `server/fuzz` | `v2_request` | the v2 keys request parser, then a v2 store | `server/tests/fuzz_v2_request.rs` |
//! | `server/fuzz` | `grpc_request` | gRPC KV/lease request checks, then apply | `server/tests/fuzz_grpc_request.rs` |
//! | `server/fuzz` | `snapshot_restore` | a member restoring a leader's snapshot | `server/tests/fuzz_snapshot_restore.rs` |
//!
//! It needs the nightly toolchain (sanitizers and coverage instrumentation are
//! nightly-only) and installs `cargo-fuzz` if it is missing. New inputs go to the
//! untracked `<crate>/fuzz/corpus/<target>`; the tracked seeds in
//! `<crate>/fuzz/seeds/<target>` are read too. Each target's checks also run on stable
//! in its test, so CI covers the properties without nightly.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::{root, run, target_dir};

/// A fuzz target: its crate's directory (holding `fuzz/`), its name, and the stable
/// test that runs its checks (where a crash becomes a named regression test).
struct Target {
    krate: &'static str,
    name: &'static str,
    test: &'static str,
}

const TARGETS: &[Target] = &[
    Target { krate: "wal", name: "decode_record", test: "wal/tests/fuzz_decode_record.rs" },
    Target { krate: "storage", name: "snapshot_import", test: "storage/tests/fuzz_snapshot_import.rs" },
    Target { krate: "server", name: "v2_request", test: "server/tests/fuzz_v2_request.rs" },
    Target { krate: "server", name: "grpc_request", test: "server/tests/fuzz_grpc_request.rs" },
    Target { krate: "server", name: "snapshot_restore", test: "server/tests/fuzz_snapshot_restore.rs" },
];
const DEFAULT_SECONDS: u64 = 60;
/// An input slower than this is reported as a hang.
const INPUT_TIMEOUT_SECONDS: u64 = 10;

/// Runs the fuzz targets; fails if one finds a crash (or cannot run), after running
/// the others.
pub(crate) fn fuzz(args: &[String]) -> Result<()> {
    let (seconds, chosen) = parse_args(args)?;
    require_nightly()?;
    ensure_cargo_fuzz()?;
    let mut failed = Vec::new();
    for target in TARGETS.iter().filter(|t| chosen.is_empty() || chosen.iter().any(|c| c == t.name)) {
        if let Err(e) = run_target(target, seconds) {
            eprintln!("{e:#}");
            failed.push(target.name);
        }
    }
    if !failed.is_empty() {
        bail!("fuzz targets failed: {}", failed.join(", "));
    }
    Ok(())
}

fn run_target(target: &Target, seconds: u64) -> Result<()> {
    let Target { krate, name, test } = target;
    let fuzz_dir = root().join(krate).join("fuzz");
    let corpus = fuzz_dir.join("corpus").join(name);
    let seeds = fuzz_dir.join("seeds").join(name);
    std::fs::create_dir_all(&corpus).with_context(|| format!("cannot create {}", corpus.display()))?;

    let mut cmd = rustup_cargo(Some("nightly"));
    cmd.args(["fuzz", "run", "--fuzz-dir"])
        .arg(&fuzz_dir)
        .arg(name)
        .arg(&corpus)
        .arg(&seeds)
        .arg("--")
        .arg(format!("-max_total_time={seconds}"))
        .arg(format!("-timeout={INPUT_TIMEOUT_SECONDS}"))
        .arg("-print_final_stats=1")
        // Nightly builds with sanitizer flags: keep them apart from stable builds.
        .env("CARGO_TARGET_DIR", fuzz_target_dir());
    let result = run(&format!("fuzz {name} for {seconds}s"), cmd);
    if result.is_err() {
        let artifacts = fuzz_dir.join("artifacts").join(name);
        bail!(
            "the fuzz target {name} failed: if it found a crash, the input is in {}; replay it with \
             `cargo +nightly fuzz run --fuzz-dir {krate}/fuzz {name} <file>`, fix the bug, and freeze the input \
             as a named test in {test} (and a file in {})",
            artifacts.display(),
            seeds.display()
        );
    }
    Ok(())
}

fn parse_args(args: &[String]) -> Result<(u64, Vec<String>)> {
    let usage = || {
        let names: Vec<&str> = TARGETS.iter().map(|t| t.name).collect();
        anyhow::anyhow!(
            "usage: cargo xtask fuzz [--secs N] [--target NAME]... (N seconds per target, default \
             {DEFAULT_SECONDS}; targets: {})",
            names.join(", ")
        )
    };
    let (mut seconds, mut chosen) = (DEFAULT_SECONDS, Vec::new());
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--secs" | "--seconds" => {
                let n = it.next().ok_or_else(usage)?;
                seconds = match n.parse::<u64>() {
                    Ok(n) if n > 0 => n,
                    _ => bail!("{arg} takes a positive whole number, not {n:?}"),
                };
            }
            "--target" => {
                let name = it.next().ok_or_else(usage)?;
                if !TARGETS.iter().any(|t| t.name == name) {
                    return Err(usage().context(format!("no fuzz target {name:?}")));
                }
                chosen.push(name.clone());
            }
            _ => return Err(usage()),
        }
    }
    Ok((seconds, chosen))
}

/// `cargo` through rustup's proxy, which understands `+toolchain`; `$CARGO` is the
/// stable toolchain's own binary and would not. The toolchain rustup chose for
/// `cargo xtask` itself must not leak into the nightly run.
fn rustup_cargo(toolchain: Option<&str>) -> Command {
    let mut cmd = Command::new("cargo");
    if let Some(toolchain) = toolchain {
        cmd.arg(format!("+{toolchain}"));
    }
    cmd.current_dir(root()).env_remove("RUSTUP_TOOLCHAIN").env_remove("RUSTC").env_remove("RUSTDOC");
    cmd
}

fn require_nightly() -> Result<()> {
    let out = rustup_cargo(Some("nightly")).arg("--version").output();
    match out {
        Ok(out) if out.status.success() => {
            eprintln!("==> nightly: {}", String::from_utf8_lossy(&out.stdout).trim());
            Ok(())
        }
        Ok(out) => bail!(
            "cargo xtask fuzz needs the nightly toolchain (libFuzzer's instrumentation is nightly-only), and \
             `cargo +nightly --version` failed: {}\ninstall it with `rustup toolchain install nightly`",
            String::from_utf8_lossy(&out.stderr).trim()
        ),
        Err(e) => bail!(
            "cargo xtask fuzz needs the nightly toolchain through rustup, and `cargo +nightly` cannot start ({e}); \
             install rustup and `rustup toolchain install nightly`"
        ),
    }
}

fn ensure_cargo_fuzz() -> Result<()> {
    let installed = rustup_cargo(None).args(["fuzz", "--version"]).output().is_ok_and(|o| o.status.success());
    if installed {
        return Ok(());
    }
    let mut install = rustup_cargo(None);
    install.args(["install", "cargo-fuzz", "--locked"]);
    run("cargo install cargo-fuzz --locked", install)
}

fn fuzz_target_dir() -> PathBuf {
    let mut dir: OsString = target_dir().into_os_string();
    dir.push("-fuzz");
    PathBuf::from(dir)
}
