//! The chart, written by hand as SVG: for each cluster size, throughput and
//! p99 latency as grouped bars.

use std::fmt::Write as _;

use super::results::{Cell, Measured, Results};
use super::table::{millis, thousands};

/// Bar colours, one per system.
const COLOURS: &[&str] = &["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#b07aa1"];

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// One panel of grouped bars: a group per row, a bar per system, each group
/// scaled to its own largest value (the workloads differ by orders of
/// magnitude), the value written on each bar.
fn panel(
    s: &mut String,
    y0: f64,
    title: &str,
    results: &Results,
    value: fn(&Measured) -> f64,
    unit: fn(f64) -> String,
) {
    let (bar, gap, group_gap, height) = (16.0, 2.0, 24.0, 170.0);
    let n = results.systems.len().max(1) as f64;
    let group_width = n * (bar + gap) + group_gap;
    let x0 = 60.0;
    let _ =
        writeln!(s, r#"<text x="{x0}" y="{}" font-size="15" font-weight="bold">{}</text>"#, y0 + 18.0, escape(title));
    // Room above the tallest bar for its rotated value.
    let base = y0 + 80.0 + height;
    let _ = writeln!(
        s,
        r##"<line x1="{x0}" y1="{base}" x2="{}" y2="{base}" stroke="#444"/>"##,
        x0 + group_width * results.rows.len() as f64
    );
    for (g, (label, cells)) in results.rows.iter().enumerate() {
        let values: Vec<Option<f64>> = results
            .systems
            .iter()
            .map(|system| match cells.get(system) {
                Some(Cell::Measured(m)) if m.count > 0 => Some(value(m)),
                _ => None,
            })
            .collect();
        let max = values.iter().flatten().copied().fold(0.0_f64, f64::max);
        let gx = x0 + g as f64 * group_width + group_gap / 2.0;
        for (i, v) in values.iter().enumerate() {
            let x = gx + i as f64 * (bar + gap);
            let colour = COLOURS[i % COLOURS.len()];
            match v {
                Some(v) => {
                    let h = if max > 0.0 { (v / max * height).max(1.0) } else { 1.0 };
                    let _ = writeln!(
                        s,
                        r#"<rect x="{x:.1}" y="{:.1}" width="{bar}" height="{h:.1}" fill="{colour}"><title>{}: {}</title></rect>"#,
                        base - h,
                        escape(&results.systems[i]),
                        unit(*v)
                    );
                    let (tx, ty) = (x + bar / 2.0 + 4.0, base - h - 4.0);
                    let _ = writeln!(
                        s,
                        r#"<text x="{tx:.1}" y="{ty:.1}" font-size="10" transform="rotate(-90 {tx:.1} {ty:.1})">{}</text>"#,
                        unit(*v)
                    );
                }
                None => {
                    let (tx, ty) = (x + bar / 2.0 + 4.0, base - 4.0);
                    let _ = writeln!(
                        s,
                        r##"<text x="{tx:.1}" y="{ty:.1}" font-size="10" fill="#c00" transform="rotate(-90 {tx:.1} {ty:.1})">n/a</text>"##
                    );
                }
            }
        }
        let lx = gx + (group_width - group_gap) / 2.0;
        let ly = base + 12.0;
        let _ = writeln!(
            s,
            r#"<text x="{lx:.1}" y="{ly:.1}" font-size="11" text-anchor="end" transform="rotate(-35 {lx:.1} {ly:.1})">{}</text>"#,
            escape(label)
        );
    }
}

/// The chart: for each topology, throughput and p99 as grouped bars.
pub fn svg(all: &[Results]) -> String {
    let rows = all.iter().map(|r| r.rows.len()).max().unwrap_or(1) as f64;
    let systems = all.iter().map(|r| r.systems.len()).max().unwrap_or(1) as f64;
    let width = 60.0 + rows * (systems * 18.0 + 24.0) + 40.0;
    let panel_height = 360.0;
    let height = 70.0 + panel_height * 2.0 * all.len() as f64;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" font-family="sans-serif">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="20" y="24" font-size="18" font-weight="bold">cairn engines vs etcd: cargo xtask bench-compare</text>"#
    );
    let _ = writeln!(
        s,
        r#"<text x="20" y="44" font-size="12">Each group is scaled to its own largest bar; the number on a bar is the value. Throughput: higher is better. p99: lower is better.</text>"#
    );
    if let Some(first) = all.first() {
        for (i, system) in first.systems.iter().enumerate() {
            let x = 20.0 + i as f64 * 150.0;
            let _ = writeln!(
                s,
                r#"<rect x="{x}" y="54" width="12" height="12" fill="{}"/><text x="{}" y="65" font-size="12">{}</text>"#,
                COLOURS[i % COLOURS.len()],
                x + 16.0,
                escape(system)
            );
        }
    }
    for (t, results) in all.iter().enumerate() {
        let members =
            if results.members == 1 { "1 member".to_string() } else { format!("{} members", results.members) };
        let y = 70.0 + t as f64 * 2.0 * panel_height;
        panel(&mut s, y, &format!("Throughput (req/s), {members}"), results, |m| m.rps, thousands);
        panel(&mut s, y + panel_height, &format!("p99 latency (ms), {members}"), results, |m| m.p99, millis);
    }
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::super::results::tests::sample;
    use super::*;

    #[test]
    fn chart_is_an_svg_with_a_bar_per_measurement() {
        let chart = svg(&[sample()]);
        assert!(chart.starts_with("<svg") && chart.ends_with("</svg>\n"));
        // Two panels (throughput and p99), two measured bars each.
        assert_eq!(chart.matches("<rect x=").count() - 3, 4, "legend squares aside");
        assert_eq!(chart.matches(">n/a<").count(), 2 * 4, "per panel: sled twice, stm for lmdb and etcd");
        assert!(chart.contains("12,346"));
    }
}
