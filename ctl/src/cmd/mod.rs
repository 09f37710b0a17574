//! The v3 commands, one module per etcdctl command (or command group), each with its flags, its
//! checks, its requests and its printing.

pub mod alarm;
pub mod auth;
pub mod check;
pub mod compaction;
pub mod completion;
pub mod defrag;
pub mod elect;
pub mod endpoint;
pub mod kv;
pub mod lease;
pub mod lock;
pub mod make_mirror;
pub mod member;
pub mod move_leader;
pub mod role;
pub mod snapshot;
pub mod txn;
pub mod user;
pub mod version;
pub mod watch;

use std::io::Read;

use crate::exit::Fail;

/// The end of the range of keys starting with `prefix` (clientv3's `GetPrefixRangeEnd`): the
/// prefix with its last byte below 0xff incremented; `\0` (every key) when there is none.
pub fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0]
}

/// Go's `strconv.ParseInt(text, base, 64)` (an optional sign, digits of `base`), with Go's
/// error text.
pub fn go_parse_int(text: &str, base: u32) -> Result<i64, String> {
    let syntax = || format!("strconv.ParseInt: parsing {}: invalid syntax", crate::print::go_quote(text));
    let range = || format!("strconv.ParseInt: parsing {}: value out of range", crate::print::go_quote(text));
    let (negative, digits) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(base)) {
        return Err(syntax());
    }
    let magnitude = u128::from_str_radix(digits, base).map_err(|_| range())?;
    let value = if negative { -(magnitude as i128) } else { magnitude as i128 };
    i64::try_from(value).map_err(|_| range())
}

/// A lease id given in hexadecimal, as etcdctl's commands take it.
pub fn parse_lease_hex(text: &str) -> Result<i64, String> {
    go_parse_int(text, 16)
}

/// etcdctl's `argOrStdin`: argument `i`, else all of stdin (an error when both are empty).
pub fn arg_or_stdin(args: &[String], i: usize) -> Result<String, ()> {
    if let Some(arg) = args.get(i) {
        return Ok(arg.clone());
    }
    let mut input = Vec::new();
    match std::io::stdin().read_to_end(&mut input) {
        Ok(_) if !input.is_empty() => Ok(String::from_utf8_lossy(&input).into_owned()),
        _ => Err(()),
    }
}

/// A pflag boolean (`--flag`, `--flag=true|false`), for commands' own flags.
pub use crate::global::go_bool;

/// Fails with `message` and exit code 128 (etcdctl's `ExitBadArgs`).
pub fn bad_args(message: impl Into<String>) -> Fail {
    Fail::bad_args(message)
}

/// Go's `strconv.ParseUint(text, base, 64)` (digits of `base` only, no sign), with Go's error
/// text: how etcdctl reads member ids.
pub fn go_parse_uint(text: &str, base: u32) -> Result<u64, String> {
    let quoted = crate::print::go_quote(text);
    if text.is_empty() || !text.chars().all(|c| c.is_digit(base)) {
        return Err(format!("strconv.ParseUint: parsing {quoted}: invalid syntax"));
    }
    u64::from_str_radix(text, base).map_err(|_| format!("strconv.ParseUint: parsing {quoted}: value out of range"))
}

/// A duration as Go's `time.Duration.String` prints it: `8.158164ms`, `1.5s`, `1m0.25s`, `0s`.
pub fn go_duration_string(duration: std::time::Duration) -> String {
    let nanos = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
    // The fraction `value / 10^digits` with trailing zeros (and a bare point) dropped.
    let fraction = |value: u64, digits: u32| -> String {
        let scale = 10u64.pow(digits);
        let frac = format!("{:0width$}", value % scale, width = digits as usize);
        let frac = frac.trim_end_matches('0');
        if frac.is_empty() { format!("{}", value / scale) } else { format!("{}.{frac}", value / scale) }
    };
    match nanos {
        0 => "0s".to_owned(),
        n if n < 1_000 => format!("{n}ns"),
        n if n < 1_000_000 => format!("{}\u{b5}s", fraction(n, 3)),
        n if n < 1_000_000_000 => format!("{}ms", fraction(n, 6)),
        n => {
            let seconds = fraction(n % 60_000_000_000, 9);
            let minutes = n / 60_000_000_000;
            match (minutes / 60, minutes % 60) {
                (0, 0) => format!("{seconds}s"),
                (0, m) => format!("{m}m{seconds}s"),
                (h, m) => format!("{h}h{m}m{seconds}s"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_ends() {
        assert_eq!(prefix_end(b"foo"), b"fop");
        assert_eq!(prefix_end(b"a\xff"), b"b");
        assert_eq!(prefix_end(b"\xff\xff"), b"\0");
    }

    #[test]
    fn uints_parse_as_go_parses_them() {
        assert_eq!(go_parse_uint("bdae9bbc11dd390d", 16), Ok(0xbdae9bbc11dd390d));
        assert_eq!(go_parse_uint("xyz", 16), Err("strconv.ParseUint: parsing \"xyz\": invalid syntax".to_owned()));
        assert_eq!(go_parse_uint("-1", 16), Err("strconv.ParseUint: parsing \"-1\": invalid syntax".to_owned()));
        assert_eq!(
            go_parse_uint("1ffffffffffffffff", 16),
            Err("strconv.ParseUint: parsing \"1ffffffffffffffff\": value out of range".to_owned())
        );
    }

    #[test]
    fn durations_print_as_go_prints_them() {
        use std::time::Duration;
        assert_eq!(go_duration_string(Duration::ZERO), "0s");
        assert_eq!(go_duration_string(Duration::from_nanos(999)), "999ns");
        assert_eq!(go_duration_string(Duration::from_nanos(1_500)), "1.5\u{b5}s");
        assert_eq!(go_duration_string(Duration::from_nanos(8_158_164)), "8.158164ms");
        assert_eq!(go_duration_string(Duration::from_millis(10)), "10ms");
        assert_eq!(go_duration_string(Duration::from_nanos(5_000_431_000)), "5.000431s");
        assert_eq!(go_duration_string(Duration::from_secs(60)), "1m0s");
        assert_eq!(go_duration_string(Duration::from_millis(3_723_500)), "1h2m3.5s");
    }

    #[test]
    fn ints_parse_as_go_parses_them() {
        assert_eq!(go_parse_int("ff", 16), Ok(255));
        assert_eq!(go_parse_int("-a", 16), Ok(-10));
        assert_eq!(go_parse_int("xyz", 16), Err("strconv.ParseInt: parsing \"xyz\": invalid syntax".to_owned()));
        assert_eq!(
            go_parse_int("ffffffffffffffffff", 16),
            Err("strconv.ParseInt: parsing \"ffffffffffffffffff\": value out of range".to_owned())
        );
    }
}
