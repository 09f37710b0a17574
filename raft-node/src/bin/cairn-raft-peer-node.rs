//! `cairn-raft-peer-node`: one member of a tiny replicated log of values, over the
//! gRPC peer transport and the WAL, for the multi-process tests of `cairn-raft`
//! (`tests/peer_processes.rs`). Not a product: the server binary is `cairn`.
//!
//! ```text
//! cairn-raft-peer-node --id 1 --dir DIR --listen 127.0.0.1:PORT \
//!     --peers 1=http://127.0.0.1:P1,2=http://127.0.0.1:P2,3=http://127.0.0.1:P3 \
//!     [--tick-ms 50] [--snapshot-count 10000] [--cluster-id 1]
//! ```
//!
//! `--peers` names every initial member, this one included. The state lives in
//! memory and is rebuilt from the WAL (snapshot and log) at start.
//!
//! Commands on stdin, one a line; answers and events on stdout, one a line:
//!
//! ```text
//! propose VALUE  ->  proposed VALUE INDEX | failed VALUE REASON
//! status         ->  status ID ROLE LEADER(0: none) TERM COMMIT APPLIED
//! dump           ->  dump APPLIED INDEX=VALUE,INDEX=VALUE,...
//! (end of input) ->  shuts down and exits
//! events         ->  listening ADDR | applied INDEX VALUE | restored INDEX COUNT
//! ```
//!
//! Records of the node and the transport go to stderr.

use std::error::Error;
use std::fmt::Write as _;
use std::io::BufRead;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use cairn_raft::grpc::serve;
use cairn_raft::{Committed, GrpcOptions, GrpcTransport, NodeConfig, NodeHandle, Payload, PeerService, RaftNode};
use parking_lot::Mutex;
use raft::eraftpb::Snapshot;
use slog::{Drain, KV as _};
use tokio::sync::{mpsc, oneshot};

type BoxError = Box<dyn Error + Send + Sync>;

/// How long a proposal may take before it is answered `failed VALUE timeout`.
const PROPOSAL_TIMEOUT: Duration = Duration::from_secs(5);

fn main() -> Result<(), BoxError> {
    let args = Args::parse(std::env::args().skip(1))?;
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    runtime.block_on(run(args))
}

/// The command line.
struct Args {
    id: u64,
    dir: PathBuf,
    listen: SocketAddr,
    peers: Vec<(u64, String)>,
    tick: Duration,
    snapshot_count: u64,
    cluster_id: u64,
}

impl Args {
    fn parse(mut args: impl Iterator<Item = String>) -> Result<Self, BoxError> {
        let (mut id, mut dir, mut listen, mut peers) = (None, None, None, Vec::new());
        let (mut tick, mut snapshot_count, mut cluster_id) = (Duration::from_millis(50), 10_000, 1);
        while let Some(flag) = args.next() {
            let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
            match flag.as_str() {
                "--id" => id = Some(value.parse()?),
                "--dir" => dir = Some(PathBuf::from(value)),
                "--listen" => listen = Some(value.parse()?),
                "--tick-ms" => tick = Duration::from_millis(value.parse()?),
                "--snapshot-count" => snapshot_count = value.parse()?,
                "--cluster-id" => cluster_id = value.parse()?,
                "--peers" => {
                    for peer in value.split(',') {
                        let (id, url) = peer.split_once('=').ok_or_else(|| format!("peer {peer:?} is not id=url"))?;
                        peers.push((id.parse()?, url.to_owned()));
                    }
                }
                _ => return Err(format!("unknown flag {flag}").into()),
            }
        }
        Ok(Args {
            id: id.ok_or("--id is required")?,
            dir: dir.ok_or("--dir is required")?,
            listen: listen.ok_or("--listen is required")?,
            peers,
            tick,
            snapshot_count,
            cluster_id,
        })
    }
}

async fn run(args: Args) -> Result<(), BoxError> {
    let logger = slog::Logger::root(Stderr.fuse(), slog::o!());
    let mut config = NodeConfig::new(args.id, &args.dir);
    config.initial_voters = args.peers.iter().map(|(id, _)| *id).collect();
    config.tick_interval = args.tick;
    config.snapshot_count = args.snapshot_count;
    config.snapshot_catch_up_entries = args.snapshot_count / 2;
    config.wal.segment_size = 1 << 20;
    config.logger = logger.clone();
    let options = GrpcOptions { logger: logger.clone(), ..GrpcOptions::default() };

    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    let transport = GrpcTransport::new(args.id, args.cluster_id, options.clone());
    for (id, url) in &args.peers {
        transport.set_peer(*id, vec![url.clone()])?;
    }
    let log = ValueLog::default();
    let node = RaftNode::start(config, log.clone(), transport.clone())?;
    transport.connect(node.handle())?;
    let service = PeerService::new(node.handle(), args.cluster_id, options);
    let (stop_server, server_stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, service, async move {
        let _ = server_stopped.await;
    }));
    println!("listening {}", args.listen);

    let mut commands = stdin_lines();
    let mut status = node.watch_status();
    loop {
        tokio::select! {
            line = commands.recv() => match line {
                Some(line) => command(&line, node.handle(), &log),
                None => break,
            },
            changed = status.changed() => if changed.is_err() {
                break;
            },
        }
    }
    let stopped = node.shutdown().await;
    let _ = stop_server.send(());
    let _ = tokio::time::timeout(Duration::from_secs(5), server).await;
    stopped?;
    Ok(())
}

