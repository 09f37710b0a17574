//! `user add|delete|get|list|passwd|grant-role|revoke-role`.

use std::io::Read;

use cairn_proto::authpb::UserAddOptions;
use cairn_proto::etcdserverpb::{
    AuthRoleGetRequest, AuthUserAddRequest, AuthUserChangePasswordRequest, AuthUserDeleteRequest, AuthUserGetRequest,
    AuthUserGrantRoleRequest, AuthUserListRequest, AuthUserRevokeRoleRequest,
};

use super::auth::{FieldsView, show, unary};
use super::{bad_args, go_bool};
use crate::exit::Fail;
use crate::global::Ctx;

/// The `user` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum UserCommand {
    /// Adds a new user
    Add(AddArgs),
    /// Deletes a user
    Delete(NameArgs),
    /// Gets detailed information of a user
    Get(GetArgs),
    /// Lists all users
    List(NameArgs),
    /// Changes password of user
    Passwd(PasswdArgs),
    /// Grants a role to a user
    GrantRole(NameArgs),
    /// Revokes a role from a user
    RevokeRole(NameArgs),
}

/// `user add <user name or user:password> [options]`
#[derive(Debug, clap::Args)]
pub struct AddArgs {
    /// Read password from stdin instead of interactive terminal
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "true", value_parser = go_bool)]
    interactive: bool,
    /// Supply password from the command line flag
    #[arg(long = "new-user-password", default_value = "")]
    new_user_password: String,
    /// Create a user without password (CN based auth only)
    #[arg(long = "no-password", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_parser = go_bool)]
    no_password: bool,
    /// <user name or user:password>
    args: Vec<String>,
}

/// Positional arguments only.
#[derive(Debug, clap::Args)]
pub struct NameArgs {
    /// Names.
    args: Vec<String>,
}

/// `user get <user name> [options]`
#[derive(Debug, clap::Args)]
pub struct GetArgs {
    /// Show permissions of roles granted to the user
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_parser = go_bool)]
    detail: bool,
    /// <user name>
    args: Vec<String>,
}

/// `user passwd <user name> [options]`
#[derive(Debug, clap::Args)]
pub struct PasswdArgs {
    /// If true, read password from stdin instead of interactive terminal
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "true", value_parser = go_bool)]
    interactive: bool,
    /// <user name>
    args: Vec<String>,
}

/// Runs a `user` subcommand.
pub async fn run(ctx: &Ctx, command: UserCommand) -> Result<(), Fail> {
    match command {
        UserCommand::Add(a) => add(ctx, a).await,
        UserCommand::Delete(a) => {
            let [name] = a.args.as_slice() else {
                return Err(bad_args("user delete command requires user name as its argument"));
            };
            let client = ctx.client().await?;
            let response = unary(ctx, client.auth().user_delete(AuthUserDeleteRequest { name: name.clone() })).await?;
            show(
                ctx.printer()?,
                &response,
                "etcdserverpb.AuthUserDeleteResponse",
                || format!("User {name} deleted\n").into_bytes(),
                FieldsView::Header(response.header),
            )
        }
        UserCommand::Get(a) => get(ctx, a).await,
        UserCommand::List(a) => {
            if !a.args.is_empty() {
                return Err(bad_args("user list command requires no arguments"));
            }
            let client = ctx.client().await?;
            let response = unary(ctx, client.auth().user_list(AuthUserListRequest {})).await?;
            show(
                ctx.printer()?,
                &response,
                "etcdserverpb.AuthUserListResponse",
                || response.users.iter().map(|u| format!("{u}\n")).collect::<String>().into_bytes(),
                FieldsView::Unsupported,
            )
        }
        UserCommand::Passwd(a) => {
            let [name] = a.args.as_slice() else {
                return Err(bad_args("user passwd command requires user name as its argument"));
            };
            let password = if a.interactive { read_password_interactive(name)? } else { scan_word() };
            let client = ctx.client().await?;
            let request = AuthUserChangePasswordRequest { name: name.clone(), password };
            let response = unary(ctx, client.auth().user_change_password(request)).await?;
            show(
                ctx.printer()?,
                &response,
                "etcdserverpb.AuthUserChangePasswordResponse",
                || b"Password updated\n".to_vec(),
                FieldsView::Header(response.header),
            )
        }
        UserCommand::GrantRole(a) => {
            let [user, role] = a.args.as_slice() else {
                return Err(bad_args("user grant command requires user name and role name as its argument"));
            };
            let client = ctx.client().await?;
            let request = AuthUserGrantRoleRequest { user: user.clone(), role: role.clone() };
            let response = unary(ctx, client.auth().user_grant_role(request)).await?;
            show(
                ctx.printer()?,
                &response,
                "etcdserverpb.AuthUserGrantRoleResponse",
                || format!("Role {role} is granted to user {user}\n").into_bytes(),
                FieldsView::Header(response.header),
            )
        }
        UserCommand::RevokeRole(a) => {
            let [user, role] = a.args.as_slice() else {
                return Err(bad_args("user revoke-role requires user name and role name as its argument"));
            };
            let client = ctx.client().await?;
            let request = AuthUserRevokeRoleRequest { name: user.clone(), role: role.clone() };
            let response = unary(ctx, client.auth().user_revoke_role(request)).await?;
            show(
                ctx.printer()?,
                &response,
                "etcdserverpb.AuthUserRevokeRoleResponse",
                || format!("Role {role} is revoked from user {user}\n").into_bytes(),
                FieldsView::Header(response.header),
            )
        }
    }
}

