//! `auth enable` and `auth disable`.
//!
//! etcd 3.4 has no `AuthStatus` call, and etcdctl 3.4 no `auth status`: neither has cairnctl.

use std::future::Future;

use cairn_proto::etcdserverpb::{AuthDisableRequest, AuthEnableRequest, AuthRoleAddRequest, AuthUserGrantRoleRequest};

use super::bad_args;
use crate::exit::Fail;
use crate::global::Ctx;

/// The `auth` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum AuthCommand {
    /// Enables authentication
    Enable {
        /// (none)
        args: Vec<String>,
    },
    /// Disables authentication
    Disable {
        /// (none)
        args: Vec<String>,
    },
}

/// What etcd answers `AuthEnable` while the root user lacks the root role.
const ROOT_ROLE_NOT_EXIST: &str = "etcdserver: root user does not have root role";

/// Runs an `auth` subcommand.
pub async fn run(ctx: &Ctx, command: AuthCommand) -> Result<(), Fail> {
    match command {
        AuthCommand::Enable { args } => {
            if !args.is_empty() {
                return Err(bad_args("auth enable command does not accept any arguments"));
            }
            let client = ctx.client().await?;
            // etcdctl grants the root role to root when that is all enabling lacks.
            ctx.timed_any(async {
                loop {
                    match unary(ctx, client.auth().auth_enable(AuthEnableRequest {})).await {
                        Ok(_) => return Ok::<(), Fail>(()),
                        Err(status) if status.message() == ROOT_ROLE_NOT_EXIST => {
                            unary(ctx, client.auth().role_add(AuthRoleAddRequest { name: "root".to_owned() })).await?;
                            let grant = AuthUserGrantRoleRequest { user: "root".to_owned(), role: "root".to_owned() };
                            unary(ctx, client.auth().user_grant_role(grant)).await?;
                        }
                        Err(status) => return Err(Fail::from(status)),
                    }
                }
            })
            .await?;
            println!("Authentication Enabled");
            Ok(())
        }
        AuthCommand::Disable { args } => {
            if !args.is_empty() {
                return Err(bad_args("auth disable command does not accept any arguments"));
            }
            let client = ctx.client().await?;
            ctx.timed(client.auth().auth_disable(AuthDisableRequest {})).await?;
            println!("Authentication Disabled");
            Ok(())
        }
    }
}

/// A unary call whose failure is logged as Go's client logs it (no deadline of its own: etcdctl's
/// user and role commands run without one).
pub async fn unary<T>(
    ctx: &Ctx,
    call: impl Future<Output = Result<tonic::Response<T>, tonic::Status>>,
) -> Result<T, tonic::Status> {
    match call.await {
        Ok(response) => Ok(response.into_inner()),
        Err(status) => {
            ctx.warn_failed(&status);
            Err(status)
        }
    }
}

/// How the fields printer shows a response: its header alone, its own lines, or not at all
/// (etcdctl's `fields not supported as output format`).
pub enum FieldsView {
    /// The header lines.
    Header(Option<cairn_proto::etcdserverpb::ResponseHeader>),
    /// These lines.
    Lines(String),
    /// Not supported.
    Unsupported,
}

/// Prints an auth response as etcdctl's printers do: `simple` for the simple printer, the
/// message itself as JSON (of type `full_name`) or protobuf, `fields` for the fields printer;
/// tables are not supported.
pub fn show<M: prost::Message>(
    printer: crate::print::Printer,
    response: &M,
    full_name: &str,
    simple: impl FnOnce() -> Vec<u8>,
    fields: FieldsView,
) -> Result<(), Fail> {
    use crate::print::{self, Format};
    match printer.format {
        Format::Simple => print::out_bytes(&simple()),
        Format::Json => print::json(response, full_name),
        Format::Protobuf => print::protobuf(response),
        Format::Fields => match fields {
            FieldsView::Header(header) => print::out(&print::fields_header(header.as_ref())),
            FieldsView::Lines(lines) => print::out(&lines),
            FieldsView::Unsupported => return Err(printer.format.unsupported()),
        },
        Format::Table => return Err(printer.format.unsupported()),
    }
    Ok(())
}
