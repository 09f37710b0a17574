//! `role add|delete|get|list|grant-permission|revoke-permission`.

use cairn_proto::authpb::Permission;
use cairn_proto::authpb::permission::Type as PermissionType;
use cairn_proto::etcdserverpb::{
    AuthRoleAddRequest, AuthRoleDeleteRequest, AuthRoleGetRequest, AuthRoleGetResponse, AuthRoleGrantPermissionRequest,
    AuthRoleListRequest, AuthRoleRevokePermissionRequest,
};

use super::auth::{FieldsView, show, unary};
use super::{bad_args, go_bool, prefix_end};
use crate::exit::Fail;
use crate::global::Ctx;
use crate::print::{self, Printer};

/// The `role` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum RoleCommand {
    /// Adds a new role
    Add(NameArgs),
    /// Deletes a role
    Delete(NameArgs),
    /// Gets detailed information of a role
    Get(NameArgs),
    /// Lists all roles
    List(NameArgs),
    /// Grants a key to a role
    GrantPermission(PermissionArgs),
    /// Revokes a key from a role
    RevokePermission(PermissionArgs),
}

/// Positional arguments only.
#[derive(Debug, clap::Args)]
pub struct NameArgs {
    /// Names.
    args: Vec<String>,
}

/// `role grant-permission [options] <role name> <permission type> <key> [endkey]` and
/// `role revoke-permission <role name> <key> [endkey]`.
#[derive(Debug, clap::Args)]
pub struct PermissionArgs {
    /// a prefix permission
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_parser = go_bool)]
    prefix: bool,
    /// a permission of keys that are greater than or equal to the given key using byte compare
    #[arg(long = "from-key", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_parser = go_bool)]
    from_key: bool,
    /// Arguments.
    #[arg(allow_hyphen_values = false)]
    args: Vec<String>,
}

