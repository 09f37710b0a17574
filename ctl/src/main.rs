//! `cairnctl`: etcdctl 3.4 for cairn (and etcd). The same commands, flags, environment variables
//! (`ETCDCTL_*`, or `CAIRNCTL_*`), output formats and exit codes, byte for byte where etcdctl's
//! output is deterministic. `ETCDCTL_API=2` (or `cairnctl v2 ...`) speaks etcd's v2 API as
//! etcdctl's v2 mode does.

mod cmd;
mod exit;
mod global;
mod print;
mod v2;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::exit::Fail;
use crate::global::{Ctx, Global};

/// A command line client for cairn and etcd (etcdctl 3.4's commands).
#[derive(Debug, Parser)]
#[command(name = "cairnctl", infer_subcommands = true, disable_version_flag = true)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

/// Every etcdctl v3 command.
#[derive(Debug, Subcommand)]
enum Command {
    /// Gets the key or a range of keys
    Get(cmd::kv::GetArgs),
    /// Puts the given key into the store
    Put(cmd::kv::PutArgs),
    /// Removes the specified key or range of keys [key, range_end)
    Del(cmd::kv::DelArgs),
    /// Txn processes all the requests in one transaction
    Txn(cmd::txn::TxnArgs),
    /// Compacts the event history in etcd
    Compaction(cmd::compaction::CompactionArgs),
    /// Alarm related commands
    #[command(subcommand)]
    Alarm(cmd::alarm::AlarmCommand),
    /// Defragments the storage of the etcd members with given endpoints
    Defrag(cmd::defrag::DefragArgs),
    /// Endpoint related commands
    #[command(subcommand)]
    Endpoint(cmd::endpoint::EndpointCommand),
    /// Transfers leadership to another etcd cluster member.
    MoveLeader(cmd::move_leader::MoveLeaderArgs),
    /// Watches events stream on keys or prefixes
    Watch(cmd::watch::WatchArgs),
    /// Prints the version of etcdctl
    Version,
    /// Lease related commands
    #[command(subcommand)]
    Lease(cmd::lease::LeaseCommand),
    /// Membership related commands
    #[command(subcommand)]
    Member(cmd::member::MemberCommand),
    /// Manages etcd node snapshots
    #[command(subcommand)]
    Snapshot(cmd::snapshot::SnapshotCommand),
    /// Makes a mirror at the destination etcd cluster
    MakeMirror(cmd::make_mirror::MakeMirrorArgs),
    /// Acquires a named lock
    Lock(cmd::lock::LockArgs),
    /// Observes and participates in leader election
    Elect(cmd::elect::ElectArgs),
    /// Enable or disable authentication
    #[command(subcommand)]
    Auth(cmd::auth::AuthCommand),
    /// User related commands
    #[command(subcommand)]
    User(cmd::user::UserCommand),
    /// Role related commands
    #[command(subcommand)]
    Role(cmd::role::RoleCommand),
    /// commands for checking properties of the etcd cluster
    #[command(subcommand)]
    Check(cmd::check::CheckCommand),
    /// Generates shell completion scripts for cairnctl
    Completion(cmd::completion::CompletionArgs),
    /// etcd's v2 API commands (as with ETCDCTL_API=2)
    #[command(disable_help_flag = true)]
    V2 {
        /// The v2 command line.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
        args: Vec<String>,
    },
}

/// Makes `CAIRNCTL_X` act as `ETCDCTL_X` where the latter is unset.
fn alias_environment() {
    let aliases: Vec<(String, std::ffi::OsString)> = std::env::vars_os()
        .filter_map(|(key, value)| {
            let key = key.into_string().ok()?;
            let rest = key.strip_prefix("CAIRNCTL_")?;
            Some((format!("ETCDCTL_{rest}"), value))
        })
        .filter(|(key, _)| std::env::var_os(key).is_none())
        .collect();
    for (key, value) in aliases {
        // SAFETY: called first thing in main, before any other thread exists.
        unsafe { std::env::set_var(key, value) };
    }
}

