//! `curl` against the JSON gateway (`POST /v3/...`) and other HTTP endpoints, with a bounded
//! lifetime.

use std::process::{Child, Command, Stdio};
use std::sync::LazyLock;
use std::time::Duration;

use regex::Regex;

use crate::etcdctl::Output;

/// curl's `--max-time` message counts milliseconds and bytes (ids differ in length): cut.
static TIMED_OUT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"Operation timed out after \d+ milliseconds with \d+ bytes received")
        .expect("a valid curl timeout regex")
});

/// How long one curl request may take (curl's own `--max-time`).
const DEFAULT_MAX_TIME: Duration = Duration::from_secs(30);

/// Starts `curl -s -S -X POST -d <body> --max-time <max_time> http://<endpoint><path>`.
pub fn spawn_post(endpoint: &str, path: &str, body: &str, max_time: Option<Duration>) -> Child {
    let max_time = max_time.unwrap_or(DEFAULT_MAX_TIME);
    Command::new("curl")
        .args(["-s", "-S", "-N", "-X", "POST", "--max-time", &format!("{:.1}", max_time.as_secs_f64())])
        .args(["-d", body])
        .arg(format!("http://{endpoint}{path}"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawning curl {path}: {e}"))
}

/// Starts `curl -s -S -i -N -X <method> [-d <form>] --max-time <max_time> <url>` (a form body
/// is sent as `application/x-www-form-urlencoded`, as curl does).
pub fn spawn(method: &str, url: &str, form: Option<&str>, max_time: Option<Duration>) -> Child {
    let max_time = max_time.unwrap_or(DEFAULT_MAX_TIME);
    let mut cmd = Command::new("curl");
    cmd.args(["-s", "-S", "-i", "-N", "--max-time", &format!("{:.1}", max_time.as_secs_f64())]);
    // `-X HEAD` would wait for the body the headers announce; `-I` is curl's HEAD.
    if method == "HEAD" {
        cmd.arg("-I");
    } else {
        cmd.args(["-X", method]);
    }
    if let Some(form) = form {
        cmd.args(["-d", form]);
    }
    cmd.arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawning curl {url}: {e}"))
}

/// Like [`finish`] for a curl started by [`spawn`] (with `-i`): the response headers are put in
/// a canonical form, since HTTP does not order them nor care for their case: names lowercased,
/// sorted, `Date` and `Transfer-Encoding` dropped.
pub fn finish_http(child: Child) -> Output {
    let mut out = finish(child);
    out.stdout = canonical_response(&out.stdout);
    out
}

fn canonical_response(text: &str) -> String {
    let text = text.replace("\r\n", "\n");
    let (head, body) = match text.split_once("\n\n") {
        Some((head, body)) => (head, body),
        None => (text.as_str(), ""),
    };
    let mut lines = head.lines();
    let status = lines.next().unwrap_or_default();
    let mut headers: Vec<String> = lines
        .filter_map(|line| {
            let (name, value) = line.split_once(':')?;
            let name = name.trim().to_ascii_lowercase();
            (name != "date" && name != "transfer-encoding").then(|| format!("{name}: {}", value.trim()))
        })
        .collect();
    headers.sort();
    format!("{status}\n{}\n\n{body}", headers.join("\n"))
}

/// Waits for a curl started by [`spawn_post`] (bounded by its `--max-time`) and returns what it
/// printed; a run ended by `--max-time` exits 28 (its message without the time and byte count).
pub fn finish(child: Child) -> Output {
    let out = child.wait_with_output().unwrap_or_else(|e| panic!("waiting for curl: {e}"));
    Output {
        status: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: TIMED_OUT.replace_all(&String::from_utf8_lossy(&out.stderr), "Operation timed out").into_owned(),
        timed_out: false,
    }
}
