//! Multi-member clusters of real processes.

use std::sync::LazyLock;
use std::time::{Duration, Instant};

use regex::Regex;

use crate::binaries::Kind;
use crate::etcdctl::{Output, etcdctl};
use crate::ports::free_ports;
use crate::server::{HEALTH_TIMEOUT, MemberSpec, Ready, START_ATTEMPTS, Server, StartError};
use crate::status::endpoint_status;

static MEMBER_ADDED: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"Member +([0-9a-f]+) added to cluster").expect("a valid member added regex"));
static INITIAL_CLUSTER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"ETCD_INITIAL_CLUSTER="([^"]*)""#).expect("a valid initial cluster regex"));

/// A cluster of `n` members started together with a shared `--initial-cluster`.
///
/// Members are named `n1..=nN`; each is killed on drop.
#[derive(Debug)]
pub struct Cluster {
    /// The members, in `--initial-cluster` order, then members added by [`add_member`](Self::add_member).
    pub members: Vec<Server>,
    token: String,
    extra: Vec<String>,
}

/// A member added to a running cluster by [`Cluster::add_member`].
#[derive(Debug)]
pub struct AddedMember {
    /// Its index in [`Cluster::members`].
    pub index: usize,
    /// Its member id in hex, as etcdctl prints it and `member remove` / `promote` take it.
    pub id: String,
    /// The `--initial-cluster` it was started with (etcdctl's `ETCD_INITIAL_CLUSTER`).
    pub initial_cluster: String,
    /// What `etcdctl member add` printed.
    pub add_output: Output,
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
                Ok(()) => {
                    let extra = extra.iter().map(|s| s.to_string()).collect();
                    return Cluster { members, token: token.to_owned(), extra };
                }
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

    /// The client endpoints of the members whose process runs, comma-separated.
    pub fn live_endpoints(&mut self) -> String {
        self.members.iter_mut().filter_map(|m| m.is_running().then(|| m.endpoint())).collect::<Vec<_>>().join(",")
    }

    /// The index of the leader, when one is known: a running member whose `endpoint status` names
    /// itself leader, and which every other running member that answers names too.
    pub fn leader(&mut self) -> Option<usize> {
        let mut statuses = Vec::new();
        for (i, member) in self.members.iter_mut().enumerate() {
            if member.is_running()
                && let Some(status) = endpoint_status(&member.endpoint())
            {
                statuses.push((i, status));
            }
        }
        let (index, lead) = statuses.iter().find(|(_, s)| s.leader != 0 && s.leader == s.member_id)?;
        statuses.iter().all(|(_, s)| s.leader == lead.leader).then_some(*index)
    }

    /// Runs a membership change (`member add` / `remove` / `update`) through the running members,
    /// retrying (bounded, 30 s) while it is refused as `etcdserver: unhealthy cluster` (etcd's strict
    /// reconfiguration check wants the voters connected for 5 s). Panics on any other failure.
    pub fn reconfigure(&mut self, args: &[&str]) -> Output {
        let live = self.live_endpoints();
        reconfigure(&live, args).unwrap_or_else(|out| panic!("{}", self.failure(&live, args, &out)))
    }

    fn failure(&self, endpoints: &str, args: &[&str], out: &Output) -> String {
        let logs: Vec<String> =
            self.members.iter().map(|m| format!("--- {} log tail ---\n{}", m.name(), m.log_tail(15))).collect();
        format!("etcdctl {args:?} via {endpoints}: {out:?}\n{}", logs.join("\n"))
    }

    /// Polls [`leader`](Self::leader) until there is one, for at most `timeout`.
    pub fn wait_leader(&mut self, timeout: Duration) -> Option<usize> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(i) = self.leader() {
                return Some(i);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Adds a member named `name` as etcd's runtime reconfiguration does: `etcdctl member add`
    /// (with `--learner` when `learner`) through the running members, then starts a process with
    /// the printed `ETCD_INITIAL_CLUSTER`, `--initial-cluster-state existing`, this cluster's token
    /// and extra flags, and its own ports; waits (bounded) until it answers `endpoint health` (a
    /// voter) or `endpoint status` (a learner, which serves no linearizable read). Retries the add
    /// while it is refused as "unhealthy cluster" (see [`reconfigure`](Self::reconfigure)). On a port
    /// bind conflict the member is removed again and re-added on new ports. Panics with the log tail
    /// otherwise.
    pub fn add_member(&mut self, name: &str, learner: bool) -> AddedMember {
        let kind = self.members[0].kind();
        let mut last = String::new();
        for _ in 0..START_ATTEMPTS {
            let ports = free_ports(2);
            let spec = MemberSpec { name: name.to_owned(), client_port: ports[0], peer_port: ports[1] };
            let peer_urls = format!("--peer-urls={}", spec.peer_url());
            let mut args = vec!["member", "add", name, &peer_urls];
            if learner {
                args.push("--learner");
            }
            let live = self.live_endpoints();
            let add_output =
                reconfigure(&live, &args).unwrap_or_else(|out| panic!("{}", self.failure(&live, &args, &out)));
            let id = MEMBER_ADDED
                .captures(&add_output.stdout)
                .and_then(|c| c.get(1))
                .unwrap_or_else(|| panic!("no member id in `member add` output: {add_output:?}"))
                .as_str()
                .to_owned();
            let initial_cluster = INITIAL_CLUSTER
                .captures(&add_output.stdout)
                .and_then(|c| c.get(1))
                .unwrap_or_else(|| panic!("no ETCD_INITIAL_CLUSTER in `member add` output: {add_output:?}"))
                .as_str()
                .to_owned();
            let mut extra: Vec<&str> = self.extra.iter().map(String::as_str).collect();
            extra.extend(["--initial-cluster-state", "existing"]);
            let mut server = Server::spawn(kind, spec, &initial_cluster, &self.token, &extra);
            let ready = if learner { Ready::Status } else { Ready::Health };
            match server.wait_ready(Instant::now() + HEALTH_TIMEOUT, ready) {
                Ok(()) => {
                    self.members.push(server);
                    let index = self.members.len() - 1;
                    return AddedMember { index, id, initial_cluster, add_output };
                }
                Err(StartError::BindConflict(msg)) => {
                    self.reconfigure(&["member", "remove", &id]);
                    last = msg;
                }
                Err(StartError::Failed(msg)) => panic!("added member {name} ({id}) did not start: {msg}"),
            }
        }
        panic!("member {name} did not start after {START_ATTEMPTS} attempts (port conflicts); last: {last}")
    }
}

/// How long a reconfiguration may be refused as "unhealthy cluster".
const RECONFIGURE_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs a `member add` / `member remove`, retrying (bounded) while the cluster refuses it as
/// `etcdserver: unhealthy cluster`: etcd's strict reconfiguration check wants every voter connected
/// for 5 s, which a cluster that just started, or a member that just restarted, is not yet.
/// Returns the last failed run on any other failure or at the bound.
fn reconfigure(endpoints: &str, args: &[&str]) -> Result<Output, Output> {
    let deadline = Instant::now() + RECONFIGURE_TIMEOUT;
    loop {
        let out = etcdctl(endpoints, args, None);
        if out.success() {
            return Ok(out);
        }
        if !out.stderr.contains("etcdserver: unhealthy cluster") || Instant::now() >= deadline {
            return Err(out);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn lost_port_race(member: &Server) -> bool {
    member.log_tail(40).to_lowercase().contains("address already in use")
}
