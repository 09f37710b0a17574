//! `move-leader <transferee-member-id>`: finds the leader among the endpoints given (the first
//! whose status names itself leader) and asks it to hand leadership to the transferee.

use cairn_proto::etcdserverpb::{MoveLeaderRequest, StatusRequest};

use super::endpoint::on_endpoint;
use super::{bad_args, go_parse_uint};
use crate::exit::Fail;
use crate::global::Ctx;
use crate::print::{self, Format};

/// `move-leader <transferee-member-id>`
#[derive(Debug, clap::Args)]
pub struct MoveLeaderArgs {
    /// <transferee-member-id>
    args: Vec<String>,
}

/// Runs `move-leader`.
pub async fn run(ctx: &Ctx, args: MoveLeaderArgs) -> Result<(), Fail> {
    if args.args.len() != 1 {
        return Err(bad_args("move-leader command needs 1 argument"));
    }
    let target = go_parse_uint(&args.args[0], 16).map_err(bad_args)?;
    let config = ctx.config()?;
    let endpoints = ctx.endpoints();
    let mut leader = None;
    for endpoint in &endpoints {
        let call = |c: cairn_client::Client| async move { c.maintenance().status(StatusRequest {}).await };
        let (client, status) = on_endpoint(ctx, &config, endpoint, call).await?;
        if status.header.as_ref().map_or(0, |h| h.member_id) == status.leader {
            leader = Some((client, status.leader));
            break;
        }
    }
    let Some((leader_client, leader_id)) = leader else {
        return Err(bad_args(format!("no leader endpoint given at [{}]", endpoints.join(" "))));
    };
    let request = MoveLeaderRequest { target_id: target };
    let response = match tokio::time::timeout(
        ctx.global.command_timeout,
        leader_client.maintenance().move_leader(request),
    )
    .await
    {
        Ok(Ok(response)) => response.into_inner(),
        Ok(Err(status)) => {
            // Go asks through a client of the leader's endpoint (not a maintenance dial).
            super::endpoint::warn(
                &format!("endpoint://client-{}/{}", super::endpoint::client_uuid(), leader_client.endpoint()),
                &format!("rpc error: code = {} desc = {}", cairn_client::go_code_name(status.code()), status.message()),
            );
            return Err(status.into());
        }
        Err(_) => return Err(Fail::error("context deadline exceeded")),
    };
    let printer = ctx.printer()?;
    match printer.format {
        Format::Simple => print::out(&format!("Leadership transferred from {leader_id:x} to {target:x}\n")),
        Format::Json => print::json(&response, "etcdserverpb.MoveLeaderResponse"),
        Format::Protobuf => print::protobuf(&response),
        Format::Fields | Format::Table => return Err(printer.format.unsupported()),
    }
    Ok(())
}
