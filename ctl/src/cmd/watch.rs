//! `watch`: a key, a range or a prefix, from a revision or from now on, printed in any format;
//! with `-- cmd args` a command runs for each event (`ETCD_WATCH_*` in its environment); with
//! `-i` watch lines (`watch [options] key ...`, `progress`) are read from stdin.
//!
//! [`Watcher`] is clientv3's watcher as etcdctl (and the `lock`/`elect` recipes) see it: one gRPC
//! stream carrying any number of watches, created one at a time, resumed from the next revision
//! when the server becomes unavailable; the creation response is not delivered, a server-side
//! cancel without a compaction ends the watch silently, a compaction cancel is delivered and ends
//! it.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use cairn_client::Client;
use cairn_proto::etcdserverpb::watch_request::RequestUnion;
use cairn_proto::etcdserverpb::{
    ResponseHeader, WatchCancelRequest, WatchCreateRequest, WatchProgressRequest, WatchRequest, WatchResponse,
};
use cairn_proto::mvccpb::Event;
use cairn_proto::mvccpb::event::EventType;
use tokio::sync::mpsc;

use super::{bad_args, go_bool, prefix_end};
use crate::exit::{self, Fail};
use crate::global::Ctx;
use crate::print::{self, Format, Printer, gojson};

/// `watch [options] [key or prefix] [range_end] [--] [exec-command arg1 arg2 ...]`
#[derive(Debug, clap::Args)]
pub struct WatchArgs {
    /// Interactive mode
    #[arg(short = 'i', long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_parser = go_bool)]
    interactive: bool,
    /// Watch on a prefix if prefix is set
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_parser = go_bool)]
    prefix: bool,
    /// Revision to start watching
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    rev: i64,
    /// get the previous key-value pair before the event happens
    #[arg(long = "prev-kv", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_parser = go_bool)]
    prev_kv: bool,
    /// [key or prefix] [range_end] [--] [exec-command arg1 arg2 ...]
    args: Vec<String>,
}

/// The flags a watch is made with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct WatchFlags {
    prefix: bool,
    rev: i64,
    prev_kv: bool,
}

const ERR_BAD_ARGS_NUM: &str = "bad number of arguments";
const ERR_CONFLICT_ENV: &str = "bad number of arguments (found conflicting environment key)";
const ERR_SEPARATOR: &str = "bad number of arguments (found separator --, but no commands)";
const ERR_INTERACTIVE: &str = "args[0] must be 'watch' for interactive calls";

/// Runs `watch`.
pub async fn run(ctx: &Ctx, args: WatchArgs) -> Result<(), Fail> {
    let env_key = std::env::var("ETCDCTL_WATCH_KEY").unwrap_or_default();
    let env_range = std::env::var("ETCDCTL_WATCH_RANGE_END").unwrap_or_default();
    if env_key.is_empty() && !env_range.is_empty() {
        return Err(bad_args(format!(
            "ETCDCTL_WATCH_KEY is empty but got ETCDCTL_WATCH_RANGE_END={}",
            print::go_quote(&env_range)
        )));
    }
    let os_args: Vec<String> = std::env::args().collect();
    if args.interactive {
        return interactive(ctx, &os_args, &env_key, &env_range).await;
    }
    let flags = WatchFlags { prefix: args.prefix, rev: args.rev, prev_kv: args.prev_kv };
    let (watch_args, exec_args, _) =
        parse_watch_args(&os_args, &args.args, &env_key, &env_range, false).map_err(bad_args)?;
    let client = ctx.client().await?;
    let spec = watch_spec(&watch_args, flags).map_err(bad_args)?;
    let printer = ctx.printer()?;
    let watcher = Watcher::new(client);
    print_watch(printer, watcher.watch(spec), &exec_args).await?;
    Err(Fail::new(exit::INTERRUPTED, "watch is canceled by the server"))
}

