//! `cargo xtask fuzz [--seconds N]`: runs the WAL record decoder's fuzz target
//! (`wal/fuzz`, cargo-fuzz over libFuzzer) for a bounded time, 60 s by default.
//!
//! It needs the nightly toolchain (sanitizers and coverage instrumentation are
//! nightly-only) and installs `cargo-fuzz` if it is missing. New inputs go to the
//! untracked `wal/fuzz/corpus/decode_record`; the tracked seeds in
//! `wal/fuzz/seeds/decode_record` are read too. The same check runs on stable in
//! `wal/tests/fuzz_decode_record.rs`, so CI covers the property without nightly.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::{root, run, target_dir};

const TARGET: &str = "decode_record";
const DEFAULT_SECONDS: u64 = 60;
/// An input slower than this is reported as a hang.
const INPUT_TIMEOUT_SECONDS: u64 = 10;

/// Runs the fuzz target; fails if it finds a crash (or cannot run).
pub(crate) fn fuzz(args: &[String]) -> Result<()> {
    let seconds = parse_seconds(args)?;
    require_nightly()?;
    ensure_cargo_fuzz()?;
    let fuzz_dir = root().join("wal").join("fuzz");
    let corpus = fuzz_dir.join("corpus").join(TARGET);
    let seeds = fuzz_dir.join("seeds").join(TARGET);
    std::fs::create_dir_all(&corpus).with_context(|| format!("cannot create {}", corpus.display()))?;

    let mut cmd = rustup_cargo(Some("nightly"));
    cmd.args(["fuzz", "run", "--fuzz-dir"])
        .arg(&fuzz_dir)
        .arg(TARGET)
        .arg(&corpus)
        .arg(&seeds)
        .arg("--")
        .arg(format!("-max_total_time={seconds}"))
        .arg(format!("-timeout={INPUT_TIMEOUT_SECONDS}"))
        .arg("-print_final_stats=1")
        // Nightly builds with sanitizer flags: keep them apart from stable builds.
        .env("CARGO_TARGET_DIR", fuzz_target_dir());
    let result = run(&format!("fuzz {TARGET} for {seconds}s"), cmd);
    if result.is_err() {
        let artifacts = fuzz_dir.join("artifacts").join(TARGET);
        bail!(
            "the fuzz target {TARGET} failed: if it found a crash, the input is in {}; replay it with \
             `cargo +nightly fuzz run --fuzz-dir wal/fuzz {TARGET} <file>`, fix the bug, and freeze the input \
             as a named test in wal/tests/fuzz_decode_record.rs (and a file in {})",
            artifacts.display(),
            seeds.display()
        );
    }
    Ok(())
}

fn parse_seconds(args: &[String]) -> Result<u64> {
    match args {
        [] => Ok(DEFAULT_SECONDS),
        [flag, n] if flag == "--seconds" => match n.parse::<u64>() {
            Ok(n) if n > 0 => Ok(n),
            _ => bail!("--seconds takes a positive whole number, not {n:?}"),
        },
        _ => bail!("usage: cargo xtask fuzz [--seconds N] (default {DEFAULT_SECONDS})"),
    }
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
