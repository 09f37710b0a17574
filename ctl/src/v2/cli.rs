//! The command line as etcdctl's v2 mode reads it: urfave/cli 1.x over Go's `flag` package.
//!
//! urfave moves a command's known flags (and the word after each) before its other arguments,
//! then Go's `flag` parses flags up to the first non-flag (or `--`). Single- and double-dash
//! forms are the same, `-name=value` and `-name value` both work, bool flags take no separate
//! value. Help is rendered from the same templates urfave uses, through a tabwriter with
//! padding 2.

use std::collections::HashMap;
use std::time::Duration;

/// What kind of value a flag holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `cli.BoolFlag`.
    Bool,
    /// `cli.StringFlag`.
    Str,
    /// `cli.IntFlag`.
    Int,
    /// `cli.DurationFlag`.
    Duration,
    /// `cli.StringSliceFlag` (each occurrence adds one value).
    Strings,
}

/// One flag: its names as urfave writes them (`"quorum, q"`), kind, usage and default.
#[derive(Clone, Copy, Debug)]
pub struct FlagSpec {
    /// Comma-separated names, the long one first.
    pub names: &'static str,
    /// The kind of value.
    pub kind: Kind,
    /// The usage text (a word in backquotes becomes the placeholder).
    pub usage: &'static str,
    /// The default, as Go prints it (`""` for none).
    pub default: &'static str,
}

impl FlagSpec {
    const fn new(names: &'static str, kind: Kind, usage: &'static str, default: &'static str) -> FlagSpec {
        FlagSpec { names, kind, usage, default }
    }

    /// A bool flag.
    pub const fn bool(names: &'static str, usage: &'static str) -> FlagSpec {
        FlagSpec::new(names, Kind::Bool, usage, "")
    }

    /// A string flag with a default.
    pub const fn string(names: &'static str, default: &'static str, usage: &'static str) -> FlagSpec {
        FlagSpec::new(names, Kind::Str, usage, default)
    }

    /// An int flag (default 0).
    pub const fn int(names: &'static str, usage: &'static str) -> FlagSpec {
        FlagSpec::new(names, Kind::Int, usage, "0")
    }

    /// A duration flag with a default.
    pub const fn duration(names: &'static str, default: &'static str, usage: &'static str) -> FlagSpec {
        FlagSpec::new(names, Kind::Duration, usage, default)
    }

    /// A string slice flag.
    pub const fn strings(names: &'static str, usage: &'static str) -> FlagSpec {
        FlagSpec::new(names, Kind::Strings, usage, "")
    }

    fn name_list(&self) -> impl Iterator<Item = &'static str> {
        self.names.split(',').map(str::trim)
    }

    /// The flag as urfave lists it in help: `--name value, -n value<TAB>usage (default: x)`.
    fn help_line(&self) -> String {
        let (placeholder, usage) = unquote_usage(self.usage);
        let (placeholder, default) = match self.kind {
            Kind::Bool => (placeholder, String::new()),
            Kind::Strings => (placeholder.or(Some("value".to_owned())), String::new()),
            Kind::Str if self.default.is_empty() => (placeholder.or(Some("value".to_owned())), String::new()),
            Kind::Str => (placeholder.or(Some("value".to_owned())), format!(" (default: \"{}\")", self.default)),
            Kind::Int | Kind::Duration => {
                (placeholder.or(Some("value".to_owned())), format!(" (default: {})", self.default))
            }
        };
        let names: Vec<String> = self
            .name_list()
            .map(|name| {
                let dashes = if name.len() == 1 { "-" } else { "--" };
                match &placeholder {
                    Some(p) => format!("{dashes}{name} {p}"),
                    None => format!("{dashes}{name}"),
                }
            })
            .collect();
        format!("{}\t{}", names.join(", "), format!("{usage}{default}").trim())
    }
}

/// urfave's `unquoteUsage`: the first word in backquotes is the placeholder.
fn unquote_usage(usage: &str) -> (Option<String>, String) {
    if let Some(start) = usage.find('`')
        && let Some(len) = usage[start + 1..].find('`')
    {
        let name = &usage[start + 1..start + 1 + len];
        return (Some(name.to_owned()), format!("{}{}{}", &usage[..start], name, &usage[start + 2 + len..]));
    }
    (None, usage.to_owned())
}

/// urfave's help flag, which every command and app has.
pub const HELP: FlagSpec = FlagSpec::bool("help, h", "show help");
/// The app's version flag.
pub const VERSION: FlagSpec = FlagSpec::bool("version, v", "print the version");

