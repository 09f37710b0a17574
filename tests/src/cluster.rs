//! Multi-member clusters of real processes.

use std::time::Instant;

use crate::binaries::Kind;
use crate::ports::free_ports;
use crate::server::{HEALTH_TIMEOUT, MemberSpec, START_ATTEMPTS, Server, StartError};

/// A cluster of `n` members started together with a shared `--initial-cluster`.
///
/// Members are named `n1..=nN`; each is killed on drop.
#[derive(Debug)]
pub struct Cluster {
    /// The members, in `--initial-cluster` order.
    pub members: Vec<Server>,
}

impl Cluster {
    /// Starts `n` members and waits (bounded) until every one is healthy. Retries the whole start
    /// on a port bind conflict; panics with the failing member's log tail otherwise.
    pub fn start(kind: Kind, n: usize) -> Cluster {
        Cluster::start_with(kind, n, "cairn-cluster", &[])
    }

    /// Like [`start`](Self::start) with a cluster token and extra flags for every member.
    pub fn start_with(kind: Kind, n: usize, token: &str, extra: &[&str]) -> Cluster {
        assert!(n > 0, "a cluster needs at least one member");
        let mut last = String::new();
        for _ in 0..START_ATTEMPTS {
            let ports = free_ports(2 * n);
            let specs: Vec<MemberSpec> = (0..n)
                .map(|i| MemberSpec {
                    name: format!("n{}", i + 1),
                    client_port: ports[2 * i],
                    peer_port: ports[2 * i + 1],
                })
                .collect();
            let initial_cluster =
                specs.iter().map(|s| format!("{}={}", s.name, s.peer_url())).collect::<Vec<_>>().join(",");
            let mut members: Vec<Server> =
                specs.into_iter().map(|spec| Server::spawn(kind, spec, &initial_cluster, token, extra)).collect();
            let deadline = Instant::now() + HEALTH_TIMEOUT;
            let mut result = Ok(());
            for member in &mut members {
                result = member.wait_healthy(deadline);
                if result.is_err() {
                    break;
                }
            }
            match result {
                Ok(()) => return Cluster { members },
                Err(StartError::BindConflict(msg)) => last = msg,
                // A member that lost a port race makes the others wait for a quorum in vain.
                Err(StartError::Failed(msg)) if members.iter().any(lost_port_race) => last = msg,
                Err(StartError::Failed(msg)) => panic!("cluster of {n} did not start: {msg}"),
            }
        }
        panic!("cluster of {n} did not start after {START_ATTEMPTS} attempts (port conflicts); last: {last}")
    }

    /// All client endpoints, comma-separated, for etcdctl's `--endpoints`.
    pub fn endpoints(&self) -> String {
        self.members.iter().map(Server::endpoint).collect::<Vec<_>>().join(",")
    }

    /// Member `i` (0-based).
    pub fn member(&mut self, i: usize) -> &mut Server {
        &mut self.members[i]
    }
}

fn lost_port_race(member: &Server) -> bool {
    member.log_tail(40).to_lowercase().contains("address already in use")
}
