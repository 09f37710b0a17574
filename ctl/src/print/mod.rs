//! etcdctl's output formats (`-w simple|json|fields|table|protobuf`, `--hex`) and the pieces of
//! Go formatting they are made of: `%q` quoting, `encoding/json` strings, go-humanize sizes.
//!
//! Each command prints its own responses (beside its code in `cmd/`), with these helpers.

pub mod gojson;
pub mod table;

use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use cairn_proto::etcdserverpb::ResponseHeader;
use cairn_proto::mvccpb::KeyValue;

use crate::exit::Fail;

/// An output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Human-readable lines (the default).
    Simple,
    /// Go's `encoding/json` of the response.
    Json,
    /// `"Field" : value` lines.
    Fields,
    /// A table (only some commands; the others fail with "table not supported as output format").
    Table,
    /// The response's protobuf encoding.
    Protobuf,
}

impl Format {
    /// The format `-w` names, if any.
    pub fn parse(name: &str) -> Option<Format> {
        match name {
            "simple" => Some(Format::Simple),
            "json" => Some(Format::Json),
            "fields" => Some(Format::Fields),
            "table" => Some(Format::Table),
            "protobuf" => Some(Format::Protobuf),
            _ => None,
        }
    }

    /// The name `-w` takes.
    pub fn name(self) -> &'static str {
        match self {
            Format::Simple => "simple",
            Format::Json => "json",
            Format::Fields => "fields",
            Format::Table => "table",
            Format::Protobuf => "protobuf",
        }
    }

    /// etcdctl's failure for a format a command cannot print.
    pub fn unsupported(self) -> Fail {
        Fail::bad_feature(format!("{} not supported as output format", self.name()))
    }
}

/// The chosen format and `--hex`.
#[derive(Debug, Clone, Copy)]
pub struct Printer {
    /// `-w`.
    pub format: Format,
    /// `--hex`.
    pub hex: bool,
}

impl Printer {
    /// A printer for `format`.
    pub fn new(format: Format, hex: bool) -> Printer {
        Printer { format, hex }
    }
}

/// Writes `text` to stdout as is (a closed stdout is not an error worth a panic).
pub fn out(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(text.as_bytes());
    let _ = stdout.flush();
}

/// Writes raw bytes to stdout.
pub fn out_bytes(bytes: &[u8]) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(bytes);
    let _ = stdout.flush();
}

/// `-w protobuf`: the message's encoding, nothing else.
pub fn protobuf<M: prost::Message>(message: &M) {
    out_bytes(&message.encode_to_vec());
}

/// `-w json` of a protobuf message of type `full_name`, and a newline.
pub fn json<M: prost::Message>(message: &M, full_name: &str) {
    out(&(gojson::message(message, full_name) + "\n"));
}

/// A key or value as etcdctl prints it: the bytes as they are, or `\xNN` for each byte with
/// `--hex`.
pub fn bytes_text(bytes: &[u8], hex: bool) -> String {
    if hex {
        bytes.iter().map(|b| format!("\\x{b:02x}")).collect()
    } else {
        String::from_utf8_lossy(bytes).into_owned()
    }
}

/// etcdctl's `printKV`: the key (unless `value_only`) and the value, each on its own line.
pub fn simple_kv(kv: &KeyValue, hex: bool, value_only: bool) -> String {
    let mut text = String::new();
    if !value_only {
        text.push_str(&bytes_text(&kv.key, hex));
        text.push('\n');
    }
    text.push_str(&bytes_text(&kv.value, hex));
    text.push('\n');
    text
}

/// The fields printer's header lines.
pub fn fields_header(header: Option<&ResponseHeader>) -> String {
    let h = header.cloned().unwrap_or_default();
    format!(
        "\"ClusterID\" : {}\n\"MemberID\" : {}\n\"Revision\" : {}\n\"RaftTerm\" : {}\n",
        h.cluster_id, h.member_id, h.revision, h.raft_term
    )
}

/// The fields printer's lines for a key-value, with `prefix` (`Prev` for previous ones).
pub fn fields_kv(prefix: &str, kv: &KeyValue) -> String {
    format!(
        "\"{prefix}Key\" : {}\n\"{prefix}CreateRevision\" : {}\n\"{prefix}ModRevision\" : {}\n\"{prefix}Version\" : {}\n\"{prefix}Value\" : {}\n\"{prefix}Lease\" : {}\n",
        go_quote_bytes(&kv.key),
        kv.create_revision,
        kv.mod_revision,
        kv.version,
        go_quote_bytes(&kv.value),
        kv.lease
    )
}

