//! `txn`: compares, success requests and failure requests read from stdin, one per line, each
//! section ended by an empty line, in etcdctl's grammar:
//!
//! ```text
//! value("a") = "1"          <target>("<key>") <op> "<value>"   (Go's %q quoting)
//! <empty line>
//! put a 2                   get/put/del with their flags, as on the command line
//! <empty line>
//! get a
//! <empty line>
//! ```
//!
//! The line parsing is etcdctl's, quirks included: Go's `fmt.Sscanf("%q) %s %q")` for compares,
//! its `argify` regexp for requests (a single-quoted argument is cut by the number of arguments,
//! not its own length, and etcdctl panics where the cut falls outside it), and Go's panics where
//! clientv3 panics (an unknown compare operator, any `lease(...)` compare).

use std::io::{BufRead, Write};

use cairn_proto::etcdserverpb::compare::{CompareResult, CompareTarget, TargetUnion};
use cairn_proto::etcdserverpb::{Compare, RequestOp, TxnRequest, TxnResponse, request_op, response_op};

use super::kv::{self, DelArgs, GetArgs, PutArgs};
use super::{bad_args, go_bool, go_parse_int};
use crate::exit::Fail;
use crate::global::Ctx;
use crate::print::{self, Format, Printer};

/// `txn [options]`
#[derive(Debug, clap::Args)]
pub struct TxnArgs {
    /// Input transaction in interactive mode
    #[arg(short = 'i', long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_parser = go_bool)]
    interactive: bool,
    /// No arguments are accepted.
    args: Vec<String>,
}

/// Runs `txn`.
pub async fn run(ctx: &Ctx, args: TxnArgs) -> Result<(), Fail> {
    if !args.args.is_empty() {
        return Err(bad_args("txn command does not accept argument"));
    }
    let client = ctx.client().await?;
    let mut input = std::io::stdin().lock();
    let prompt = |text: &str| {
        if args.interactive {
            print::out(&format!("{text}\n"));
        }
    };
    prompt("compares:");
    let compare = read_sections(&mut input, parse_compare)?;
    prompt("success requests (get, put, del):");
    let success = read_sections(&mut input, parse_request)?;
    prompt("failure requests (get, put, del):");
    let failure = read_sections(&mut input, parse_request)?;
    drop(input);
    let request = TxnRequest { compare, success, failure };
    // clientv3's txn runs with context.Background(): no command timeout.
    let response = match client.kv().txn(request).await {
        Ok(response) => response.into_inner(),
        Err(status) => {
            ctx.warn_failed(&status);
            return Err(status.into());
        }
    };
    print_txn(ctx.printer()?, &response)
}

/// Reads lines (each trimmed) until an empty one, parsing each as it comes. Like Go's
/// `bufio.Reader.ReadString('\n')`, input ending without a newline is an `EOF` error.
fn read_sections<T>(input: &mut impl BufRead, parse: impl Fn(&[u8]) -> Result<T, Fail>) -> Result<Vec<T>, Fail> {
    let mut items = Vec::new();
    loop {
        let mut line = Vec::new();
        match input.read_until(b'\n', &mut line) {
            Ok(_) if line.last() == Some(&b'\n') => {}
            Ok(_) => return Err(Fail::invalid_input("EOF")),
            Err(e) => return Err(Fail::invalid_input(e.to_string())),
        }
        let line = trim_space(&line);
        if line.is_empty() {
            return Ok(items);
        }
        items.push(parse(line)?);
    }
}

/// Go's `strings.TrimSpace` on bytes.
fn trim_space(mut bytes: &[u8]) -> &[u8] {
    fn first_char(bytes: &[u8]) -> Option<(char, usize)> {
        let end = bytes.len().min(4);
        (1..=end).find_map(|n| std::str::from_utf8(&bytes[..n]).ok().and_then(|s| s.chars().next()).map(|c| (c, n)))
    }
    fn last_char(bytes: &[u8]) -> Option<(char, usize)> {
        let start = bytes.len().saturating_sub(4);
        (start..bytes.len()).rev().find_map(|i| {
            std::str::from_utf8(&bytes[i..]).ok().and_then(|s| s.chars().next()).map(|c| (c, bytes.len() - i))
        })
    }
    while let Some((c, n)) = first_char(bytes).filter(|(c, _)| c.is_whitespace()) {
        let _ = c;
        bytes = &bytes[n..];
    }
    while let Some((_, n)) = last_char(bytes).filter(|(c, _)| c.is_whitespace()) {
        bytes = &bytes[..bytes.len() - n];
    }
    bytes
}

