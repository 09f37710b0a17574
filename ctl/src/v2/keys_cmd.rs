//! The key commands: get, set, mk, mkdir, setdir, rm, rmdir, ls, update, updatedir.

use super::cli::Flags;
use super::client::{Client, V2Error};
use super::keys::{self, DeleteOptions, GetOptions, KeysAction, KeysResponse, Node, PrevExist, SetOptions};
use super::{Ctl, Exit, Outcome, code};

fn key_required(ctl: &Ctl, args: &[String]) -> Result<String, Exit> {
    args.first().cloned().ok_or_else(|| ctl.fail(code::BAD_ARGS, &V2Error::text("key required")))
}

fn value_required(ctl: &Ctl, args: &[String]) -> Result<String, Exit> {
    crate::cmd::arg_or_stdin(args, 1).map_err(|()| ctl.fail(code::BAD_ARGS, &V2Error::text("value required")))
}

/// Sends `action` within the total timeout; a failure is a server error (exit 4).
async fn send(ctl: &Ctl, client: &mut Client, action: KeysAction) -> Result<KeysResponse, Exit> {
    ctl.timed(keys::call(client, &action)).await.map_err(|e| ctl.fail(code::SERVER_ERROR, &e))
}

/// Prints as `printResponseKey`; a missing node panics as Go's etcdctl would.
pub fn print(response: &KeysResponse, format: &str) -> Outcome {
    keys::print_response_key(response, format).map_err(|()| {
        eprintln!("{}", keys::NIL_PANIC);
        Exit(2)
    })
}

fn node(response: &KeysResponse) -> Result<&Node, Exit> {
    response.node.as_ref().ok_or_else(|| {
        eprintln!("{}", keys::NIL_PANIC);
        Exit(2)
    })
}

/// `get <key>`.
pub async fn get(ctl: &Ctl, flags: &Flags, args: &[String]) -> Outcome {
    // etcdctl connects (and syncs) before it looks at the arguments.
    let mut client = ctl.client().await?;
    let key = key_required(ctl, args)?;
    let options = GetOptions { sort: flags.bool("sort"), quorum: flags.bool("quorum"), recursive: false };
    let response = send(ctl, &mut client, KeysAction::Get(key, options)).await?;
    let node = node(&response)?;
    if node.dir {
        eprintln!("{}: is a directory", node.key);
        return Err(Exit(1));
    }
    print(&response, &ctl.output())
}

/// `set <key> <value>`.
pub async fn set(ctl: &Ctl, flags: &Flags, args: &[String]) -> Outcome {
    // etcdctl connects (and syncs) before it looks at the arguments.
    let mut client = ctl.client().await?;
    let key = key_required(ctl, args)?;
    let value = value_required(ctl, args)?;
    let options = SetOptions {
        ttl: flags.int("ttl"),
        prev_value: flags.string("swap-with-value"),
        prev_index: flags.int("swap-with-index") as u64,
        ..Default::default()
    };
    let response = send(ctl, &mut client, KeysAction::Set(key, value, options)).await?;
    print(&response, &ctl.output())
}

/// `mk <key> <value>` (`--in-order`: a new key under directory `<key>`).
pub async fn mk(ctl: &Ctl, flags: &Flags, args: &[String]) -> Outcome {
    // etcdctl connects (and syncs) before it looks at the arguments.
    let mut client = ctl.client().await?;
    let key = key_required(ctl, args)?;
    let value = value_required(ctl, args)?;
    let ttl = flags.int("ttl");
    let action = if flags.bool("in-order") {
        KeysAction::CreateInOrder(key, value, ttl)
    } else {
        KeysAction::Set(key, value, SetOptions { ttl, prev_exist: PrevExist::NoExist, ..Default::default() })
    };
    let response = send(ctl, &mut client, action).await?;
    print(&response, &ctl.output())
}

