//! The results of one measured phase and etcd's `pkg/report` rendering of
//! them: the summary, the response time histogram, the latency distribution
//! and the error distribution; plus the same numbers as JSON for machines.
//! Pure: no clock and no I/O, so it is tested on made-up latencies.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

/// The percentiles etcd prints, and 99.99 for long runs.
const PERCENTILES: [f64; 9] = [10.0, 25.0, 50.0, 75.0, 90.0, 95.0, 99.0, 99.9, 99.99];
/// Buckets of the response time histogram (etcd draws 10 plus the slowest).
const BUCKETS: usize = 10;
/// Width of the longest histogram bar.
const BAR_WIDTH: usize = 40;

/// What the workers of one phase measured.
#[derive(Debug, Default, Clone)]
pub struct Recorder {
    latencies: Vec<Duration>,
    errors: BTreeMap<String, u64>,
}

impl Recorder {
    /// Records a request that succeeded after `latency`.
    pub fn ok(&mut self, latency: Duration) {
        self.latencies.push(latency);
    }

    /// Records a failed request, grouped by its error text as etcd does.
    pub fn error(&mut self, error: impl std::fmt::Display) {
        *self.errors.entry(error.to_string()).or_default() += 1;
    }

    /// Records `result`, timed from `latency`.
    pub fn record<T, E: std::fmt::Display>(&mut self, latency: Duration, result: &Result<T, E>) {
        match result {
            Ok(_) => self.ok(latency),
            Err(e) => self.error(e),
        }
    }

    /// Adds what another worker recorded.
    pub fn merge(&mut self, other: Recorder) {
        self.latencies.extend(other.latencies);
        for (error, n) in other.errors {
            *self.errors.entry(error).or_default() += n;
        }
    }

    /// Requests recorded so far, failed ones included.
    pub fn len(&self) -> u64 {
        self.latencies.len() as u64 + self.errors.values().sum::<u64>()
    }

    /// The finished report of a phase that took `elapsed` in all.
    pub fn finish(mut self, name: &str, elapsed: Duration) -> Report {
        self.latencies.sort_unstable();
        let lats: Vec<f64> = self.latencies.iter().map(Duration::as_secs_f64).collect();
        let n = lats.len();
        let average = if n == 0 { 0.0 } else { lats.iter().sum::<f64>() / n as f64 };
        let variance = if n == 0 { 0.0 } else { lats.iter().map(|l| (l - average).powi(2)).sum::<f64>() / n as f64 };
        Report {
            name: name.to_string(),
            total: elapsed.as_secs_f64(),
            fastest: lats.first().copied().unwrap_or(0.0),
            slowest: lats.last().copied().unwrap_or(0.0),
            average,
            stddev: variance.sqrt(),
            rps: if elapsed.is_zero() { 0.0 } else { n as f64 / elapsed.as_secs_f64() },
            percentiles: PERCENTILES.iter().map(|p| (*p, percentile(&lats, *p))).collect(),
            histogram: histogram(&lats),
            errors: self.errors,
            count: n as u64,
        }
    }
}

/// One phase's numbers, in seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// What was measured, e.g. `put` or `Watch creation summary`.
    pub name: String,
    /// Requests that succeeded.
    pub count: u64,
    /// Wall time of the whole phase.
    pub total: f64,
    /// Slowest request.
    pub slowest: f64,
    /// Fastest request.
    pub fastest: f64,
    /// Mean latency.
    pub average: f64,
    /// Standard deviation of the latencies.
    pub stddev: f64,
    /// Successful requests per second of wall time.
    pub rps: f64,
    /// `(percent, latency)` pairs.
    pub percentiles: Vec<(f64, f64)>,
    /// `(bucket upper mark, requests)` pairs.
    pub histogram: Vec<(f64, u64)>,
    /// Failed requests by error text.
    pub errors: BTreeMap<String, u64>,
}

/// The latency at `p` percent of sorted `lats`, as etcd picks it.
fn percentile(lats: &[f64], p: f64) -> f64 {
    if lats.is_empty() {
        return 0.0;
    }
    let at = (p * (lats.len() + 1) as f64 / 100.0).ceil() as usize;
    lats[at.saturating_sub(1).min(lats.len() - 1)]
}

