//! A parser of Prometheus' text exposition format (0.0.4), strict enough to tell a valid
//! `/metrics` page from an invalid one: `# HELP` / `# TYPE` lines, samples `name{labels} value`,
//! label value escapes, one `# TYPE` per family before its samples, and for histograms
//! cumulative buckets ending in `+Inf` equal to `_count`.

use std::collections::BTreeMap;

/// One sample: metric name, labels (sorted), value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The sample's name (`x_bucket` for a histogram bucket).
    pub name: String,
    /// Its labels.
    pub labels: BTreeMap<String, String>,
    /// Its value.
    pub value: f64,
}

/// A parsed page: the families' types and every sample.
#[derive(Debug, Default)]
pub struct Page {
    /// Family name -> type (`counter`, `gauge`, `histogram`, `summary`, `untyped`).
    pub types: BTreeMap<String, String>,
    /// Every sample, in order.
    pub samples: Vec<Sample>,
}

impl Page {
    /// The sum of the samples named `name` whose labels include every pair of `labels`.
    pub fn sum(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.samples
            .iter()
            .filter(|s| s.name == name && labels.iter().all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v)))
            .map(|s| s.value)
            .sum()
    }

    /// Whether a sample named `name` exists.
    pub fn has(&self, name: &str) -> bool {
        self.samples.iter().any(|s| s.name == name)
    }
}

fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn family_of<'a>(name: &'a str, types: &BTreeMap<String, String>) -> &'a str {
    for suffix in ["_bucket", "_sum", "_count"] {
        if let Some(base) = name.strip_suffix(suffix)
            && types.get(base).is_some_and(|t| t == "histogram" || t == "summary")
        {
            return base;
        }
    }
    name
}

fn parse_value(v: &str) -> Option<f64> {
    match v {
        "+Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        "NaN" => Some(f64::NAN),
        _ => v.parse().ok(),
    }
}

fn parse_labels(text: &str, line: usize) -> Result<BTreeMap<String, String>, String> {
    let mut labels = BTreeMap::new();
    let mut rest = text;
    while !rest.is_empty() {
        let eq = rest.find('=').ok_or(format!("line {line}: a label without '='"))?;
        let name = rest[..eq].trim();
        if !is_name(name) {
            return Err(format!("line {line}: bad label name {name:?}"));
        }
        rest = rest[eq + 1..].strip_prefix('"').ok_or(format!("line {line}: label value not quoted"))?;
        let mut value = String::new();
        let mut chars = rest.char_indices();
        let end = loop {
            match chars.next() {
                Some((i, '"')) => break i,
                Some((_, '\\')) => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, '\\')) => value.push('\\'),
                    Some((_, '"')) => value.push('"'),
                    other => return Err(format!("line {line}: bad escape {other:?}")),
                },
                Some((_, c)) => value.push(c),
                None => return Err(format!("line {line}: unterminated label value")),
            }
        };
        if labels.insert(name.to_owned(), value).is_some() {
            return Err(format!("line {line}: label {name} twice"));
        }
        rest = rest[end + 1..].trim_start();
        rest = rest.strip_prefix(',').unwrap_or(rest).trim_start();
    }
    Ok(labels)
}