/// A command (or a command with subcommands).
#[derive(Debug)]
pub struct CommandSpec {
    /// Its name.
    pub name: &'static str,
    /// One line of usage.
    pub usage: &'static str,
    /// What it takes (`<key> <value>`).
    pub args_usage: &'static str,
    /// A longer description (only `set` has one).
    pub description: &'static str,
    /// Its own flags.
    pub flags: &'static [FlagSpec],
    /// Its subcommands (member, user, role, auth).
    pub subcommands: &'static [CommandSpec],
}

/// A parsed value.
#[derive(Clone, Debug)]
enum Value {
    Bool(bool),
    Str(String),
    Int(i64),
    Duration(Duration),
    Strings(Vec<String>),
}

/// The flags of one level (global or a command) after parsing, with every name of a flag
/// holding its value.
#[derive(Clone, Debug, Default)]
pub struct Flags {
    values: HashMap<&'static str, Value>,
}

impl Flags {
    /// A bool flag's value.
    pub fn bool(&self, name: &str) -> bool {
        matches!(self.values.get(name), Some(Value::Bool(true)))
    }

    /// A string flag's value (`""` when unset).
    pub fn string(&self, name: &str) -> String {
        match self.values.get(name) {
            Some(Value::Str(s)) => s.clone(),
            _ => String::new(),
        }
    }

    /// An int flag's value.
    pub fn int(&self, name: &str) -> i64 {
        match self.values.get(name) {
            Some(Value::Int(i)) => *i,
            _ => 0,
        }
    }

    /// A duration flag's value.
    pub fn duration(&self, name: &str) -> Duration {
        match self.values.get(name) {
            Some(Value::Duration(d)) => *d,
            _ => Duration::ZERO,
        }
    }

    /// A string slice flag's values.
    pub fn strings(&self, name: &str) -> Vec<String> {
        match self.values.get(name) {
            Some(Value::Strings(v)) => v.clone(),
            _ => Vec::new(),
        }
    }
}

/// urfave's `reorderArgs`: known flags (and the word after a flag without `=`) first, the
/// rest after; `--` and what follows it go last.
pub fn reorder(flags: &[FlagSpec], args: &[String]) -> Vec<String> {
    let is_flag = |arg: &str| -> bool {
        if arg == "-" || arg == "--" || !arg.starts_with('-') {
            return false;
        }
        let mut name = arg;
        if let Some(rest) = name.strip_prefix("--") {
            name = rest;
        }
        let name = name.strip_prefix('-').unwrap_or(name);
        let name = name.split('=').next().unwrap_or(name);
        flags.iter().chain([&HELP]).any(|f| f.name_list().any(|n| n == name))
    };
    let mut reordered = Vec::new();
    let mut remaining = Vec::new();
    let mut may_be_value = false;
    for (i, arg) in args.iter().enumerate() {
        if may_be_value && !is_flag(arg) {
            may_be_value = false;
            reordered.push(arg.clone());
        } else if arg == "--" {
            remaining.insert(0, "--".to_owned());
            remaining.extend(args[i + 1..].iter().cloned());
            break;
        } else if is_flag(arg) {
            reordered.push(arg.clone());
            may_be_value = !arg.contains('=');
        } else {
            remaining.push(arg.clone());
        }
    }
    reordered.extend(remaining);
    reordered
}

/// Go's `strconv.ParseInt(text, 0, 64)` as `flag` maps its errors.
fn parse_go_int(text: &str) -> Result<i64, &'static str> {
    let (negative, body) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let lower = body.to_ascii_lowercase();
    let (base, digits) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d.to_owned())
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d.to_owned())
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d.to_owned())
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, lower[1..].to_owned())
    } else {
        (10, lower.clone())
    };
    let digits: String = if base != 10 || lower.contains('_') { digits.replace('_', "") } else { digits };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(base)) {
        return Err("parse error");
    }
    let magnitude = u128::from_str_radix(&digits, base).map_err(|_| "value out of range")?;
    let value = if negative { -(magnitude as i128) } else { magnitude as i128 };
    i64::try_from(value).map_err(|_| "value out of range")
}

