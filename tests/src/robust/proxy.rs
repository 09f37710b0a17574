//! Per-member TCP proxies for peer traffic, so a test can cut, delay and break links.
//!
//! Each member advertises its proxy's URL as its peer URL (in `--initial-cluster`) and listens on
//! its own port behind it, so every peer connection *to* member `j` goes through proxy `j`. Which
//! member opened a connection is found from its source port: the kernel's socket table
//! (`/proc/net/tcp`) gives the socket's inode, and the members' `/proc/<pid>/fd` say whose it is.
//! So a link `i → j` can be cut both ways, whatever protocol runs over it (cairn's gRPC streams
//! or etcd's HTTP streams and pipelines).
//!
//! A cut link is a black hole: bytes stop flowing both ways, new connections are accepted and
//! held; when the link heals those connections are closed, so both ends reconnect.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// What the network does now.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Conditions {
    /// Members cut off from every other member.
    pub isolated: HashSet<usize>,
    /// Extra one-way latency of every peer byte, in milliseconds.
    pub delay_ms: u64,
    /// Uniform extra jitter on top of `delay_ms`, in milliseconds.
    pub jitter_ms: u64,
    /// Probability (per forwarded chunk, in millionths) that the connection is reset.
    pub reset_per_million: u32,
}

impl Conditions {
    fn cut(&self, from: Option<usize>, to: usize) -> bool {
        self.isolated.contains(&to) || from.is_some_and(|f| self.isolated.contains(&f))
    }
}

/// The network between the members: the conditions and who is who.
#[derive(Debug)]
pub struct Network {
    conditions: watch::Sender<Conditions>,
    pids: Mutex<Vec<Option<u32>>>,
    /// Connections accepted per (opening member, if known; proxied member).
    accepted: Mutex<std::collections::BTreeMap<(Option<usize>, usize), usize>>,
}

impl Network {
    /// A healthy network for `n` members.
    pub fn new(n: usize) -> Arc<Network> {
        Arc::new(Network {
            conditions: watch::Sender::new(Conditions::default()),
            pids: Mutex::new(vec![None; n]),
            accepted: Mutex::new(std::collections::BTreeMap::new()),
        })
    }

    /// Records member `i`'s process id (or `None` when it is not running).
    pub fn set_pid(&self, i: usize, pid: Option<u32>) {
        let mut pids = self.pids.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if pids.len() <= i {
            pids.resize(i + 1, None);
        }
        pids[i] = pid;
    }

    /// Changes the conditions.
    pub fn update(&self, change: impl FnOnce(&mut Conditions)) {
        self.conditions.send_modify(change);
    }

    /// Back to a healthy network.
    pub fn heal(&self) {
        self.conditions.send_replace(Conditions::default());
    }

