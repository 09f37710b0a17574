//! What one member says about itself and the cluster, through etcdctl: `endpoint status`,
//! `endpoint hashkv`, `member list`.

use std::sync::LazyLock;
use std::time::Duration;

use regex::Regex;

use crate::etcdctl::Etcdctl;

/// How long one status-like etcdctl run may take (a dead member must not stall a poll loop).
const QUERY_TIMEOUT: Duration = Duration::from_secs(5);
/// etcdctl's own dial and command timeouts for those runs.
const QUERY_FLAGS: [&str; 2] = ["--dial-timeout=1s", "--command-timeout=2s"];

static MEMBER_ID: LazyLock<Regex> = LazyLock::new(|| Regex::new(r#""member_id":(\d+)"#).expect("member_id regex"));
static LEADER: LazyLock<Regex> = LazyLock::new(|| Regex::new(r#""leader":(\d+)"#).expect("leader regex"));
static RAFT_INDEX: LazyLock<Regex> = LazyLock::new(|| Regex::new(r#""raftIndex":(\d+)"#).expect("raftIndex regex"));
static RAFT_TERM: LazyLock<Regex> = LazyLock::new(|| Regex::new(r#""raftTerm":(\d+)"#).expect("raftTerm regex"));
static REVISION: LazyLock<Regex> = LazyLock::new(|| Regex::new(r#""revision":(\d+)"#).expect("revision regex"));
static HASH: LazyLock<Regex> = LazyLock::new(|| Regex::new(r#""hash":(\d+)"#).expect("hash regex"));

/// One member's `etcdctl endpoint status -w json`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndpointStatus {
    /// `header.member_id`: the member that answered.
    pub member_id: u64,
    /// `leader`: who that member thinks leads (0 when it knows none).
    pub leader: u64,
    /// `raftIndex`.
    pub raft_index: u64,
    /// `raftTerm`.
    pub raft_term: u64,
    /// `header.revision`.
    pub revision: u64,
    /// `isLearner`.
    pub is_learner: bool,
}

/// One member's `etcdctl endpoint hashkv -w json` (at its latest revision).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HashKv {
    /// `hash`.
    pub hash: u64,
    /// `header.revision`: the revision the hash was taken at.
    pub revision: u64,
}

/// One line of `etcdctl member list`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberLine {
    /// The member id in hex, as `member remove` / `member promote` take it.
    pub id: String,
    /// `started` or `unstarted`.
    pub started: bool,
    /// The name (empty while unstarted).
    pub name: String,
    /// The peer URLs, comma-separated.
    pub peer_urls: String,
    /// The client URLs, comma-separated.
    pub client_urls: String,
    /// The `isLearner` column.
    pub is_learner: bool,
}

fn capture(re: &Regex, text: &str) -> Option<u64> {
    re.captures(text)?.get(1)?.as_str().parse().ok()
}

/// `etcdctl endpoint status -w json` against one endpoint; `None` when it does not answer.
pub fn endpoint_status(endpoint: &str) -> Option<EndpointStatus> {
    let out = Etcdctl::new(endpoint).timeout(QUERY_TIMEOUT).run(&[
        QUERY_FLAGS[0],
        QUERY_FLAGS[1],
        "endpoint",
        "status",
        "-w",
        "json",
    ]);
    if !out.success() {
        return None;
    }
    let text = &out.stdout;
    Some(EndpointStatus {
        member_id: capture(&MEMBER_ID, text)?,
        leader: capture(&LEADER, text)?,
        raft_index: capture(&RAFT_INDEX, text)?,
        raft_term: capture(&RAFT_TERM, text)?,
        revision: capture(&REVISION, text)?,
        is_learner: text.contains(r#""isLearner":true"#),
    })
}

/// `etcdctl endpoint hashkv -w json` against one endpoint; `None` when it does not answer.
pub fn endpoint_hashkv(endpoint: &str) -> Option<HashKv> {
    let out = Etcdctl::new(endpoint).timeout(QUERY_TIMEOUT).run(&[
        QUERY_FLAGS[0],
        QUERY_FLAGS[1],
        "endpoint",
        "hashkv",
        "-w",
        "json",
    ]);
    if !out.success() {
        return None;
    }
    Some(HashKv { hash: capture(&HASH, &out.stdout)?, revision: capture(&REVISION, &out.stdout)? })
}

/// `etcdctl member list` through `endpoints`; `None` when it fails.
pub fn member_list(endpoints: &str) -> Option<Vec<MemberLine>> {
    let out = Etcdctl::new(endpoints).timeout(QUERY_TIMEOUT).run(&[QUERY_FLAGS[0], QUERY_FLAGS[1], "member", "list"]);
    if !out.success() {
        return None;
    }
    out.stdout.lines().filter(|l| !l.trim().is_empty()).map(parse_member_line).collect()
}

fn parse_member_line(line: &str) -> Option<MemberLine> {
    let fields: Vec<&str> = line.split(", ").collect();
    let [id, started, name, peer_urls, client_urls, is_learner] = fields.as_slice() else { return None };
    Some(MemberLine {
        id: (*id).to_owned(),
        started: *started == "started",
        name: (*name).to_owned(),
        peer_urls: (*peer_urls).to_owned(),
        client_urls: (*client_urls).to_owned(),
        is_learner: *is_learner == "true",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_member_list_lines() {
        let line = "8e9e05c52164694d, started, n1, http://127.0.0.1:2380, http://127.0.0.1:2379, false";
        let m = parse_member_line(line).expect("a member line");
        assert_eq!(m.id, "8e9e05c52164694d");
        assert!(m.started && !m.is_learner);
        assert_eq!(m.name, "n1");
        let unstarted = parse_member_line("1234, unstarted, , http://127.0.0.1:2480, , true").expect("unstarted");
        assert!(!unstarted.started && unstarted.is_learner && unstarted.name.is_empty());
    }

    #[test]
    fn parses_status_json() {
        let text = r#"[{"Endpoint":"127.0.0.1:1","Status":{"header":{"cluster_id":1,"member_id":22,"revision":7,"raft_term":3},"version":"3.4.30","dbSize":20480,"leader":22,"raftIndex":9,"raftTerm":3,"raftAppliedIndex":9,"dbSizeInUse":20480}}]"#;
        assert_eq!(capture(&MEMBER_ID, text), Some(22));
        assert_eq!(capture(&LEADER, text), Some(22));
        assert_eq!(capture(&RAFT_INDEX, text), Some(9));
        assert_eq!(capture(&REVISION, text), Some(7));
    }
}