/// Runs `user add`: the password comes from `--new-user-password`, after a `:` in the name, from
/// stdin (`--interactive=false`) or from prompts, in that order, before anything is sent.
async fn add(ctx: &Ctx, a: AddArgs) -> Result<(), Fail> {
    let [arg] = a.args.as_slice() else {
        return Err(bad_args("user add command requires user name as its argument"));
    };
    let (user, password) = if a.no_password {
        (arg.clone(), String::new())
    } else if !a.new_user_password.is_empty() {
        (arg.clone(), a.new_user_password.clone())
    } else if let Some((user, password)) = arg.split_once(':') {
        if user.is_empty() {
            return Err(bad_args("empty user name is not allowed"));
        }
        (user.to_owned(), password.to_owned())
    } else if a.interactive {
        (arg.clone(), read_password_interactive(arg)?)
    } else {
        (arg.clone(), scan_word())
    };
    let client = ctx.client().await?;
    let request = AuthUserAddRequest {
        name: user.clone(),
        password,
        options: Some(UserAddOptions { no_password: a.no_password }),
    };
    let response = unary(ctx, client.auth().user_add(request)).await?;
    show(
        ctx.printer()?,
        &response,
        "etcdserverpb.AuthUserAddResponse",
        || format!("User {user} created\n").into_bytes(),
        FieldsView::Header(response.header),
    )
}

/// Runs `user get`; with `--detail`, each granted role as `role get` prints it.
async fn get(ctx: &Ctx, a: GetArgs) -> Result<(), Fail> {
    let [name] = a.args.as_slice() else {
        return Err(bad_args("user get command requires user name as its argument"));
    };
    let client = ctx.client().await?;
    let response = unary(ctx, client.auth().user_get(AuthUserGetRequest { name: name.clone() })).await?;
    let printer = ctx.printer()?;
    if !a.detail {
        return show(
            printer,
            &response,
            "etcdserverpb.AuthUserGetResponse",
            || {
                let roles: String = response.roles.iter().map(|r| format!(" {r}")).collect();
                format!("User: {name}\nRoles:{roles}\n").into_bytes()
            },
            FieldsView::Unsupported,
        );
    }
    crate::print::out(&format!("User: {name}\n"));
    for role in &response.roles {
        crate::print::out("\n");
        let role_response = unary(ctx, client.auth().role_get(AuthRoleGetRequest { role: role.clone() })).await?;
        super::role::print_role_get(printer, role, &role_response)?;
    }
    Ok(())
}

/// etcdctl's prompts for a new password (speakeasy's: the prompt on stdout, echo turned off with
/// `stty` on stdin, one line read, a newline after it), asked twice.
fn read_password_interactive(name: &str) -> Result<String, Fail> {
    let ask = |prompt: String| ask_password(&prompt).map_err(|e| bad_args(format!("failed to ask password: {e}")));
    let first = ask(format!("Password of {name}: "))?;
    if first.is_empty() {
        return Err(bad_args("empty password"));
    }
    let second = ask(format!("Type password of {name} again for confirmation: "))?;
    if first != second {
        return Err(bad_args("given passwords are different"));
    }
    Ok(first)
}

/// One speakeasy prompt. `stty` runs on this process's stdin, stdout and stderr as etcdctl runs
/// it, so when stdin is not a terminal its complaint shows on stderr as etcdctl's does.
fn ask_password(prompt: &str) -> Result<String, String> {
    use std::os::unix::process::CommandExt;
    let stty = |setting: &str| std::process::Command::new("/bin/stty").arg0("stty").arg(setting).status();
    crate::print::out(prompt);
    stty("-echo").map_err(|e| format!("failed turning off console echo for password entry:\n\t{e}"))?;
    let line = read_line();
    let _ = stty("echo");
    crate::print::out("\n");
    let line = line.map_err(|e| format!("failed during password entry: {e}"))?;
    Ok(line.trim_end_matches('\r').trim().to_owned())
}

/// Reads stdin up to a newline or its end (the newline is not returned).
fn read_line() -> std::io::Result<String> {
    let mut line = Vec::new();
    let mut stdin = std::io::stdin().lock();
    let mut byte = [0u8; 1];
    loop {
        match stdin.read(&mut byte) {
            Ok(0) => break,
            Ok(_) if byte[0] == b'\n' => break,
            Ok(_) => line.push(byte[0]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(String::from_utf8_lossy(&line).into_owned())
}

/// Go's `fmt.Scanf("%s", &word)` on stdin: spaces skipped, then one word; empty when the input
/// ends or a line ends first.
fn scan_word() -> String {
    let line = read_line().unwrap_or_default();
    let line = line.trim_end_matches('\r');
    line.trim_start_matches([' ', '\t']).split([' ', '\t', '\r']).next().unwrap_or_default().to_owned()
}
