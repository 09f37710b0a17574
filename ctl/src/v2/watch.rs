//! `watch` and `exec-watch`: v2 long polls, one event at a time, until interrupted (Ctrl-C
//! exits 0, as etcdctl's signal handler does).

use super::cli::Flags;
use super::client::V2Error;
use super::keys::Watcher;
use super::keys_cmd::print;
use super::{Ctl, Exit, Outcome, code};

/// `watch <key>`: the next change (every change with `--forever`).
pub async fn watch(ctl: &Ctl, flags: &Flags, args: &[String]) -> Outcome {
    let mut client = ctl.client().await?;
    let Some(key) = args.first() else {
        return Err(ctl.fail(code::BAD_ARGS, &V2Error::text("key required")));
    };
    let recursive = flags.bool("recursive");
    let forever = flags.bool("forever");
    let mut watcher = Watcher::new(key, flags.int("after-index") as u64, recursive);
    let events = async {
        loop {
            let response = watcher.next(&mut client).await.map_err(|e| ctl.fail(code::SERVER_ERROR, &e))?;
            let Some(node) = &response.node else {
                eprintln!("{}", super::keys::NIL_PANIC);
                return Err(Exit(2));
            };
            if node.dir {
                continue;
            }
            if recursive {
                println!("[{}] {}", response.action, node.key);
            }
            print(&response, &ctl.output())?;
            if !forever {
                return Ok(());
            }
        }
    };
    tokio::select! {
        outcome = events => outcome,
        _ = tokio::signal::ctrl_c() => Ok(()),
    }
}

/// How Go's `exec.Cmd.Start` words a failure to start `program`.
fn start_error(program: &str, error: &std::io::Error) -> String {
    if !program.contains('/') && error.kind() == std::io::ErrorKind::NotFound {
        return format!("exec: {}: executable file not found in $PATH", crate::print::go_quote(program));
    }
    let text = error.to_string();
    let text = text.split(" (os error").next().unwrap_or(&text).to_owned();
    let mut chars = text.chars();
    let text: String = match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => text,
    };
    format!("fork/exec {program}: {text}")
}

/// `exec-watch <key> -- <command> [args...]`: runs the command on every change, with the
/// event in `ETCD_WATCH_ACTION`, `ETCD_WATCH_MODIFIED_INDEX`, `ETCD_WATCH_KEY` and
/// `ETCD_WATCH_VALUE`.
pub async fn exec_watch(ctl: &Ctl, flags: &Flags, args: &[String]) -> Outcome {
    let mut client = ctl.client().await?;
    if args.len() < 2 {
        return Err(ctl.fail(code::BAD_ARGS, &V2Error::text("key and command to exec required")));
    }
    let separated = args.iter().skip(1).any(|a| a == "--");
    let (key, command) = if separated {
        (args[0].clone(), args[2..].to_vec())
    } else {
        // Without flags urfave leaves no `--` in the arguments: the key comes last.
        (args[args.len() - 1].clone(), args[..args.len() - 1].to_vec())
    };
    let mut watcher = Watcher::new(&key, flags.int("after-index") as u64, flags.bool("recursive"));
    let events = async {
        loop {
            let response = watcher.next(&mut client).await.map_err(|e| ctl.fail(code::SERVER_ERROR, &e))?;
            let Some(node) = &response.node else {
                eprintln!("{}", super::keys::NIL_PANIC);
                return Err(Exit(2));
            };
            if node.dir {
                eprintln!("Ignored dir {} change", node.key);
                continue;
            }
            let Some(program) = command.first() else {
                eprintln!("panic: runtime error: index out of range [0] with length 0");
                return Err(Exit(2));
            };
            let child = tokio::process::Command::new(program)
                .args(&command[1..])
                .env("ETCD_WATCH_ACTION", &response.action)
                .env("ETCD_WATCH_MODIFIED_INDEX", node.modified_index.to_string())
                .env("ETCD_WATCH_KEY", &node.key)
                .env("ETCD_WATCH_VALUE", &node.value)
                .spawn();
            match child {
                Ok(mut child) => {
                    tokio::spawn(async move {
                        // Like etcdctl, each command runs on its own; its status is not looked at.
                        let _ = child.wait().await;
                    });
                }
                Err(e) => {
                    eprint!("{}", start_error(program, &e));
                    return Err(Exit(1));
                }
            }
        }
    };
    tokio::select! {
        outcome = events => outcome,
        _ = tokio::signal::ctrl_c() => Ok(()),
    }
}