/// Go's `flag.FlagSet.Parse` over `specs` (plus the help flag, and `extra`): the flags and the
/// remaining arguments, or the error text Go's `flag` gives.
pub fn parse(specs: &[FlagSpec], extra: &[FlagSpec], args: &[String]) -> Result<(Flags, Vec<String>), String> {
    let all: Vec<&FlagSpec> = specs.iter().chain(extra).chain([&HELP]).collect();
    let mut flags = Flags::default();
    for spec in &all {
        let value = match spec.kind {
            Kind::Bool => Value::Bool(false),
            Kind::Str => Value::Str(spec.default.to_owned()),
            Kind::Int => Value::Int(parse_go_int(spec.default).unwrap_or(0)),
            Kind::Duration => Value::Duration(crate::global::go_duration(spec.default).unwrap_or_default()),
            Kind::Strings => Value::Strings(Vec::new()),
        };
        for name in spec.name_list() {
            flags.values.insert(name, value.clone());
        }
    }
    let mut rest: &[String] = args;
    let mut given: Vec<(&FlagSpec, &'static str)> = Vec::new();
    while let Some(arg) = rest.first() {
        if arg.len() < 2 || !arg.starts_with('-') {
            break;
        }
        let mut minuses = 1;
        if arg.as_bytes()[1] == b'-' {
            minuses = 2;
            if arg.len() == 2 {
                rest = &rest[1..];
                break;
            }
        }
        let name = &arg[minuses..];
        if name.is_empty() || name.starts_with('-') || name.starts_with('=') {
            return Err(format!("bad flag syntax: {arg}"));
        }
        rest = &rest[1..];
        let (name, inline) = match name[1..].find('=') {
            Some(i) => (&name[..i + 1], Some(name[i + 2..].to_owned())),
            None => (name, None),
        };
        let Some((spec, canonical)) = all.iter().find_map(|s| s.name_list().find(|n| *n == name).map(|n| (*s, n)))
        else {
            return Err(format!("flag provided but not defined: -{name}"));
        };
        let value = if spec.kind == Kind::Bool {
            match inline {
                Some(v) => Value::Bool(
                    crate::global::go_bool(&v)
                        .map_err(|_| format!("invalid boolean value {} for -{name}: parse error", quote(&v)))?,
                ),
                None => Value::Bool(true),
            }
        } else {
            let text = match inline {
                Some(v) => v,
                None => match rest.first() {
                    Some(v) => {
                        rest = &rest[1..];
                        v.clone()
                    }
                    None => return Err(format!("flag needs an argument: -{name}")),
                },
            };
            let invalid = |why: &str| format!("invalid value {} for flag -{name}: {why}", quote(&text));
            match spec.kind {
                Kind::Str => Value::Str(text.clone()),
                Kind::Int => Value::Int(parse_go_int(&text).map_err(invalid)?),
                Kind::Duration => {
                    Value::Duration(crate::global::go_duration(&text).map_err(|_| invalid("parse error"))?)
                }
                Kind::Strings => {
                    let mut values = match flags.values.get(canonical) {
                        Some(Value::Strings(v)) => v.clone(),
                        _ => Vec::new(),
                    };
                    values.push(text.clone());
                    Value::Strings(values)
                }
                Kind::Bool => Value::Bool(true),
            }
        };
        flags.values.insert(canonical, value);
        given.push((spec, canonical));
    }
    // urfave's normalizeFlags: one form per flag, copied to the others.
    for spec in &all {
        let used: Vec<&'static str> =
            spec.name_list().filter(|n| given.iter().any(|(s, g)| std::ptr::eq(*s, *spec) && g == n)).collect();
        if used.len() > 1 {
            return Err(format!("Cannot use two forms of the same flag: {}", used.join(" ")));
        }
        if let Some(name) = used.first() {
            let value = flags.values.get(name).cloned();
            for other in spec.name_list() {
                if let Some(v) = &value {
                    flags.values.insert(other, v.clone());
                }
            }
        }
    }
    Ok((flags, rest.to_vec()))
}

fn quote(text: &str) -> String {
    crate::print::go_quote(text)
}

/// Go's text/tabwriter as urfave sets it up (min width 1, padding 2, spaces): each run of
/// lines holding a tab has its first cells padded to the widest one plus 2.
fn tabwrite(text: &str) -> String {
    let lines: Vec<&str> = text.split('\n').collect();
    let mut out = String::new();
    let mut i = 0;
    while i < lines.len() {
        if !lines[i].contains('\t') {
            out.push_str(lines[i]);
            if i + 1 < lines.len() {
                out.push('\n');
            }
            i += 1;
            continue;
        }
        let start = i;
        while i < lines.len() && lines[i].contains('\t') {
            i += 1;
        }
        let width =
            lines[start..i].iter().map(|l| l.split('\t').next().unwrap_or("").chars().count()).max().unwrap_or(0) + 2;
        for line in &lines[start..i] {
            let (cell, rest) = line.split_once('\t').unwrap_or((line, ""));
            out.push_str(&format!("{cell:<width$}{rest}"));
            out.push('\n');
        }
        if i == lines.len() {
            out.pop();
        }
    }
    out
}

/// The app's help (`etcdctl`, `etcdctl -h`, `etcdctl help`).
pub fn app_help(version: &str, usage: &str, commands: &[CommandSpec], globals: &[FlagSpec]) -> String {
    let mut text = format!(
        "NAME:\n   etcdctl - {usage}\n\nUSAGE:\n   etcdctl [global options] command [command options] [arguments...]\n\n\
         VERSION:\n   {version}\n\nCOMMANDS:"
    );
    for command in commands {
        text.push_str(&format!("\n   {}\t{}", command.name, command.usage));
    }
    text.push_str("\n   help, h\tShows a list of commands or help for one command");
    text.push_str("\n\nGLOBAL OPTIONS:\n   ");
    let flags: Vec<String> = globals.iter().chain([&HELP, &VERSION]).map(FlagSpec::help_line).collect();
    text.push_str(&flags.join("\n   "));
    text.push('\n');
    tabwrite(&text)
}

/// A command's help (`etcdctl help get`, `etcdctl get -h`, a usage error); `path` is its
/// full name (`etcdctl member list`).
pub fn command_help(path: &str, command: &CommandSpec) -> String {
    let mut text = format!("NAME:\n   {path} - {}\n\nUSAGE:\n   {path}", command.usage);
    if !command.flags.is_empty() {
        text.push_str(" [command options]");
    }
    let args = if command.args_usage.is_empty() { "[arguments...]" } else { command.args_usage };
    text.push_str(&format!(" {args}"));
    if !command.description.is_empty() {
        text.push_str(&format!("\n\nDESCRIPTION:\n   {}", command.description));
    }
    if !command.flags.is_empty() {
        text.push_str("\n\nOPTIONS:\n   ");
        for flag in command.flags {
            text.push_str(&flag.help_line());
            text.push_str("\n   ");
        }
    }
    text.push('\n');
    tabwrite(&text)
}

/// The help of a command with subcommands (`etcdctl member`).
pub fn subcommand_help(path: &str, command: &CommandSpec) -> String {
    let mut text = format!(
        "NAME:\n   {path} - {}\n\nUSAGE:\n   {path} command [command options] [arguments...]\n\nCOMMANDS:",
        command.usage
    );
    for sub in command.subcommands {
        text.push_str(&format!("\n   {}\t{}", sub.name, sub.usage));
    }
    text.push_str(&format!("\n\nOPTIONS:\n   {}\n   \n", HELP.help_line()));
    tabwrite(&text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| (*s).to_owned()).collect()
    }

    const SET: &[FlagSpec] = &[
        FlagSpec::int("ttl", "key time-to-live in seconds"),
        FlagSpec::string("swap-with-value", "", "previous value"),
        FlagSpec::bool("quorum, q", "require quorum"),
    ];

    #[test]
    fn flags_after_arguments_move_first() {
        let args = reorder(SET, &strings(&["/k", "v", "--ttl", "5"]));
        assert_eq!(args, strings(&["--ttl", "5", "/k", "v"]));
        let (flags, rest) = parse(SET, &[], &args).expect("parses");
        assert_eq!(flags.int("ttl"), 5);
        assert_eq!(rest, strings(&["/k", "v"]));
        let watch = &[FlagSpec::bool("recursive, r", "recursive")];
        let args = reorder(watch, &strings(&["--recursive", "/", "--", "sh", "-c", "x"]));
        assert_eq!(args, strings(&["--recursive", "/", "--", "sh", "-c", "x"]));
        let args = reorder(watch, &strings(&["/", "-r", "--", "sh"]));
        assert_eq!(args, strings(&["-r", "--", "/", "sh"]));
    }

    #[test]
    fn errors_read_as_go_flag_writes_them() {
        let err = |args: &[&str]| parse(SET, &[], &strings(args)).expect_err("fails");
        assert_eq!(err(&["--bogus"]), "flag provided but not defined: -bogus");
        assert_eq!(err(&["--ttl", "abc"]), "invalid value \"abc\" for flag -ttl: parse error");
        assert_eq!(err(&["--ttl"]), "flag needs an argument: -ttl");
        assert_eq!(err(&["-q", "--quorum"]), "Cannot use two forms of the same flag: quorum q");
        let (flags, _) = parse(SET, &[], &strings(&["-q=true", "-ttl=0x10"])).expect("parses");
        assert!(flags.bool("quorum"));
        assert_eq!(flags.int("ttl"), 16);
    }

    #[test]
    fn help_lines_align_as_tabwriter_does() {
        let text = tabwrite("   a\tx\n   bbb\ty\n\nz\n");
        assert_eq!(text, "   a    x\n   bbb  y\n\nz\n");
        assert_eq!(
            FlagSpec::string("output, o", "simple", "format (`simple`, `extended` or `json`)").help_line(),
            "--output simple, -o simple\tformat (simple, `extended` or `json`) (default: \"simple\")"
        );
    }
}