/// `watch -i`: watch lines from stdin until it ends.
async fn interactive(ctx: &Ctx, os_args: &[String], env_key: &str, env_range: &str) -> Result<(), Fail> {
    let client = ctx.client().await?;
    let watcher = Watcher::new(client);
    let mut lines = stdin_lines();
    loop {
        let line = match lines.recv().await {
            Some(Ok(line)) => line,
            Some(Err(e)) => return Err(Fail::invalid_input(format!("Error reading watch request line: {e}"))),
            None => return Err(Fail::invalid_input("Error reading watch request line: EOF")),
        };
        let line = line.strip_suffix(b"\n").unwrap_or(&line).to_vec();
        let shown = String::from_utf8_lossy(&line).into_owned();
        let args: Vec<String> =
            super::txn::argify(&line)?.into_iter().map(|a| String::from_utf8_lossy(&a).into_owned()).collect();
        let Some(first) = args.first() else {
            eprintln!("Invalid command: {shown} (watch and progress supported)");
            continue;
        };
        match first.as_str() {
            "watch" => {
                if args.len() < 2 && env_key.is_empty() {
                    eprintln!("Invalid command {shown} (command type or key is not provided)");
                    continue;
                }
                let (watch_args, exec_args, flags) =
                    parse_watch_args(os_args, &args, env_key, env_range, true).map_err(bad_args)?;
                let spec = match watch_spec(&watch_args, flags.unwrap_or_default()) {
                    Ok(spec) => spec,
                    Err(e) => {
                        eprintln!("Invalid command {shown} ({e})");
                        continue;
                    }
                };
                let printer = ctx.printer()?;
                let responses = watcher.watch(spec);
                tokio::spawn(async move {
                    if let Err(fail) = print_watch(printer, responses, &exec_args).await {
                        std::process::exit(exit::report(&fail));
                    }
                });
            }
            "progress" => watcher.request_progress(),
            _ => eprintln!("Invalid command {shown} (only support watch)"),
        }
    }
}

/// Lines of stdin (with their newline; a last line without one is an `EOF` error, as Go's
/// `ReadString('\n')` has it), read on a thread of their own.
fn stdin_lines() -> mpsc::UnboundedReceiver<Result<Vec<u8>, String>> {
    let (tx, rx) = mpsc::unbounded_channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        let mut input = std::io::stdin().lock();
        loop {
            let mut line = Vec::new();
            match input.read_until(b'\n', &mut line) {
                Ok(_) if line.last() == Some(&b'\n') => {
                    if tx.send(Ok(line)).is_err() {
                        return;
                    }
                }
                Ok(_) => {
                    let _ = tx.send(Err("EOF".to_owned()));
                    return;
                }
                Err(e) => {
                    let _ = tx.send(Err(e.to_string()));
                    return;
                }
            }
        }
    });
    rx
}

/// The watch arguments, the command to run per event, and (in interactive mode) the line's flags.
type ParsedWatchArgs = (Vec<String>, Vec<String>, Option<WatchFlags>);

/// etcdctl's `parseWatchArgs`, literally: the watch arguments and the command to run, from the
/// process's arguments (`--` is only visible there) and the parsed ones; in interactive mode the
/// line's own flags too.
fn parse_watch_args(
    os_args: &[String],
    command_args: &[String],
    env_key: &str,
    env_range: &str,
    interactive: bool,
) -> Result<ParsedWatchArgs, String> {
    let mut raw: Vec<String> = os_args.to_vec();
    if let Some(i) = raw.iter().position(|a| a == "watch") {
        raw = raw[i + 1..].to_vec();
    }
    let mut watch_args: Vec<String> = command_args.to_vec();
    if interactive {
        if watch_args.first().map(String::as_str) != Some("watch") {
            return Err(ERR_INTERACTIVE.to_owned());
        }
        watch_args.remove(0);
    }
    // Go's `for i = range s { if ... break }` leaves i at the last index when nothing matched.
    let find_sep = |args: &[String]| match args.iter().position(|a| a == "--") {
        Some(i) => (i, true),
        None => (args.len().saturating_sub(1), false),
    };
    if !interactive {
        let (exec_idx, exec_exist) = find_sep(&raw);
        if exec_exist && exec_idx == raw.len() - 1 {
            return Err(ERR_SEPARATOR.to_owned());
        }
        if !exec_exist && raw.is_empty() && env_key.is_empty() {
            return Err(ERR_BAD_ARGS_NUM.to_owned());
        }
        if exec_exist && !env_key.is_empty() {
            let mut ridx = raw.len() as isize - 1;
            let mut widx = watch_args.len() as isize - 1;
            while widx >= 0 {
                if ridx >= 0 && watch_args[widx as usize] == raw[ridx as usize] {
                    ridx -= 1;
                } else if ridx == exec_idx as isize {
                    return Err(ERR_CONFLICT_ENV.to_owned());
                }
                widx -= 1;
            }
        }
        if !exec_exist && !watch_args.is_empty() && !env_key.is_empty() {
            return Err(ERR_CONFLICT_ENV.to_owned());
        }
    } else {
        let (exec_idx, exec_exist) = find_sep(&watch_args);
        if exec_exist && exec_idx == watch_args.len() - 1 {
            return Err(ERR_SEPARATOR.to_owned());
        }
        let (_, positional) = parse_flags(&watch_args)?;
        if !exec_exist && env_key.is_empty() && positional.is_empty() {
            return Err(ERR_BAD_ARGS_NUM.to_owned());
        }
        if !exec_exist && !positional.is_empty() && !env_key.is_empty() {
            return Err(ERR_CONFLICT_ENV.to_owned());
        }
    }
    let args_with_sep = if interactive { watch_args.clone() } else { raw };
    let sep = args_with_sep.iter().position(|a| a == "--");
    let exec_args = sep.map(|i| args_with_sep[i + 1..].to_vec()).unwrap_or_default();
    let mut flags = None;
    if interactive {
        let (parsed, positional) = parse_flags(&args_with_sep)?;
        watch_args = positional;
        flags = Some(parsed);
    }
    if !env_key.is_empty() {
        let mut ranges = vec![env_key.to_owned()];
        if !env_range.is_empty() {
            ranges.push(env_range.to_owned());
        }
        ranges.extend(watch_args);
        watch_args = ranges;
    }
    let Some(idx) = sep else {
        return Ok((watch_args, Vec::new(), flags));
    };
    // The watch arguments end where the command's first word last appears.
    let first = &args_with_sep[idx + 1];
    let end = watch_args.iter().rposition(|a| a == first).unwrap_or(0);
    watch_args.truncate(end);
    Ok((watch_args, exec_args, flags))
}