/// Carries out one stdin command.
fn command(line: &str, handle: &NodeHandle<ValueLog>, log: &ValueLog) {
    let (verb, rest) = line.trim().split_once(' ').unwrap_or((line.trim(), ""));
    match verb {
        "propose" => {
            let (value, handle) = (rest.trim().to_owned(), handle.clone());
            tokio::spawn(async move {
                if value.is_empty() || value.contains([',', '=', ' ', '\t']) {
                    println!("failed {value} invalid-value");
                    return;
                }
                match tokio::time::timeout(PROPOSAL_TIMEOUT, handle.propose(value.clone().into_bytes())).await {
                    Ok(Ok(index)) => println!("proposed {value} {index}"),
                    Ok(Err(error)) => println!("failed {value} {error}"),
                    Err(_) => println!("failed {value} timeout"),
                }
            });
        }
        "status" => {
            let s = handle.status();
            let role = format!("{:?}", s.role).to_lowercase();
            println!("status {} {role} {} {} {} {}", s.id, s.leader_id.unwrap_or(0), s.term, s.commit, s.applied);
        }
        "dump" => {
            let state = log.state.lock();
            let mut line = format!("dump {} ", state.applied);
            for (k, (index, value)) in state.values.iter().enumerate() {
                let comma = if k == 0 { "" } else { "," };
                let _ = write!(line, "{comma}{index}={value}");
            }
            println!("{line}");
        }
        _ => println!("unknown {line}"),
    }
}

/// Lines of stdin, read on a thread of their own; the channel closes at its end.
fn stdin_lines() -> mpsc::Receiver<String> {
    let (lines, receiver) = mpsc::channel(64);
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if lines.blocking_send(line).is_err() {
                break;
            }
        }
    });
    receiver
}

/// The replicated state: every value applied, with its index.
#[derive(Clone, Debug, Default)]
struct ValueLog {
    state: Arc<Mutex<State>>,
}

#[derive(Debug, Default)]
struct State {
    applied: u64,
    values: Vec<(u64, String)>,
}

impl cairn_raft::StateMachine for ValueLog {
    type Output = u64;
    type Error = std::io::Error;

    fn apply(&mut self, entries: &[Committed<'_>]) -> Result<Vec<u64>, std::io::Error> {
        let mut state = self.state.lock();
        for entry in entries {
            if let Payload::Normal(data) = entry.payload {
                let value = String::from_utf8_lossy(data).into_owned();
                println!("applied {} {value}", entry.index);
                state.values.push((entry.index, value));
            }
            state.applied = entry.index;
        }
        Ok(entries.iter().map(|e| e.index).collect())
    }

    fn applied_index(&self) -> u64 {
        self.state.lock().applied
    }

    fn snapshot(&self) -> Result<Vec<u8>, std::io::Error> {
        let state = self.state.lock();
        Ok(state.values.iter().map(|(index, value)| format!("{index}\t{value}\n")).collect::<String>().into_bytes())
    }

    fn restore(&mut self, snapshot: &Snapshot) -> Result<(), std::io::Error> {
        let malformed = || std::io::Error::new(std::io::ErrorKind::InvalidData, "malformed snapshot");
        let text = std::str::from_utf8(snapshot.get_data()).map_err(|_| malformed())?;
        let mut values = Vec::new();
        for line in text.lines() {
            let (index, value) = line.split_once('\t').ok_or_else(malformed)?;
            values.push((index.parse().map_err(|_| malformed())?, value.to_owned()));
        }
        let mut state = self.state.lock();
        state.applied = snapshot.get_metadata().index;
        state.values = values;
        println!("restored {} {}", state.applied, state.values.len());
        Ok(())
    }
}

/// Info and above, one record a line, on stderr.
struct Stderr;

impl Drain for Stderr {
    type Ok = ();
    type Err = slog::Never;

    fn log(&self, record: &slog::Record<'_>, values: &slog::OwnedKVList) -> Result<(), slog::Never> {
        if !record.level().is_at_least(slog::Level::Info) {
            return Ok(());
        }
        let mut line = format!("{} {}", record.level().as_short_str(), record.msg());
        let mut kv = Line(&mut line);
        let _ = record.kv().serialize(record, &mut kv);
        let _ = values.serialize(record, &mut kv);
        eprintln!("{line}");
        Ok(())
    }
}

struct Line<'a>(&'a mut String);

impl slog::Serializer for Line<'_> {
    fn emit_arguments(&mut self, key: slog::Key, value: &std::fmt::Arguments<'_>) -> slog::Result {
        let _ = write!(self.0, " {key}={value}");
        Ok(())
    }
}
