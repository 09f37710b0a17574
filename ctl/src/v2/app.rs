//! etcdctl v2's command tree and how urfave/cli runs it: global flags, a command (or a
//! command's subcommand), its flags, help and usage errors.

use super::cli::{self, CommandSpec, FlagSpec};
use super::{Ctl, Outcome, auth, keys_cmd, members, watch};

/// The version etcdctl reports (cairn speaks etcd 3.4's API).
const VERSION: &str = "3.4.23";

const GLOBALS: &[FlagSpec] = &[
    FlagSpec::bool("debug", "output cURL commands which can be used to reproduce the request"),
    FlagSpec::bool("no-sync", "don't synchronize cluster information before sending request"),
    FlagSpec::string("output, o", "simple", "output response in the given format (`simple`, `extended` or `json`)"),
    FlagSpec::string("discovery-srv, D", "", "domain name to query for SRV records describing cluster endpoints"),
    FlagSpec::bool("insecure-discovery", "accept insecure SRV records describing cluster endpoints"),
    FlagSpec::string("peers, C", "", "DEPRECATED - \"--endpoints\" should be used instead"),
    FlagSpec::string("endpoint", "", "DEPRECATED - \"--endpoints\" should be used instead"),
    FlagSpec::string(
        "endpoints",
        "",
        "a comma-delimited list of machine addresses in the cluster (default: \"http://127.0.0.1:2379,http://127.0.0.1:4001\")",
    ),
    FlagSpec::string("cert-file", "", "identify HTTPS client using this SSL certificate file"),
    FlagSpec::string("key-file", "", "identify HTTPS client using this SSL key file"),
    FlagSpec::string("ca-file", "", "verify certificates of HTTPS-enabled servers using this CA bundle"),
    FlagSpec::string("username, u", "", "provide username[:password] and prompt if password is not supplied."),
    FlagSpec::duration("timeout", "2s", "connection timeout per request"),
    FlagSpec::duration("total-timeout", "5s", "timeout for the command execution (except watch)"),
];

const TTL: FlagSpec = FlagSpec::int("ttl", "key time-to-live in seconds");

const fn command(
    name: &'static str,
    usage: &'static str,
    args_usage: &'static str,
    flags: &'static [FlagSpec],
) -> CommandSpec {
    CommandSpec { name, usage, args_usage, description: "", flags, subcommands: &[] }
}

const fn group(name: &'static str, usage: &'static str, subcommands: &'static [CommandSpec]) -> CommandSpec {
    CommandSpec { name, usage, args_usage: "", description: "", flags: &[], subcommands }
}

const ROLE_FLAGS_GRANT: &[FlagSpec] = &[
    FlagSpec::string("path", "", "Path granted for the role to access"),
    FlagSpec::bool("read", "Grant read-only access"),
    FlagSpec::bool("write", "Grant write-only access"),
    FlagSpec::bool("readwrite, rw", "Grant read-write access"),
];

const ROLE_FLAGS_REVOKE: &[FlagSpec] = &[
    FlagSpec::string("path", "", "Path revoked for the role to access"),
    FlagSpec::bool("read", "Revoke read access"),
    FlagSpec::bool("write", "Revoke write access"),
    FlagSpec::bool("readwrite, rw", "Revoke read-write access"),
];

const ROLES: &[FlagSpec] = &[FlagSpec::strings("roles", "List of roles to grant or revoke")];

