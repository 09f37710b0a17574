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
    // tablewriter measures a header before it formats it (upper case, `_` as space).
    let header: Vec<Cell> = header.iter().map(|h| Cell::new(h)).collect();
    let rows: Vec<Vec<Cell>> = rows.iter().map(|row| row.iter().map(|c| Cell::new(c)).collect()).collect();
    let columns = header.len().max(rows.iter().map(Vec::len).max().unwrap_or(0));
    let mut widths = vec![0usize; columns];
    for row in std::iter::once(&header).chain(rows.iter()) {
        for (column, cell) in row.iter().enumerate() {
            widths[column] = widths[column].max(cell.width);
        }
    }
    let mut out = String::new();
    let rule: String = "+".to_owned() + &widths.iter().map(|w| "-".repeat(w + 2) + "+").collect::<String>() + "\n";
    out.push_str(&rule);
    let height = header.iter().map(|c| c.lines.len()).max().unwrap_or(0);
    for line in 0..height {
        out.push('|');
        for (column, w) in widths.iter().enumerate() {
            let text = header.get(column).and_then(|c| c.lines.get(line)).map_or(String::new(), |h| title(h));
            let gap = w.saturating_sub(width(&text));
            let left = gap / 2;
            out.push(' ');
            out.push_str(&" ".repeat(left));
            out.push_str(&text);
            out.push_str(&" ".repeat(gap - left));
            out.push_str(" |");
        }
        out.push('\n');
    }
    out.push_str(&rule);
    for row in &rows {
        let height = row.iter().map(|c| c.lines.len()).max().unwrap_or(0);
        for line in 0..height {
            for (column, w) in widths.iter().enumerate() {
                // tablewriter pads a shorter cell with lines of two spaces.
                let text = row.get(column).and_then(|c| c.lines.get(line)).map_or("  ", String::as_str);
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
            '.' if (i != 0 && !num_or_space(chars[i - 1])) || (i != chars.len() - 1 && !num_or_space(chars[i + 1])) => {
                ' '
            }
            other => other,
        })
        .collect();
    let trimmed = mapped.trim();
    if trimmed.is_empty() && !name.is_empty() { " ".to_owned() } else { trimmed.to_uppercase() }
}

/// A cell as tablewriter lays it out (`parseDimension` with auto-wrap and reflow, etcdctl's
/// settings): its lines joined into one paragraph, wrapped at the widest line or 30 columns,
/// whichever is less; the column is at least that wide even when every wrapped line is shorter.
struct Cell {
    lines: Vec<String>,
    width: usize,
}

impl Cell {
    fn new(text: &str) -> Cell {
        let limit = text.split('\n').map(width).max().unwrap_or(0).min(MAX_CELL_WIDTH);
        let lines = wrap(&text.replace('\n', " "), limit);
        let width = lines.iter().map(|l| width(l)).fold(limit, usize::max);
        Cell { lines, width }
    }
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
    fn a_long_cell_wraps_and_keeps_its_column_at_the_limit() {
        // `etcdctl endpoint status -w table` of an etcd 3.4.23 with a NOSPACE alarm.
        let header = ["endpoint", "errors"];
        let rows = vec![vec!["127.0.0.1:23792".to_owned(), "memberID:185828541645115251 alarm:NOSPACE ".to_owned()]];
        let expected = "\
+-----------------+--------------------------------+
|    ENDPOINT     |             ERRORS             |
+-----------------+--------------------------------+
| 127.0.0.1:23792 |    memberID:185828541645115251 |
|                 |                 alarm:NOSPACE  |
+-----------------+--------------------------------+
";
        assert_eq!(render(&header, &rows), expected);
    }

    #[test]
    fn an_empty_table_has_its_header_only() {
        let expected = "\
+----------+------+
| ENDPOINT | HASH |
+----------+------+
+----------+------+
";
        assert_eq!(render(&["endpoint", "hash"], &[]), expected);
    }

    #[test]
    fn long_cells_wrap_on_spaces() {
        assert_eq!(wrap("a b c", 3), vec!["a b", "c"]);
        assert_eq!(wrap("averyveryverylongword x", 5), vec!["averyveryverylongword", "x"]);
    }
}
