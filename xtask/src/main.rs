//! cairn's project tasks, run as `cargo xtask <task>`.
//!
//! - `test`: everything CI checks, in order: install missing system packages
//!   (when root), `cargo fmt --check`, clippy with warnings denied on every
//!   target and engine, the layering rules (`cargo tree`), the whole
//!   workspace's tests under nextest, the doc tests, and one pass of every
//!   criterion bench in test mode.
//! - `fuzz [--secs N] [--target NAME]...`: every cargo-fuzz target (WAL records,
//!   snapshot import, the v2 request parser, gRPC request checks and apply, snapshot
//!   restore), N seconds each (default 60), on nightly (see `fuzz.rs`).
//! - `cluster`: a local 3-member cluster from the `Procfile` (see `cluster.rs`).

mod bench_compare;
mod cluster;
mod fuzz;
mod robustness;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};

const ENGINES: &[&str] = &["heed", "sled", "rocksdb", "fjall", "librocksdb-sys", "lmdb-master-sys"];
const ENGINES_RAFT_AND_GRPC: &[&str] =
    &["heed", "sled", "rocksdb", "fjall", "librocksdb-sys", "lmdb-master-sys", "raft", "raft-proto", "tonic"];
/// The layering rules: crates that must build without the crates named beside them.
const LAYERING: &[(&str, &[&str])] = &[("cairn-storage", ENGINES), ("cairn-mvcc", ENGINES_RAFT_AND_GRPC)];

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("test") => test(),
        Some("fuzz") => fuzz::fuzz(&args[1..]),
        Some("robustness") => robustness::robustness(&args[1..]),
        Some("cluster") => cluster::cluster(),
        Some("bench-compare") => bench_compare::bench_compare(&args[1..]),
        _ => {
            eprintln!(
                "usage: cargo xtask test | fuzz [--secs N] [--target NAME] | cluster | robustness [--runs N] [--seed S] | bench-compare [--quick]"
            );
            std::process::exit(2);
        }
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."))
}

/// Build products are kept outside the clone, so fresh clones (CI's) reuse them.
fn target_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(dir);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| root().join("target"));
    cache.join("cairn-target")
}

fn cargo(args: &[&str]) -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.args(args).current_dir(root()).env("CARGO_TARGET_DIR", target_dir());
    cmd
}

fn run(step: &str, mut cmd: Command) -> Result<()> {
    eprintln!("==> {step}");
    let started = Instant::now();
    let status = cmd.status().with_context(|| format!("{step}: cannot start {cmd:?}"))?;
    eprintln!("<== {step}: {status} in {:.1}s", started.elapsed().as_secs_f64());
    if !status.success() {
        bail!("{step} failed ({status})");
    }
    Ok(())
}

fn output(cmd: &mut Command) -> Result<String> {
    let out = cmd.output().with_context(|| format!("cannot start {cmd:?}"))?;
    if !out.status.success() {
        bail!("{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn is_root() -> bool {
    output(Command::new("id").arg("-u")).map(|uid| uid.trim() == "0").unwrap_or(false)
}

/// Debian packages the suite needs, each with a file that shows it is installed.
fn missing_packages() -> Vec<&'static str> {
    let mut missing = Vec::new();
    // RocksDB's bindings are generated with bindgen, which loads libclang.
    let has_libclang =
        ["/usr/lib/llvm-14/lib", "/usr/lib/llvm-15/lib", "/usr/lib/llvm-16/lib", "/usr/lib/x86_64-linux-gnu"]
            .iter()
            .any(|dir| {
                std::fs::read_dir(dir).is_ok_and(|entries| {
                    entries.flatten().any(|e| e.file_name().to_string_lossy().starts_with("libclang"))
                })
            });
    if !has_libclang {
        missing.push("libclang-dev");
    }
    let has = |command: &str| output(Command::new("sh").args(["-c", &format!("command -v {command}")])).is_ok();
    if !has("c++") {
        missing.push("g++");
    }
    // The `etcd-client` crate (a test client) generates its code with protoc.
    if !has("protoc") {
        missing.push("protobuf-compiler");
    }
    // The reference peer the compatibility tests compare against: etcd 3.4 and
    // its etcdctl, and etcd's .proto files that cairn-proto is checked against.
    if !has("etcd") {
        missing.push("etcd-server");
    }
    if !has("etcdctl") {
        missing.push("etcd-client");
    }
    // The JSON gateway's differential tests post with curl.
    if !has("curl") {
        missing.push("curl");
    }
    // The TLS tests make their certificates with openssl.
    if !has("openssl") {
        missing.push("openssl");
    }
    if !Path::new("/usr/share/gocode/src/go.etcd.io/etcd/etcdserver/etcdserverpb/rpc.proto").exists()
        && output(Command::new("dpkg").args(["-s", "golang-etcd-server-dev"])).is_err()
    {
        missing.push("golang-etcd-server-dev");
    }
    missing
}

fn install_system_packages() -> Result<()> {
    let missing = missing_packages();
    if missing.is_empty() {
        return Ok(());
    }
    if !is_root() {
        bail!(
            "missing system packages {missing:?}: install them (apt-get install {}) or run as root",
            missing.join(" ")
        );
    }
    let mut update = Command::new("apt-get");
    update.args(["update", "-qq"]);
    run("apt-get update", update)?;
    let mut install = Command::new("apt-get");
    install
        .args(["install", "-y", "-qq", "--no-install-recommends"])
        .args(&missing)
        .env("DEBIAN_FRONTEND", "noninteractive");
    run(&format!("apt-get install {}", missing.join(" ")), install)
}

fn has_nextest() -> bool {
    Command::new("cargo").args(["nextest", "--version"]).output().is_ok_and(|o| o.status.success())
}

/// Trait crates build without any engine; `cairn-mvcc` also without raft and gRPC.
fn check_layering() -> Result<()> {
    for (krate, forbidden) in LAYERING {
        eprintln!("==> layering: {krate} depends on none of {forbidden:?}");
        let tree =
            output(&mut cargo(&["tree", "-p", krate, "--all-features", "-e", "normal,build", "--prefix", "none"]))?;
        for line in tree.lines() {
            let name = line.split_whitespace().next().unwrap_or_default();
            if forbidden.contains(&name) {
                bail!("{krate} depends on {name}, which its layer forbids");
            }
        }
    }
    Ok(())
}

fn test() -> Result<()> {
    let started = Instant::now();
    eprintln!("cargo xtask test: target dir {}", target_dir().display());
    install_system_packages()?;
    run("rustfmt", cargo(&["fmt", "--all", "--", "--check"]))?;
    run("clippy", cargo(&["clippy", "--workspace", "--all-targets", "--all-features", "--", "-D", "warnings"]))?;
    check_layering()?;
    if has_nextest() {
        let mut tests = cargo(&["nextest", "run", "--workspace", "--all-features", "--no-fail-fast"]);
        tests.env("NEXTEST_HIDE_PROGRESS_BAR", "1");
        run("tests (nextest)", tests)?;
    } else {
        run("tests", cargo(&["test", "--workspace", "--all-features", "--lib", "--bins", "--tests"]))?;
    }
    run("doc tests", cargo(&["test", "--workspace", "--all-features", "--doc"]))?;
    // Every bench runs once, on small data, so benches cannot rot unnoticed.
    let mut benches = cargo(&["test", "--workspace", "--all-features", "--benches"]);
    benches.env("CAIRN_BENCH_QUICK", "1");
    run("benches (test mode)", benches)?;
    eprintln!("cargo xtask test: all passed in {:.0}s", started.elapsed().as_secs_f64());
    Ok(())
}
