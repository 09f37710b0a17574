//! The side-by-side markdown table.

use std::fmt::Write as _;

use super::results::{Cell, Measured, Results};

/// `1234567.4` as `1,234,567`.
pub fn thousands(v: f64) -> String {
    let n = v.round() as u64;
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Seconds as milliseconds, with three significant digits or so.
pub fn millis(secs: f64) -> String {
    let ms = secs * 1000.0;
    if ms >= 100.0 {
        format!("{ms:.0}")
    } else if ms >= 10.0 {
        format!("{ms:.1}")
    } else {
        format!("{ms:.2}")
    }
}

/// How a table row shows a measurement.
type Show = fn(&Measured) -> String;

/// The side-by-side markdown table of one topology.
pub fn markdown(results: &Results) -> String {
    let mut s = String::new();
    let members = if results.members == 1 { "1 member".to_string() } else { format!("{} members", results.members) };
    let _ = writeln!(s, "### {members}\n");
    let _ = writeln!(s, "| workload | metric | {} |", results.systems.join(" | "));
    let _ = writeln!(s, "|---|---|{}", "---:|".repeat(results.systems.len()));
    for (label, cells) in &results.rows {
        let metrics: [(&str, Show); 3] = [
            ("req/s", |m| {
                if m.errors > 0 { format!("{} ({} errors)", thousands(m.rps), m.errors) } else { thousands(m.rps) }
            }),
            ("p50 ms", |m| millis(m.p50)),
            ("p99 ms", |m| millis(m.p99)),
        ];
        for (i, (metric, show)) in metrics.iter().enumerate() {
            let values: Vec<String> = results
                .systems
                .iter()
                .map(|system| match cells.get(system) {
                    Some(Cell::Measured(m)) => show(m),
                    Some(Cell::Failed(why)) if i == 0 => why.clone(),
                    None if i == 0 && results.not_started.contains(system) => "did not start".to_string(),
                    _ => "–".to_string(),
                })
                .collect();
            let row = if i == 0 { label.as_str() } else { "" };
            let _ = writeln!(s, "| {row} | {metric} | {} |", values.join(" | "));
        }
    }
    let rss: Vec<String> = results
        .systems
        .iter()
        .map(|system| {
            results.rss_kib.get(system).map_or("–".to_string(), |kib| format!("{:.0}", *kib as f64 / 1024.0))
        })
        .collect();
    let _ = writeln!(s, "| peak RSS (largest member) | MiB | {} |", rss.join(" | "));
    s
}

#[cfg(test)]
mod tests {
    use super::super::results::tests::sample;
    use super::*;

    #[test]
    fn table_is_side_by_side() {
        let md = markdown(&sample());
        assert!(md.contains("| workload | metric | cairn-lmdb | etcd-3.4.23 | cairn-sled |"));
        assert!(md.contains("| put | req/s | 12,346 | 2,000 | did not start |"));
        assert!(md.contains("|  | p99 ms | 12.3 | 200 | – |"));
        assert!(md.contains("| stm | req/s | timed out | – | did not start |"));
        assert!(md.contains("| peak RSS (largest member) | MiB | 40 | – | – |"));
    }

    #[test]
    fn numbers_read_well() {
        assert_eq!(thousands(1234567.4), "1,234,567");
        assert_eq!(thousands(999.0), "999");
        assert_eq!(millis(0.000_123), "0.12");
        assert_eq!(millis(0.0456), "45.6");
        assert_eq!(millis(0.5), "500");
    }
}