/// Ends the process as a Go panic does: the value on stderr, exit code 2 (etcdctl's goroutine
/// trace is not reproduced).
fn go_panic(message: &str) -> ! {
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(stderr, "panic: {message}");
    let _ = stderr.flush();
    std::process::exit(2)
}

/// A compare line: `<target>("<key>") <op> "<value>"`, parsed as etcdctl parses it.
fn parse_compare(line: &[u8]) -> Result<Compare, Fail> {
    let text = String::from_utf8_lossy(line);
    let shown = text.as_ref();
    let Some((target, rest)) = text.split_once('(') else {
        return Err(Fail::invalid_input(format!("malformed comparison: {shown}")));
    };
    let scanned = scan_compare(rest);
    let (key, op, val) = match scanned.values {
        [Some(key), Some(op), Some(val)] => (key, op, val),
        [key, op, val] => {
            let or_empty = |v: Option<Vec<u8>>| v.unwrap_or_default();
            return Err(Fail::invalid_input(format!(
                "malformed comparison: {shown}; got {target}({}) {} {}",
                print::go_quote_bytes(&or_empty(key)),
                String::from_utf8_lossy(&or_empty(op)),
                print::go_quote_bytes(&or_empty(val)),
            )));
        }
    };
    let op = String::from_utf8_lossy(&op).into_owned();
    let invalid = || Fail::invalid_input(format!("invalid txn compare request: {shown}"));
    let number = |val: &[u8]| go_parse_int(&String::from_utf8_lossy(val), 10).map_err(|_| invalid());
    let (target, union) = match target {
        "ver" | "version" => (CompareTarget::Version, TargetUnion::Version(number(&val)?)),
        "c" | "create" => (CompareTarget::Create, TargetUnion::CreateRevision(number(&val)?)),
        "m" | "mod" => (CompareTarget::Mod, TargetUnion::ModRevision(number(&val)?)),
        "val" | "value" => (CompareTarget::Value, TargetUnion::Value(val)),
        "lease" => {
            compare_result(&op);
            // clientv3.Compare wants an int64 or a LeaseID for a lease; etcdctl gives a string.
            go_panic("bad value")
        }
        other => {
            return Err(Fail::invalid_input(format!("malformed comparison: {shown} (unknown target {other})")));
        }
    };
    let result = compare_result(&op);
    // etcdctl's lease compare has no key; the others are keyed.
    Ok(Compare { result: result as i32, target: target as i32, key, range_end: Vec::new(), target_union: Some(union) })
}

/// clientv3's compare operators; any other panics as clientv3 does.
fn compare_result(op: &str) -> CompareResult {
    match op {
        "=" => CompareResult::Equal,
        "!=" => CompareResult::NotEqual,
        ">" => CompareResult::Greater,
        "<" => CompareResult::Less,
        _ => go_panic("Unknown result op"),
    }
}

/// What Go's `fmt.Sscanf(rest, "%q) %s %q", &key, &op, &val)` assigned.
struct Scanned {
    values: [Option<Vec<u8>>; 3],
}

/// Go's scanning of `%q) %s %q` over the text after the first `(`.
fn scan_compare(rest: &str) -> Scanned {
    let mut s = GoScanner::new(rest);
    let mut values: [Option<Vec<u8>>; 3] = [None, None, None];
    let steps = |s: &mut GoScanner, values: &mut [Option<Vec<u8>>; 3]| -> Result<(), ()> {
        s.skip_space()?;
        values[0] = Some(s.quoted()?);
        // `)`: must be the next rune.
        if s.get() != Some(')') {
            return Err(());
        }
        if !s.format_space()? {
            // Input ended at the space: the next verb fails on EOF.
            return Err(());
        }
        s.skip_space()?;
        values[1] = Some(s.token()?);
        if !s.format_space()? {
            return Err(());
        }
        s.skip_space()?;
        values[2] = Some(s.quoted()?);
        Ok(())
    };
    let _ = steps(&mut s, &mut values);
    Scanned { values }
}

