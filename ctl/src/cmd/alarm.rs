//! `alarm list|disarm`.

use cairn_proto::etcdserverpb::alarm_request::AlarmAction;
use cairn_proto::etcdserverpb::{AlarmMember, AlarmRequest, AlarmResponse, AlarmType};

use super::bad_args;
use crate::exit::Fail;
use crate::global::Ctx;
use crate::print::{self, Format};

/// The `alarm` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum AlarmCommand {
    /// Disarms all alarms
    Disarm(NoArgs),
    /// Lists all alarms
    List(NoArgs),
}

/// Arguments, of which there must be none.
#[derive(Debug, clap::Args)]
pub struct NoArgs {
    /// None accepted.
    #[arg(hide = true)]
    args: Vec<String>,
}

/// Runs an `alarm` subcommand.
pub async fn run(ctx: &Ctx, command: AlarmCommand) -> Result<(), Fail> {
    let response = match command {
        AlarmCommand::List(args) => {
            if !args.args.is_empty() {
                return Err(bad_args("alarm list command accepts no arguments"));
            }
            let client = ctx.client().await?;
            ctx.timed(client.maintenance().alarm(list_request())).await?.into_inner()
        }
        AlarmCommand::Disarm(args) => {
            if !args.args.is_empty() {
                return Err(bad_args("alarm disarm command accepts no arguments"));
            }
            let client = ctx.client().await?;
            // clientv3's `AlarmDisarm` of no member and no alarm: list them, disarm each, and
            // answer with the disarmed alarms (and no header).
            let listed = ctx.timed(client.maintenance().alarm(list_request())).await?.into_inner();
            let mut disarmed = AlarmResponse::default();
            for alarm in listed.alarms {
                let request = AlarmRequest {
                    action: AlarmAction::Deactivate as i32,
                    member_id: alarm.member_id,
                    alarm: alarm.alarm,
                };
                let response = ctx.timed(client.maintenance().alarm(request)).await?.into_inner();
                disarmed.alarms.extend(response.alarms);
            }
            disarmed
        }
    };
    print_alarms(ctx, &response)
}

fn list_request() -> AlarmRequest {
    AlarmRequest { action: AlarmAction::Get as i32, member_id: 0, alarm: AlarmType::None as i32 }
}

fn print_alarms(ctx: &Ctx, response: &AlarmResponse) -> Result<(), Fail> {
    let printer = ctx.printer()?;
    match printer.format {
        Format::Simple => print::out(&response.alarms.iter().map(|a| simple_alarm(a) + "\n").collect::<String>()),
        Format::Json => print::json(response, "etcdserverpb.AlarmResponse"),
        Format::Protobuf => print::protobuf(response),
        Format::Fields => {
            let Some(header) = &response.header else {
                // etcdctl dereferences the header, which etcd leaves out of alarm responses: it
                // crashes. Said the way it does (the goroutine dump aside), with Go's exit code.
                eprintln!("panic: runtime error: invalid memory address or nil pointer dereference");
                std::process::exit(2);
            };
            let mut text = print::fields_header(Some(header));
            for a in &response.alarms {
                text.push_str(&format!("\"MemberID\" : {}\n\"AlarmType\" : {}\n\n", a.member_id, alarm_name(a.alarm)));
            }
            print::out(&text);
        }
        Format::Table => return Err(printer.format.unsupported()),
    }
    Ok(())
}

/// `%+v` of an alarm: gogo's compact text format, every non-zero field followed by a space.
fn simple_alarm(alarm: &AlarmMember) -> String {
    let mut text = String::new();
    if alarm.member_id != 0 {
        text.push_str(&format!("memberID:{} ", alarm.member_id));
    }
    if alarm.alarm != 0 {
        text.push_str(&format!("alarm:{} ", alarm_name(alarm.alarm)));
    }
    text
}

/// An alarm type's name (its number when unknown), as Go's enum `String` gives it.
fn alarm_name(alarm: i32) -> String {
    AlarmType::try_from(alarm).map_or_else(|_| alarm.to_string(), |a| a.as_str_name().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alarms_print_as_gogo_prints_them() {
        let alarm = AlarmMember { member_id: 185828541645115251, alarm: AlarmType::Nospace as i32 };
        assert_eq!(simple_alarm(&alarm), "memberID:185828541645115251 alarm:NOSPACE ");
        assert_eq!(alarm_name(7), "7");
    }
}
