//! Where the etcd, etcdctl and cairn binaries are, and which server kind the "cairn" side runs.

use std::path::PathBuf;

/// Which server program a member runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The real etcd 3.4 (`/usr/bin/etcd`, or `ETCD_BIN`).
    Etcd,
    /// The cairn binary; a real etcd instead when `CAIRN_DIFF_PEER=etcd`.
    Cairn,
}

impl Kind {
    /// The program this kind runs, resolving `CAIRN_DIFF_PEER` and `CAIRN_BIN`.
    ///
    /// Panics with a clear message when the cairn binary does not exist.
    pub fn program(self) -> PathBuf {
        match self {
            Kind::Etcd => etcd_bin(),
            Kind::Cairn if diff_peer_is_etcd() => etcd_bin(),
            Kind::Cairn => {
                let bin = cairn_bin();
                assert!(
                    bin.is_file(),
                    "the cairn binary was not found at {} \
                     (set CAIRN_BIN=/path/to/cairn, or build it into the same target dir as the tests: \
                     `cargo build -p cairn-server --bin cairn`; or run the harness etcd-vs-etcd with CAIRN_DIFF_PEER=etcd)",
                    bin.display()
                );
                bin
            }
        }
    }

    /// A label for reports: `etcd`, `cairn`, or `cairn(etcd)` when the peer is etcd.
    pub fn label(self) -> &'static str {
        match self {
            Kind::Etcd => "etcd",
            Kind::Cairn if diff_peer_is_etcd() => "cairn(etcd)",
            Kind::Cairn => "cairn",
        }
    }
}

/// True when `CAIRN_DIFF_PEER=etcd`: the "cairn" side of every test is a real etcd.
///
/// Panics on any other non-empty value but `cairn`, so a typo is not silently a cairn run.
pub fn diff_peer_is_etcd() -> bool {
    match std::env::var("CAIRN_DIFF_PEER").unwrap_or_default().as_str() {
        "" | "cairn" => false,
        "etcd" => true,
        other => panic!("CAIRN_DIFF_PEER={other:?} is not understood; use `etcd` (or unset it for cairn)"),
    }
}

/// The etcd binary: `ETCD_BIN`, else `/usr/bin/etcd`.
pub fn etcd_bin() -> PathBuf {
    std::env::var_os("ETCD_BIN").map_or_else(|| PathBuf::from("/usr/bin/etcd"), PathBuf::from)
}

/// The etcdctl binary: `ETCDCTL_BIN`, else `/usr/bin/etcdctl`.
pub fn etcdctl_bin() -> PathBuf {
    std::env::var_os("ETCDCTL_BIN").map_or_else(|| PathBuf::from("/usr/bin/etcdctl"), PathBuf::from)
}

/// The cairn binary as assert_cmd finds one: `CAIRN_BIN`, else `<dir of the test exe>/../cairn`.
///
/// Test executables live in `target/<profile>/deps/`, the binary in `target/<profile>/`.
pub fn cairn_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("CAIRN_BIN") {
        return PathBuf::from(bin);
    }
    let exe = std::env::current_exe().expect("path of the running test executable");
    let deps = exe.parent().expect("the test executable has a parent directory");
    let profile_dir = if deps.ends_with("deps") { deps.parent().unwrap_or(deps) } else { deps };
    profile_dir.join(format!("cairn{}", std::env::consts::EXE_SUFFIX))
}

/// The cairnctl binary: `CAIRNCTL_BIN`, else `<dir of the test exe>/../cairnctl` (built with the
/// workspace, like the cairn binary).
pub fn cairnctl_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("CAIRNCTL_BIN") {
        return PathBuf::from(bin);
    }
    let bin = cairn_bin().with_file_name(format!("cairnctl{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.is_file(),
        "the cairnctl binary was not found at {} (set CAIRNCTL_BIN=/path/to/cairnctl, or build it into the \
         same target dir as the tests: `cargo build -p cairn-ctl`)",
        bin.display()
    );
    bin
}

/// The cairn binary for runs that inject failpoints (the `failpoints` feature): `CAIRN_FAILPOINTS_BIN`,
/// else the regular [`cairn_bin`], which has them when the workspace was built with every feature (as
/// `cargo xtask test` and `cargo xtask robustness` build it; no second build).
///
/// Panics with how to build one when the binary found has no failpoints.
pub fn cairn_failpoints_bin() -> PathBuf {
    let bin = std::env::var_os("CAIRN_FAILPOINTS_BIN").map_or_else(cairn_bin, PathBuf::from);
    assert!(
        has_failpoints(&bin),
        "the cairn binary at {} was built without failpoints; build it with \
         `cargo build -p cairn-server --bin cairn --features failpoints` (or `--all-features`), or set \
         CAIRN_FAILPOINTS_BIN to one that was",
        bin.display()
    );
    bin
}

/// Whether the cairn binary `bin` has failpoints: its `--version` says so.
pub fn has_failpoints(bin: &std::path::Path) -> bool {
    std::process::Command::new(bin)
        .arg("--version")
        .env("RUST_BACKTRACE", "0")
        .stdin(std::process::Stdio::null())
        .output()
        .is_ok_and(|out| {
            String::from_utf8_lossy(&out.stdout).contains("(failpoints)")
                || String::from_utf8_lossy(&out.stderr).contains("(failpoints)")
        })
}
