//! End-to-end tests for cairn over real processes.
//!
//! This crate starts real servers (etcd 3.4 from `/usr/bin/etcd`, and the `cairn` binary) on
//! ports it picks on 127.0.0.1, drives them with the real `etcdctl` 3.4, and compares what
//! etcdctl prints against each. It is not a client library: everything goes through processes.
//!
//! - [`Server`] and [`Cluster`]: spawn members with etcd's flags, wait (bounded) until they are
//!   healthy, kill / stop / restart them; every process is killed by its pid on drop.
//! - [`Etcdctl`] and [`etcdctl`]: run etcdctl with `ETCDCTL_API=3`, a timeout and `--endpoints`.
//! - [`Normalizer`]: masks what legitimately differs between two servers (ids, ports, raft term
//!   and index, durations, sizes, versions) and never revisions.
//! - [`Differ`]: one etcd and one cairn side by side; runs the same etcdctl steps against both and
//!   reports every difference with the command and both outputs.
//! - [`robust`]: the robustness suite: histories recorded from clients and watchers of a cluster
//!   under one fault (kill, pause, partition, slow or lossy links, snapshot catch-up, member
//!   replace, compaction), checked for linearizability and the watch guarantees; its clients speak
//!   gRPC through the `etcd-client` crate.
//!
//! `CAIRN_DIFF_PEER=etcd` makes the "cairn" side a real etcd too, which proves the harness and the
//! tests etcd-vs-etcd. `CAIRN_BIN` overrides where the cairn binary is looked for (default:
//! `target/<profile>/cairn` next to the test executables' `deps/`). `CAIRN_DIFF_SHOW=1` prints
//! every step's normalized etcd output (run with `--nocapture`). `ETCD_BIN` and `ETCDCTL_BIN`
//! override `/usr/bin/etcd` and `/usr/bin/etcdctl`.
//!
//! ```no_run
//! use cairn_tests::Differ;
//!
//! let mut d = Differ::start();
//! d.run(&["put", "a", "1"]);
//! d.run(&["get", "a", "-w", "json"]);
//! d.finish();
//! ```

mod binaries;
mod cluster;
mod curl;
mod differ;
mod etcdctl;
mod normalize;
mod ports;
pub mod prom;
pub mod restore;
pub mod robust;
mod server;
mod status;
mod textdiff;

pub use binaries::{
    Kind, cairn_bin, cairn_failpoints_bin, cairnctl_bin, diff_peer_is_etcd, etcd_bin, etcdctl_bin, has_failpoints,
};
pub use cluster::{AddedMember, Cluster};
pub use differ::{Differ, Step, WatchPair};
pub use etcdctl::{Background, Etcdctl, Output, etcdctl};
pub use normalize::Normalizer;
pub use ports::free_ports;
pub use server::Server;
pub use status::{EndpointStatus, HashKv, MemberLine, endpoint_hashkv, endpoint_status, member_list};
pub use textdiff::line_diff;