fn main() {
    alias_environment();
    let api = std::env::var("ETCDCTL_API").unwrap_or_default();
    // Unset so it is not mistaken for a flag's variable further on, as etcdctl does.
    // SAFETY: still single-threaded.
    unsafe { std::env::remove_var("ETCDCTL_API") };
    let code = match api.as_str() {
        "" | "3" => run_v3(),
        "2" => v2::main(std::env::args().skip(1).collect()),
        other => {
            eprintln!("unsupported API version {other}");
            1
        }
    };
    std::process::exit(code);
}

fn run_v3() -> i32 {
    let matches = match Cli::command().try_get_matches() {
        Ok(matches) => matches,
        Err(e) => return usage_error(e),
    };
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    if let Command::V2 { args } = cli.command {
        return v2::main(args);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => return exit::report(&Fail::error(format!("cannot start the runtime: {e}"))),
    };
    let result = runtime.block_on(async move {
        let ctx = Ctx::new(cli.global);
        dispatch(&ctx, cli.command).await
    });
    match result {
        Ok(()) => exit::SUCCESS,
        Err(fail) => exit::report(&fail),
    }
}

/// A command line clap cannot parse: an unknown flag fails as cobra words it (exit code 1);
/// help and other usage errors are clap's.
fn usage_error(error: clap::Error) -> i32 {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if error.kind() == ErrorKind::UnknownArgument
        && let Some(ContextValue::String(arg)) = error.get(ContextKind::InvalidArg)
        && arg.starts_with('-')
    {
        let flag = arg.split('=').next().unwrap_or(arg);
        let text = if flag.starts_with("--") {
            format!("unknown flag: {flag}")
        } else {
            format!("unknown shorthand flag: '{}' in {arg}", flag.trim_start_matches('-').chars().next().unwrap_or('-'))
        };
        return exit::report(&Fail::error(text));
    }
    error.exit()
}

async fn dispatch(ctx: &Ctx, command: Command) -> Result<(), Fail> {
    match command {
        Command::Get(args) => cmd::kv::get(ctx, args).await,
        Command::Put(args) => cmd::kv::put(ctx, args).await,
        Command::Del(args) => cmd::kv::del(ctx, args).await,
        Command::Txn(args) => cmd::txn::run(ctx, args).await,
        Command::Compaction(args) => cmd::compaction::run(ctx, args).await,
        Command::Alarm(command) => cmd::alarm::run(ctx, command).await,
        Command::Defrag(args) => cmd::defrag::run(ctx, args).await,
        Command::Endpoint(command) => cmd::endpoint::run(ctx, command).await,
        Command::MoveLeader(args) => cmd::move_leader::run(ctx, args).await,
        Command::Watch(args) => cmd::watch::run(ctx, args).await,
        Command::Version => cmd::version::run(ctx).await,
        Command::Lease(command) => cmd::lease::run(ctx, command).await,
        Command::Member(command) => cmd::member::run(ctx, command).await,
        Command::Snapshot(command) => cmd::snapshot::run(ctx, command).await,
        Command::MakeMirror(args) => cmd::make_mirror::run(ctx, args).await,
        Command::Lock(args) => cmd::lock::run(ctx, args).await,
        Command::Elect(args) => cmd::elect::run(ctx, args).await,
        Command::Auth(command) => cmd::auth::run(ctx, command).await,
        Command::User(command) => cmd::user::run(ctx, command).await,
        Command::Role(command) => cmd::role::run(ctx, command).await,
        Command::Check(command) => cmd::check::run(ctx, command).await,
        Command::Completion(args) => cmd::completion::run(ctx, args, Cli::command()),
        Command::V2 { .. } => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every command's arguments are consistent with the global flags (clap ids share one
    /// namespace across global and command arguments).
    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }
}