/// Every command, in etcdctl's order.
const COMMANDS: &[CommandSpec] = &[
    command(
        "backup",
        "backup an etcd directory",
        " ",
        &[
            FlagSpec::string("data-dir", "", "Path to the etcd data dir"),
            FlagSpec::string("wal-dir", "", "Path to the etcd wal dir"),
            FlagSpec::string("backup-dir", "", "Path to the backup dir"),
            FlagSpec::string("backup-wal-dir", "", "Path to the backup wal dir"),
            FlagSpec::bool("with-v3", "Backup v3 backend data"),
        ],
    ),
    command(
        "cluster-health",
        "check the health of the etcd cluster",
        " ",
        &[FlagSpec::bool("forever, f", "forever check the health every 10 second until CTRL+C")],
    ),
    command(
        "mk",
        "make a new key with a given value",
        "<key> <value>",
        &[FlagSpec::bool("in-order", "create in-order key under directory <key>"), TTL],
    ),
    command("mkdir", "make a new directory", "<key>", &[TTL]),
    command(
        "rm",
        "remove a key or a directory",
        "<key>",
        &[
            FlagSpec::bool("dir", "removes the key if it is an empty directory or a key-value pair"),
            FlagSpec::bool("recursive, r", "removes the key and all child keys(if it is a directory)"),
            FlagSpec::string("with-value", "", "previous value"),
            FlagSpec::int("with-index", "previous index"),
        ],
    ),
    command("rmdir", "removes the key if it is an empty directory or a key-value pair", "<key>", &[]),
    command(
        "get",
        "retrieve the value of a key",
        "<key>",
        &[
            FlagSpec::bool("sort", "returns result in sorted order"),
            FlagSpec::bool("quorum, q", "require quorum for get request"),
        ],
    ),
    command(
        "ls",
        "retrieve a directory",
        "[key]",
        &[
            FlagSpec::bool("sort", "returns result in sorted order"),
            FlagSpec::bool("recursive, r", "returns all key names recursively for the given path"),
            FlagSpec::bool("p", "append slash (/) to directories"),
            FlagSpec::bool("quorum, q", "require quorum for get request"),
        ],
    ),
    CommandSpec {
        name: "set",
        usage: "set the value of a key",
        args_usage: "<key> <value>",
        description: "Set sets the value of a key.\n\n   When <value> begins with '-', <value> is interpreted as a flag.\n   \
                      Insert '--' for workaround:\n\n   $ set -- <key> <value>",
        flags: &[
            TTL,
            FlagSpec::string("swap-with-value", "", "previous value"),
            FlagSpec::int("swap-with-index", "previous index"),
        ],
        subcommands: &[],
    },
    command("setdir", "create a new directory or update an existing directory TTL", "<key>", &[TTL]),
    command("update", "update an existing key with a given value", "<key> <value>", &[TTL]),
    command("updatedir", "update an existing directory", "<key> <value>", &[TTL]),
    command(
        "watch",
        "watch a key for changes",
        "<key>",
        &[
            FlagSpec::bool("forever, f", "forever watch a key until CTRL+C"),
            FlagSpec::int("after-index", "watch after the given index"),
            FlagSpec::bool("recursive, r", "returns all values for key and child keys"),
        ],
    ),
    command(
        "exec-watch",
        "watch a key for changes and exec an executable",
        "<key> <command> [args...]",
        &[
            FlagSpec::int("after-index", "watch after the given index"),
            FlagSpec::bool("recursive, r", "watch all values for key and child keys"),
        ],
    ),
    group(
        "member",
        "member add, remove and list subcommands",
        &[
            command("list", "enumerate existing cluster members", " ", &[]),
            command("add", "add a new member to the etcd cluster", "<name> <peerURL>", &[]),
            command("remove", "remove an existing member from the etcd cluster", "<memberID>", &[]),
            command("update", "update an existing member in the etcd cluster", "<memberID> <peerURLs>", &[]),
        ],
    ),
    group(
        "user",
        "user add, grant and revoke subcommands",
        &[
            command("add", "add a new user for the etcd cluster", "<user>", &[]),
            command("get", "get details for a user", "<user>", &[]),
            command("list", "list all current users", "<user>", &[]),
            command("remove", "remove a user for the etcd cluster", "<user>", &[]),
            command("grant", "grant roles to an etcd user", "<user>", ROLES),
            command("revoke", "revoke roles for an etcd user", "<user>", ROLES),
            command("passwd", "change password for a user", "<user>", &[]),
        ],
    ),
    group(
        "role",
        "role add, grant and revoke subcommands",
        &[
            command("add", "add a new role for the etcd cluster", "<role> ", &[]),
            command("get", "get details for a role", "<role>", &[]),
            command("list", "list all roles", " ", &[]),
            command("remove", "remove a role from the etcd cluster", "<role>", &[]),
            command("grant", "grant path matches to an etcd role", "<role>", ROLE_FLAGS_GRANT),
            command("revoke", "revoke path matches for an etcd role", "<role>", ROLE_FLAGS_REVOKE),
        ],
    ),
    group(
        "auth",
        "overall auth controls",
        &[
            command("enable", "enable auth access controls", " ", &[]),
            command("disable", "disable auth access controls", " ", &[]),
        ],
    ),
];

