//! The faults a run injects, one per run, each followed by its repair.

use std::time::Duration;

use anyhow::{Context, Result};
use etcd_client::CompactionOptions;

use super::cluster::{ProxiedCluster, connect};
use super::traffic::{Endpoints, Rng};

/// One kind of fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Fault {
    /// No fault: traffic alone.
    None,
    /// SIGKILL the leader, restart it.
    KillLeader,
    /// SIGKILL a follower, restart it.
    KillFollower,
    /// SIGKILL every member at once, then restart them all: acknowledged writes must survive.
    KillAll,
    /// SIGSTOP the leader for longer than an election timeout, then SIGCONT.
    PauseLeader,
    /// Cut the leader off from its peers, then heal.
    PartitionLeader,
    /// Cut a follower off from its peers, then heal.
    PartitionFollower,
    /// Slow every peer link down (latency and jitter).
    DelayPeers,
    /// Reset peer connections at random, with some latency.
    LossyPeers,
    /// Kill a follower, write more raft entries than the leader keeps after a snapshot, restart
    /// the follower: it must catch up from a snapshot.
    SnapshotCatchUp,
    /// Remove a follower from the cluster and add a new member in its place.
    MemberReplace,
    /// Compact the history and defragment every member during traffic.
    CompactDefrag,
    /// A member (the leader or a follower) crashes between a WAL write and its fsync, and
    /// whatever was not fsynced is lost (all of it, or a random subset of its pages, as a power
    /// loss during writeback leaves them), through cairn's `walBeforeFsync` failpoint; then it
    /// restarts. cairn with failpoints only.
    LoseUnsyncedWrites,
    /// One of etcd's failpoints (before or after the raft save, before a leader's or a
    /// follower's send, before or after the backend commit) panics once in a member, which
    /// ends it; then it restarts. cairn with failpoints only.
    FailpointPanic,
}

impl Fault {
    /// Every fault, `None` first.
    pub const ALL: [Fault; 14] = [
        Fault::None,
        Fault::KillLeader,
        Fault::KillFollower,
        Fault::KillAll,
        Fault::PauseLeader,
        Fault::PartitionLeader,
        Fault::PartitionFollower,
        Fault::DelayPeers,
        Fault::LossyPeers,
        Fault::SnapshotCatchUp,
        Fault::MemberReplace,
        Fault::CompactDefrag,
        Fault::LoseUnsyncedWrites,
        Fault::FailpointPanic,
    ];

    /// The name used on the command line and in tables.
    pub fn name(self) -> &'static str {
        match self {
            Fault::None => "none",
            Fault::KillLeader => "kill-leader",
            Fault::KillFollower => "kill-follower",
            Fault::KillAll => "kill-all",
            Fault::PauseLeader => "pause-leader",
            Fault::PartitionLeader => "partition-leader",
            Fault::PartitionFollower => "partition-follower",
            Fault::DelayPeers => "delay-peers",
            Fault::LossyPeers => "lossy-peers",
            Fault::SnapshotCatchUp => "snapshot-catch-up",
            Fault::MemberReplace => "member-replace",
            Fault::CompactDefrag => "compact-defrag",
            Fault::LoseUnsyncedWrites => "lose-unsynced",
            Fault::FailpointPanic => "failpoint-panic",
        }
    }

    /// Whether the fault needs cairn built with failpoints (etcd's Debian build has none, so
    /// runs against etcd skip it).
    pub fn needs_failpoints(self) -> bool {
        matches!(self, Fault::LoseUnsyncedWrites | Fault::FailpointPanic)
    }

    /// The fault named `name`.
    pub fn parse(name: &str) -> Option<Fault> {
        Fault::ALL.into_iter().find(|f| f.name() == name)
    }

    /// Flags every member of a run with this fault starts with.
    pub fn member_flags(self) -> Vec<String> {
        match self {
            // Snapshot often so the leader's log is compacted past the stopped follower.
            Fault::SnapshotCatchUp => vec!["--snapshot-count".into(), "1000".into()],
            _ => Vec::new(),
        }
    }
}