/// pflag's parsing of watch's flags on an interactive line: the flags and the other arguments.
fn parse_flags(args: &[String]) -> Result<(WatchFlags, Vec<String>), String> {
    let mut flags = WatchFlags::default();
    let mut positional = Vec::new();
    let mut i = 0;
    let bool_value = |name: &str, value: Option<&str>| -> Result<bool, String> {
        match value {
            None => Ok(true),
            Some(v) => {
                go_bool(v).map_err(|e| format!("invalid argument {} for \"--{name}\" flag: {e}", print::go_quote(v)))
            }
        }
    };
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        if arg == "--" {
            positional.extend(args[i..].iter().cloned());
            break;
        }
        if let Some(long) = arg.strip_prefix("--") {
            let (name, value) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (long, None),
            };
            match name {
                "interactive" => {
                    bool_value(name, value)?;
                }
                "prefix" => flags.prefix = bool_value(name, value)?,
                "prev-kv" => flags.prev_kv = bool_value(name, value)?,
                "rev" => {
                    let text = match value {
                        Some(v) => v.to_owned(),
                        None if i < args.len() => {
                            i += 1;
                            args[i - 1].clone()
                        }
                        None => return Err("flag needs an argument: --rev".to_owned()),
                    };
                    flags.rev = super::go_parse_int(&text, 10)
                        .map_err(|e| format!("invalid argument {} for \"--rev\" flag: {e}", print::go_quote(&text)))?;
                }
                _ => return Err(format!("unknown flag: --{name}")),
            }
        } else if arg.len() > 1 && arg.starts_with('-') {
            let shorthands = &arg[1..];
            for (n, c) in shorthands.char_indices() {
                if c != 'i' {
                    return Err(format!("unknown shorthand flag: '{c}' in {arg}"));
                }
                if shorthands[n + 1..].starts_with('=') {
                    bool_value("interactive", Some(&shorthands[n + 2..]))?;
                    break;
                }
            }
        } else {
            positional.push(arg.clone());
        }
    }
    Ok((flags, positional))
}

/// What a watch asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WatchSpec {
    /// The key (or the start of the range).
    pub key: Vec<u8>,
    /// The end of the range (none: the key alone).
    pub range_end: Vec<u8>,
    /// The first revision to see (0: from now on).
    pub start_revision: i64,
    /// Whether events carry the previous key-value.
    pub prev_kv: bool,
}