/// Enough of Go's `fmt` scanner (`ss`) for `%q`, `%s` and the spaces between verbs.
struct GoScanner {
    runes: Vec<char>,
    pos: usize,
}

impl GoScanner {
    fn new(text: &str) -> GoScanner {
        GoScanner { runes: text.chars().collect(), pos: 0 }
    }

    fn get(&mut self) -> Option<char> {
        let r = self.runes.get(self.pos).copied();
        if r.is_some() {
            self.pos += 1;
        }
        r
    }

    fn unread(&mut self) {
        self.pos -= 1;
    }

    fn peek(&self) -> Option<char> {
        self.runes.get(self.pos).copied()
    }

    /// `skipSpace(false)` with newlines not counting as space (Sscanf).
    fn skip_space(&mut self) -> Result<(), ()> {
        while let Some(r) = self.get() {
            if r == '\r' && self.peek() == Some('\n') {
                continue;
            }
            if r == '\n' {
                return Err(());
            }
            if !go_is_space(r) {
                self.unread();
                break;
            }
        }
        Ok(())
    }

    /// A space in the format: the input must have one (or end). Returns false at the end of input.
    fn format_space(&mut self) -> Result<bool, ()> {
        let Some(mut r) = self.get() else {
            return Ok(false);
        };
        if !go_is_space(r) {
            return Err(());
        }
        while r != '\n' && go_is_space(r) {
            match self.get() {
                Some(next) => r = next,
                None => return Ok(true),
            }
        }
        if r == '\n' {
            return Err(());
        }
        self.unread();
        Ok(true)
    }

    /// `%s`: the next run of non-space runes (at least one rune must be there).
    fn token(&mut self) -> Result<Vec<u8>, ()> {
        self.peek().ok_or(())?;
        let mut out = String::new();
        while let Some(r) = self.get() {
            if go_is_space(r) {
                self.unread();
                break;
            }
            out.push(r);
        }
        Ok(out.into_bytes())
    }

    /// `%q`: a double-quoted (Go escapes) or back-quoted string.
    fn quoted(&mut self) -> Result<Vec<u8>, ()> {
        let quote = self.get().ok_or(())?;
        match quote {
            '`' => {
                let mut out = String::new();
                loop {
                    match self.get() {
                        None => return Err(()),
                        Some('`') => return Ok(out.into_bytes()),
                        Some(r) => out.push(r),
                    }
                }
            }
            '"' => {
                let mut raw = String::from('"');
                loop {
                    let r = self.get().ok_or(())?;
                    raw.push(r);
                    if r == '\\' {
                        raw.push(self.get().ok_or(())?);
                    } else if r == '"' {
                        break;
                    }
                }
                go_unquote(&raw).ok_or(())
            }
            _ => Err(()),
        }
    }
}

/// Go's `isSpace` in fmt's scanner (unicode.White_Space).
fn go_is_space(r: char) -> bool {
    matches!(r, '\u{9}'..='\u{d}' | ' ' | '\u{85}' | '\u{a0}' | '\u{1680}' | '\u{2000}'..='\u{200a}' | '\u{2028}' | '\u{2029}' | '\u{202f}' | '\u{205f}' | '\u{3000}')
}

/// Go's `strconv.Unquote` of a double-quoted string, as bytes (`\xff` is one byte).
fn go_unquote(quoted: &str) -> Option<Vec<u8>> {
    let body = quoted.strip_prefix('"')?.strip_suffix('"')?;
    let mut out = Vec::with_capacity(body.len());
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' | '\n' => return None,
            '\\' => {
                let e = chars.next()?;
                let mut hex = |n: usize| -> Option<u32> {
                    let mut v = 0u32;
                    for _ in 0..n {
                        v = v * 16 + chars.next()?.to_digit(16)?;
                    }
                    Some(v)
                };
                match e {
                    'a' => out.push(7),
                    'b' => out.push(8),
                    'f' => out.push(12),
                    'n' => out.push(b'\n'),
                    'r' => out.push(b'\r'),
                    't' => out.push(b'\t'),
                    'v' => out.push(11),
                    '\\' => out.push(b'\\'),
                    '"' => out.push(b'"'),
                    'x' => out.push(u8::try_from(hex(2)?).ok()?),
                    'u' => push_char(&mut out, char::from_u32(hex(4)?)?),
                    'U' => push_char(&mut out, char::from_u32(hex(8)?)?),
                    '0'..='7' => {
                        let mut v = e.to_digit(8)?;
                        for _ in 0..2 {
                            v = v * 8 + chars.next()?.to_digit(8)?;
                        }
                        out.push(u8::try_from(v).ok()?);
                    }
                    _ => return None,
                }
            }
            c => push_char(&mut out, c),
        }
    }
    Some(out)
}

