//! [`NodeConfig`]: how a node is set up.

use std::path::{Path, PathBuf};
use std::time::Duration;

use cairn_wal::WalOptions;
use raft::ReadOnlyOption;

use crate::error::NodeError;

/// Bytes a WAL record holds besides a proposal's data: the record's framing, the
/// entry's protobuf fields and request id, and a hard state (generously rounded up).
const ENTRY_OVERHEAD: usize = 4096;

/// The settings of one raft node. Make one with [`NodeConfig::new`] and adjust the
/// public fields.
#[derive(Clone, Debug)]
pub struct NodeConfig {
    /// This member's id: non-zero, unique in the cluster, stable across restarts.
    pub id: u64,
    /// The directory of the WAL and snapshot files.
    pub dir: PathBuf,
    /// The voters of a new cluster (etcd's `--initial-cluster` with
    /// `--initial-cluster-state new`); it must contain `id`. Used only when `dir`
    /// holds no log yet: every initial member then starts from the same one-entry
    /// snapshot naming them. Leave it empty for a member that joins an existing
    /// cluster (after it was added as a voter or learner): it waits for the leader,
    /// which catches it up.
    pub initial_voters: Vec<u64>,
    /// How often raft's logical clock ticks (etcd's `--heartbeat-interval`; 100 ms).
    pub tick_interval: Duration,
    /// Ticks between heartbeats of a leader (1).
    pub heartbeat_ticks: usize,
    /// Ticks without a leader before a follower campaigns, randomized up to twice
    /// that (10, i.e. etcd's 1 s `--election-timeout`).
    pub election_ticks: usize,
    /// Applied entries between snapshots (etcd's `--snapshot-count`); 0 never snapshots.
    pub snapshot_count: u64,
    /// Applied entries kept in memory behind a snapshot, so that a follower slightly
    /// behind is caught up from the log rather than sent a snapshot (etcd: 5000).
    pub snapshot_catch_up_entries: u64,
    /// The largest proposal (data, or membership change context) accepted, in bytes
    /// (8 MiB; etcd's server limits requests to 1.5 MiB by default before they get
    /// here). It must leave room in one WAL record, since an entry the WAL refuses
    /// would stop the node.
    pub max_proposal_bytes: usize,
    /// The largest append message to a follower, in bytes of entries (1 MiB).
    pub max_size_per_msg: u64,
    /// Append messages in flight to one follower (512).
    pub max_inflight_msgs: usize,
    /// The most bytes of committed entries handed to the state machine in one batch (16 MiB).
    pub max_apply_batch_bytes: u64,
    /// Commands (proposals, reads, ...) the loop takes per turn before it handles the
    /// resulting `Ready`: the group-commit batch (1024).
    pub max_batch: usize,
    /// Capacity of the command queue; callers wait when it is full (4096).
    pub command_queue: usize,
    /// Capacity of the inbox of peer messages; messages beyond it are dropped (4096).
    pub inbox: usize,
    /// The WAL's options.
    pub wal: WalOptions,
    /// Where raft-rs and the node log to (nowhere by default).
    pub logger: slog::Logger,
}

impl NodeConfig {
    /// The defaults (etcd's where etcd has one) for member `id` with its files in `dir`.
    pub fn new(id: u64, dir: impl AsRef<Path>) -> Self {
        NodeConfig {
            id,
            dir: dir.as_ref().to_path_buf(),
            initial_voters: Vec::new(),
            tick_interval: Duration::from_millis(100),
            heartbeat_ticks: 1,
            election_ticks: 10,
            snapshot_count: 100_000,
            snapshot_catch_up_entries: 5_000,
            max_proposal_bytes: 8 << 20,
            max_size_per_msg: 1 << 20,
            max_inflight_msgs: 512,
            max_apply_batch_bytes: 16 << 20,
            max_batch: 1024,
            command_queue: 4096,
            inbox: 4096,
            wal: WalOptions::default(),
            logger: slog::Logger::root(slog::Discard, slog::o!()),
        }
    }

    /// Checks the settings, returning [`NodeError::Config`] for impossible ones.
    pub fn validate(&self) -> Result<(), NodeError> {
        let fail = |reason: String| Err(NodeError::Config(reason));
        if self.id == 0 {
            return fail("the node id must not be 0".into());
        }
        if !self.initial_voters.is_empty() && !self.initial_voters.contains(&self.id) {
            return fail(format!("initial voters {:?} do not include this node {}", self.initial_voters, self.id));
        }
        if self.initial_voters.contains(&0) {
            return fail("initial voters must not include id 0".into());
        }
        if self.tick_interval.is_zero() {
            return fail("the tick interval must not be zero".into());
        }
        if self.heartbeat_ticks == 0 || self.election_ticks <= self.heartbeat_ticks {
            return fail(format!(
                "need 0 < heartbeat ticks ({}) < election ticks ({})",
                self.heartbeat_ticks, self.election_ticks
            ));
        }
        if self.max_inflight_msgs == 0 || self.max_batch == 0 || self.command_queue == 0 || self.inbox == 0 {
            return fail("max_inflight_msgs, max_batch, command_queue and inbox must not be 0".into());
        }
        self.wal.validate()?;
        let room = (self.wal.max_record_size as usize).saturating_sub(ENTRY_OVERHEAD);
        if self.max_proposal_bytes > room {
            return fail(format!(
                "max_proposal_bytes {} does not fit a WAL record of {} bytes with its framing",
                self.max_proposal_bytes, self.wal.max_record_size
            ));
        }
        self.raft_config(0).validate()?;
        Ok(())
    }

    /// raft-rs's configuration: pre-vote and check-quorum on, linearizable
    /// (heartbeat-confirmed) ReadIndex.
    ///
    /// `batch_append` stays off: raft-rs 0.7 merges new entries into a queued
    /// entry-less `MsgAppend` without checking that they follow its index, so after a
    /// rejection it can send `index 10, entries [8, 9, 10]`, which a follower
    /// acknowledges as index 13 without holding 11..13 (the leader then sends a
    /// commit past the follower's log, and raft panics). Batching comes from
    /// proposing a turn's proposals as one message instead.
    pub(crate) fn raft_config(&self, applied: u64) -> raft::Config {
        raft::Config {
            id: self.id,
            election_tick: self.election_ticks,
            heartbeat_tick: self.heartbeat_ticks,
            applied,
            max_size_per_msg: self.max_size_per_msg,
            max_inflight_msgs: self.max_inflight_msgs,
            check_quorum: true,
            pre_vote: true,
            read_only_option: ReadOnlyOption::Safe,
            batch_append: false,
            max_committed_size_per_ready: self.max_apply_batch_bytes,
            ..raft::Config::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_mistakes_are_caught() {
        let ok = NodeConfig { initial_voters: vec![1, 2, 3], ..NodeConfig::new(1, "/tmp/x") };
        assert!(ok.validate().is_ok());
        let bad = [
            NodeConfig::new(0, "/tmp/x"),
            NodeConfig { initial_voters: vec![2, 3], ..ok.clone() },
            NodeConfig { election_ticks: 1, ..ok.clone() },
            NodeConfig { tick_interval: Duration::ZERO, ..ok.clone() },
            NodeConfig { max_batch: 0, ..ok.clone() },
            NodeConfig { max_proposal_bytes: 64 << 20, ..ok.clone() },
        ];
        for config in bad {
            assert!(matches!(config.validate(), Err(NodeError::Config(_))), "{config:?}");
        }
    }
}