/// etcdctl's `getWatchChan` arguments: the watch for `args` and the flags, or why not.
fn watch_spec(args: &[String], flags: WatchFlags) -> Result<WatchSpec, String> {
    let Some(key) = args.first() else {
        return Err(ERR_BAD_ARGS_NUM.to_owned());
    };
    let mut spec = WatchSpec {
        key: key.clone().into_bytes(),
        start_revision: flags.rev,
        prev_kv: flags.prev_kv,
        ..Default::default()
    };
    if args.len() == 2 {
        if flags.prefix {
            return Err("`range_end` and `--prefix` are mutually exclusive".to_owned());
        }
        spec.range_end = args[1].clone().into_bytes();
    }
    if flags.prefix {
        if spec.key.is_empty() {
            spec.key = vec![0];
            spec.range_end = vec![0];
        } else {
            spec.range_end = prefix_end(&spec.key);
        }
    }
    Ok(spec)
}

/// A response as clientv3 delivers it (`clientv3.WatchResponse`).
#[derive(Debug, Clone, Default)]
pub struct Delivered {
    /// The header (zero in a response made up by the client).
    pub header: ResponseHeader,
    /// The events (`None` in a response made up by the client: Go's nil slice).
    pub events: Option<Vec<Event>>,
    /// The compaction revision of a watch cancelled for it.
    pub compact_revision: i64,
    /// Whether the watch was cancelled.
    pub canceled: bool,
    /// Whether this is the creation response.
    pub created: bool,
    /// Why the server cancelled the watch.
    pub cancel_reason: String,
    /// The stream's error, when it failed for good.
    pub close_err: Option<String>,
}

impl Delivered {
    fn from_response(response: WatchResponse) -> Delivered {
        Delivered {
            header: response.header.unwrap_or_default(),
            events: Some(response.events),
            compact_revision: response.compact_revision,
            canceled: response.canceled,
            created: response.created,
            cancel_reason: response.cancel_reason,
            close_err: None,
        }
    }

    /// The events, empty for none.
    pub fn events(&self) -> &[Event] {
        self.events.as_deref().unwrap_or_default()
    }

    /// clientv3's `Err()`.
    pub fn err(&self) -> Option<String> {
        if let Some(e) = &self.close_err {
            Some(e.clone())
        } else if self.compact_revision != 0 {
            Some("etcdserver: mvcc: required revision has been compacted".to_owned())
        } else if self.canceled {
            if self.cancel_reason.is_empty() {
                Some("etcdserver: mvcc: required revision is a future revision".to_owned())
            } else {
                Some(cairn_client::status_text(&tonic::Status::failed_precondition(self.cancel_reason.clone())))
            }
        } else {
            None
        }
    }

    /// clientv3's `IsProgressNotify()`.
    pub fn is_progress_notify(&self) -> bool {
        self.events().is_empty()
            && !self.canceled
            && !self.created
            && self.compact_revision == 0
            && self.header.revision != 0
    }
}

enum WatcherCommand {
    Watch(WatchSpec, mpsc::UnboundedSender<Delivered>),
    Progress,
}

/// clientv3's watcher: watches multiplexed on one stream (see the module's documentation). The
/// stream ends when the watcher is dropped.
#[derive(Debug)]
pub struct Watcher {
    commands: mpsc::UnboundedSender<WatcherCommand>,
}

impl std::fmt::Debug for WatcherCommand {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WatcherCommand::Watch(spec, _) => write!(f, "Watch({spec:?})"),
            WatcherCommand::Progress => write!(f, "Progress"),
        }
    }
}

/// A watch on the stream.
struct Substream {
    spec: WatchSpec,
    out: mpsc::UnboundedSender<Delivered>,
}

impl Watcher {
    /// A watcher on `client` (the stream opens with the first watch).
    pub fn new(client: Client) -> Watcher {
        let (commands, rx) = mpsc::unbounded_channel();
        tokio::spawn(run_stream(client, rx));
        Watcher { commands }
    }

    /// Starts a watch; its responses come on the returned channel, which closes when the watch
    /// ends.
    pub fn watch(&self, spec: WatchSpec) -> mpsc::UnboundedReceiver<Delivered> {
        let (tx, rx) = mpsc::unbounded_channel();
        let _ = self.commands.send(WatcherCommand::Watch(spec, tx));
        rx
    }

    /// Asks the server for a progress notification (delivered to every watch).
    pub fn request_progress(&self) {
        let _ = self.commands.send(WatcherCommand::Progress);
    }
}

