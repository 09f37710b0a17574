//! Tables as etcdctl's `-w table` draws them (olekukonko/tablewriter with etcdctl's settings:
//! borders, centered upper-case headers, right-aligned cells, cells wrapped at 30 columns on
//! spaces with the least raggedness).

/// The widest a cell grows before its text is wrapped (on spaces only).
const MAX_CELL_WIDTH: usize = 30;
/// The cost of a line longer than the limit, in the raggedness measure.
const TOO_LONG_PENALTY: i64 = 100_000;

fn width(text: &str) -> usize {
    text.chars().count()
}

/// etcdctl's table of `header` and `rows`.
pub fn render(header: &[&str], rows: &[Vec<String>]) -> String {
    let header: Vec<Vec<String>> = header.iter().map(|h| cell_lines(&title(h))).collect();
    let rows: Vec<Vec<Vec<String>>> = rows.iter().map(|row| row.iter().map(|c| cell_lines(c)).collect()).collect();
    let columns = header.len().max(rows.iter().map(Vec::len).max().unwrap_or(0));
    let mut widths = vec![0usize; columns];
    for line in header.iter().chain(rows.iter().flatten()).enumerate().map(|(i, c)| (i % columns.max(1), c)) {
        let (column, cell) = line;
        for text in cell {
            widths[column] = widths[column].max(width(text));
        }
    }
    let mut out = String::new();
    let rule: String = "+".to_owned() + &widths.iter().map(|w| "-".repeat(w + 2) + "+").collect::<String>() + "\n";
    out.push_str(&rule);
    let height = header.iter().map(Vec::len).max().unwrap_or(0);
    for line in 0..height {
        out.push('|');
        for (column, w) in widths.iter().enumerate() {
            let text = header.get(column).and_then(|c| c.get(line)).map_or("", String::as_str);
            let gap = w.saturating_sub(width(text));
            let left = gap / 2;
            out.push(' ');
            out.push_str(&" ".repeat(left));
            out.push_str(text);
            out.push_str(&" ".repeat(gap - left));
            out.push_str(" |");
        }
        out.push('\n');
    }
    out.push_str(&rule);
    for row in &rows {
        let height = row.iter().map(Vec::len).max().unwrap_or(0);
        for line in 0..height {
            for (column, w) in widths.iter().enumerate() {
                let text = row.get(column).and_then(|c| c.get(line)).map_or("  ", String::as_str);
                out.push_str("| ");
                out.push_str(&" ".repeat(w.saturating_sub(width(text))));
                out.push_str(text);
                out.push(' ');
            }
            out.push_str("|\n");
        }
    }
    out.push_str(&rule);
    out
}

/// tablewriter's header format: `_` and word-joining `.` become spaces, trimmed, upper-cased.
fn title(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let num_or_space = |c: char| c.is_ascii_digit() || c == ' ';
    let mapped: String = chars
        .iter()
        .enumerate()
        .map(|(i, &c)| match c {
            '_' => ' ',
            '.' if (i != 0 && !num_or_space(chars[i - 1])) || (i != chars.len() - 1 && !num_or_space(chars[i + 1])) => ' ',
            other => other,
        })
        .collect();
    let trimmed = mapped.trim();
    if trimmed.is_empty() && !name.is_empty() { " ".to_owned() } else { trimmed.to_uppercase() }
}

/// The lines a cell occupies: its own lines, each wrapped to the column limit.
fn cell_lines(text: &str) -> Vec<String> {
    let raw: Vec<&str> = text.split('\n').collect();
    let limit = raw.iter().map(|l| width(l)).max().unwrap_or(0).min(MAX_CELL_WIDTH);
    let mut lines = Vec::new();
    for (i, paragraph) in raw.iter().enumerate() {
        if i > 0 {
            lines.push(" ".to_owned());
        }
        lines.extend(wrap(paragraph, limit));
    }
    lines
}

/// Splits `text` on spaces into lines of at most `limit` columns (more when a word is longer)
/// with the least raggedness (sum of squared shortfalls), as tablewriter's `WrapString` does.
fn wrap(text: &str, limit: usize) -> Vec<String> {
    let words: Vec<&str> = text.split(' ').collect();
    let limit = words.iter().map(|w| width(w)).fold(limit, usize::max) as i64;
    let n = words.len();
    // length(i, j): the width of words i..=j on one line.
    let prefix: Vec<i64> = std::iter::once(0)
        .chain(words.iter().scan(0i64, |acc, w| {
            *acc += width(w) as i64;
            Some(*acc)
        }))
        .collect();
    let length = |i: usize, j: usize| prefix[j + 1] - prefix[i] + (j - i) as i64;
    let mut cost = vec![i64::from(i32::MAX); n];
    let mut next = vec![n; n];
    for i in (0..n).rev() {
        if length(i, n - 1) <= limit {
            cost[i] = 0;
            next[i] = n;
            continue;
        }
        for j in i + 1..n {
            let d = limit - length(i, j - 1);
            let mut c = d * d + cost[j];
            if length(i, j - 1) > limit {
                c += TOO_LONG_PENALTY;
            }
            if c < cost[i] {
                cost[i] = c;
                next[i] = j;
            }
        }
    }
    let mut lines = Vec::new();
    let mut i = 0;
    while i < n {
        lines.push(words[i..next[i]].join(" "));
        i = next[i];
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_member_table_looks_like_etcdctls() {
        let header = ["ID", "Status", "Name", "Peer Addrs", "Client Addrs", "Is Learner"];
        let rows = vec![vec![
            "8e9e05c52164694d".to_owned(),
            "started".to_owned(),
            "default".to_owned(),
            "http://localhost:2380".to_owned(),
            "http://localhost:2379".to_owned(),
            "false".to_owned(),
        ]];
        let expected = "\
+------------------+---------+---------+-----------------------+-----------------------+------------+
|        ID        | STATUS  |  NAME   |      PEER ADDRS       |     CLIENT ADDRS      | IS LEARNER |
+------------------+---------+---------+-----------------------+-----------------------+------------+
| 8e9e05c52164694d | started | default | http://localhost:2380 | http://localhost:2379 |      false |
+------------------+---------+---------+-----------------------+-----------------------+------------+
";
        assert_eq!(render(&header, &rows), expected);
    }

    #[test]
    fn long_cells_wrap_on_spaces() {
        assert_eq!(wrap("a b c", 3), vec!["a b", "c"]);
        assert_eq!(wrap("averyveryverylongword x", 5), vec!["averyveryverylongword", "x"]);
    }
}