/// How many raft entries the snapshot fault writes while the follower is down: more than the
/// snapshot count plus the 5000 entries etcd (and cairn) keep for slow followers.
const SNAPSHOT_BURST_ENTRIES: usize = 7000;

/// Injects `fault` and repairs it; returns what it did, for the report. `endpoints` is updated when
/// members change.
pub async fn inject(
    fault: Fault,
    cluster: &mut ProxiedCluster,
    endpoints: &Endpoints,
    rng: &mut Rng,
) -> Result<String> {
    let leader = cluster.wait_leader(Duration::from_secs(10)).await.unwrap_or(0);
    let follower = cluster.other_than(leader, rng.next_u64());
    let pause = Duration::from_millis(1500 + rng.below(1500));
    let name = |i: usize| cluster.members[i].name.clone();
    let note = match fault {
        Fault::None => format!("traffic only for {pause:?}"),
        Fault::KillLeader | Fault::PauseLeader | Fault::PartitionLeader => format!("leader {}", name(leader)),
        Fault::KillFollower | Fault::PartitionFollower | Fault::SnapshotCatchUp | Fault::MemberReplace => {
            format!("follower {} (leader {})", name(follower), name(leader))
        }
        Fault::DelayPeers | Fault::LossyPeers | Fault::CompactDefrag | Fault::KillAll => {
            format!("leader {}", name(leader))
        }
        Fault::LoseUnsyncedWrites | Fault::FailpointPanic => format!("leader {}", name(leader)),
    };
    let mut note = format!("{note}, {pause:?}");
    match fault {
        Fault::None => tokio::time::sleep(pause).await,
        Fault::KillLeader | Fault::KillFollower => {
            let victim = if fault == Fault::KillLeader { leader } else { follower };
            cluster.kill(victim);
            tokio::time::sleep(pause).await;
            cluster.restart(victim).await?;
        }
        Fault::KillAll => cluster.crash_and_restart_all(pause / 2).await?,
        Fault::PauseLeader => {
            cluster.pause(leader);
            tokio::time::sleep(pause + Duration::from_secs(1)).await;
            cluster.resume(leader);
        }
        Fault::PartitionLeader | Fault::PartitionFollower => {
            let victim = if fault == Fault::PartitionLeader { leader } else { follower };
            cluster.network.update(|c| {
                c.isolated.insert(victim);
            });
            tokio::time::sleep(pause + Duration::from_secs(1)).await;
            cluster.network.heal();
        }
        Fault::DelayPeers => {
            let delay = 20 + rng.below(60);
            cluster.network.update(|c| {
                c.delay_ms = delay;
                c.jitter_ms = 20;
            });
            tokio::time::sleep(pause * 2).await;
            cluster.network.heal();
        }
        Fault::LossyPeers => {
            cluster.network.update(|c| {
                c.delay_ms = 5;
                c.reset_per_million = 20_000;
            });
            tokio::time::sleep(pause * 2).await;
            cluster.network.heal();
        }
        Fault::SnapshotCatchUp => {
            cluster.kill(follower);
            burst_entries(&cluster.members[leader].endpoint(), SNAPSHOT_BURST_ENTRIES).await?;
            cluster.restart(follower).await?;
            // cairn's leader logs "sent a snapshot", etcd's "database snapshot [...] sent out
            // successfully".
            let sent: usize = (0..cluster.members.len())
                .filter(|&i| i != follower)
                .map(|i| {
                    let log = std::fs::read_to_string(cluster.members[i].dir.join("server.log")).unwrap_or_default();
                    log.lines()
                        .filter(|l| {
                            l.contains("sent a snapshot")
                                || (l.contains("database snapshot") && l.contains("sent out successfully"))
                        })
                        .count()
                })
                .sum();
            note.push_str(&format!(", snapshots sent to it: {sent}"));
        }
        Fault::MemberReplace => {
            cluster.remove_member(follower).await?;
            let removed = cluster.members[follower].endpoint();
            endpoints.lock().unwrap_or_else(std::sync::PoisonError::into_inner).retain(|e| *e != removed);
            let name = format!("n{}", cluster.members.len() + 1);
            let added = cluster.add_member(&name).await?;
            note.push_str(&format!(", replaced by {name}"));
            let endpoint = cluster.members[added].endpoint();
            endpoints.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(endpoint);
        }
        Fault::CompactDefrag => {
            for _ in 0..2 {
                let endpoint = cluster.members[leader].endpoint();
                let mut client = connect(&endpoint).await?;
                let revision = client.get("compact-probe", None).await?.header().context("no header")?.revision();
                let at = revision.saturating_sub(10).max(1);
                client.compact(at, Some(CompactionOptions::new().with_physical())).await?;
                note.push_str(&format!(", compacted at {at} and defragmented"));
                for endpoint in cluster.endpoints() {
                    let mut client = connect(&endpoint).await?;
                    tokio::time::timeout(Duration::from_secs(10), client.defragment())
                        .await
                        .context("defragment timed out")??;
                }
                tokio::time::sleep(pause / 2).await;
            }
        }
        Fault::LoseUnsyncedWrites => {
            let victim = if rng.below(2) == 0 { leader } else { follower };
            let mode = if rng.below(2) == 0 { "lose" } else { "tear" };
            note.push_str(&format!(", {mode} at {}", name(victim)));
            crash_at_failpoint(cluster, victim, "walBeforeFsync", &format!("1*return({mode})")).await?;
            // What the member said as it went down: "dropped N unsynced bytes of <segment>".
            let log = std::fs::read_to_string(cluster.members[victim].dir.join("server.log")).unwrap_or_default();
            let said = log.lines().rev().find(|l| l.contains("failpoint walBeforeFsync")).unwrap_or("no word");
            let dropped = said.split("dropped ").nth(1).and_then(|s| s.split(' ').next()).unwrap_or("?");
            note.push_str(&format!(" ({dropped} unsynced bytes dropped)"));
            tokio::time::sleep(pause / 2).await;
            cluster.restart(victim).await?;
        }
        Fault::FailpointPanic => {
            let (point, victim) = match rng.below(6) {
                0 => ("raftBeforeSave", follower),
                1 => ("raftAfterSave", leader),
                2 => ("raftBeforeLeaderSend", leader),
                3 => ("raftBeforeFollowerSend", follower),
                4 => ("beforeCommit", leader),
                _ => ("afterCommit", follower),
            };
            note.push_str(&format!(", {point} panics in {}", name(victim)));
            crash_at_failpoint(cluster, victim, point, "1*panic").await?;
            tokio::time::sleep(pause / 2).await;
            cluster.restart(victim).await?;
        }
    }
    Ok(note)
}