fn push_char(out: &mut Vec<u8>, c: char) {
    let mut buf = [0u8; 4];
    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
}

/// etcdctl's `argify`: the arguments of a request line, split by the regexp
/// `"(?:[^"\\]|\\.)*"|'[^']*'|[^'"\s]\S*[^'"\s]?`, double-quoted ones unquoted as Go's `%q`
/// scans them, single-quoted ones cut to `[1:len(args)-1]` (sic).
pub fn argify(line: &[u8]) -> Result<Vec<Vec<u8>>, Fail> {
    let is_space = |b: u8| matches!(b, b'\t' | b'\n' | 0x0c | b'\r' | b' ');
    let mut tokens: Vec<&[u8]> = Vec::new();
    let mut p = 0;
    while p < line.len() {
        let rest = &line[p..];
        let found = match rest[0] {
            b'"' => double_quoted_len(rest),
            b'\'' => rest[1..].iter().position(|&b| b == b'\'').map(|i| i + 2),
            b if is_space(b) => None,
            _ => Some(rest.iter().position(|&b| is_space(b)).unwrap_or(rest.len())),
        };
        match found {
            Some(len) => {
                tokens.push(&rest[..len]);
                p += len;
            }
            None => p += 1,
        }
    }
    let count = tokens.len();
    let mut args = Vec::with_capacity(count);
    for token in tokens {
        match token[0] {
            b'\'' => {
                let (lo, hi) = (1, count - 1);
                if hi > token.len() {
                    go_panic(&format!("runtime error: slice bounds out of range [:{hi}] with length {}", token.len()));
                }
                if lo > hi {
                    go_panic(&format!("runtime error: slice bounds out of range [{lo}:{hi}]"));
                }
                args.push(token[lo..hi].to_vec());
            }
            b'"' => {
                let text = String::from_utf8_lossy(token);
                let mut s = GoScanner::new(&text);
                args.push(s.quoted().map_err(|()| Fail::invalid_input("invalid syntax"))?);
            }
            _ => args.push(token.to_vec()),
        }
    }
    Ok(args)
}

/// The length of the regexp's `"(?:[^"\\]|\\.)*"` match at the start of `text`, if any.
fn double_quoted_len(text: &[u8]) -> Option<usize> {
    let mut j = 1;
    while j < text.len() {
        match text[j] {
            b'"' => return Some(j + 1),
            b'\\' => {
                let next = *text.get(j + 1)?;
                if next == b'\n' {
                    return None;
                }
                j += 1 + utf8_len(next);
            }
            _ => j += 1,
        }
    }
    None
}

fn utf8_len(lead: u8) -> usize {
    match lead {
        0xc2..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf4 => 4,
        _ => 1,
    }
}

/// A request line as etcdctl's txn reads one: get, put or del with their own flags.
#[derive(Debug, clap::Parser)]
#[command(no_binary_name = true, disable_help_flag = true, disable_help_subcommand = true, disable_version_flag = true)]
struct RequestLine {
    #[command(subcommand)]
    op: RequestCommand,
}

#[derive(Debug, clap::Subcommand)]
enum RequestCommand {
    #[command(disable_help_flag = true)]
    Get(GetArgs),
    #[command(disable_help_flag = true)]
    Put(PutArgs),
    #[command(disable_help_flag = true)]
    Del(DelArgs),
}