fn create_request(spec: &WatchSpec) -> WatchRequest {
    WatchRequest {
        request_union: Some(RequestUnion::CreateRequest(WatchCreateRequest {
            key: spec.key.clone(),
            range_end: spec.range_end.clone(),
            start_revision: spec.start_revision,
            prev_kv: spec.prev_kv,
            ..Default::default()
        })),
    }
}

/// Whether clientv3 gives up on a stream error (anything but Unavailable and Internal).
fn is_halt(status: &tonic::Status) -> bool {
    !matches!(status.code(), tonic::Code::Unavailable | tonic::Code::Internal)
}

/// The stream task: opens (and reopens) the stream, creates watches one at a time, dispatches
/// responses.
async fn run_stream(client: Client, mut commands: mpsc::UnboundedReceiver<WatcherCommand>) {
    let mut resuming: VecDeque<Substream> = VecDeque::new();
    let mut substreams: HashMap<i64, Substream> = HashMap::new();
    // Nothing to do until the first watch.
    match commands.recv().await {
        Some(WatcherCommand::Watch(spec, out)) => resuming.push_back(Substream { spec, out }),
        Some(WatcherCommand::Progress) | None => return,
    }
    let mut backoff = Duration::from_millis(100);
    loop {
        // Every known watch is (re)created, from the revision after what it saw.
        let mut ids: Vec<i64> = substreams.keys().copied().collect();
        ids.sort_unstable();
        for id in ids.into_iter().rev() {
            if let Some(sub) = substreams.remove(&id) {
                resuming.push_front(sub);
            }
        }
        let (requests, rx) = mpsc::unbounded_channel::<WatchRequest>();
        // Queued before the call: the server answers the call once it has a request to answer.
        if let Some(head) = resuming.front() {
            let _ = requests.send(create_request(&head.spec));
        }
        let mut request = tonic::Request::new(tokio_stream::wrappers::UnboundedReceiverStream::new(rx));
        // clientv3.WithRequireLeader, as etcdctl watches with it.
        request.metadata_mut().insert("hasleader", tonic::metadata::MetadataValue::from_static("true"));
        let opened = client.watch().watch(request).await;
        let mut stream = match opened {
            Ok(response) => response.into_inner(),
            Err(status) if is_halt(&status) => return close_all(resuming, substreams, &status),
            Err(_) => {
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(3));
                continue;
            }
        };
        loop {
            tokio::select! {
                command = commands.recv() => match command {
                    Some(WatcherCommand::Watch(spec, out)) => {
                        resuming.push_back(Substream { spec, out });
                        if resuming.len() == 1 {
                            let _ = requests.send(create_request(&resuming[0].spec));
                        }
                    }
                    Some(WatcherCommand::Progress) => {
                        let progress = RequestUnion::ProgressRequest(WatchProgressRequest {});
                        let _ = requests.send(WatchRequest { request_union: Some(progress) });
                    }
                    None => return,
                },
                message = stream.message() => match message {
                    Ok(Some(response)) => {
                        backoff = Duration::from_millis(100);
                        dispatch(response, &mut resuming, &mut substreams, &requests);
                    }
                    Ok(None) => break,
                    Err(status) if is_halt(&status) => return close_all(resuming, substreams, &status),
                    Err(_) => break,
                },
            }
        }
        tokio::time::sleep(backoff).await;
    }
}

/// Ends every watch with the stream's error, as clientv3 does when the stream fails for good.
fn close_all(resuming: VecDeque<Substream>, substreams: HashMap<i64, Substream>, status: &tonic::Status) {
    for sub in resuming.into_iter().chain(substreams.into_values()) {
        let closing =
            Delivered { canceled: true, close_err: Some(cairn_client::status_text(status)), ..Default::default() };
        let _ = sub.out.send(closing);
    }
}

