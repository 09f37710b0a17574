//! Commits per second of an in-process 3-member `cairn_raft::RaftNode` cluster, with
//! 1, 16 and 256 proposers waiting on their proposals concurrently.
//!
//! Each member has its WAL on disk (in the temporary directory) and a tokio runtime
//! of its own, as separate processes would; messages go straight into the peers'
//! inboxes through [`NodeHandle::try_step`], so the network costs nothing and what is
//! left is raft, the WAL's group commit (one `fdatasync` per `Ready` on the leader,
//! one per append on each follower) and the apply loop. The state machine only
//! counts. A proposal counts once the leader has applied it (its `propose` returned).
//!
//! `cargo bench -p cairn-bench --bench cluster`. The temporary directory must be on
//! the disk being measured (not tmpfs): set `TMPDIR` if needed. Compare with the
//! `disk` bench's fsync rates. `CAIRN_BENCH_QUICK=1` makes the runs short and the
//! WAL segments small.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use cairn_raft::{Committed, NodeConfig, NodeHandle, Payload, RaftNode, Role, SnapshotStatus, StateMachine, Transport};
use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use raft::eraftpb::{Message, MessageType, Snapshot};
use tokio::runtime::Runtime;
use tokio::task::JoinSet;

const MEMBERS: [u64; 3] = [1, 2, 3];
const PROPOSERS: [u64; 3] = [1, 16, 256];
const PROPOSAL_BYTES: usize = 256;

fn quick() -> bool {
    std::env::var_os("CAIRN_BENCH_QUICK").is_some_and(|v| v != "0")
}

/// Counts the normal entries applied.
#[derive(Default)]
struct Counter {
    applied: u64,
    count: u64,
}

impl StateMachine for Counter {
    type Output = u64;
    type Error = std::io::Error;

    fn apply(&mut self, entries: &[Committed<'_>]) -> Result<Vec<u64>, Self::Error> {
        let mut outputs = Vec::with_capacity(entries.len());
        for entry in entries {
            if let Payload::Normal(_) = entry.payload {
                self.count += 1;
            }
            self.applied = entry.index;
            outputs.push(self.count);
        }
        Ok(outputs)
    }

    fn applied_index(&self) -> u64 {
        self.applied
    }

    fn snapshot(&self) -> Result<Vec<u8>, Self::Error> {
        Ok(self.count.to_le_bytes().to_vec())
    }

    fn restore(&mut self, snapshot: &Snapshot) -> Result<(), Self::Error> {
        let bytes = snapshot.get_data().try_into().map_err(|_| std::io::ErrorKind::InvalidData)?;
        self.count = u64::from_le_bytes(bytes);
        self.applied = snapshot.get_metadata().index;
        Ok(())
    }
}

/// The members' handles by id, filled in once they have started.
type Peers = Arc<RwLock<HashMap<u64, NodeHandle<Counter>>>>;

/// Hands each message to its peer's inbox at once; a full inbox loses it, as a
/// congested link would, and tells the sender.
struct ChannelTransport {
    peers: Peers,
}

impl Transport for ChannelTransport {
    fn send(&self, messages: Vec<Message>) {
        let peers = self.peers.read().expect("peers lock");
        for message in messages {
            let (from, to, kind) = (message.from, message.to, message.get_msg_type());
            let delivered = peers.get(&to).is_some_and(|peer| peer.try_step(message).is_ok());
            let Some(sender) = peers.get(&from).cloned() else { continue };
            // Called from the sender's loop, so on its runtime.
            if kind == MessageType::MsgSnapshot {
                let status = if delivered { SnapshotStatus::Finish } else { SnapshotStatus::Failure };
                tokio::spawn(async move { sender.report_snapshot(to, status).await });
            } else if !delivered {
                tokio::spawn(async move { sender.report_unreachable(to).await });
            }
        }
    }
}

/// Three members, each on a runtime of its own, and a runtime for the proposers.
struct Cluster {
    nodes: Vec<RaftNode<Counter>>,
    members: Vec<Runtime>,
    proposers: Runtime,
    _dir: tempfile::TempDir,
}

fn runtime(name: &str) -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name(name)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

impl Cluster {
    fn start() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let peers = Peers::default();
        let (mut nodes, mut members) = (Vec::new(), Vec::new());
        for id in MEMBERS {
            let mut config = NodeConfig::new(id, dir.path().join(format!("member-{id}")));
            config.initial_voters = MEMBERS.to_vec();
            if quick() {
                config.wal.segment_size = 4 << 20;
            }
            let member = runtime(&format!("member-{id}"));
            let node = {
                let _entered = member.enter();
                RaftNode::start(config, Counter::default(), ChannelTransport { peers: Arc::clone(&peers) })
                    .expect("start member")
            };
            peers.write().expect("peers lock").insert(id, node.handle().clone());
            nodes.push(node);
            members.push(member);
        }
        Cluster { nodes, members, proposers: runtime("proposers"), _dir: dir }
    }

    /// Waits until a member leads and every member follows it; returns its handle.
    fn leader(&self) -> NodeHandle<Counter> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let statuses: Vec<_> = self.nodes.iter().map(|n| n.status()).collect();
            if let Some(leader) = statuses.iter().position(|s| s.role == Role::Leader) {
                let (id, term) = (statuses[leader].id, statuses[leader].term);
                if statuses.iter().all(|s| s.leader_id == Some(id) && s.term == term) {
                    return self.nodes[leader].handle().clone();
                }
            }
            assert!(Instant::now() < deadline, "no leader after 60 s: {statuses:?}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Proposes `total` entries from `proposers` concurrent tasks, each waiting for
    /// its proposal to be applied before the next; returns the time it all took.
    fn commit(&self, leader: &NodeHandle<Counter>, proposers: u64, total: u64) -> Duration {
        self.proposers.block_on(async {
            let started = Instant::now();
            let mut tasks = JoinSet::new();
            for p in 0..proposers {
                let share = total / proposers + u64::from(p < total % proposers);
                let leader = leader.clone();
                tasks.spawn(async move {
                    for _ in 0..share {
                        leader.propose(vec![0x5a; PROPOSAL_BYTES]).await.expect("propose");
                    }
                });
            }
            while let Some(done) = tasks.join_next().await {
                done.expect("proposer task");
            }
            started.elapsed()
        })
    }

    fn shutdown(self) {
        for node in self.nodes {
            self.proposers.block_on(node.shutdown()).expect("member shut down cleanly");
        }
        drop(self.members);
    }
}

fn commits(c: &mut Criterion) {
    let cluster = Cluster::start();
    let leader = cluster.leader();
    let mut group = c.benchmark_group("cluster/3-members/commit");
    group.sampling_mode(SamplingMode::Flat).throughput(Throughput::Elements(1));
    for proposers in PROPOSERS {
        group.bench_function(format!("{proposers}-proposers"), |b| {
            b.iter_custom(|iters| cluster.commit(&leader, proposers, iters))
        });
    }
    group.finish();
    cluster.shutdown();
}

fn config() -> Criterion {
    let criterion = Criterion::default().sample_size(10);
    if quick() {
        criterion.warm_up_time(Duration::from_millis(200)).measurement_time(Duration::from_millis(500))
    } else {
        criterion.warm_up_time(Duration::from_secs(2)).measurement_time(Duration::from_secs(10))
    }
}

criterion_group! {
    name = benches;
    config = config();
    targets = commits
}
criterion_main!(benches);