/// Whether Go's `unicode.IsPrint` holds (close enough: letters, marks, numbers, punctuation,
/// symbols and the ASCII space).
fn go_printable(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    if c.is_control() || c.is_whitespace() {
        return false;
    }
    !matches!(c, '\u{ad}' | '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{206f}' | '\u{feff}' | '\u{fff9}'..='\u{fffb}' | '\u{e000}'..='\u{f8ff}')
        && !('\u{f0000}'..).contains(&c)
}

/// Go's `%q` of a string (`strconv.Quote`) made from bytes that may not be UTF-8.
pub fn go_quote_bytes(bytes: &[u8]) -> String {
    let mut out = String::from("\"");
    let mut rest = bytes;
    while !rest.is_empty() {
        match std::str::from_utf8(rest) {
            Ok(text) => {
                quote_str_into(&mut out, text);
                rest = &[];
            }
            Err(e) => {
                let (valid, after) = rest.split_at(e.valid_up_to());
                quote_str_into(&mut out, std::str::from_utf8(valid).unwrap_or_default());
                let bad = e.error_len().unwrap_or(after.len()).max(1);
                for b in &after[..1] {
                    out.push_str(&format!("\\x{b:02x}"));
                }
                // One invalid byte at a time, as Go decodes them.
                rest = &after[1.min(bad)..];
            }
        }
    }
    out.push('"');
    out
}

/// Go's `%q` of a string.
pub fn go_quote(text: &str) -> String {
    go_quote_bytes(text.as_bytes())
}

fn quote_str_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if go_printable(c) => out.push(c),
            c if (c as u32) < 0x80 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
}

/// A string's contents as Go's `encoding/json` writes them (without the quotes): HTML-safe
/// (`<`, `>`, `&` escaped), control characters as `\u00XX`.
pub fn json_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => out.push_str(&format!("\\u{:04x}", c as u32)),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// A string's contents as zap's JSON logs write them: like `encoding/json` but not HTML-safe.
pub fn zap_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// go-humanize's `Bytes`: SI units, one decimal under 10 (`82 kB`, `1.2 MB`, `9 B`).
pub fn humanize_bytes(size: u64) -> String {
    if size < 10 {
        return format!("{size} B");
    }
    const SIZES: [&str; 7] = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    let s = size as f64;
    let e = (s.ln() / 1000f64.ln()).floor();
    let suffix = SIZES[e as usize];
    let value = (s / 1000f64.powf(e) * 10.0 + 0.5).floor() / 10.0;
    if value < 10.0 { format!("{value:.1} {suffix}") } else { format!("{value:.0} {suffix}") }
}

/// A time as zap's JSON logs write it: `2006-01-02T15:04:05.000Z` (UTC).
pub fn rfc3339_millis(time: SystemTime) -> String {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days as i64);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        since.subsec_millis()
    )
}

/// The calendar date `days` after 1970-01-01 (Howard Hinnant's algorithm).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_is_gos() {
        assert_eq!(go_quote("foo"), "\"foo\"");
        assert_eq!(go_quote("a\"b\\c\n"), "\"a\\\"b\\\\c\\n\"");
        assert_eq!(go_quote_bytes(b"\x00\xff"), "\"\\x00\\xff\"");
        assert_eq!(go_quote("é\u{a0}"), "\"é\\u00a0\"");
    }

    #[test]
    fn json_strings_are_html_safe() {
        assert_eq!(json_escape("<a&b>\u{1}"), "\\u003ca\\u0026b\\u003e\\u0001");
    }

    #[test]
    fn sizes_are_humanized_as_go_humanize_does() {
        assert_eq!(humanize_bytes(0), "0 B");
        assert_eq!(humanize_bytes(20480), "20 kB");
        assert_eq!(humanize_bytes(1_200_000), "1.2 MB");
        assert_eq!(humanize_bytes(25_000_000), "25 MB");
    }

    #[test]
    fn dates_are_civil() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_781), (2026, 11, 24));
    }

    #[test]
    fn hex_prints_every_byte() {
        assert_eq!(bytes_text(b"ab", true), "\\x61\\x62");
        assert_eq!(bytes_text(b"ab", false), "ab");
    }
}