/// Parses `text`, or says what is wrong with it and where.
pub fn parse(text: &str) -> Result<Page, String> {
    let mut page = Page::default();
    let mut seen_samples: BTreeMap<String, usize> = BTreeMap::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        if raw.trim().is_empty() {
            continue;
        }
        if let Some(comment) = raw.strip_prefix('#') {
            let mut words = comment.trim_start().splitn(3, ' ');
            match words.next() {
                Some("TYPE") => {
                    let name = words.next().ok_or(format!("line {line}: TYPE without a name"))?;
                    let kind = words.next().ok_or(format!("line {line}: TYPE without a type"))?.trim();
                    if !["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind) {
                        return Err(format!("line {line}: unknown type {kind}"));
                    }
                    if seen_samples.contains_key(name) {
                        return Err(format!("line {line}: TYPE of {name} after its samples"));
                    }
                    if page.types.insert(name.to_owned(), kind.to_owned()).is_some() {
                        return Err(format!("line {line}: a second TYPE for {name}"));
                    }
                }
                Some("HELP") => {
                    let name = words.next().ok_or(format!("line {line}: HELP without a name"))?;
                    if !is_name(name) {
                        return Err(format!("line {line}: bad metric name {name:?}"));
                    }
                }
                _ => {}
            }
            continue;
        }
        let (name_and_labels, value) = match raw.find('}') {
            Some(close) => (&raw[..=close], raw[close + 1..].trim()),
            None => {
                let mut parts = raw.splitn(2, ' ');
                (parts.next().unwrap_or_default(), parts.next().unwrap_or_default().trim())
            }
        };
        let (name, labels) = match name_and_labels.find('{') {
            Some(open) => {
                let inner =
                    name_and_labels[open + 1..].strip_suffix('}').ok_or(format!("line {line}: unclosed labels"))?;
                (&name_and_labels[..open], parse_labels(inner, line)?)
            }
            None => (name_and_labels, BTreeMap::new()),
        };
        if !is_name(name) {
            return Err(format!("line {line}: bad metric name {name:?}"));
        }
        let value_text = value.split_whitespace().next().ok_or(format!("line {line}: no value"))?;
        let value = parse_value(value_text).ok_or(format!("line {line}: bad value {value_text:?}"))?;
        let family = family_of(name, &page.types).to_owned();
        *seen_samples.entry(family).or_default() += 1;
        page.samples.push(Sample { name: name.to_owned(), labels, value });
    }
    check_histograms(&page)?;
    Ok(page)
}

/// A series' labels other than `le`, sorted.
type Labels = Vec<(String, String)>;

/// Buckets of each histogram series are cumulative and end with `+Inf` = `_count`.
fn check_histograms(page: &Page) -> Result<(), String> {
    for (family, kind) in &page.types {
        if kind != "histogram" {
            continue;
        }
        let bucket = format!("{family}_bucket");
        let mut series: BTreeMap<Labels, Vec<(f64, f64)>> = BTreeMap::new();
        for s in page.samples.iter().filter(|s| s.name == bucket) {
            let le = s.labels.get("le").ok_or(format!("{bucket} without le"))?;
            let bound = parse_value(le).ok_or(format!("{bucket}: bad le {le:?}"))?;
            let key: Vec<_> =
                s.labels.iter().filter(|(k, _)| *k != "le").map(|(k, v)| (k.clone(), v.clone())).collect();
            series.entry(key).or_default().push((bound, s.value));
        }
        for (labels, buckets) in series {
            if buckets.windows(2).any(|w| w[0].0 >= w[1].0 || w[0].1 > w[1].1) {
                return Err(format!("{family}{labels:?}: buckets not ascending and cumulative"));
            }
            let last = buckets.last().expect("a series has a bucket");
            if last.0 != f64::INFINITY {
                return Err(format!("{family}{labels:?}: no +Inf bucket"));
            }
            let wanted: Vec<(&str, &str)> = labels.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let count = page.sum(&format!("{family}_count"), &wanted);
            if count != last.1 {
                return Err(format!("{family}{labels:?}: +Inf bucket {} but count {count}", last.1));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "# HELP a_total A counter.\n# TYPE a_total counter\na_total{x=\"1\",y=\"q\\\"\"} 3\n\
        # TYPE h histogram\nh_bucket{le=\"0.1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 0.3\nh_count 2\n";

    #[test]
    fn a_valid_page_parses() {
        let page = parse(GOOD).expect("ok");
        assert_eq!(page.types["h"], "histogram");
        assert_eq!(page.sum("a_total", &[("y", "q\"")]), 3.0);
        assert_eq!(page.sum("h_count", &[]), 2.0);
    }

    #[test]
    fn invalid_pages_are_refused() {
        for bad in [
            "a b c d\n",
            "a{x=1} 2\n",
            "a{x=\"1\" 2\n",
            "1a 2\n",
            "a notanumber\n",
            "a 1\n# TYPE a counter\n",
            "# TYPE a counter\n# TYPE a gauge\n",
            "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_count 1\n",
            "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_count 1\n",
            "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_count 2\n",
        ] {
            assert!(parse(bad).is_err(), "accepted {bad:?}");
        }
    }
}