/// `mkdir <key>` (must not exist) and `setdir <key>` (may exist).
pub async fn mkdir(ctl: &Ctl, flags: &Flags, args: &[String], prev_exist: PrevExist) -> Outcome {
    // etcdctl connects (and syncs) before it looks at the arguments.
    let mut client = ctl.client().await?;
    let key = key_required(ctl, args)?;
    let options = SetOptions { ttl: flags.int("ttl"), dir: true, prev_exist, ..Default::default() };
    let response = send(ctl, &mut client, KeysAction::Set(key, String::new(), options)).await?;
    if ctl.output() != "simple" {
        print(&response, &ctl.output())?;
    }
    Ok(())
}

/// `update <key> <value>`.
pub async fn update(ctl: &Ctl, flags: &Flags, args: &[String]) -> Outcome {
    // etcdctl connects (and syncs) before it looks at the arguments.
    let mut client = ctl.client().await?;
    let key = key_required(ctl, args)?;
    let value = value_required(ctl, args)?;
    let options = SetOptions { ttl: flags.int("ttl"), prev_exist: PrevExist::Exist, ..Default::default() };
    let response = send(ctl, &mut client, KeysAction::Set(key, value, options)).await?;
    print(&response, &ctl.output())
}

/// `updatedir <key>`.
pub async fn updatedir(ctl: &Ctl, flags: &Flags, args: &[String]) -> Outcome {
    // etcdctl connects (and syncs) before it looks at the arguments.
    let mut client = ctl.client().await?;
    let key = key_required(ctl, args)?;
    let options = SetOptions { ttl: flags.int("ttl"), dir: true, prev_exist: PrevExist::Exist, ..Default::default() };
    let response = send(ctl, &mut client, KeysAction::Set(key, String::new(), options)).await?;
    if ctl.output() != "simple" {
        print(&response, &ctl.output())?;
    }
    Ok(())
}

async fn remove(ctl: &Ctl, client: &mut Client, key: String, options: DeleteOptions) -> Outcome {
    let response = send(ctl, client, KeysAction::Delete(key, options)).await?;
    if !node(&response)?.dir || ctl.output() != "simple" {
        print(&response, &ctl.output())?;
    }
    Ok(())
}

/// `rm <key>`.
pub async fn rm(ctl: &Ctl, flags: &Flags, args: &[String]) -> Outcome {
    // etcdctl connects (and syncs) before it looks at the arguments.
    let mut client = ctl.client().await?;
    let key = key_required(ctl, args)?;
    let options = DeleteOptions {
        prev_value: flags.string("with-value"),
        prev_index: flags.int("with-index") as u64,
        dir: flags.bool("dir"),
        recursive: flags.bool("recursive"),
    };
    remove(ctl, &mut client, key, options).await
}

/// `rmdir <key>`.
pub async fn rmdir(ctl: &Ctl, args: &[String]) -> Outcome {
    // etcdctl connects (and syncs) before it looks at the arguments.
    let mut client = ctl.client().await?;
    let key = key_required(ctl, args)?;
    remove(ctl, &mut client, key, DeleteOptions { dir: true, ..Default::default() }).await
}

fn print_tree(node: &Node, slash: bool) {
    if node.dir && slash {
        println!("{}/", node.key);
    } else {
        println!("{}", node.key);
    }
    for child in node.nodes.iter().flatten() {
        print_tree(child, slash);
    }
}

/// `ls [key]`.
pub async fn ls(ctl: &Ctl, flags: &Flags, args: &[String]) -> Outcome {
    // etcdctl connects (and syncs) before it looks at the arguments.
    let mut client = ctl.client().await?;
    let key = args.first().cloned().unwrap_or_else(|| "/".to_owned());
    let options =
        GetOptions { sort: flags.bool("sort"), recursive: flags.bool("recursive"), quorum: flags.bool("quorum") };
    let response = send(ctl, &mut client, KeysAction::Get(key, options)).await?;
    if ctl.output() == "simple" {
        let node = node(&response)?;
        if !node.dir {
            println!("{}", node.key);
        }
        for child in node.nodes.iter().flatten() {
            print_tree(child, flags.bool("p"));
        }
        Ok(())
    } else {
        print(&response, &ctl.output())
    }
}
