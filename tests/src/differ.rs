//! Running the same etcdctl steps against etcd and cairn and comparing what they print.

use std::panic::Location;
use std::path::PathBuf;
use std::sync::LazyLock;
use std::time::Duration;

use regex::Regex;
use tempfile::TempDir;

use crate::binaries::{Kind, cairnctl_bin};
use crate::etcdctl::{Background, Etcdctl, Output};
use crate::normalize::Normalizer;
use crate::server::Server;
use crate::textdiff::line_diff;

/// How long a background watch may take to print the expected lines.
const WATCH_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a live watch is given to be created before writes follow.
const WATCH_SETUP: Duration = Duration::from_millis(1500);
/// How long etcd's watch must stay silent before its output is taken as complete.
const WATCH_QUIET: Duration = Duration::from_millis(500);
/// How long to keep listening after the expected lines, to catch extra output.
const WATCH_GRACE: Duration = Duration::from_millis(300);

static LEASE_GRANTED: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"lease ([0-9a-f]+) granted").expect("a valid lease regex"));
static MEMBER_ADDED: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"Member +([0-9a-f]+) added to cluster").expect("a valid member regex"));
static LEASE_ID: LazyLock<Regex> = LazyLock::new(|| Regex::new(r#""ID" ?: ?(\d+)"#).expect("a valid lease id regex"));
static GATEWAY_ID: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#""ID":"(\d+)""#).expect("a valid gateway lease id regex"));
static CLUSTER_ID: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#""cluster_id":(\d+)"#).expect("a valid cluster id regex"));
static MEMBER_ID: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#""member_id":(\d+)"#).expect("a valid member id regex"));

/// The peer URL both servers of a [`Differ::tools`] run advertise (nothing listens there).
const TOOLS_PEER_URL: &str = "http://127.0.0.1:2380";
/// Their `--initial-cluster`.
const TOOLS_INITIAL_CLUSTER: &str = "n1=http://127.0.0.1:2380";

/// One side of the comparison: a server, its normalizer, its variables, its etcdctl work dir.
#[derive(Debug)]
struct Side {
    label: &'static str,
    server: Server,
    norm: Normalizer,
    vars: Vec<(String, String)>,
    work: TempDir,
    masks: Vec<(Regex, String)>,
    v2: bool,
    program: Option<PathBuf>,
}

impl Side {
    fn new(server: Server) -> Side {
        let label = server.kind().label();
        Side::with_tool(server, label, None)
    }

    /// A side whose commands run `program` (etcdctl when `None`), labelled `label`.
    fn with_tool(server: Server, label: &'static str, program: Option<PathBuf>) -> Side {
        let work = tempfile::Builder::new().prefix("cairn-tests-ctl-").tempdir().expect("create an etcdctl work dir");
        let status = Etcdctl::new(&server.endpoint()).run(&["endpoint", "status", "-w", "json"]);
        let id = |re: &Regex| -> u64 {
            re.captures(&status.stdout).and_then(|c| c[1].parse().ok()).unwrap_or_else(|| {
                panic!("{label}: no {re} in `etcdctl endpoint status -w json`: {}{}", status.stdout, status.stderr)
            })
        };
        let (cluster_id, member_id) = (id(&CLUSTER_ID), id(&MEMBER_ID));
        let mut norm = Normalizer::new();
        norm.port(server.client_port(), "<CLIENT_PORT>")
            .port(server.peer_port(), "<PEER_PORT>")
            .id(cluster_id, "<CLUSTER_ID>")
            .id(member_id, "<MEMBER_ID>")
            .literal(&work.path().to_string_lossy(), "<WORKDIR>")
            .literal(&server.dir().to_string_lossy(), "<SERVER_DIR>");
        let vars = vec![
            ("MEMBER".to_owned(), format!("{member_id:x}")),
            ("MEMBER_DEC".to_owned(), member_id.to_string()),
            ("ENDPOINT".to_owned(), server.endpoint()),
        ];
        Side { label, server, norm, vars, work, masks: Vec::new(), v2: false, program }
    }

    /// Replaces `$NAME` with this side's value of variable NAME (longest names first).
    /// Remembers `id` as variables `$var` (hex) and `$var_DEC`, masked as `placeholder`.
    fn learn_id(&mut self, var: &str, id: u64, placeholder: &str) {
        self.norm.id(id, placeholder);
        let dec = format!("{var}_DEC");
        self.vars.retain(|(name, _)| name != var && *name != dec);
        self.vars.push((var.to_owned(), format!("{id:x}")));
        self.vars.push((dec, id.to_string()));
    }

    fn substitute(&self, text: &str) -> String {
        let mut vars: Vec<&(String, String)> = self.vars.iter().collect();
        vars.sort_by_key(|(name, _)| std::cmp::Reverse(name.len()));
        vars.iter().fold(text.to_owned(), |acc, (name, value)| acc.replace(&format!("${name}"), value))
    }

    fn ctl(&self, stdin: Option<&[u8]>) -> Etcdctl {
        let mut ctl = Etcdctl::new(&self.server.endpoint()).cwd(self.work.path());
        if let Some(program) = &self.program {
            ctl = ctl.program(program.clone());
        }
        if self.v2 {
            ctl = ctl.v2();
        }
        if let Some(input) = stdin {
            let input = match std::str::from_utf8(input) {
                Ok(text) if text.contains('$') => self.substitute(text).into_bytes(),
                _ => input.to_vec(),
            };
            ctl = ctl.stdin(&input);
        }
        ctl
    }

    fn args(&self, args: &[&str]) -> Vec<String> {
        args.iter().map(|a| self.substitute(a)).collect()
    }

    fn normalized(&self, out: &Output) -> Output {
        let mask = |text: &str| {
            self.masks
                .iter()
                .fold(self.norm.normalize(text), |acc, (re, with)| re.replace_all(&acc, with.as_str()).into_owned())
        };
        Output { status: out.status, stdout: mask(&out.stdout), stderr: mask(&out.stderr), timed_out: out.timed_out }
    }
}

/// The normalized outputs of one step on both sides.
#[derive(Clone, Debug)]
pub struct Step {
    /// The etcd side (with [`Differ::tools`], etcdctl's side: the reference).
    pub etcd: Output,
    /// The cairn side (a real etcd under `CAIRN_DIFF_PEER=etcd`; with [`Differ::tools`],
    /// cairnctl's side).
    pub cairn: Output,
}

impl Step {
    /// Asserts that etcd's stdout or stderr contains `fragment`, so a test cannot silently stop
    /// exercising what it means to (e.g. an error path).
    #[track_caller]
    pub fn expect_etcd(&self, fragment: &str) -> &Self {
        assert!(
            self.etcd.stdout.contains(fragment) || self.etcd.stderr.contains(fragment),
            "etcd's output does not contain {fragment:?}:\nstdout:\n{}\nstderr:\n{}",
            self.etcd.stdout,
            self.etcd.stderr
        );
        self
    }
}

/// Background `etcdctl watch` processes, one per side; collect with [`Differ::collect_watch`].
#[derive(Debug)]
pub struct WatchPair {
    command: String,
    procs: Vec<Background>,
}

/// One etcd and one cairn, single member each (same name and cluster token), driven by the same
/// etcdctl steps; every difference after normalization is recorded and reported by
/// [`finish`](Self::finish).
#[derive(Debug)]
pub struct Differ {
    sides: Vec<Side>,
    mismatches: Vec<String>,
    steps: usize,
    finished: bool,
}

impl Differ {
    /// Starts both servers (concurrently) and waits until both are healthy.
    pub fn start() -> Differ {
        Differ::start_with(&[])
    }

    /// Like [`start`](Self::start), with extra server flags for both.
    pub fn start_with(extra: &[&str]) -> Differ {
        let sides: Vec<Side> = std::thread::scope(|scope| {
            let handles: Vec<_> = [Kind::Etcd, Kind::Cairn]
                .into_iter()
                .map(|kind| scope.spawn(move || Side::new(Server::start_with(kind, "n1", "cairn-diff", extra))))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e))).collect()
        });
        Differ { sides, mismatches: Vec::new(), steps: 0, finished: false }
    }

    /// Compares the tools instead of the servers: two fresh servers of `kind`, the real etcdctl
    /// against the first and cairnctl against the second, so that both see the same history.
    /// Every other method works as with [`start`](Self::start); reports call the sides
    /// `etcdctl` and `cairnctl`.
    pub fn tools(kind: Kind) -> Differ {
        Differ::tools_with(kind, &[])
    }

    /// Like [`tools`](Self::tools), with extra server flags for both servers.
    pub fn tools_with(kind: Kind, extra: &[&str]) -> Differ {
        let cairnctl = cairnctl_bin();
        // Both servers advertise the same (unbound) peer URL, so their cluster and member ids are
        // the same and even binary output (`-w protobuf`) compares equal.
        let mut flags =
            vec!["--initial-advertise-peer-urls", TOOLS_PEER_URL, "--initial-cluster", TOOLS_INITIAL_CLUSTER];
        flags.extend_from_slice(extra);
        let extra = flags.as_slice();
        let sides: Vec<Side> = std::thread::scope(|scope| {
            let handles: Vec<_> = [("etcdctl", None), ("cairnctl", Some(cairnctl))]
                .into_iter()
                .map(|(label, program)| {
                    scope.spawn(move || {
                        Side::with_tool(Server::start_with(kind, "n1", "cairn-diff", extra), label, program)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e))).collect()
        });
        Differ { sides, mismatches: Vec::new(), steps: 0, finished: false }
    }

    /// From now on, etcdctl speaks etcd's v2 API (`ETCDCTL_API=2`) on both sides.
    pub fn v2(&mut self) -> &mut Self {
        for side in &mut self.sides {
            side.v2 = true;
        }
        self
    }

    /// From now on, masks what `regex` matches with `with` (`$1` refers to groups) on both sides,
    /// after the usual normalization (for what legitimately differs in one test's outputs).
    pub fn mask(&mut self, regex: &str, with: &str) -> &mut Self {
        let re = Regex::new(regex).unwrap_or_else(|e| panic!("mask {regex:?}: {e}"));
        for side in &mut self.sides {
            side.masks.push((re.clone(), with.to_owned()));
        }
        self
    }

    /// `curl -s -i -X <method> [-d <form>] http://$ENDPOINT<path>` on both sides, compared with
    /// the response headers in a canonical form (names lowercased and sorted, `Date` dropped).
    #[track_caller]
    pub fn curl(&mut self, method: &str, path: &str, form: Option<&str>) -> Step {
        self.curl_at(false, method, path, form, Location::caller())
    }

    /// Like [`curl`](Self::curl), on the peer port (`/members`, `/version`).
    #[track_caller]
    pub fn curl_peer(&mut self, method: &str, path: &str) -> Step {
        self.curl_at(true, method, path, None, Location::caller())
    }

    fn curl_at(
        &mut self,
        peer: bool,
        method: &str,
        path: &str,
        form: Option<&str>,
        at: &'static Location<'static>,
    ) -> Step {
        self.steps += 1;
        let raws: Vec<Output> = self
            .sides
            .iter()
            .map(|side| {
                let host = if peer { format!("127.0.0.1:{}", side.server.peer_port()) } else { side.server.endpoint() };
                let url = format!("http://{host}{}", side.substitute(path));
                crate::curl::spawn(method, &url, form.map(|f| side.substitute(f)).as_deref(), None)
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(crate::curl::finish_http)
            .collect();
        let step = Step { etcd: self.sides[0].normalized(&raws[0]), cairn: self.sides[1].normalized(&raws[1]) };
        let shown = form.map(|f| format!(" -d {f:?}")).unwrap_or_default();
        self.compare(&format!("curl -X {method} {path}{shown}"), None, &step, at);
        step
    }

    /// A long-polling `curl -s -i <path>` (a v2 watch) on both sides: starts it, waits 1.5 s, runs
    /// `during`, and compares what both printed once they ended (or were cut at `max_time`).
    #[track_caller]
    pub fn curl_stream(&mut self, path: &str, max_time: Duration, during: impl FnOnce(&mut Differ)) -> Step {
        let at = Location::caller();
        let children: Vec<_> = self
            .sides
            .iter()
            .map(|side| {
                let url = format!("http://{}{}", side.server.endpoint(), side.substitute(path));
                crate::curl::spawn("GET", &url, None, Some(max_time))
            })
            .collect();
        std::thread::sleep(WATCH_SETUP);
        during(self);
        self.steps += 1;
        let raws: Vec<Output> = children.into_iter().map(crate::curl::finish_http).collect();
        let step = Step { etcd: self.sides[0].normalized(&raws[0]), cairn: self.sides[1].normalized(&raws[1]) };
        self.compare(&format!("curl {path} (long poll)"), None, &step, at);
        step
    }

    /// The etcd server.
    pub fn etcd(&self) -> &Server {
        &self.sides[0].server
    }

    /// The cairn server.
    pub fn cairn(&self) -> &Server {
        &self.sides[1].server
    }

    /// Runs `etcdctl <args>` on both sides and compares. `$NAME` in args is replaced by each side's
    /// variable (`$MEMBER`: member id in hex, `$MEMBER_DEC` in decimal, `$ENDPOINT`, leases from [`grant_lease`](Self::grant_lease)).
    #[track_caller]
    pub fn run(&mut self, args: &[&str]) -> Step {
        self.exec(args, None, Location::caller(), |_, _| {})
    }

    /// Like [`run`](Self::run), comparing stdout's lines as sorted sets (for lists whose order
    /// follows ids that legitimately differ between the sides, e.g. members added at run time).
    #[track_caller]
    pub fn run_unordered(&mut self, args: &[&str]) -> Step {
        let mut step = self.exec_quiet(args, None, |_, _| {});
        for out in [&mut step.etcd, &mut step.cairn] {
            let mut lines: Vec<&str> = out.stdout.lines().collect();
            lines.sort_unstable();
            out.stdout = lines.join("\n");
        }
        self.compare(&format!("etcdctl {} (lines in any order)", shell_words(args)), None, &step, Location::caller());
        step
    }

    /// Like [`run`](Self::run) with `stdin` (variables are replaced in it too).
    #[track_caller]
    pub fn run_stdin(&mut self, args: &[&str], stdin: &str) -> Step {
        self.exec(args, Some(stdin.as_bytes()), Location::caller(), |_, _| {})
    }

    /// Like [`run`](Self::run) with raw stdin bytes.
    #[track_caller]
    pub fn run_bytes(&mut self, args: &[&str], stdin: &[u8]) -> Step {
        self.exec(args, Some(stdin), Location::caller(), |_, _| {})
    }

    /// `etcdctl lease grant <ttl>` on both sides; each side's lease id becomes variables `$var`
    /// (hex, as etcdctl takes it) and `$var_DEC`, and is masked as `<LEASE:var>`.
    #[track_caller]
    pub fn grant_lease(&mut self, var: &str, ttl: u64) -> Step {
        self.grant_lease_with(var, &["lease", "grant", &ttl.to_string()])
    }

    /// Like [`grant_lease`](Self::grant_lease) with any args printing the granted id (e.g.
    /// `lease grant 60 -w json`).
    #[track_caller]
    pub fn grant_lease_with(&mut self, var: &str, args: &[&str]) -> Step {
        self.exec(args, None, Location::caller(), |side, raw| {
            let id = LEASE_GRANTED
                .captures(&raw.stdout)
                .and_then(|c| u64::from_str_radix(&c[1], 16).ok())
                .or_else(|| LEASE_ID.captures(&raw.stdout).and_then(|c| c[1].parse().ok()))
                .unwrap_or_else(|| panic!("{}: no lease id in `{args:?}`: {}{}", side.label, raw.stdout, raw.stderr));
            side.learn_id(var, id, &format!("<LEASE:{var}>"));
        })
    }

    /// `etcdctl member add ...` (simple output) on both sides; each side's new member id becomes
    /// variables `$var` (hex) and `$var_DEC`, and is masked as `<MEMBER:var>`.
    #[track_caller]
    pub fn add_member(&mut self, var: &str, args: &[&str]) -> Step {
        self.exec(args, None, Location::caller(), |side, raw| {
            let id = MEMBER_ADDED
                .captures(&raw.stdout)
                .and_then(|c| u64::from_str_radix(&c[1], 16).ok())
                .unwrap_or_else(|| panic!("{}: no member id in `{args:?}`: {}{}", side.label, raw.stdout, raw.stderr));
            side.learn_id(var, id, &format!("<MEMBER:{var}>"));
        })
    }

    fn exec(
        &mut self,
        args: &[&str],
        stdin: Option<&[u8]>,
        at: &'static Location<'static>,
        capture: impl Fn(&mut Side, &Output),
    ) -> Step {
        let step = self.exec_quiet(args, stdin, capture);
        self.compare(&format!("etcdctl {}", shell_words(args)), stdin, &step, at);
        step
    }

    /// Runs a step on both sides and normalizes it, without comparing.
    fn exec_quiet(&mut self, args: &[&str], stdin: Option<&[u8]>, capture: impl Fn(&mut Side, &Output)) -> Step {
        self.steps += 1;
        let raws: Vec<Output> = std::thread::scope(|scope| {
            let handles: Vec<_> = self
                .sides
                .iter()
                .map(|side| {
                    let ctl = side.ctl(stdin);
                    let side_args = side.args(args);
                    scope.spawn(move || ctl.run(&side_args.iter().map(String::as_str).collect::<Vec<_>>()))
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e))).collect()
        });
        for (side, raw) in self.sides.iter_mut().zip(&raws) {
            capture(side, raw);
        }
        Step { etcd: self.sides[0].normalized(&raws[0]), cairn: self.sides[1].normalized(&raws[1]) }
    }

    /// `curl -s -X POST -d <body> http://$ENDPOINT<path>` (the JSON gateway) on both sides and
    /// compares what curl printed. `$NAME` in `body` is replaced by each side's variable.
    #[track_caller]
    pub fn post(&mut self, path: &str, body: &str) -> Step {
        self.exec_post(path, body, Location::caller(), |_, _| {})
    }

    /// Like [`post`](Self::post) for a lease grant: the granted `"ID"` becomes variables `$var`
    /// (hex) and `$var_DEC` on each side, and is masked as `<LEASE:var>`.
    #[track_caller]
    pub fn post_lease(&mut self, var: &str, path: &str, body: &str) -> Step {
        self.exec_post(path, body, Location::caller(), |side, raw| {
            let id = GATEWAY_ID
                .captures(&raw.stdout)
                .and_then(|c| c[1].parse::<u64>().ok())
                .unwrap_or_else(|| panic!("{}: no lease id from {path}: {}{}", side.label, raw.stdout, raw.stderr));
            side.learn_id(var, id, &format!("<LEASE:{var}>"));
        })
    }

    /// A streaming gateway call (e.g. `/v3/watch`) on both sides, cut by curl's `--max-time`:
    /// starts it, waits 1.5 s, runs `during` (the writes it should see), waits for both curls to end
    /// and compares what they printed.
    #[track_caller]
    pub fn post_stream(
        &mut self,
        path: &str,
        body: &str,
        max_time: Duration,
        during: impl FnOnce(&mut Differ),
    ) -> Step {
        let at = Location::caller();
        let children: Vec<_> = self
            .sides
            .iter()
            .map(|side| crate::curl::spawn_post(&side.server.endpoint(), path, &side.substitute(body), Some(max_time)))
            .collect();
        std::thread::sleep(WATCH_SETUP);
        during(self);
        self.steps += 1;
        let raws: Vec<Output> = children.into_iter().map(crate::curl::finish).collect();
        let step = Step { etcd: self.sides[0].normalized(&raws[0]), cairn: self.sides[1].normalized(&raws[1]) };
        self.compare(&format!("curl -X POST {path} -d {body:?} (stream)"), None, &step, at);
        step
    }

    fn exec_post(
        &mut self,
        path: &str,
        body: &str,
        at: &'static Location<'static>,
        capture: impl Fn(&mut Side, &Output),
    ) -> Step {
        self.steps += 1;
        let raws: Vec<Output> = self
            .sides
            .iter()
            .map(|side| crate::curl::spawn_post(&side.server.endpoint(), path, &side.substitute(body), None))
            .collect::<Vec<_>>()
            .into_iter()
            .map(crate::curl::finish)
            .collect();
        for (side, raw) in self.sides.iter_mut().zip(&raws) {
            capture(side, raw);
        }
        let step = Step { etcd: self.sides[0].normalized(&raws[0]), cairn: self.sides[1].normalized(&raws[1]) };
        self.compare(&format!("curl -X POST {path} -d {body:?}"), None, &step, at);
        step
    }

    /// Starts `etcdctl <args>` (a watch) in the background on both sides.
    pub fn spawn_watch(&mut self, args: &[&str]) -> WatchPair {
        let procs = self
            .sides
            .iter()
            .map(|side| side.ctl(None).spawn(&side.args(args).iter().map(String::as_str).collect::<Vec<_>>()))
            .collect();
        WatchPair { command: format!("etcdctl {} (background)", shell_words(args)), procs }
    }

    /// Like [`spawn_watch`](Self::spawn_watch) for a watch whose events are still to be written
    /// (no `--rev`, or a future one), then waits 1.5 s so both watches exist before the writes.
    ///
    /// No server-agnostic signal tells when etcdctl's watch is created. Waiting matters: a watch
    /// created after the writes gets them from history, batched, with the header revision of the
    /// catch-up instead of each event's own.
    pub fn spawn_live_watch(&mut self, args: &[&str]) -> WatchPair {
        let pair = self.spawn_watch(args);
        std::thread::sleep(WATCH_SETUP);
        pair
    }

    /// Sends SIGTERM to both processes of a background pair (see [`Background::terminate`]).
    pub fn terminate(&mut self, pair: &WatchPair) {
        for process in &pair.procs {
            process.terminate();
        }
    }

    /// Collects a pair of background watches: waits until etcd's watch printed something and then
    /// went quiet for 500 ms (or exited), waits until cairn's printed as many lines, listens 300 ms
    /// more, kills both and compares what they printed. Every wait is bounded by 10 s.
    #[track_caller]
    pub fn collect_watch(&mut self, watch: WatchPair) -> Step {
        let at = Location::caller();
        self.steps += 1;
        let mut procs = watch.procs.into_iter();
        let (mut etcd, mut cairn) =
            (procs.next().expect("an etcd-side watch"), procs.next().expect("a cairn-side watch"));
        let lines = etcd.wait_until_quiet(WATCH_QUIET, WATCH_TIMEOUT);
        cairn.wait_for_lines(lines, WATCH_TIMEOUT);
        std::thread::sleep(WATCH_GRACE);
        etcd.stop();
        cairn.stop();
        let raws = [etcd.finish(), cairn.finish()];
        let step = Step { etcd: self.sides[0].normalized(&raws[0]), cairn: self.sides[1].normalized(&raws[1]) };
        self.compare(&watch.command, None, &step, at);
        step
    }

    fn compare(&mut self, command: &str, stdin: Option<&[u8]>, step: &Step, at: &Location<'_>) {
        let (e, c) = (&step.etcd, &step.cairn);
        if std::env::var_os("CAIRN_DIFF_SHOW").is_some() {
            eprintln!(
                "--- step {} at {}:{}: {command} -> exit {:?}\n{}{}",
                self.steps,
                at.file(),
                at.line(),
                e.status,
                indent(&e.stdout),
                indent(&e.stderr)
            );
        }
        if e == c {
            return;
        }
        let (el, cl) = (self.sides[0].label, self.sides[1].label);
        let mut report = format!("step {} at {}:{}: {command}\n", self.steps, at.file(), at.line());
        if let Some(input) = stdin {
            let text = String::from_utf8_lossy(input);
            let shown: String = text.chars().take(400).collect();
            let more = if text.chars().count() > 400 { format!("... ({} bytes)", input.len()) } else { String::new() };
            report.push_str(&format!("  stdin:\n{}{more}\n", indent(&shown)));
        }
        if (e.status, e.timed_out) != (c.status, c.timed_out) {
            report.push_str(&format!(
                "  exit: {el} {:?}{} vs {cl} {:?}{}\n",
                e.status,
                if e.timed_out { " (timed out)" } else { "" },
                c.status,
                if c.timed_out { " (timed out)" } else { "" }
            ));
        }
        for (name, left, right) in [("stdout", &e.stdout, &c.stdout), ("stderr", &e.stderr, &c.stderr)] {
            if left == right {
                report.push_str(&format!("  {name}: same{}\n", if left.is_empty() { " (empty)" } else { "" }));
            } else {
                report.push_str(&format!("  {name} (- {el}, + {cl}):\n{}", indent(&line_diff(left, right))));
            }
        }
        let side = &mut self.sides[1];
        if !side.server.is_running() {
            report
                .push_str(&format!("  {cl} server is not running; log tail:\n{}\n", indent(&side.server.log_tail(30))));
        }
        self.mismatches.push(report);
    }

    /// Panics with every recorded difference, if any. Call at the end of each test.
    pub fn finish(mut self) {
        self.finished = true;
        if !self.mismatches.is_empty() {
            panic!(
                "{} of {} etcdctl steps differ between {} and {}:\n\n{}",
                self.mismatches.len(),
                self.steps,
                self.sides[0].label,
                self.sides[1].label,
                self.mismatches.join("\n")
            );
        }
    }
}

impl Drop for Differ {
    fn drop(&mut self) {
        if !self.finished && !std::thread::panicking() {
            panic!("Differ dropped without finish(): {} recorded differences would be lost", self.mismatches.len());
        }
    }
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("    {l}\n")).collect()
}

fn shell_words(args: &[&str]) -> String {
    args.iter()
        .map(|a| {
            if !a.is_empty() && a.chars().all(|c| c.is_ascii_alphanumeric() || "-_=./:$".contains(c)) {
                (*a).to_owned()
            } else {
                format!("{a:?}")
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}