/// How long traffic has to reach a failpoint in a member.
const FAILPOINT_TIMEOUT: Duration = Duration::from_secs(20);

/// Sets `point` to `actions` in member `victim` and waits until the member dies of it.
async fn crash_at_failpoint(cluster: &mut ProxiedCluster, victim: usize, point: &str, actions: &str) -> Result<()> {
    cluster.set_failpoint(victim, point, actions).await?;
    if !cluster.wait_exit(victim, FAILPOINT_TIMEOUT).await {
        anyhow::bail!("member {} did not crash at {point} within {FAILPOINT_TIMEOUT:?}", cluster.members[victim].name);
    }
    Ok(())
}

/// Writes `entries` raft entries through `endpoint` without touching any key: lease grants and
/// revokes (ids far from the clients'), 16 at a time.
async fn burst_entries(endpoint: &str, entries: usize) -> Result<()> {
    let workers = 16;
    let mut tasks = Vec::new();
    for w in 0..workers {
        let endpoint = endpoint.to_owned();
        tasks.push(tokio::spawn(async move {
            let mut client = connect(&endpoint).await?;
            for n in 0..entries / 2 / workers {
                let id = (0x7F_i64 << 40) | ((w as i64) << 20) | n as i64;
                let options = etcd_client::LeaseGrantOptions::new().with_id(id);
                let _ = tokio::time::timeout(Duration::from_secs(3), client.lease_grant(60, Some(options))).await;
                let _ = tokio::time::timeout(Duration::from_secs(3), client.lease_revoke(id)).await;
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(())
}
