//! Members as separate processes (`cairn-raft-peer-node`, a replicated log of
//! values over the gRPC peer transport and the WAL) on loopback ports: the leader
//! is killed with SIGKILL, the others elect a new one and commits continue; the
//! killed member restarts on its directory and catches up; no acknowledged value is
//! lost. Every wait is bounded; every child is killed when the test ends, panics
//! included.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_cairn-raft-peer-node");
/// Raft's tick in the members: elections time out after 0.5 to 1 s.
const TICK_MS: u64 = 50;
/// How long any one condition may take.
const DEADLINE: Duration = Duration::from_secs(30);
/// How long one request to a member may take to be answered.
const ANSWER: Duration = Duration::from_secs(10);

#[test]
fn a_killed_leader_is_replaced_and_catches_up_after_restart() {
    let root = tempfile::tempdir().expect("tempdir");
    let ports = free_ports(3);
    let peers: Vec<String> = (1..=3).map(|id| format!("{id}=http://127.0.0.1:{}", ports[id as usize - 1])).collect();
    let peers = peers.join(",");
    let spawn = |id: u64| Member::spawn(id, root.path(), ports[id as usize - 1], &peers);
    let mut members: BTreeMap<u64, Member> = (1..=3).map(|id| (id, spawn(id))).collect();
    let mut client = Client::default();

    let leader = wait_for_leader(&mut members);
    for n in 0..40 {
        client.propose(&mut members, format!("before-{n}"));
    }
    assert_eq!(client.acked.len(), 40, "no failure yet: {client:?}");

    let killed = members.remove(&leader).expect("the leader runs");
    let pid = killed.child.id();
    drop(killed); // SIGKILL to its pid, then reaped
    let since_kill = Instant::now();
    let new_leader = wait_for_leader(&mut members);
    let took = since_kill.elapsed();
    eprintln!("member {new_leader} leads {took:?} after member {leader} (pid {pid}) was killed");
    assert_ne!(new_leader, leader);
    assert!(took < Duration::from_secs(10), "a new leader within a few election timeouts, not {took:?}");

    for n in 0..40 {
        client.propose(&mut members, format!("after-{n}"));
    }
    assert!(client.acked.len() >= 79, "commits continue without the old leader: {client:?}");

    // It missed 40 entries, more than the leader keeps behind its snapshots (10):
    // it is caught up by a snapshot over gRPC, then from the log.
    let applied_before_kill = client.acked[39].1;
    members.insert(leader, spawn(leader));
    let (applied, values) = wait_for_convergence(&mut members, client.last_acked_index());
    eprintln!("all members applied index {applied}, {} values, after the restart", values.len());
    client.check(&values);
    let restored = &members[&leader].restored;
    assert!(
        restored.iter().any(|&index| index > applied_before_kill),
        "member {leader} restored a snapshot past index {applied_before_kill} from the leader: {restored:?}"
    );
}

/// A member process, its stdin, and the lines of its stdout.
struct Member {
    id: u64,
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
    stderr: PathBuf,
    /// The indexes of the snapshots it restored, from `restored` events seen so far.
    restored: Vec<u64>,
}

impl Member {
    /// Starts member `id` on `127.0.0.1:port` with its files under `root`, and waits
    /// until it listens.
    fn spawn(id: u64, root: &Path, port: u16, peers: &str) -> Self {
        let dir = root.join(format!("member-{id}"));
        let stderr = root.join(format!("member-{id}.stderr"));
        let log = File::options().create(true).append(true).open(&stderr).expect("stderr file");
        let mut child = Command::new(BIN)
            .args(["--id", &id.to_string(), "--dir"])
            .arg(&dir)
            .args(["--listen", &format!("127.0.0.1:{port}"), "--peers", peers])
            .args(["--tick-ms", &TICK_MS.to_string(), "--snapshot-count", "20"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("spawn cairn-raft-peer-node");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let (lines, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if lines.send(line).is_err() {
                    break;
                }
            }
        });
        let mut member = Member { id, child, stdin, lines: receiver, stderr, restored: Vec::new() };
        member.expect(ANSWER, |line| line.starts_with("listening ")).unwrap_or_else(|| member.died("listening"));
        member
    }

    /// Sends one command line.
    fn send(&mut self, line: &str) {
        if writeln!(self.stdin, "{line}").and_then(|()| self.stdin.flush()).is_err() {
            self.died(line);
        }
    }