/// A usage error: `Incorrect Usage<sep> <error>` and the help on stdout, the error on stderr,
/// exit 1.
fn usage_error(separator: &str, error: &str, help: &str) -> i32 {
    print!("Incorrect Usage{separator} {error}\n\n{help}");
    eprintln!("{error}");
    1
}

fn no_help_topic(name: &str) -> i32 {
    eprintln!("No help topic for '{name}'");
    3
}

fn app_help() -> String {
    cli::app_help(VERSION, "A simple command line client for etcd.", COMMANDS, GLOBALS)
}

fn find<'a>(commands: &'a [CommandSpec], name: &str) -> Option<&'a CommandSpec> {
    commands.iter().find(|c| c.name == name)
}

/// The help command (`etcdctl help [command]`, `etcdctl member help [command]`).
fn help_topic(prefix: &str, commands: &[CommandSpec], args: &[String], otherwise: String) -> i32 {
    match args.first() {
        None => {
            print!("{otherwise}");
            0
        }
        Some(name) if name == "help" || name == "h" => {
            let help = CommandSpec {
                name: "help",
                usage: "Shows a list of commands or help for one command",
                args_usage: "[command]",
                description: "",
                flags: &[],
                subcommands: &[],
            };
            print!("{}", cli::command_help(&format!("{prefix} help"), &help));
            0
        }
        Some(name) => match find(commands, name) {
            Some(command) => {
                print!("{}", cli::command_help(&format!("{prefix} {}", command.name), command));
                0
            }
            None => no_help_topic(name),
        },
    }
}

/// urfave's `App.Run` for etcdctl v2.
pub async fn run(args: Vec<String>) -> i32 {
    let (global, rest) = match cli::parse(GLOBALS, &[cli::VERSION], &args) {
        Ok(parsed) => parsed,
        Err(e) => return usage_error(".", &e, &app_help()),
    };
    if global.bool("help") {
        print!("{}", app_help());
        return 0;
    }
    if global.bool("version") {
        println!("etcdctl version: {VERSION}");
        println!("API version: 2");
        return 0;
    }
    let ctl = Ctl { global };
    let Some(name) = rest.first() else {
        print!("{}", app_help());
        return 0;
    };
    let Some(command) = find(COMMANDS, name) else {
        if name == "help" || name == "h" {
            return help_topic("etcdctl", COMMANDS, &rest[1..], app_help());
        }
        return no_help_topic(name);
    };
    let path = format!("etcdctl {}", command.name);
    if !command.subcommands.is_empty() {
        return run_group(&ctl, &path, command, &rest[1..]).await;
    }
    run_command(&ctl, &path, command, &rest[1..]).await
}