/// A request line: `get|put|del <args and flags>`.
fn parse_request(line: &[u8]) -> Result<RequestOp, Fail> {
    let shown = String::from_utf8_lossy(line);
    let args = argify(line)?;
    if args.len() < 2 {
        return Err(Fail::invalid_input(format!("invalid txn compare request: {shown}")));
    }
    // clap wants UTF-8: stand-ins for the arguments that are not, swapped back after parsing.
    let stand_in = |i: usize| format!("\u{10ffff}cairn-txn-arg-{i}");
    let texts: Vec<String> =
        args.iter().enumerate().map(|(i, a)| String::from_utf8(a.clone()).unwrap_or_else(|_| stand_in(i))).collect();
    let restore = |positional: &[String]| -> Vec<Vec<u8>> {
        positional
            .iter()
            .map(|p| {
                (0..args.len())
                    .find(|&i| *p == stand_in(i))
                    .map(|i| args[i].clone())
                    .unwrap_or_else(|| p.clone().into_bytes())
            })
            .collect()
    };
    let parsed = match <RequestLine as clap::Parser>::try_parse_from(&texts) {
        Ok(parsed) => parsed,
        Err(_) => {
            // cobra shows a known command's usage on stderr when its flags do not parse.
            if let Some(usage) = usage(&texts[0]) {
                eprint!("{usage}");
            }
            return Err(Fail::invalid_input(format!("invalid txn request: {shown}")));
        }
    };
    let request = match parsed.op {
        RequestCommand::Get(a) => request_op::Request::RequestRange(kv::range_request_of(&a, &restore(&a.args))?),
        RequestCommand::Put(a) => {
            let positional = restore(&a.args);
            // etcdctl reads a missing value from the stdin it already buffered: nothing is left.
            let value = || positional.get(1).cloned().ok_or(());
            request_op::Request::RequestPut(kv::put_request_of(&a, &positional, value)?)
        }
        RequestCommand::Del(a) => {
            request_op::Request::RequestDeleteRange(kv::delete_request_of(&a, &restore(&a.args))?)
        }
    };
    Ok(RequestOp { request: Some(request) })
}

/// cobra's usage of etcdctl's get, put and del commands (as txn's request parser prints it).
fn usage(command: &str) -> Option<&'static str> {
    match command {
        "get" => Some(concat!(
            "Usage:\n   get [options] <key> [range_end] [flags]\n\nFlags:\n",
            "      --consistency string   Linearizable(l) or Serializable(s) (default \"l\")\n",
            "      --from-key             Get keys that are greater than or equal to the given key using byte compare\n",
            "  -h, --help                 help for get\n",
            "      --keys-only            Get only the keys\n",
            "      --limit int            Maximum number of results\n",
            "      --order string         Order of results; ASCEND or DESCEND (ASCEND by default)\n",
            "      --prefix               Get keys with matching prefix\n",
            "      --print-value-only     Only write values when using the \"simple\" output format\n",
            "      --rev int              Specify the kv revision\n",
            "      --sort-by string       Sort target; CREATE, KEY, MODIFY, VALUE, or VERSION\n\n",
        )),
        "put" => Some(concat!(
            "Usage:\n   put [options] <key> <value> (<value> can also be given from stdin) [flags]\n\nFlags:\n",
            "  -h, --help           help for put\n",
            "      --ignore-lease   updates the key using its current lease\n",
            "      --ignore-value   updates the key using its current value\n",
            "      --lease string   lease ID (in hexadecimal) to attach to the key (default \"0\")\n",
            "      --prev-kv        return the previous key-value pair before modification\n\n",
        )),
        "del" => Some(concat!(
            "Usage:\n   del [options] <key> [range_end] [flags]\n\nFlags:\n",
            "      --from-key   delete keys that are greater than or equal to the given key using byte compare\n",
            "  -h, --help       help for del\n",
            "      --prefix     delete keys with matching prefix\n",
            "      --prev-kv    return deleted key-value pairs\n\n",
        )),
        _ => None,
    }
}

/// Prints a txn response as etcdctl does.
pub fn print_txn(printer: Printer, response: &TxnResponse) -> Result<(), Fail> {
    match printer.format {
        Format::Simple => print::out(&simple_txn(response, printer.hex)),
        Format::Fields => print::out(&fields_txn(response)),
        Format::Json => print::json(response, "etcdserverpb.TxnResponse"),
        Format::Protobuf => print::protobuf(response),
        Format::Table => return Err(printer.format.unsupported()),
    }
    Ok(())
}