    /// The next line that `matches` within `within`, skipping others (events);
    /// None if none came.
    fn expect(&mut self, within: Duration, matches: impl Fn(&str) -> bool) -> Option<String> {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if matches(&line) => return Some(line),
                Ok(line) => {
                    if let Some(index) = line.strip_prefix("restored ").and_then(|rest| rest.split(' ').next()) {
                        self.restored.extend(index.parse::<u64>().ok());
                    }
                }
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => return None,
            }
        }
    }

    /// `(role, leader, term)`.
    fn status(&mut self) -> (String, u64, u64) {
        self.send("status");
        let line = self.expect(ANSWER, |line| line.starts_with("status ")).unwrap_or_else(|| self.died("status"));
        let words: Vec<&str> = line.split(' ').collect();
        let number = |k: usize| words[k].parse::<u64>().unwrap_or_else(|_| panic!("bad status line {line:?}"));
        (words[2].to_owned(), number(3), number(4))
    }

    /// `(applied, [(index, value)])`.
    fn dump(&mut self) -> (u64, Vec<(u64, String)>) {
        self.send("dump");
        let line = self.expect(ANSWER, |line| line.starts_with("dump ")).unwrap_or_else(|| self.died("dump"));
        let mut words = line.splitn(3, ' ').skip(1);
        let applied = words.next().and_then(|w| w.parse().ok()).unwrap_or_else(|| panic!("bad dump {line:?}"));
        let values = words
            .next()
            .unwrap_or("")
            .split(',')
            .filter(|pair| !pair.is_empty())
            .map(|pair| {
                let (index, value) = pair.split_once('=').unwrap_or_else(|| panic!("bad pair {pair:?}"));
                (index.parse().unwrap_or_else(|_| panic!("bad index {pair:?}")), value.to_owned())
            })
            .collect();
        (applied, values)
    }

    /// Fails the test with the member's stderr.
    fn died(&self, waiting_for: &str) -> ! {
        let stderr = std::fs::read_to_string(&self.stderr).unwrap_or_default();
        let tail: Vec<&str> = stderr.lines().rev().take(40).collect::<Vec<_>>().into_iter().rev().collect();
        panic!("member {} gave no answer to {waiting_for:?}; its stderr ends:\n{}", self.id, tail.join("\n"));
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What the test learned of its proposals.
#[derive(Debug, Default)]
struct Client {
    acked: Vec<(String, u64)>,
    unknown: Vec<String>,
}

impl Client {
    /// Proposes `value` through the leader, retrying after a definite drop (a
    /// leader change); records whether it was acknowledged.
    fn propose(&mut self, members: &mut BTreeMap<u64, Member>, value: String) {
        let deadline = Instant::now() + DEADLINE;
        while Instant::now() < deadline {
            let leader = wait_for_leader(members);
            let member = members.get_mut(&leader).expect("the leader runs");
            member.send(&format!("propose {value}"));
            let answered = |line: &str| {
                line.strip_prefix("proposed ")
                    .or_else(|| line.strip_prefix("failed "))
                    .is_some_and(|rest| rest.split(' ').next() == Some(value.as_str()))
            };
            let Some(line) = member.expect(ANSWER, answered) else { return self.unknown.push(value) };
            if let Some(index) = line.strip_prefix(&format!("proposed {value} ")) {
                let index = index.parse().unwrap_or_else(|_| panic!("bad answer {line:?}"));
                return self.acked.push((value, index));
            }
            if !line.contains("proposal dropped") {
                return self.unknown.push(value);
            }
            std::thread::sleep(Duration::from_millis(TICK_MS));
        }
        panic!("proposal {value} was dropped until the deadline");
    }

    fn last_acked_index(&self) -> u64 {
        self.acked.iter().map(|(_, index)| *index).max().unwrap_or(0)
    }

    /// Every acknowledged value is in `values` once, at its index; any other at most once.
    fn check(&self, values: &[(u64, String)]) {
        let count = |value: &str| values.iter().filter(|(_, v)| v == value).count();
        for (value, index) in &self.acked {
            assert_eq!(count(value), 1, "acknowledged {value} applied {} times", count(value));
            assert!(values.contains(&(*index, value.clone())), "acknowledged {value} not at index {index}");
        }
        for value in &self.unknown {
            assert!(count(value) <= 1, "{value} applied {} times", count(value));
        }
    }
}

/// Waits until one member leads and every running member follows it in its term.
fn wait_for_leader(members: &mut BTreeMap<u64, Member>) -> u64 {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let statuses: Vec<(u64, (String, u64, u64))> = members.iter_mut().map(|(id, m)| (*id, m.status())).collect();
        if let Some((leader, (_, _, term))) = statuses.iter().find(|(_, (role, _, _))| role == "leader")
            && statuses.iter().all(|(_, (_, l, t))| l == leader && t == term)
        {
            return *leader;
        }
        assert!(Instant::now() < deadline, "no leader all agree on: {statuses:?}");
        std::thread::sleep(Duration::from_millis(TICK_MS));
    }
}

/// Waits until every member applied at least `index` and they all hold the same
/// values at the same applied index; returns them.
fn wait_for_convergence(members: &mut BTreeMap<u64, Member>, index: u64) -> (u64, Vec<(u64, String)>) {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let dumps: Vec<(u64, Vec<(u64, String)>)> = members.values_mut().map(Member::dump).collect();
        let first = &dumps[0];
        if first.0 >= index && dumps.iter().all(|dump| dump == first) {
            return first.clone();
        }
        let applied: Vec<u64> = dumps.iter().map(|dump| dump.0).collect();
        assert!(Instant::now() < deadline, "members did not converge past {index}: applied {applied:?}");
        std::thread::sleep(Duration::from_millis(TICK_MS));
    }
}

/// `count` distinct loopback ports free a moment ago (held together while picked).
fn free_ports(count: usize) -> Vec<u16> {
    let listeners: Vec<std::net::TcpListener> =
        (0..count).map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port")).collect();
    listeners.iter().map(|l| l.local_addr().expect("local address").port()).collect()
}
