//! [`GrpcCluster`]: nodes with journals, each serving its peer service on a
//! loopback listener; and a client that records what it learned of its proposals.

use std::collections::BTreeMap;
use std::time::Duration;

use cairn_raft::{
    GrpcOptions, GrpcTransport, NodeConfig, NodeHandle, PeerService, ProposalError, RaftNode, Role, Status,
};
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::journal::{Journal, Log};
use crate::wait;

/// The tick of every node: 200 to 400 ms election timeouts.
pub const TICK: Duration = Duration::from_millis(20);
/// The cluster id of every test cluster.
pub const CLUSTER: u64 = 0xc0ffee;

/// One running member.
pub struct Member {
    pub node: RaftNode<Journal>,
    pub transport: GrpcTransport,
    pub service: PeerService,
    pub url: String,
    stop: oneshot::Sender<()>,
    server: JoinHandle<Result<(), tonic::transport::Error>>,
}

/// A cluster under test, in a temporary directory.
pub struct GrpcCluster {
    root: TempDir,
    tweak: Box<dyn Fn(&mut NodeConfig) + Send>,
    options: GrpcOptions,
    pub members: BTreeMap<u64, Member>,
    /// Every journal ever started, by node id (kept after a node stops).
    pub journals: BTreeMap<u64, Journal>,
}

impl GrpcCluster {
    pub fn new(tweak: impl Fn(&mut NodeConfig) + Send + 'static, options: GrpcOptions) -> Self {
        let root = tempfile::tempdir().expect("tempdir");
        GrpcCluster { root, tweak: Box::new(tweak), options, members: BTreeMap::new(), journals: BTreeMap::new() }
    }

    /// Starts members `ids` of a new cluster of voters `voters`, and tells every
    /// running member about them.
    pub async fn start(&mut self, ids: &[u64], voters: &[u64]) {
        let mut listeners = Vec::new();
        for &id in ids {
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind a loopback port");
            let url = format!("http://{}", listener.local_addr().expect("local address"));
            listeners.push((id, listener, url));
        }
        // Running members learn of the new ones at run time, as after a membership change.
        for member in self.members.values() {
            for (id, _, url) in &listeners {
                member.transport.set_peer(*id, vec![url.clone()]).expect("set peer");
            }
        }
        let mut urls: Vec<(u64, String)> = self.members.iter().map(|(id, m)| (*id, m.url.clone())).collect();
        urls.extend(listeners.iter().map(|(id, _, url)| (*id, url.clone())));
        for (id, listener, url) in listeners {
            self.start_one(id, voters, listener, url, &urls);
        }
    }

    fn start_one(&mut self, id: u64, voters: &[u64], listener: TcpListener, url: String, peers: &[(u64, String)]) {
        let mut config = NodeConfig::new(id, self.root.path().join(format!("node-{id}")));
        config.initial_voters = voters.to_vec();
        config.tick_interval = TICK;
        config.wal.segment_size = 256 << 10;
        config.logger = crate::log::logger();
        (self.tweak)(&mut config);
        let options = GrpcOptions { logger: crate::log::logger(), ..self.options.clone() };

        let transport = GrpcTransport::new(id, CLUSTER, options.clone());
        for (peer, peer_url) in peers {
            transport.set_peer(*peer, vec![peer_url.clone()]).expect("set peer");
        }
        let journal = Journal::default();
        let node = RaftNode::start(config, journal.clone(), transport.clone()).expect("start node");
        transport.connect(node.handle()).expect("connect the transport");
        let service = PeerService::new(node.handle(), CLUSTER, options);
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(cairn_raft::grpc::serve(listener, service.clone(), async move {
            let _ = stopped.await;
        }));
        self.members.insert(id, Member { node, transport, service, url, stop, server });
        self.journals.insert(id, journal);
    }

    /// Stops member `id`: its node, then its server.
    pub async fn stop(&mut self, id: u64) {
        let member = self.members.remove(&id).unwrap_or_else(|| panic!("member {id} is not running"));
        wait::bounded("node shutdown", member.node.shutdown()).await.expect("clean shutdown");
        let _ = member.stop.send(());
        wait::bounded("server shutdown", member.server).await.expect("server task").expect("server");
    }

    pub async fn shutdown(mut self) {
        let ids: Vec<u64> = self.members.keys().copied().collect();
        for id in ids {
            self.stop(id).await;
        }
    }

    pub fn member(&self, id: u64) -> &Member {
        self.members.get(&id).unwrap_or_else(|| panic!("member {id} is not running"))
    }

    pub fn handles(&self, ids: &[u64]) -> Vec<NodeHandle<Journal>> {
        ids.iter().map(|id| self.member(*id).node.handle().clone()).collect()
    }

    pub fn status(&self, id: u64) -> Status {
        self.member(id).node.status()
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

    /// Waits until every node of `ids` applied everything any of them committed and
    /// they applied the same entries; returns that log. Checks all along that each
    /// node's entries are a prefix of the longest (they never diverge).
    pub async fn converged(&self, ids: &[u64]) -> Log {
        let mut log = Log::default();
        wait::until(&format!("{ids:?} to converge"), || {
            let statuses: Vec<Status> = ids.iter().map(|&id| self.status(id)).collect();
            let commit = statuses.iter().map(|s| s.commit).max().unwrap_or(0);
            let logs: Vec<Log> = ids.iter().map(|&id| self.log(id)).collect();
            let longest = logs.iter().max_by_key(|l| l.entries.len()).cloned().unwrap_or_default();
            for (id, l) in ids.iter().zip(&logs) {
                assert!(
                    longest.entries.starts_with(&l.entries),
                    "node {id} applied other entries than the longest log"
                );
            }
            log = longest;
            logs.iter().all(|l| l.applied >= commit && l.entries.len() == log.entries.len())
        })
        .await;
        log
    }
}

/// What a client learned of its proposals.
#[derive(Debug, Default)]
pub struct Outcomes {
    /// Applied, with the index.
    pub acked: Vec<(Vec<u8>, u64)>,
    /// Outcome unknown.
    pub unknown: Vec<Vec<u8>>,
}

impl Outcomes {
    /// Proposes `data` through `handles`, moving on after a definite drop (no
    /// leader yet); records the outcome.
    pub async fn propose(&mut self, handles: &[NodeHandle<Journal>], data: Vec<u8>) {
        for attempt in 0..500 {
            let handle = &handles[attempt % handles.len()];
            match tokio::time::timeout(Duration::from_secs(5), handle.propose(data.clone())).await {
                Ok(Ok(index)) => return self.acked.push((data, index)),
                Ok(Err(ProposalError::Dropped { .. })) => tokio::time::sleep(TICK).await,
                Ok(Err(_)) | Err(_) => return self.unknown.push(data),
            }
        }
        panic!("proposal {:?} dropped 500 times", String::from_utf8_lossy(&data));
    }

    /// Every acknowledged proposal is in `log` exactly once, at its index; every
    /// other at most once.
    pub fn check(&self, log: &Log) {
        for (data, index) in &self.acked {
            assert_eq!(
                log.count(data),
                1,
                "acked {:?} applied {} times",
                String::from_utf8_lossy(data),
                log.count(data)
            );
            assert!(log.entries.contains(&(*index, data.clone())), "acked {data:?} not at index {index}");
        }
        for data in &self.unknown {
            assert!(log.count(data) <= 1, "{:?} applied {} times", String::from_utf8_lossy(data), log.count(data));
        }
    }
}