/// Runs a `role` subcommand.
pub async fn run(ctx: &Ctx, command: RoleCommand) -> Result<(), Fail> {
    match command {
        RoleCommand::Add(a) => {
            let [name] = a.args.as_slice() else {
                return Err(bad_args("role add command requires role name as its argument"));
            };
            let client = ctx.client().await?;
            let response = unary(ctx, client.auth().role_add(AuthRoleAddRequest { name: name.clone() })).await?;
            show(
                ctx.printer()?,
                &response,
                "etcdserverpb.AuthRoleAddResponse",
                || format!("Role {name} created\n").into_bytes(),
                FieldsView::Header(response.header),
            )
        }
        RoleCommand::Delete(a) => {
            let [name] = a.args.as_slice() else {
                return Err(bad_args("role delete command requires role name as its argument"));
            };
            let client = ctx.client().await?;
            let response = unary(ctx, client.auth().role_delete(AuthRoleDeleteRequest { role: name.clone() })).await?;
            show(
                ctx.printer()?,
                &response,
                "etcdserverpb.AuthRoleDeleteResponse",
                || format!("Role {name} deleted\n").into_bytes(),
                FieldsView::Header(response.header),
            )
        }
        RoleCommand::Get(a) => {
            let [name] = a.args.as_slice() else {
                return Err(bad_args("role get command requires role name as its argument"));
            };
            let client = ctx.client().await?;
            let response = unary(ctx, client.auth().role_get(AuthRoleGetRequest { role: name.clone() })).await?;
            print_role_get(ctx.printer()?, name, &response)
        }
        RoleCommand::List(a) => {
            if !a.args.is_empty() {
                return Err(bad_args("role list command requires no arguments"));
            }
            let client = ctx.client().await?;
            let response = unary(ctx, client.auth().role_list(AuthRoleListRequest {})).await?;
            let mut fields = print::fields_header(response.header.as_ref());
            fields.push_str("\"Roles\" :");
            for role in &response.roles {
                fields.push(' ');
                fields.push_str(&print::go_quote(role));
            }
            fields.push('\n');
            show(
                ctx.printer()?,
                &response,
                "etcdserverpb.AuthRoleListResponse",
                || response.roles.iter().map(|r| format!("{r}\n")).collect::<String>().into_bytes(),
                FieldsView::Lines(fields),
            )
        }
        RoleCommand::GrantPermission(a) => {
            if a.args.len() < 3 {
                return Err(bad_args(
                    "role grant command requires role name, permission type, and key [endkey] as its argument",
                ));
            }
            let perm_type = permission_type(&a.args[1])?;
            let (key, range_end) = perm_range(&a.args[2..], a.prefix, a.from_key)?;
            let client = ctx.client().await?;
            let perm = Permission { perm_type: perm_type as i32, key, range_end };
            let request = AuthRoleGrantPermissionRequest { name: a.args[0].clone(), perm: Some(perm) };
            let response = unary(ctx, client.auth().role_grant_permission(request)).await?;
            show(
                ctx.printer()?,
                &response,
                "etcdserverpb.AuthRoleGrantPermissionResponse",
                || format!("Role {} updated\n", a.args[0]).into_bytes(),
                FieldsView::Header(response.header),
            )
        }
        RoleCommand::RevokePermission(a) => {
            if a.args.len() < 2 {
                return Err(bad_args(
                    "role revoke-permission command requires role name and key [endkey] as its argument",
                ));
            }
            let (key, range_end) = perm_range(&a.args[1..], a.prefix, a.from_key)?;
            let client = ctx.client().await?;
            let request =
                AuthRoleRevokePermissionRequest { role: a.args[0].clone(), key, range_end: range_end.clone() };
            let response = unary(ctx, client.auth().role_revoke_permission(request)).await?;
            let (role, key) = (&a.args[0], a.args[1].as_bytes());
            show(
                ctx.printer()?,
                &response,
                "etcdserverpb.AuthRoleRevokePermissionResponse",
                || {
                    let mut text = Vec::new();
                    if range_end.is_empty() {
                        text.extend_from_slice(b"Permission of key ");
                        text.extend_from_slice(key);
                    } else if range_end != b"\0" {
                        text.extend_from_slice(b"Permission of range [");
                        text.extend_from_slice(key);
                        text.extend_from_slice(b", ");
                        text.extend_from_slice(&range_end);
                        text.push(b')');
                    } else {
                        text.extend_from_slice(b"Permission of range [");
                        text.extend_from_slice(key);
                        text.extend_from_slice(b", <open ended>");
                    }
                    text.extend_from_slice(format!(" is revoked from role {role}\n").as_bytes());
                    text
                },
                FieldsView::Header(response.header),
            )
        }
    }
}

/// clientv3's `StrToPermissionType`: `read`, `write` or `readwrite`, in any case.
fn permission_type(text: &str) -> Result<PermissionType, Fail> {
    PermissionType::from_str_name(&text.to_uppercase())
        .ok_or_else(|| bad_args(format!("invalid permission type: {text}")))
}

/// etcdctl's `permRange`: the key and range end a permission's arguments and flags stand for.
/// An empty key is every key (`\0`) with `--prefix` or `--from-key`, else the key `\0` alone.
fn perm_range(args: &[String], prefix: bool, from_key: bool) -> Result<(Vec<u8>, Vec<u8>), Fail> {
    let key = args[0].as_bytes();
    let exclusive = || bad_args("--from-key and --prefix flags are mutually exclusive");
    if key.is_empty() {
        if prefix && from_key {
            return Err(exclusive());
        }
        let range_end = if prefix || from_key { vec![0] } else { Vec::new() };
        return Ok((vec![0], range_end));
    }
    let range_end = match (args.get(1), prefix, from_key) {
        (None, true, true) => return Err(exclusive()),
        (None, true, false) => prefix_end(key),
        (None, false, true) => vec![0],
        (None, false, false) => Vec::new(),
        (Some(_), true, _) => return Err(bad_args("unexpected endkey argument with --prefix flag")),
        (Some(_), false, true) => return Err(bad_args("unexpected endkey argument with --from-key flag")),
        (Some(end), false, false) => end.clone().into_bytes(),
    };
    Ok((key.to_vec(), range_end))
}