fn simple_txn(response: &TxnResponse, hex: bool) -> String {
    let mut text = if response.succeeded { "SUCCESS\n" } else { "FAILURE\n" }.to_owned();
    for op in &response.responses {
        text.push('\n');
        match &op.response {
            Some(response_op::Response::ResponseRange(r)) => text.push_str(&kv::simple_get(r, hex, false)),
            Some(response_op::Response::ResponsePut(r)) => text.push_str(&kv::simple_put(r, hex)),
            Some(response_op::Response::ResponseDeleteRange(r)) => text.push_str(&kv::simple_del(r, hex)),
            // etcdctl cannot send a nested txn; Go prints the unexpected response with %+v.
            Some(response_op::Response::ResponseTxn(_)) | None => text.push_str("unexpected response\n"),
        }
    }
    text
}

fn fields_txn(response: &TxnResponse) -> String {
    let mut text = print::fields_header(response.header.as_ref());
    text.push_str(&format!("\"Succeeded\" : {}\n", response.succeeded));
    for op in &response.responses {
        match &op.response {
            Some(response_op::Response::ResponseRange(r)) => text.push_str(&kv::fields_get(r)),
            Some(response_op::Response::ResponsePut(r)) => text.push_str(&kv::fields_put(r)),
            Some(response_op::Response::ResponseDeleteRange(r)) => text.push_str(&kv::fields_del(r)),
            Some(response_op::Response::ResponseTxn(_)) | None => text.push_str("\"Unknown\" : \"\"\n"),
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        argify(line.as_bytes()).expect("argify").into_iter().map(|a| String::from_utf8_lossy(&a).into_owned()).collect()
    }

    #[test]
    fn argify_splits_as_etcdctl_does() {
        assert_eq!(args("put a b"), ["put", "a", "b"]);
        assert_eq!(args(r#"put "a b" "c\"d""#), ["put", "a b", "c\"d"]);
        // Single quotes are cut by the number of arguments (etcdctl's slicing).
        assert_eq!(args("put 'abc' v"), ["put", "a", "v"]);
        assert_eq!(args("put 'abc' v x"), ["put", "ab", "v", "x"]);
        assert_eq!(args(r#"put "unterminated v"#), ["put", "unterminated", "v"]);
        assert_eq!(argify(br#"put "\xff" v"#).expect("argify")[1], vec![0xff]);
    }

    #[test]
    fn compares_scan_as_go_scans_them() {
        let c = parse_compare(br#"value("a") = "1""#).expect("a compare");
        assert_eq!(c.key, b"a");
        assert_eq!(c.target_union, Some(TargetUnion::Value(b"1".to_vec())));
        let c = parse_compare(br#"mod("a")   >   "12" trailing"#).expect("a compare");
        assert_eq!(c.target_union, Some(TargetUnion::ModRevision(12)));
        assert_eq!(c.result, CompareResult::Greater as i32);
        let c = parse_compare(b"ver(`a`) != `3`").expect("a compare");
        assert_eq!(c.target_union, Some(TargetUnion::Version(3)));
        let e = parse_compare(br#"value("a")="1""#).expect_err("no space");
        assert_eq!(e.message, r#"malformed comparison: value("a")="1"; got value("a")  """#);
        let e = parse_compare(br#"version("a") = "x""#).expect_err("not a number");
        assert_eq!(e.message, r#"invalid txn compare request: version("a") = "x""#);
        let e = parse_compare(br#"foo("a") = "1""#).expect_err("unknown target");
        assert_eq!(e.message, r#"malformed comparison: foo("a") = "1" (unknown target foo)"#);
        let e = parse_compare(b"value").expect_err("no paren");
        assert_eq!(e.message, "malformed comparison: value");
    }

    #[test]
    fn trims_as_go_trims() {
        assert_eq!(trim_space(b" \t a b \r\n"), b"a b");
        assert_eq!(trim_space("\u{a0}x\u{3000}".as_bytes()), b"x");
        assert_eq!(trim_space(b"\xffx\xff"), b"\xffx\xff");
    }
}