    /// How many connections each link has had: (opening member, `None` when it could not be told;
    /// proxied member) → count.
    pub fn accepted(&self) -> std::collections::BTreeMap<(Option<usize>, usize), usize> {
        self.accepted.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// The conditions now.
    pub fn conditions(&self) -> Conditions {
        self.conditions.borrow().clone()
    }

    /// Which member's process owns the socket whose local address is `peer` (a connection to
    /// `proxy_port`).
    fn owner(&self, peer: SocketAddr, proxy_port: u16) -> Option<usize> {
        let inode = socket_inode(peer.port(), proxy_port)?;
        let needle = format!("socket:[{inode}]");
        let pids = self.pids.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        for (i, pid) in pids.iter().enumerate() {
            let Some(pid) = pid else { continue };
            let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else { continue };
            for fd in fds.flatten() {
                if std::fs::read_link(fd.path()).is_ok_and(|l| l.to_string_lossy() == needle) {
                    return Some(i);
                }
            }
        }
        None
    }
}

/// The inode of the IPv4 loopback socket `127.0.0.1:local_port → 127.0.0.1:remote_port`.
fn socket_inode(local_port: u16, remote_port: u16) -> Option<String> {
    let table = std::fs::read_to_string("/proc/net/tcp").ok()?;
    let local = format!("0100007F:{local_port:04X}");
    let remote = format!("0100007F:{remote_port:04X}");
    table.lines().skip(1).find_map(|line| {
        let cols: Vec<&str> = line.split_whitespace().collect();
        (cols.len() > 9 && cols[1] == local && cols[2] == remote).then(|| cols[9].to_owned())
    })
}

/// Starts proxy `to` on `listener`, forwarding to `127.0.0.1:target_port`. Runs until the runtime
/// stops.
pub fn spawn_proxy(network: Arc<Network>, to: usize, listener: TcpListener, target_port: u16, seed: u64) {
    let proxy_port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
    tokio::spawn(async move {
        let mut n = 0u64;
        loop {
            let Ok((inbound, peer)) = listener.accept().await else { continue };
            n += 1;
            let network = network.clone();
            tokio::spawn(async move {
                let mut from = None;
                for _ in 0..5 {
                    from = network.owner(peer, proxy_port);
                    if from.is_some() {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                *network
                    .accepted
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .entry((from, to))
                    .or_default() += 1;
                connection(network, from, to, inbound, target_port, seed ^ n.wrapping_mul(0x9E37_79B9)).await;
            });
        }
    });
}

async fn connection(
    network: Arc<Network>,
    from: Option<usize>,
    to: usize,
    inbound: TcpStream,
    target_port: u16,
    seed: u64,
) {
    let mut conditions = network.conditions.subscribe();
    // A connection made while the link is cut is held until it heals, then closed.
    if conditions.borrow().cut(from, to) {
        let _held = inbound;
        let _ = conditions.wait_for(|c| !c.cut(from, to)).await;
        return;
    }
    let Ok(outbound) = TcpStream::connect(("127.0.0.1", target_port)).await else { return };
    let _ = inbound.set_nodelay(true);
    let _ = outbound.set_nodelay(true);
    let (in_read, in_write) = inbound.into_split();
    let (out_read, out_write) = outbound.into_split();
    let forward = pipe(network.clone(), from, to, in_read, out_write, seed);
    let backward = pipe(network.clone(), from, to, out_read, in_write, seed.rotate_left(17));
    // Either direction ending (or being cut) ends the connection.
    tokio::select! {
        _ = forward => {}
        _ = backward => {}
    }
}

/// Copies one direction, applying the conditions to each chunk. Returns when either side closes,
/// when the link is cut (after holding until it heals), or on a random reset.
async fn pipe(
    network: Arc<Network>,
    from: Option<usize>,
    to: usize,
    mut read: tokio::net::tcp::OwnedReadHalf,
    mut write: tokio::net::tcp::OwnedWriteHalf,
    mut rng: u64,
) {
    let mut conditions = network.conditions.subscribe();
    let mut buf = vec![0u8; 64 * 1024];
    rng |= 1;
    loop {
        let n = tokio::select! {
            r = read.read(&mut buf) => match r { Ok(0) | Err(_) => return, Ok(n) => n },
            _ = conditions.wait_for(|c| c.cut(from, to)) => 0,
        };
        let now = conditions.borrow().clone();
        if now.cut(from, to) {
            let _ = conditions.wait_for(|c| !c.cut(from, to)).await;
            return;
        }
        rng = next(rng);
        if now.reset_per_million > 0 && (rng % 1_000_000) < u64::from(now.reset_per_million) {
            return;
        }
        if now.delay_ms > 0 || now.jitter_ms > 0 {
            rng = next(rng);
            let jitter = if now.jitter_ms > 0 { rng % (now.jitter_ms + 1) } else { 0 };
            tokio::time::sleep(Duration::from_millis(now.delay_ms + jitter)).await;
        }
        if write.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

fn next(mut x: u64) -> u64 {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    x
}