/// etcd's histogram: ten equal buckets from the fastest, then the slowest;
/// each request counts in the first bucket whose mark is not below it.
fn histogram(lats: &[f64]) -> Vec<(f64, u64)> {
    let (Some(fastest), Some(slowest)) = (lats.first(), lats.last()) else {
        return Vec::new();
    };
    let step = (slowest - fastest) / BUCKETS as f64;
    let mut marks: Vec<f64> = (0..BUCKETS).map(|i| fastest + step * i as f64).collect();
    marks.push(*slowest);
    let mut counts = vec![0u64; marks.len()];
    let mut bucket = 0;
    for lat in lats {
        while *lat > marks[bucket] && bucket < marks.len() - 1 {
            bucket += 1;
        }
        counts[bucket] += 1;
    }
    marks.into_iter().zip(counts).collect()
}

impl Report {
    /// etcd's text report. `precise` prints full precision (`--precise`).
    pub fn text(&self, precise: bool) -> String {
        let num = |v: f64| if precise { format!("{v}") } else { format!("{v:4.4}") };
        let mut s = String::new();
        if self.count > 0 {
            let _ = writeln!(s, "\nSummary:");
            let _ = writeln!(s, "  Total:\t{} secs.", num(self.total));
            let _ = writeln!(s, "  Slowest:\t{} secs.", num(self.slowest));
            let _ = writeln!(s, "  Fastest:\t{} secs.", num(self.fastest));
            let _ = writeln!(s, "  Average:\t{} secs.", num(self.average));
            let _ = writeln!(s, "  Stddev:\t{} secs.", num(self.stddev));
            let _ = writeln!(s, "  Requests/sec:\t{}", num(self.rps));
            let _ = writeln!(s, "\nResponse time histogram:");
            let most = self.histogram.iter().map(|(_, n)| *n).max().unwrap_or(0).max(1);
            for (mark, n) in &self.histogram {
                let bar = "∎".repeat((*n as usize * BAR_WIDTH) / most as usize);
                let _ = writeln!(s, "  {} [{n}]\t|{bar}", num(*mark));
            }
            let _ = writeln!(s, "\nLatency distribution:");
            for (p, lat) in &self.percentiles {
                if *lat > 0.0 {
                    let _ = writeln!(s, "  {p}% in {} secs.", num(*lat));
                }
            }
        }
        if !self.errors.is_empty() {
            let _ = writeln!(s, "\nError distribution:");
            for (error, n) in &self.errors {
                let _ = writeln!(s, "  [{n}]\t{error}");
            }
        }
        s
    }

    /// The latency at `p` percent (one of the printed percentiles).
    pub fn at(&self, p: f64) -> f64 {
        self.percentiles.iter().find(|(q, _)| *q == p).map(|(_, l)| *l).unwrap_or(0.0)
    }

    /// The report as one JSON object; every number in seconds.
    pub fn json(&self) -> String {
        let mut s = String::from("{");
        let _ = write!(
            s,
            "\"name\":{},\"count\":{},\"errors\":{},\"total_secs\":{},\"slowest_secs\":{},\"fastest_secs\":{},\
             \"average_secs\":{},\"stddev_secs\":{},\"requests_per_sec\":{},\"p50_secs\":{},\"p99_secs\":{},",
            json_string(&self.name),
            self.count,
            self.errors.values().sum::<u64>(),
            json_number(self.total),
            json_number(self.slowest),
            json_number(self.fastest),
            json_number(self.average),
            json_number(self.stddev),
            json_number(self.rps),
            json_number(self.at(50.0)),
            json_number(self.at(99.0)),
        );
        let percentiles: Vec<String> = self
            .percentiles
            .iter()
            .map(|(p, l)| format!("{{\"percent\":{},\"secs\":{}}}", json_number(*p), json_number(*l)))
            .collect();
        let histogram: Vec<String> = self
            .histogram
            .iter()
            .map(|(m, n)| format!("{{\"mark_secs\":{},\"count\":{n}}}", json_number(*m)))
            .collect();
        let errors: Vec<String> = self.errors.iter().map(|(e, n)| format!("{}:{n}", json_string(e))).collect();
        let _ = write!(
            s,
            "\"percentiles\":[{}],\"histogram\":[{}],\"error_distribution\":{{{}}}}}",
            percentiles.join(","),
            histogram.join(","),
            errors.join(",")
        );
        s
    }
}

