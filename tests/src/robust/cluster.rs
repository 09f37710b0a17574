//! A cluster of real server processes (cairn, or etcd 3.4 for comparison) whose peer traffic goes
//! through [`proxy`](super::proxy) proxies, with the operations faults need: kill -9 and restart,
//! SIGSTOP / SIGCONT, member remove and add, and finding the leader.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use etcd_client::{Client, ConnectOptions};
use tokio::net::TcpListener;

use super::proxy::{Network, spawn_proxy};
use crate::{Kind, free_ports};

/// How long a member may take to answer a linearizable read after a start or a restart.
const HEALTHY_TIMEOUT: Duration = Duration::from_secs(30);

/// One member process.
#[derive(Debug)]
pub struct Member {
    /// `--name`.
    pub name: String,
    /// The client port (clients talk to it directly).
    pub client_port: u16,
    /// The port it listens on for peers.
    pub peer_port: u16,
    /// The port of its proxy: its advertised peer URL.
    pub proxy_port: u16,
    /// Its directory: `data/` and `server.log`.
    pub dir: PathBuf,
    /// False once it was removed from the cluster.
    pub active: bool,
    program: PathBuf,
    args: Vec<String>,
    child: Option<Child>,
}

impl Member {
    /// `http://127.0.0.1:<client port>`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.client_port)
    }

    /// The advertised peer URL (the proxy's).
    pub fn peer_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.proxy_port)
    }

    /// The process id while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    fn spawn(&mut self) -> Result<()> {
        let log_path = self.dir.join("server.log");
        let log = OpenOptions::new().create(true).append(true).open(&log_path)?;
        let mut cmd = Command::new(&self.program);
        for (key, _) in std::env::vars_os() {
            let k = key.to_string_lossy();
            if k.starts_with("ETCD") || k.starts_with("CAIRN") {
                cmd.env_remove(&key);
            }
        }
        cmd.args(&self.args).stdin(Stdio::null()).stdout(log.try_clone()?).stderr(log);
        self.child = Some(cmd.spawn().with_context(|| format!("spawn {} {:?}", self.program.display(), self.args))?);
        Ok(())
    }

    /// SIGKILLs the process and reaps it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            signal(child.id(), "CONT");
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERMs the process and waits (up to 5 s) for it to exit, so it can log why it failed;
    /// SIGKILLs it after that.
    pub fn terminate(&mut self) {
        let Some(mut child) = self.child.take() else { return };
        signal(child.id(), "CONT");
        signal(child.id(), "TERM");
        let deadline = Instant::now() + Duration::from_secs(5);
        while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    /// The last `n` lines of its log.
    pub fn log_tail(&self, n: usize) -> String {
        let text = std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    fn exited(&mut self) -> bool {
        match self.child.as_mut() {
            Some(child) => !matches!(child.try_wait(), Ok(None)),
            None => true,
        }
    }
}

fn signal(pid: u32, name: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// A cluster whose members' peer links pass through proxies on one [`Network`].
#[derive(Debug)]
pub struct ProxiedCluster {
    /// The members, removed ones included (`active == false`).
    pub members: Vec<Member>,
    /// The network between them.
    pub network: Arc<Network>,
    /// The program members run.
    program: PathBuf,
    token: String,
    extra: Vec<String>,
    dir: PathBuf,
    seed: u64,
}

impl ProxiedCluster {
    /// Starts `n` members of `kind` under `dir` with `extra` flags each, and waits until each
    /// answers a linearizable read. Must run inside a tokio runtime (the proxies are tasks).
    pub async fn start(kind: Kind, n: usize, dir: &Path, extra: &[String], seed: u64) -> Result<ProxiedCluster> {
        Self::start_program(kind.program(), n, dir, extra, seed).await
    }

    /// [`start`](Self::start) with members running `program` (a cairn binary with failpoints,
    /// say, or etcd).
    pub async fn start_program(
        program: PathBuf,
        n: usize,
        dir: &Path,
        extra: &[String],
        seed: u64,
    ) -> Result<ProxiedCluster> {
        let mut last = String::new();
        for attempt in 0..3 {
            let network = Network::new(n);
            let token = format!("robust-{seed:x}-{attempt}");
            let mut cluster = ProxiedCluster {
                members: Vec::new(),
                network,
                program: program.clone(),
                token,
                extra: extra.to_vec(),
                dir: dir.join(format!("attempt{attempt}")),
                seed,
            };
            // Proxies first (they bind port 0 and keep it), then the members' ports, all at once.
            let mut proxies = Vec::new();
            for i in 0..n {
                proxies.push(cluster.new_proxy(i).await?);
            }
            let ports = free_ports(2 * n);
            let mut specs = Vec::new();
            for (i, (proxy, listener)) in proxies.into_iter().enumerate() {
                let (client, peer) = (ports[2 * i], ports[2 * i + 1]);
                spawn_proxy(cluster.network.clone(), i, listener, peer, seed ^ (i as u64 + 1));
                specs.push((client, peer, proxy));
            }
            let initial: Vec<String> =
                specs.iter().enumerate().map(|(i, s)| format!("n{}=http://127.0.0.1:{}", i + 1, s.2)).collect();
            let initial = initial.join(",");
            for (i, (client, peer, proxy)) in specs.into_iter().enumerate() {
                let member = cluster.make_member(&format!("n{}", i + 1), client, peer, proxy, &initial, "new")?;
                cluster.members.push(member);
                let m = cluster.members.len() - 1;
                cluster.members[m].spawn()?;
                cluster.network.set_pid(m, cluster.members[m].pid());
            }
            let deadline = Instant::now() + HEALTHY_TIMEOUT;
            let mut ok = true;
            for i in 0..n {
                if let Err(e) = cluster.wait_healthy(i, deadline).await {
                    last = format!("{e:#}");
                    ok = false;
                    break;
                }
            }
            if ok {
                return Ok(cluster);
            }
            let port_race =
                cluster.members.iter().any(|m| m.log_tail(50).to_lowercase().contains("address already in use"));
            // Gracefully, so each member logs what went wrong (e.g. why its raft node stopped).
            cluster.terminate_all();
            if !port_race {
                break;
            }
        }
        bail!("the cluster did not start: {last}")
    }

    /// Binds a proxy's listener: (its port, the listener).
    async fn new_proxy(&self, _i: usize) -> Result<(u16, TcpListener)> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        Ok((listener.local_addr()?.port(), listener))
    }

    /// Binds a proxy for member `i`, picks its ports and starts the proxy: (client, peer, proxy).
    async fn new_member_ports(&self, i: usize) -> Result<(u16, u16, u16)> {
        let (proxy, listener) = self.new_proxy(i).await?;
        let ports = free_ports(2);
        spawn_proxy(self.network.clone(), i, listener, ports[1], self.seed ^ (i as u64 + 1));
        Ok((ports[0], ports[1], proxy))
    }

    fn make_member(
        &self,
        name: &str,
        client: u16,
        peer: u16,
        proxy: u16,
        initial: &str,
        state: &str,
    ) -> Result<Member> {
        let dir = self.dir.join(name);
        std::fs::create_dir_all(&dir)?;
        let client_url = format!("http://127.0.0.1:{client}");
        let mut args: Vec<String> = vec![
            "--name".into(),
            name.into(),
            "--data-dir".into(),
            dir.join("data").to_string_lossy().into_owned(),
            "--listen-client-urls".into(),
            client_url.clone(),
            "--advertise-client-urls".into(),
            client_url,
            "--listen-peer-urls".into(),
            format!("http://127.0.0.1:{peer}"),
            "--initial-advertise-peer-urls".into(),
            format!("http://127.0.0.1:{proxy}"),
            "--initial-cluster".into(),
            initial.into(),
            "--initial-cluster-state".into(),
            state.into(),
            "--initial-cluster-token".into(),
            self.token.clone(),
        ];
        args.extend(self.extra.iter().cloned());
        Ok(Member {
            name: name.into(),
            client_port: client,
            peer_port: peer,
            proxy_port: proxy,
            dir,
            active: true,
            program: self.program.clone(),
            args,
            child: None,
        })
    }

    /// The client endpoints of the active members.
    pub fn endpoints(&self) -> Vec<String> {
        self.members.iter().filter(|m| m.active).map(Member::endpoint).collect()
    }

    /// Where this cluster's members keep their data and logs.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Waits until member `i` answers a linearizable read, or the deadline.
    pub async fn wait_healthy(&mut self, i: usize, deadline: Instant) -> Result<()> {
        let endpoint = self.members[i].endpoint();
        loop {
            if self.members[i].exited() {
                bail!("member {} exited; log tail:\n{}", self.members[i].name, self.members[i].log_tail(30));
            }
            if linearizable_read_ok(&endpoint).await {
                return Ok(());
            }
            if Instant::now() >= deadline {
                bail!(
                    "member {} not healthy in time; log tail:\n{}",
                    self.members[i].name,
                    self.members[i].log_tail(30)
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The index of the member every answering active member names as leader.
    pub async fn leader(&self) -> Option<usize> {
        let mut leaders = Vec::new();
        let mut ids = Vec::new();
        for (i, m) in self.members.iter().enumerate() {
            if !m.active || m.child.is_none() {
                continue;
            }
            if let Some((id, leader)) = status(&m.endpoint()).await {
                ids.push((i, id));
                leaders.push(leader);
            }
        }
        let first = *leaders.first()?;
        if first == 0 || leaders.iter().any(|l| *l != first) {
            return None;
        }
        ids.iter().find(|(_, id)| *id == first).map(|(i, _)| *i)
    }

    /// The leader that members `among` agree on, ignoring the others.
    pub async fn leader_among(&self, among: &[usize]) -> Option<usize> {
        let mut named = Vec::new();
        for &i in among {
            let (_, leader) = status(&self.members[i].endpoint()).await?;
            named.push(leader);
        }
        let first = *named.first()?;
        if first == 0 || named.iter().any(|l| *l != first) {
            return None;
        }
        for (i, m) in self.members.iter().enumerate() {
            if m.active && m.child.is_some() && status(&m.endpoint()).await.is_some_and(|(id, _)| id == first) {
                return Some(i);
            }
        }
        None
    }

    /// Polls [`leader`](Self::leader) for at most `timeout`.
    pub async fn wait_leader(&self, timeout: Duration) -> Option<usize> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(l) = self.leader().await {
                return Some(l);
            }
            if Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// An active member other than `not`.
    pub fn other_than(&self, not: usize, pick: u64) -> usize {
        let others: Vec<usize> = (0..self.members.len()).filter(|&i| i != not && self.members[i].active).collect();
        others[(pick as usize) % others.len()]
    }

    /// SIGKILLs member `i`.
    pub fn kill(&mut self, i: usize) {
        self.members[i].kill();
        self.network.set_pid(i, None);
    }

    /// Starts member `i` again with its flags and data and waits until it is healthy.
    pub async fn restart(&mut self, i: usize) -> Result<()> {
        self.members[i].kill();
        self.members[i].spawn()?;
        self.network.set_pid(i, self.members[i].pid());
        self.wait_healthy(i, Instant::now() + HEALTHY_TIMEOUT).await
    }

    /// SIGKILLs every active member at once, starts them all again and waits until each is healthy.
    pub async fn crash_and_restart_all(&mut self, down: Duration) -> Result<()> {
        let active: Vec<usize> = (0..self.members.len()).filter(|&i| self.members[i].active).collect();
        for &i in &active {
            self.kill(i);
        }
        tokio::time::sleep(down).await;
        for &i in &active {
            self.members[i].spawn()?;
            self.network.set_pid(i, self.members[i].pid());
        }
        let deadline = Instant::now() + HEALTHY_TIMEOUT;
        for &i in &active {
            self.wait_healthy(i, deadline).await?;
        }
        Ok(())
    }

    /// Sets failpoint `name` of member `i` to `actions` (cairn with failpoints only) through its
    /// client port's `PUT /debug/failpoints/<name>`.
    pub async fn set_failpoint(&self, i: usize, name: &str, actions: &str) -> Result<()> {
        let port = self.members[i].client_port;
        let request = format!(
            "PUT /debug/failpoints/{name} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {}\r\n\
             Connection: close\r\n\r\n{actions}",
            actions.len()
        );
        let exchange = async {
            let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
            tokio::io::AsyncWriteExt::write_all(&mut stream, request.as_bytes()).await?;
            let mut response = Vec::new();
            tokio::io::AsyncReadExt::read_to_end(&mut stream, &mut response).await?;
            anyhow::Ok(String::from_utf8_lossy(&response).into_owned())
        };
        let response = tokio::time::timeout(Duration::from_secs(5), exchange)
            .await
            .with_context(|| format!("setting failpoint {name} timed out"))??;
        let status = response.lines().next().unwrap_or_default();
        if !status.contains(" 204") {
            bail!("setting failpoint {name}={actions} on {} failed: {response}", self.members[i].name);
        }
        Ok(())
    }

    /// Waits until member `i`'s process exits on its own (a failpoint crashed it), for at most
    /// `timeout`; true if it did.
    pub async fn wait_exit(&mut self, i: usize, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self.members[i].exited() {
                self.members[i].kill();
                self.network.set_pid(i, None);
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }

    /// SIGSTOPs member `i`.
    pub fn pause(&mut self, i: usize) {
        if let Some(pid) = self.members[i].pid() {
            signal(pid, "STOP");
        }
    }

    /// SIGCONTs member `i`.
    pub fn resume(&mut self, i: usize) {
        if let Some(pid) = self.members[i].pid() {
            signal(pid, "CONT");
        }
    }

    /// Removes member `i` from the cluster (through another member) and kills it.
    pub async fn remove_member(&mut self, i: usize) -> Result<()> {
        let via = self.other_than(i, 0);
        let mut client = connect(&self.members[via].endpoint()).await?;
        let list = client.member_list().await?;
        let name = self.members[i].name.clone();
        let id = list
            .members()
            .iter()
            .find(|m| m.name() == name)
            .map(|m| m.id())
            .with_context(|| format!("member {name} not in the member list"))?;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match tokio::time::timeout(Duration::from_secs(5), client.member_remove(id)).await {
                Ok(Ok(_)) => break,
                Ok(Err(e)) if Instant::now() < deadline && e.to_string().contains("unhealthy") => {
                    tokio::time::sleep(Duration::from_millis(300)).await;
                }
                Ok(Err(e)) => bail!("member remove {name}: {e}"),
                Err(_) => bail!("member remove {name}: timed out"),
            }
        }
        self.kill(i);
        self.members[i].active = false;
        Ok(())
    }

    /// Adds a new member named `name` (member add, then a process started with
    /// `--initial-cluster-state existing`) and waits until it is healthy. Returns its index.
    pub async fn add_member(&mut self, name: &str) -> Result<usize> {
        let index = self.members.len();
        let (client_port, peer_port, proxy_port) = self.new_member_ports(index).await?;
        let url = format!("http://127.0.0.1:{proxy_port}");
        let via = self.other_than(index, 0);
        let mut client = connect(&self.members[via].endpoint()).await?;
        let deadline = Instant::now() + Duration::from_secs(30);
        let added = loop {
            match tokio::time::timeout(Duration::from_secs(5), client.member_add([url.as_str()], None)).await {
                Ok(Ok(r)) => break r,
                Ok(Err(e)) if Instant::now() < deadline && e.to_string().contains("unhealthy") => {
                    tokio::time::sleep(Duration::from_millis(300)).await;
                }
                Ok(Err(e)) => bail!("member add {name}: {e}"),
                Err(_) => bail!("member add {name}: timed out"),
            }
        };
        let mut initial = Vec::new();
        for m in added.member_list() {
            let member_name = if m.peer_urls().contains(&url) { name } else { m.name() };
            for u in m.peer_urls() {
                initial.push(format!("{member_name}={u}"));
            }
        }
        let member = self.make_member(name, client_port, peer_port, proxy_port, &initial.join(","), "existing")?;
        self.members.push(member);
        self.members[index].spawn()?;
        self.network.set_pid(index, self.members[index].pid());
        self.wait_healthy(index, Instant::now() + HEALTHY_TIMEOUT).await?;
        Ok(index)
    }

    /// Makes sure every active member runs (restarting any that is not) and the network is whole.
    pub async fn recover(&mut self) -> Result<()> {
        self.network.heal();
        for i in 0..self.members.len() {
            if !self.members[i].active {
                continue;
            }
            self.resume(i);
            if self.members[i].exited() {
                self.restart(i).await?;
            }
        }
        for i in 0..self.members.len() {
            if self.members[i].active {
                self.wait_healthy(i, Instant::now() + HEALTHY_TIMEOUT).await?;
            }
        }
        Ok(())
    }

    /// SIGTERMs every member (see [`Member::terminate`]).
    pub fn terminate_all(&mut self) {
        for i in 0..self.members.len() {
            self.members[i].terminate();
            self.network.set_pid(i, None);
        }
    }

    /// Kills every member.
    pub fn kill_all(&mut self) {
        for i in 0..self.members.len() {
            self.kill(i);
        }
    }
}

impl Drop for ProxiedCluster {
    /// Only runs on early returns (a failing run): members are stopped gracefully so their logs
    /// say why they failed. A run that got to its end kills them itself.
    fn drop(&mut self) {
        self.terminate_all();
    }
}

/// A client of one endpoint with short timeouts.
pub async fn connect(endpoint: &str) -> Result<Client> {
    let options =
        ConnectOptions::new().with_connect_timeout(Duration::from_secs(1)).with_timeout(Duration::from_secs(3));
    Ok(Client::connect([endpoint], Some(options)).await?)
}

async fn linearizable_read_ok(endpoint: &str) -> bool {
    let attempt = async {
        let mut client = connect(endpoint).await.ok()?;
        client.get("health", None).await.ok()
    };
    matches!(tokio::time::timeout(Duration::from_secs(2), attempt).await, Ok(Some(_)))
}

/// (member id, leader id) as member `endpoint` reports them.
async fn status(endpoint: &str) -> Option<(u64, u64)> {
    let attempt = async {
        let mut client = connect(endpoint).await.ok()?;
        let s = client.status().await.ok()?;
        Some((s.header()?.member_id(), s.leader()))
    };
    tokio::time::timeout(Duration::from_secs(2), attempt).await.ok().flatten()
}