/// urfave's `RunAsSubcommand`: a command with subcommands.
async fn run_group(ctl: &Ctl, path: &str, group: &CommandSpec, args: &[String]) -> i32 {
    let help = cli::subcommand_help(path, group);
    let (flags, rest) = match cli::parse(&[], &[], args) {
        Ok(parsed) => parsed,
        Err(e) => return usage_error(".", &e, &help),
    };
    if flags.bool("help") {
        print!("{help}");
        return 0;
    }
    let Some(name) = rest.first() else {
        print!("{help}");
        return 0;
    };
    let Some(command) = find(group.subcommands, name) else {
        if name == "help" || name == "h" {
            return help_topic(path, group.subcommands, &rest[1..], help);
        }
        return no_help_topic(name);
    };
    run_command(ctl, &format!("{path} {}", command.name), command, &rest[1..]).await
}

/// urfave's `Command.Run`: reorder, parse, help, then the action.
async fn run_command(ctl: &Ctl, path: &str, command: &CommandSpec, args: &[String]) -> i32 {
    let args = cli::reorder(command.flags, args);
    let (flags, rest) = match cli::parse(command.flags, &[], &args) {
        Ok(parsed) => parsed,
        Err(e) => return usage_error(":", &e, &cli::command_help(path, command)),
    };
    if flags.bool("help") {
        print!("{}", cli::command_help(path, command));
        return 0;
    }
    let outcome: Outcome = match path.strip_prefix("etcdctl ").unwrap_or(path) {
        "backup" => {
            eprintln!(
                "Error: backup is not supported by cairnctl: it rewrites an etcd v2 data directory (WAL and snap files), which cairn does not have"
            );
            Err(super::Exit(1))
        }
        "cluster-health" => members::cluster_health(ctl, &flags).await,
        "mk" => keys_cmd::mk(ctl, &flags, &rest).await,
        "mkdir" => keys_cmd::mkdir(ctl, &flags, &rest, super::keys::PrevExist::NoExist).await,
        "setdir" => keys_cmd::mkdir(ctl, &flags, &rest, super::keys::PrevExist::Ignore).await,
        "rm" => keys_cmd::rm(ctl, &flags, &rest).await,
        "rmdir" => keys_cmd::rmdir(ctl, &rest).await,
        "get" => keys_cmd::get(ctl, &flags, &rest).await,
        "ls" => keys_cmd::ls(ctl, &flags, &rest).await,
        "set" => keys_cmd::set(ctl, &flags, &rest).await,
        "update" => keys_cmd::update(ctl, &flags, &rest).await,
        "updatedir" => keys_cmd::updatedir(ctl, &flags, &rest).await,
        "watch" => watch::watch(ctl, &flags, &rest).await,
        "exec-watch" => watch::exec_watch(ctl, &flags, &rest).await,
        "member list" => members::list(ctl, &rest).await,
        "member add" => members::add(ctl, &rest).await,
        "member remove" => members::remove(ctl, &rest).await,
        "member update" => members::update(ctl, &rest).await,
        "user add" => auth::user_add(ctl, &rest).await,
        "user get" => auth::user_get(ctl, &rest).await,
        "user list" => auth::user_list(ctl, &rest).await,
        "user remove" => auth::user_remove(ctl, &rest).await,
        "user grant" => auth::user_grant_revoke(ctl, &flags, &rest, true).await,
        "user revoke" => auth::user_grant_revoke(ctl, &flags, &rest, false).await,
        "user passwd" => auth::user_passwd(ctl, &rest).await,
        "role add" => auth::role_add(ctl, &rest).await,
        "role get" => auth::role_get(ctl, &rest).await,
        "role list" => auth::role_list(ctl, &rest).await,
        "role remove" => auth::role_remove(ctl, &rest).await,
        "role grant" => auth::role_grant_revoke(ctl, &flags, &rest, true).await,
        "role revoke" => auth::role_grant_revoke(ctl, &flags, &rest, false).await,
        "auth enable" => auth::enable_disable(ctl, &rest, true).await,
        "auth disable" => auth::enable_disable(ctl, &rest, false).await,
        other => {
            eprintln!("No help topic for '{other}'");
            Err(super::Exit(3))
        }
    };
    match outcome {
        Ok(()) => 0,
        Err(super::Exit(code)) => code,
    }
}