/// Prints a role's permissions as `role get` does (and `user get --detail` for each role).
pub fn print_role_get(printer: Printer, role: &str, response: &AuthRoleGetResponse) -> Result<(), Fail> {
    let mut fields = print::fields_header(response.header.as_ref());
    for perm in &response.perm {
        let name = PermissionType::try_from(perm.perm_type)
            .map_or_else(|_| perm.perm_type.to_string(), |t| t.as_str_name().to_owned());
        fields.push_str(&format!(
            "\"PermType\" :  {name}\n\"Key\" : {}\n\"RangeEnd\" : {}\n",
            print::go_quote_bytes(&perm.key),
            print::go_quote_bytes(&perm.range_end)
        ));
    }
    show(
        printer,
        response,
        "etcdserverpb.AuthRoleGetResponse",
        || simple_role_get(role, response),
        FieldsView::Lines(fields),
    )
}

/// The simple printer's lines for a role: its read permissions, then its write permissions.
fn simple_role_get(role: &str, response: &AuthRoleGetResponse) -> Vec<u8> {
    let mut text = format!("Role {role}\nKV Read:\n").into_bytes();
    let line = |text: &mut Vec<u8>, perm: &Permission| {
        text.push(b'\t');
        if perm.range_end.is_empty() {
            text.extend_from_slice(&perm.key);
            text.push(b'\n');
            return;
        }
        text.push(b'[');
        text.extend_from_slice(&perm.key);
        if perm.range_end != b"\0" {
            text.extend_from_slice(b", ");
            text.extend_from_slice(&perm.range_end);
            text.push(b')');
        } else {
            text.extend_from_slice(b", <open ended>");
        }
        if prefix_end(&perm.key) == perm.range_end {
            text.extend_from_slice(b" (prefix ");
            text.extend_from_slice(&perm.key);
            text.push(b')');
        }
        text.push(b'\n');
    };
    let reads = |t: i32| t == PermissionType::Read as i32 || t == PermissionType::Readwrite as i32;
    let writes = |t: i32| t == PermissionType::Write as i32 || t == PermissionType::Readwrite as i32;
    for perm in response.perm.iter().filter(|p| reads(p.perm_type)) {
        line(&mut text, perm);
    }
    text.extend_from_slice(b"KV Write:\n");
    for perm in response.perm.iter().filter(|p| writes(p.perm_type)) {
        line(&mut text, perm);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn permission_ranges_are_etcdctls() {
        assert_eq!(perm_range(&args(&["a"]), false, false), Ok((b"a".to_vec(), Vec::new())));
        assert_eq!(perm_range(&args(&["a"]), true, false), Ok((b"a".to_vec(), b"b".to_vec())));
        assert_eq!(perm_range(&args(&["a"]), false, true), Ok((b"a".to_vec(), vec![0])));
        assert_eq!(perm_range(&args(&["a", "c"]), false, false), Ok((b"a".to_vec(), b"c".to_vec())));
        assert_eq!(perm_range(&args(&["", "c"]), false, false), Ok((vec![0], Vec::new())));
        assert_eq!(perm_range(&args(&[""]), true, false), Ok((vec![0], vec![0])));
        assert!(perm_range(&args(&["a", "c"]), true, false).is_err());
        assert!(perm_range(&args(&["a"]), true, true).is_err());
    }

    #[test]
    fn roles_print_ranges_and_prefixes() {
        let perm = |t: PermissionType, k: &[u8], e: &[u8]| Permission {
            perm_type: t as i32,
            key: k.to_vec(),
            range_end: e.to_vec(),
        };
        let response = AuthRoleGetResponse {
            header: None,
            perm: vec![
                perm(PermissionType::Readwrite, b"a", b"b"),
                perm(PermissionType::Read, b"k", b""),
                perm(PermissionType::Write, b"z", b"\0"),
            ],
        };
        let text = String::from_utf8(simple_role_get("r1", &response)).expect("utf-8");
        assert_eq!(
            text,
            "Role r1\nKV Read:\n\t[a, b) (prefix a)\n\tk\nKV Write:\n\t[a, b) (prefix a)\n\t[z, <open ended>\n"
        );
    }
}
