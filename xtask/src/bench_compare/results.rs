//! What the runs measured: `cairn-bench --output json` read back, filed by
//! workload and system.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Result;

/// The numbers of one report of a `cairn-bench --output json` run.
#[derive(Debug, Clone, PartialEq)]
pub struct Measured {
    /// The report's name, e.g. `put`, or `events` of `watch`.
    pub name: String,
    /// Requests that succeeded.
    pub count: u64,
    /// Requests that failed.
    pub errors: u64,
    /// Successful requests per second of the whole run.
    pub rps: f64,
    /// Median latency, seconds.
    pub p50: f64,
    /// 99th-percentile latency, seconds.
    pub p99: f64,
}

/// The value after `"key":` in `text`, up to the next `,` `}` or `]`.
fn field<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    let at = text.find(&format!("\"{key}\":"))? + key.len() + 3;
    let rest = &text[at..];
    match rest.strip_prefix('"') {
        Some(quoted) => quoted.find('"').map(|end| &quoted[..end]),
        None => Some(&rest[..rest.find([',', '}', ']']).unwrap_or(rest.len())]),
    }
}

/// Reads the reports of a `cairn-bench --output json` document. Its flat
/// fields come before each report's arrays, so the first match after a
/// report's `"name"` is that report's.
pub fn parse_reports(json: &str) -> Vec<Measured> {
    json.split("{\"name\":")
        .skip(1)
        .filter_map(|chunk| {
            let chunk = format!("{{\"name\":{chunk}");
            let num = |key: &str| field(&chunk, key).and_then(|v| v.parse::<f64>().ok());
            Some(Measured {
                name: field(&chunk, "name")?.to_string(),
                count: num("count")? as u64,
                errors: num("errors")? as u64,
                rps: num("requests_per_sec")?,
                p50: num("p50_secs")?,
                p99: num("p99_secs")?,
            })
        })
        .collect()
}

/// One cell of the table: what a system measured, or why it did not.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// The run's numbers.
    Measured(Measured),
    /// Why there are none: `failed`, `timed out`, ...
    Failed(String),
}

/// The results of one topology.
#[derive(Debug, Clone, Default)]
pub struct Results {
    /// Members per system.
    pub members: usize,
    /// The systems compared, in column order.
    pub systems: Vec<String>,
    /// Row label to one cell per system.
    pub rows: Vec<(String, BTreeMap<String, Cell>)>,
    /// Peak RSS of each system's largest member, KiB.
    pub rss_kib: BTreeMap<String, u64>,
    /// Systems that never served a request.
    pub not_started: BTreeSet<String>,
}

impl Results {
    /// Sets the cell of `system` in the row labelled `row`, adding the row if new.
    pub fn put(&mut self, row: String, system: &str, cell: Cell) {
        if let Some((_, cells)) = self.rows.iter_mut().find(|(label, _)| *label == row) {
            cells.insert(system.to_string(), cell);
        } else {
            self.rows.push((row, BTreeMap::from([(system.to_string(), cell)])));
        }
    }

    /// Files what `cairn-bench` reported for `label` on `system`: one row, or a
    /// row per report when the workload has several (`watch create`, `watch events`).
    pub fn record(&mut self, label: &str, system: &str, outcome: Result<Vec<Measured>>) {
        match outcome {
            Ok(reports) if reports.len() == 1 => {
                let mut reports = reports;
                let only = reports.remove(0);
                self.put(label.to_string(), system, Cell::Measured(only));
            }
            Ok(reports) if !reports.is_empty() => {
                for report in reports {
                    self.put(format!("{label} {}", report.name), system, Cell::Measured(report));
                }
            }
            Ok(_) => self.put(label.to_string(), system, Cell::Failed("no report".into())),
            Err(e) => {
                let reason = format!("{e:#}");
                let short = if reason.contains("timed out") { "timed out" } else { "failed" };
                self.put(label.to_string(), system, Cell::Failed(short.into()));
            }
        }
    }
}

#[cfg(test)]
pub mod tests {
    use super::*;

    #[test]
    fn reads_cairn_bench_json() {
        let json = r#"{"workload":"watch","reports":[{"name":"create","count":100,"errors":0,"total_secs":0.1,"slowest_secs":0.01,"fastest_secs":0.001,"average_secs":0.002,"stddev_secs":0.001,"requests_per_sec":1000.5,"p50_secs":0.002,"p99_secs":0.009,"percentiles":[{"percent":10,"secs":0.001}],"histogram":[{"mark_secs":0.001,"count":3}],"error_distribution":{}},{"name":"events","count":5,"errors":2,"total_secs":1,"slowest_secs":1,"fastest_secs":1,"average_secs":1,"stddev_secs":0,"requests_per_sec":5,"p50_secs":1,"p99_secs":1,"percentiles":[],"histogram":[],"error_distribution":{"boom":2}}]}"#;
        let reports = parse_reports(json);
        assert_eq!(reports.len(), 2);
        assert_eq!(
            reports[0],
            Measured { name: "create".into(), count: 100, errors: 0, rps: 1000.5, p50: 0.002, p99: 0.009 }
        );
        assert_eq!((reports[1].name.as_str(), reports[1].errors), ("events", 2));
        assert!(parse_reports("not json").is_empty());
    }

    /// Two systems measured, a third that never started.
    pub fn sample() -> Results {
        let m = |rps: f64, p99: f64| Measured { name: "put".into(), count: 10, errors: 0, rps, p50: p99 / 2.0, p99 };
        let systems = vec!["cairn-lmdb".into(), "etcd-3.4.23".into(), "cairn-sled".into()];
        let mut r = Results { members: 1, systems, ..Default::default() };
        r.not_started.insert("cairn-sled".into());
        r.record("put", "cairn-lmdb", Ok(vec![m(12345.6, 0.0123)]));
        r.record("put", "etcd-3.4.23", Ok(vec![m(2000.0, 0.2)]));
        r.record("stm", "cairn-lmdb", Err(anyhow::anyhow!("cairn-bench stm timed out after 1s")));
        r.rss_kib.insert("cairn-lmdb".into(), 40 * 1024);
        r
    }
}
