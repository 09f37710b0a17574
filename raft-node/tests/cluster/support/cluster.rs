//! [`Cluster`]: nodes with journals, on a router, in temporary directories.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use cairn_raft::{NodeConfig, NodeHandle, RaftNode, Role, Status};
use tempfile::TempDir;

use super::journal::{Journal, Log};
use super::router::Router;
use super::wait;

/// The tick of every test node: with paused time it only orders events.
pub const TICK: Duration = Duration::from_millis(10);

/// A cluster under test.
pub struct Cluster {
    pub router: Arc<Router>,
    root: TempDir,
    tweak: Box<dyn Fn(&mut NodeConfig)>,
    nodes: BTreeMap<u64, RaftNode<Journal>>,
    /// Every journal ever started, by node id (kept after a node stops).
    pub journals: BTreeMap<u64, Journal>,
}

impl Cluster {
    /// Bootstraps a cluster of voters `ids`; `tweak` adjusts every node's config.
    pub fn new(ids: &[u64], tweak: impl Fn(&mut NodeConfig) + 'static) -> Self {
        let root = tempfile::tempdir().expect("tempdir");
        let mut cluster = Cluster {
            router: Router::new(0x5eed ^ ids.len() as u64),
            root,
            tweak: Box::new(tweak),
            nodes: BTreeMap::new(),
            journals: BTreeMap::new(),
        };
        for &id in ids {
            cluster.start(id, ids, Journal::default());
        }
        cluster
    }

    /// The config of node `id`: small ticks, small WAL segments.
    pub fn config(&self, id: u64, initial_voters: &[u64]) -> NodeConfig {
        let mut config = NodeConfig::new(id, self.root.path().join(format!("node-{id}")));
        config.initial_voters = initial_voters.to_vec();
        config.tick_interval = TICK;
        config.wal.segment_size = 256 << 10;
        config.logger = super::log::logger();
        (self.tweak)(&mut config);
        config
    }

    /// Starts node `id` on its directory with `journal` (new or surviving), and
    /// connects it. `initial_voters` empty: it joins an existing cluster.
    pub fn start(&mut self, id: u64, initial_voters: &[u64], journal: Journal) {
        let config = self.config(id, initial_voters);
        let node = RaftNode::start(config, journal.clone(), self.router.transport()).expect("start node");
        self.router.register(node.handle().clone());
        self.nodes.insert(id, node);
        self.journals.insert(id, journal);
    }

    /// Disconnects node `id` and shuts it down; its files and journal stay.
    pub async fn stop(&mut self, id: u64) {
        self.router.unregister(id);
        if let Some(node) = self.nodes.remove(&id) {
            wait::bounded("shutdown", node.shutdown()).await.expect("clean shutdown");
        }
    }

    /// The ids of the running nodes.
    pub fn ids(&self) -> Vec<u64> {
        self.nodes.keys().copied().collect()
    }

    pub fn node(&self, id: u64) -> &RaftNode<Journal> {
        self.nodes.get(&id).unwrap_or_else(|| panic!("node {id} is not running"))
    }

    pub fn handle(&self, id: u64) -> NodeHandle<Journal> {
        self.node(id).handle().clone()
    }

    pub fn handles(&self) -> Vec<NodeHandle<Journal>> {
        self.nodes.values().map(|n| n.handle().clone()).collect()
    }

    pub fn status(&self, id: u64) -> Status {
        self.node(id).status()
    }

    pub fn log(&self, id: u64) -> Log {
        self.journals[&id].snapshot_log()
    }

    /// Waits until one of `among` leads and all of `among` follow it in its term.
    pub async fn leader(&self, among: &[u64]) -> u64 {
        let mut found = 0;
        wait::until("a leader all agree on", || {
            let statuses: Vec<Status> = among.iter().map(|&id| self.status(id)).collect();
            let Some(leader) = statuses.iter().find(|s| s.role == Role::Leader) else { return false };
            found = leader.id;
            statuses.iter().all(|s| s.leader_id == Some(leader.id) && s.term == leader.term)
        })
        .await;
        found
    }

    /// Waits until every node of `ids` applied `index`.
    pub async fn applied(&self, ids: &[u64], index: u64) {
        wait::until(&format!("{ids:?} to apply {index}"), || ids.iter().all(|&id| self.status(id).applied >= index))
            .await;
    }

    /// Waits until every node of `ids` applied everything the first one committed,
    /// and checks that they applied the same entries; returns that log.
    pub async fn converged(&self, ids: &[u64]) -> Log {
        wait::until(&format!("{ids:?} to converge"), || {
            let statuses: Vec<Status> = ids.iter().map(|&id| self.status(id)).collect();
            let commit = statuses.iter().map(|s| s.commit).max().unwrap_or(0);
            statuses.iter().all(|s| s.applied == commit)
        })
        .await;
        let first = self.log(ids[0]);
        for &id in &ids[1..] {
            assert_eq!(self.log(id).entries, first.entries, "node {id} applied other entries than node {}", ids[0]);
        }
        first
    }

    /// Shuts every node down.
    pub async fn shutdown(mut self) {
        for id in self.ids() {
            self.stop(id).await;
        }
    }
}
