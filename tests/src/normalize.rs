//! Masking what legitimately differs between two servers' etcdctl output.
//!
//! Masked: member, cluster and lease ids (in the decimal and hex forms etcdctl prints), each
//! server's own ports and paths, raft term (when non-zero) and raft index, log timestamps and
//! client ids, durations (`took`), db sizes, server version strings, and a lease's remaining TTL.
//! Never masked: revisions, counts, keys, values, versions of keys, error text, exit codes.
//! Tables are re-rendered without padding, so a different column width is not a difference.

use std::collections::HashMap;
use std::sync::LazyLock;

use regex::{Captures, Regex};

/// Fixed rewrites applied to every output, in order.
static RULES: LazyLock<Vec<(Regex, &'static str)>> = LazyLock::new(|| {
    let rules: &[(&str, &str)] = &[
        // Log lines of the Go client (retry warnings, snapshot progress).
        (r#""ts":"[^"]*""#, r#""ts":"<TS>""#),
        (r#""ts":[0-9.eE+-]+"#, r#""ts":<TS>"#),
        (r"client-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "client-<UUID>"),
        // Durations.
        (r"took = [0-9][0-9.a-zµ]*", "took = <DUR>"),
        (r#""took":"[^"]*""#, r#""took":"<DUR>""#),
        (r#""took":[0-9.eE+-]+"#, r#""took":<DUR>"#),
        (r#""Took" : [0-9][0-9.a-zµ]*"#, r#""Took" : <DUR>"#),
        // Sizes of the backend.
        (r#""dbSize":\d+"#, r#""dbSize":<SIZE>"#),
        (r#""dbSizeInUse":\d+"#, r#""dbSizeInUse":<SIZE>"#),
        (r#""DBSize" : \d+"#, r#""DBSize" : <SIZE>"#),
        (r#""DBSizeInUse" : \d+"#, r#""DBSizeInUse" : <SIZE>"#),
        (r#""size":"[^"]*""#, r#""size":"<SIZE>""#),
        // Server version strings (key versions are numbers and stay).
        // (The JSON gateway prints key versions as decimal strings: those stay.)
        (r#""version":"[^"]*[^0-9"][^"]*""#, r#""version":"<VERSION>""#),
        (r#""Version" : "[^"]*""#, r#""Version" : "<VERSION>""#),
        // Raft term (zero in nested headers: kept) and raft index.
        (r#""raft_term":[1-9][0-9]*"#, r#""raft_term":<TERM>"#),
        (r#""raftTerm":[1-9][0-9]*"#, r#""raftTerm":<TERM>"#),
        (r#""RaftTerm" : [1-9][0-9]*"#, r#""RaftTerm" : <TERM>"#),
        (r#""raftIndex":\d+"#, r#""raftIndex":<INDEX>"#),
        // The JSON gateway prints 64-bit integers as strings.
        (r#""raft_term":"[1-9][0-9]*""#, r#""raft_term":"<TERM>""#),
        (r#""raftTerm":"[1-9][0-9]*""#, r#""raftTerm":"<TERM>""#),
        (r#""raftIndex":"\d+""#, r#""raftIndex":"<INDEX>""#),
        (r#""raftAppliedIndex":"\d+""#, r#""raftAppliedIndex":"<APPLIED>""#),
        (r#""dbSize":"\d+""#, r#""dbSize":"<SIZE>""#),
        (r#""dbSizeInUse":"\d+""#, r#""dbSizeInUse":"<SIZE>""#),
        (r#""RaftIndex" : \d+"#, r#""RaftIndex" : <INDEX>"#),
        (r#""raftAppliedIndex":\d+"#, r#""raftAppliedIndex":<APPLIED>"#),
        (r#""RaftAppliedIndex" : \d+"#, r#""RaftAppliedIndex" : <APPLIED>"#),
        // `endpoint status` simple: endpoint, id, version, size, leader, learner, term, index, applied, errors.
        (
            r"(?m)^([^,\n]+), ([0-9a-f]+), [^,\n]+, [^,\n]+, (true|false), (true|false), \d+, \d+, \d+, ",
            "$1, $2, <VERSION>, <SIZE>, $3, $4, <TERM>, <INDEX>, <APPLIED>, ",
        ),
        // A lease's remaining TTL ticks while the two sides run (-1, "not found", is kept).
        (r"remaining\(\d+s\)", "remaining(<TTL>s)"),
        (r#""ttl":\d+"#, r#""ttl":<TTL>"#),
        (r#""TTL":"\d+","grantedTTL""#, r#""TTL":"<TTL>","grantedTTL""#),
        (r#""TTL":\d+,"grantedTTL""#, r#""TTL":<TTL>,"grantedTTL""#),
        (r#""TTL" : \d+\n"GrantedTTL""#, "\"TTL\" : <TTL>\n\"GrantedTTL\""),
    ];
    rules.iter().map(|(re, with)| (Regex::new(re).expect("a valid normalizer rule"), *with)).collect()
});

/// `lease timetolive --keys` lists attached keys in Go map order (random): sorted here.
static ATTACHED_KEYS: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"attached keys\(\[([^\]]*)\]\)").expect("a valid attached keys regex"));
static JSON_KEYS: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#""keys":\[([^\]]*)\]"#).expect("a valid json keys regex"));

static ADDR: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"127\.0\.0\.1:(\d+)").expect("a valid address regex"));

/// Table columns whose cells legitimately differ, with their placeholder.
const TABLE_COLUMNS: &[(&str, &str)] = &[
    ("VERSION", "<VERSION>"),
    ("DB SIZE", "<SIZE>"),
    ("RAFT TERM", "<TERM>"),
    ("RAFT INDEX", "<INDEX>"),
    ("RAFT APPLIED INDEX", "<APPLIED>"),
    ("TOOK", "<DUR>"),
];

/// Rewrites one server's etcdctl output so it compares equal to another server's.
#[derive(Clone, Debug, Default)]
pub struct Normalizer {
    literals: Vec<(String, String)>,
    ports: HashMap<u16, String>,
    ids: Vec<(u64, String)>,
}

impl Normalizer {
    /// A normalizer that applies only the fixed rules.
    pub fn new() -> Self {
        Normalizer::default()
    }

    /// Replaces `127.0.0.1:<port>` with `127.0.0.1:<placeholder>`.
    pub fn port(&mut self, port: u16, placeholder: &str) -> &mut Self {
        self.ports.insert(port, placeholder.to_owned());
        self
    }

    /// Replaces an id printed in decimal, hex, or zero- or space-padded 16-digit hex.
    pub fn id(&mut self, id: u64, placeholder: &str) -> &mut Self {
        self.ids.retain(|(known, _)| *known != id);
        self.ids.push((id, placeholder.to_owned()));
        self
    }

    /// Replaces a literal string (e.g. a temp path), before any other rule.
    pub fn literal(&mut self, text: &str, placeholder: &str) -> &mut Self {
        if !text.is_empty() {
            self.literals.push((text.to_owned(), placeholder.to_owned()));
            self.literals.sort_by_key(|(t, _)| std::cmp::Reverse(t.len()));
        }
        self
    }

    /// Applies every rule to `text`.
    pub fn normalize(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for (literal, placeholder) in &self.literals {
            out = out.replace(literal, placeholder);
        }
        out = ADDR
            .replace_all(&out, |c: &Captures<'_>| match c[1].parse::<u16>().ok().and_then(|p| self.ports.get(&p)) {
                Some(placeholder) => format!("127.0.0.1:{placeholder}"),
                None => c[0].to_owned(),
            })
            .into_owned();
        for (re, with) in RULES.iter() {
            out = re.replace_all(&out, *with).into_owned();
        }
        out = ATTACHED_KEYS
            .replace_all(&out, |c: &Captures<'_>| format!("attached keys([{}])", sorted(&c[1], " ")))
            .into_owned();
        out =
            JSON_KEYS.replace_all(&out, |c: &Captures<'_>| format!(r#""keys":[{}]"#, sorted(&c[1], ","))).into_owned();
        out = self.replace_ids(&out);
        canonical_tables(&out)
    }

    fn replace_ids(&self, text: &str) -> String {
        if self.ids.is_empty() {
            return text.to_owned();
        }
        let mut forms: HashMap<String, &str> = HashMap::new();
        for (id, placeholder) in &self.ids {
            for form in [id.to_string(), format!("{id:x}"), format!("{id:016x}")] {
                forms.insert(form, placeholder);
            }
        }
        let mut alternatives: Vec<&String> = forms.keys().collect();
        alternatives.sort_by_key(|f| std::cmp::Reverse(f.len()));
        // Spaces before an id collapse to one: `%16x` pads a short id with spaces.
        let pattern =
            format!(r"( *)\b({})\b", alternatives.iter().map(|f| regex::escape(f)).collect::<Vec<_>>().join("|"));
        let re = Regex::new(&pattern).expect("a valid id regex");
        re.replace_all(text, |c: &Captures<'_>| {
            let space = if c[1].is_empty() { "" } else { " " };
            format!("{space}{}", forms[&c[2]])
        })
        .into_owned()
    }
}

fn sorted(list: &str, separator: &str) -> String {
    let mut items: Vec<&str> = list.split(separator).collect();
    items.sort_unstable();
    items.join(separator)
}

/// Re-renders etcdctl's ASCII tables without padding and masks the [`TABLE_COLUMNS`].
fn canonical_tables(text: &str) -> String {
    let mut out = Vec::new();
    let mut header: Option<Vec<String>> = None;
    for line in text.split('\n') {
        if line.starts_with('+') && line.chars().all(|c| c == '+' || c == '-') {
            out.push("+-+".to_owned());
            continue;
        }
        if !(line.starts_with('|') && line.ends_with('|') && line.len() > 1) {
            header = None;
            out.push(line.to_owned());
            continue;
        }
        let cells: Vec<String> = line[1..line.len() - 1].split('|').map(|c| c.trim().to_owned()).collect();
        let cells = match &header {
            None => {
                header = Some(cells.clone());
                cells
            }
            Some(names) => cells
                .into_iter()
                .enumerate()
                .map(|(i, cell)| {
                    let masked = names
                        .get(i)
                        .and_then(|name| TABLE_COLUMNS.iter().find(|(col, _)| col == name))
                        .map(|(_, placeholder)| (*placeholder).to_owned());
                    masked.filter(|_| !cell.is_empty()).unwrap_or(cell)
                })
                .collect(),
        };
        out.push(format!("| {} |", cells.join(" | ")));
    }
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn etcd_side() -> Normalizer {
        let mut n = Normalizer::new();
        n.port(23791, "<CLIENT_PORT>")
            .port(23801, "<PEER_PORT>")
            .id(4627081221937520288, "<MEMBER_ID>")
            .id(2478302587001825083, "<CLUSTER_ID>")
            .id(0x5ea0a20bf6d70411, "<LEASE:L1>");
        n
    }

    #[test]
    fn json_header_masks_ids_and_term_but_not_revision() {
        let raw = r#"{"header":{"cluster_id":2478302587001825083,"member_id":4627081221937520288,"revision":3,"raft_term":2},"kvs":[{"key":"YQ==","create_revision":2,"mod_revision":3,"version":2,"value":"Mg==","lease":6818628008108557329}],"count":1}"#;
        assert_eq!(
            etcd_side().normalize(raw),
            r#"{"header":{"cluster_id":<CLUSTER_ID>,"member_id":<MEMBER_ID>,"revision":3,"raft_term":<TERM>},"kvs":[{"key":"YQ==","create_revision":2,"mod_revision":3,"version":2,"value":"Mg==","lease":<LEASE:L1>}],"count":1}"#
        );
    }

    #[test]
    fn simple_status_and_member_list() {
        let n = etcd_side();
        assert_eq!(
            n.normalize("127.0.0.1:23791, 4036b1db24775ea0, 3.4.23, 20 kB, true, false, 2, 6, 6, \n"),
            "127.0.0.1:<CLIENT_PORT>, <MEMBER_ID>, <VERSION>, <SIZE>, true, false, <TERM>, <INDEX>, <APPLIED>, \n"
        );
        assert_eq!(
            n.normalize("4036b1db24775ea0, started, n1, http://127.0.0.1:23801, http://127.0.0.1:23791, false"),
            "<MEMBER_ID>, started, n1, http://127.0.0.1:<PEER_PORT>, http://127.0.0.1:<CLIENT_PORT>, false"
        );
        assert_eq!(
            n.normalize("lease 5ea0a20bf6d70411 granted with TTL(60s), remaining(59s), attached keys([k1])"),
            "lease <LEASE:L1> granted with TTL(60s), remaining(<TTL>s), attached keys([k1])"
        );
        assert_eq!(n.normalize(r#"{"TTL":598,"grantedTTL":600}"#), r#"{"TTL":<TTL>,"grantedTTL":600}"#);
        assert_eq!(n.normalize("\"TTL\" : 599\n\"GrantedTTL\" : 600"), "\"TTL\" : <TTL>\n\"GrantedTTL\" : 600");
        assert_eq!(n.normalize(r#"{"TTL":-1,"grantedTTL":0}"#), r#"{"TTL":-1,"grantedTTL":0}"#);
    }

    #[test]
    fn tables_lose_padding_and_masked_columns() {
        let raw = "\
+-----------------+------------------+---------+---------+-----------+------------+-----------+------------+--------------------+--------+
|    ENDPOINT     |        ID        | VERSION | DB SIZE | IS LEADER | IS LEARNER | RAFT TERM | RAFT INDEX | RAFT APPLIED INDEX | ERRORS |
+-----------------+------------------+---------+---------+-----------+------------+-----------+------------+--------------------+--------+
| 127.0.0.1:23791 | 4036b1db24775ea0 |  3.4.23 |   20 kB |      true |      false |         2 |          6 |                  6 |        |
+-----------------+------------------+---------+---------+-----------+------------+-----------+------------+--------------------+--------+
";
        assert_eq!(
            etcd_side().normalize(raw),
            "+-+\n| ENDPOINT | ID | VERSION | DB SIZE | IS LEADER | IS LEARNER | RAFT TERM | RAFT INDEX | RAFT APPLIED INDEX | ERRORS |\n+-+\n\
             | 127.0.0.1:<CLIENT_PORT> | <MEMBER_ID> | <VERSION> | <SIZE> | true | false | <TERM> | <INDEX> | <APPLIED> |  |\n+-+\n"
        );
    }

    #[test]
    fn client_logs_lose_time_and_client_id() {
        let raw = r#"{"level":"warn","ts":"2026-11-24T05:11:42.671Z","caller":"clientv3/retry_interceptor.go:62","msg":"retrying of unary invoker failed","target":"endpoint://client-62f4b458-0156-4767-abf5-2b195be4ceb3/127.0.0.1:23791","attempt":0,"error":"rpc error: code = NotFound desc = etcdserver: requested lease not found"}"#;
        assert_eq!(
            etcd_side().normalize(raw),
            r#"{"level":"warn","ts":"<TS>","caller":"clientv3/retry_interceptor.go:62","msg":"retrying of unary invoker failed","target":"endpoint://client-<UUID>/127.0.0.1:<CLIENT_PORT>","attempt":0,"error":"rpc error: code = NotFound desc = etcdserver: requested lease not found"}"#
        );
        let snap = r#"{"level":"info","ts":1795497102.9395075,"caller":"snapshot/v3_snapshot.go:142","msg":"fetched snapshot","endpoint":"127.0.0.1:23791","size":"20 kB","took":0.003408621}"#;
        assert_eq!(
            etcd_side().normalize(snap),
            r#"{"level":"info","ts":<TS>,"caller":"snapshot/v3_snapshot.go:142","msg":"fetched snapshot","endpoint":"127.0.0.1:<CLIENT_PORT>","size":"<SIZE>","took":<DUR>}"#
        );
    }

    #[test]
    fn short_hex_ids_keep_their_separator() {
        let mut n = Normalizer::new();
        n.id(0x0ab1db24775ea0, "<MEMBER_ID>");
        assert_eq!(n.normalize("127.0.0.1:1, ab1db24775ea0, 3.4.23"), "127.0.0.1:1, <MEMBER_ID>, 3.4.23");
        assert_eq!(n.normalize("Member    ab1db24775ea0 added"), "Member <MEMBER_ID> added");
        assert_eq!(n.normalize("lease 000ab1db24775ea0 granted"), "lease <MEMBER_ID> granted");
        assert_eq!(n.normalize("[ab1db24775ea0]"), "[<MEMBER_ID>]");
    }

    #[test]
    fn attached_keys_are_sorted() {
        let n = Normalizer::new();
        assert_eq!(n.normalize("attached keys([k2 k1 a])"), "attached keys([a k1 k2])");
        assert_eq!(
            n.normalize(r#""granted-ttl":600,"keys":["azI=","azE="]}"#),
            r#""granted-ttl":600,"keys":["azE=","azI="]}"#
        );
        assert_eq!(n.normalize(r#""keys":null"#), r#""keys":null"#);
    }

    #[test]
    fn zero_terms_and_unknown_numbers_stay() {
        let raw = "\"RaftTerm\" : 0\n\"RaftTerm\" : 3\n\"Revision\" : 9\nfound 1234 leases";
        assert_eq!(
            etcd_side().normalize(raw),
            "\"RaftTerm\" : 0\n\"RaftTerm\" : <TERM>\n\"Revision\" : 9\nfound 1234 leases"
        );
    }
}