fn dispatch(
    response: WatchResponse,
    resuming: &mut VecDeque<Substream>,
    substreams: &mut HashMap<i64, Substream>,
    requests: &mpsc::UnboundedSender<WatchRequest>,
) {
    if response.created {
        if let Some(mut sub) = resuming.pop_front() {
            if response.watch_id == -1 || (response.canceled && !response.cancel_reason.is_empty()) {
                // The watch could not be created: clientv3 ends it with the reason as its error.
                let failed =
                    Delivered { canceled: true, close_err: Some(response.cancel_reason), ..Default::default() };
                let _ = sub.out.send(failed);
                if let Some(head) = resuming.front() {
                    let _ = requests.send(create_request(&head.spec));
                }
                return;
            }
            if sub.spec.start_revision == 0 {
                sub.spec.start_revision = response.header.as_ref().map(|h| h.revision).unwrap_or_default();
            }
            substreams.insert(response.watch_id, sub);
        }
        if let Some(head) = resuming.front() {
            let _ = requests.send(create_request(&head.spec));
        }
        return;
    }
    if response.canceled && response.compact_revision == 0 {
        // The server ended the watch: its channel closes, nothing is delivered.
        substreams.remove(&response.watch_id);
        return;
    }
    let id = response.watch_id;
    let delivered = Delivered::from_response(response);
    if id == -1 && delivered.is_progress_notify() {
        substreams.retain(|_, sub| sub.out.send(delivered.clone()).is_ok());
        return;
    }
    let Some(sub) = substreams.get_mut(&id) else {
        let cancel = RequestUnion::CancelRequest(WatchCancelRequest { watch_id: id });
        let _ = requests.send(WatchRequest { request_union: Some(cancel) });
        return;
    };
    sub.spec.start_revision = match delivered.events().last() {
        Some(last) => last.kv.as_ref().map(|kv| kv.mod_revision + 1).unwrap_or_default(),
        None => delivered.header.revision,
    };
    let ends = delivered.err().is_some();
    if sub.out.send(delivered).is_err() || ends {
        substreams.remove(&id);
        if !ends {
            let cancel = RequestUnion::CancelRequest(WatchCancelRequest { watch_id: id });
            let _ = requests.send(WatchRequest { request_union: Some(cancel) });
        }
    }
}

/// etcdctl's `printWatchCh`: prints every response (and runs the command for each event) until
/// the watch ends. A format that cannot print a watch response fails at the first one.
async fn print_watch(
    printer: Printer,
    mut responses: mpsc::UnboundedReceiver<Delivered>,
    exec_args: &[String],
) -> Result<(), Fail> {
    while let Some(response) = responses.recv().await {
        if response.canceled {
            eprintln!("watch was canceled ({})", response.err().unwrap_or_default());
        }
        if response.is_progress_notify() {
            print::out(&format!("progress notify: {}\n", response.header.revision));
        }
        print_response(printer, &response)?;
        if !exec_args.is_empty() {
            for event in response.events() {
                run_for_event(exec_args, &response, event).await;
            }
        }
    }
    Ok(())
}

fn event_type_name(event: &Event) -> &'static str {
    match EventType::try_from(event.r#type) {
        Ok(EventType::Delete) => "DELETE",
        _ => "PUT",
    }
}

/// Prints one watch response in the chosen format.
fn print_response(printer: Printer, response: &Delivered) -> Result<(), Fail> {
    match printer.format {
        Format::Simple => {
            let mut text = String::new();
            for event in response.events() {
                text.push_str(event_type_name(event));
                text.push('\n');
                if let Some(prev) = &event.prev_kv {
                    text.push_str(&print::simple_kv(prev, printer.hex, false));
                }
                text.push_str(&print::simple_kv(&event.kv.clone().unwrap_or_default(), printer.hex, false));
            }
            print::out(&text);
        }
        Format::Fields => {
            let mut text = print::fields_header(Some(&response.header));
            for event in response.events() {
                text.push_str(&format!("\"Type\" : {}\n", event_type_name(event)));
                if let Some(prev) = &event.prev_kv {
                    text.push_str(&print::fields_kv("Prev", prev));
                }
                text.push_str(&print::fields_kv("", &event.kv.clone().unwrap_or_default()));
            }
            print::out(&text);
        }
        Format::Json => {
            let events = match &response.events {
                None => "null".to_owned(),
                Some(events) => {
                    let items: Vec<String> = events.iter().map(|e| gojson::message(e, "mvccpb.Event")).collect();
                    format!("[{}]", items.join(","))
                }
            };
            print::out(&format!(
                "{{\"Header\":{},\"Events\":{events},\"CompactRevision\":{},\"Canceled\":{},\"Created\":{}}}\n",
                gojson::message(&response.header, "etcdserverpb.ResponseHeader"),
                response.compact_revision,
                response.canceled,
                response.created
            ));
        }
        Format::Protobuf => print::protobuf(&WatchResponse {
            header: Some(response.header),
            watch_id: 0,
            created: response.created,
            canceled: response.canceled,
            compact_revision: response.compact_revision,
            cancel_reason: String::new(),
            fragment: false,
            events: response.events().to_vec(),
        }),
        Format::Table => return Err(printer.format.unsupported()),
    }
    Ok(())
}