/// Reports of one run as a JSON document: `{"workload": .., "reports": [..]}`.
pub fn json_document(workload: &str, reports: &[Report]) -> String {
    let reports: Vec<String> = reports.iter().map(Report::json).collect();
    format!("{{\"workload\":{},\"reports\":[{}]}}", json_string(workload), reports.join(","))
}

fn json_number(v: f64) -> String {
    if v.is_finite() { format!("{v}") } else { "0".to_string() }
}

fn json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    fn report_of(millis: &[u64]) -> Report {
        let mut r = Recorder::default();
        for m in millis {
            r.ok(ms(*m));
        }
        r.finish("put", Duration::from_secs(2))
    }

    #[test]
    fn summary_numbers() {
        let r = report_of(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
        assert_eq!(r.count, 10);
        assert!((r.fastest - 0.001).abs() < 1e-12);
        assert!((r.slowest - 0.010).abs() < 1e-12);
        assert!((r.average - 0.0055).abs() < 1e-12);
        assert!((r.rps - 5.0).abs() < 1e-12);
        assert!((r.stddev - 0.002_872_281).abs() < 1e-6);
    }

    #[test]
    fn percentiles_follow_etcd() {
        let lats: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&lats, 10.0), 11.0);
        assert_eq!(percentile(&lats, 50.0), 51.0);
        assert_eq!(percentile(&lats, 99.0), 100.0);
        assert_eq!(percentile(&lats, 99.99), 100.0);
        assert_eq!(percentile(&[], 50.0), 0.0);
        assert_eq!(percentile(&[7.0], 10.0), 7.0);
    }

    #[test]
    fn histogram_counts_every_request_once() {
        let r = report_of(&[1, 1, 2, 5, 10, 10, 10]);
        assert_eq!(r.histogram.len(), BUCKETS + 1);
        assert_eq!(r.histogram.iter().map(|(_, n)| n).sum::<u64>(), 7);
        assert_eq!(r.histogram[0].1, 2);
        assert_eq!(r.histogram[BUCKETS].1, 3);
    }

    #[test]
    fn text_has_etcds_sections() {
        let mut rec = Recorder::default();
        rec.ok(ms(3));
        rec.error("etcdserver: too many requests");
        let text = rec.finish("put", ms(10)).text(false);
        assert!(text.contains("\nSummary:\n  Total:\t0.0100 secs.\n"));
        assert!(text.contains("  Requests/sec:\t100.0000\n"));
        assert!(text.contains("\nResponse time histogram:\n  0.0030 [1]\t|"));
        assert!(text.contains("\nLatency distribution:\n  10% in 0.0030 secs.\n"));
        assert!(text.contains("  99.99% in 0.0030 secs.\n"));
        assert!(text.contains("\nError distribution:\n  [1]\tetcdserver: too many requests\n"));
    }

    #[test]
    fn json_is_flat_where_machines_read_it() {
        let json = json_document("put", &[report_of(&[1, 2, 3])]);
        assert!(json.starts_with("{\"workload\":\"put\",\"reports\":[{\"name\":\"put\",\"count\":3,\"errors\":0,"));
        assert!(json.contains("\"p50_secs\":0.002,"));
        assert!(json.ends_with("\"error_distribution\":{}}]}"));
        assert_eq!(json_string("a\"b\n"), "\"a\\\"b\\u000a\"");
    }

    #[test]
    fn empty_run_prints_nothing_but_errors() {
        let mut rec = Recorder::default();
        rec.error("connection refused");
        rec.error("connection refused");
        let r = rec.finish("put", ms(5));
        assert_eq!(r.count, 0);
        assert_eq!(r.text(false), "\nError distribution:\n  [2]\tconnection refused\n");
    }
}