/// Runs the watch's command for one event, with `ETCD_WATCH_*` describing it; a command that
/// fails ends etcdctl (exit code 1).
async fn run_for_event(exec_args: &[String], response: &Delivered, event: &Event) {
    let kv = event.kv.clone().unwrap_or_default();
    let mut command = tokio::process::Command::new(&exec_args[0]);
    command
        .args(&exec_args[1..])
        .env("ETCD_WATCH_REVISION", response.header.revision.to_string())
        .env("ETCD_WATCH_EVENT_TYPE", print::go_quote(event_type_name(event)))
        .env("ETCD_WATCH_KEY", print::go_quote_bytes(&kv.key))
        .env("ETCD_WATCH_VALUE", print::go_quote_bytes(&kv.value));
    let failure = match command.status().await {
        Ok(status) if status.success() => return,
        Ok(status) => go_exit_status(status),
        Err(e) => go_exec_error(&exec_args[0], &e),
    };
    let quoted: Vec<String> = exec_args.iter().map(|a| print::go_quote(a)).collect();
    eprintln!("command [{}] error ({failure})", quoted.join(" "));
    std::process::exit(exit::ERROR);
}

/// Go's `*exec.ExitError` text.
pub fn go_exit_status(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(signal)) => format!("signal: {}", signal_name(signal)),
        (None, None) => "exit status -1".to_owned(),
    }
}

fn signal_name(signal: i32) -> String {
    match signal {
        1 => "hangup".to_owned(),
        2 => "interrupt".to_owned(),
        3 => "quit".to_owned(),
        6 => "aborted".to_owned(),
        9 => "killed".to_owned(),
        11 => "segmentation fault".to_owned(),
        13 => "broken pipe".to_owned(),
        15 => "terminated".to_owned(),
        n => format!("signal {n}"),
    }
}

/// Go's error for a command that could not be started.
pub fn go_exec_error(program: &str, error: &std::io::Error) -> String {
    if error.kind() == std::io::ErrorKind::NotFound && !program.contains('/') {
        format!("exec: {}: executable file not found in $PATH", print::go_quote(program))
    } else {
        let text = error.to_string();
        let cause = text.split(" (os error").next().unwrap_or(&text).to_lowercase();
        format!("fork/exec {program}: {cause}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn watch_args_split_as_etcdctl_splits_them() {
        let os = strings(&["etcdctl", "watch", "foo", "--rev", "1", "bar", "--", "echo", "hello"]);
        let (w, e, _) = parse_watch_args(&os, &strings(&["foo", "bar", "echo", "hello"]), "", "", false).expect("ok");
        assert_eq!((w, e), (strings(&["foo", "bar"]), strings(&["echo", "hello"])));
        let os = strings(&["etcdctl", "watch", "foo", "--"]);
        assert_eq!(parse_watch_args(&os, &strings(&["foo"]), "", "", false).expect_err("sep"), ERR_SEPARATOR);
        let os = strings(&["etcdctl", "watch", "foo"]);
        assert_eq!(parse_watch_args(&os, &strings(&["foo"]), "k", "", false).expect_err("env"), ERR_CONFLICT_ENV);
        let os = strings(&["etcdctl", "watch", "--", "echo"]);
        let (w, e, _) = parse_watch_args(&os, &strings(&["echo"]), "k", "z", false).expect("ok");
        assert_eq!((w, e), (strings(&["k", "z"]), strings(&["echo"])));
    }

    #[test]
    fn interactive_lines_parse_their_flags() {
        let line = strings(&["watch", "foo", "--prefix", "--rev=3", "--", "echo", "x"]);
        let (w, e, f) = parse_watch_args(&[], &line, "", "", true).expect("ok");
        assert_eq!((w, e), (strings(&["foo"]), strings(&["echo", "x"])));
        assert_eq!(f, Some(WatchFlags { prefix: true, rev: 3, prev_kv: false }));
        let line = strings(&["watch", "foo", "--bogus"]);
        assert_eq!(parse_watch_args(&[], &line, "", "", true).expect_err("flag"), "unknown flag: --bogus");
        let line = strings(&["get", "foo"]);
        assert_eq!(parse_watch_args(&[], &line, "", "", true).expect_err("watch"), ERR_INTERACTIVE);
    }
}
