//! `compaction [options] <revision>`: compacts the history up to a revision.

use cairn_proto::etcdserverpb::CompactionRequest;

use super::{bad_args, go_bool, go_parse_int};
use crate::exit::Fail;
use crate::global::Ctx;
use crate::print;

/// `compaction [options] <revision>`
#[derive(Debug, clap::Args)]
pub struct CompactionArgs {
    /// 'true' to wait for compaction to physically remove all old revisions
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_parser = go_bool)]
    physical: bool,
    /// <revision>
    args: Vec<String>,
}

/// Runs `compaction`.
pub async fn run(ctx: &Ctx, args: CompactionArgs) -> Result<(), Fail> {
    if args.args.len() != 1 {
        return Err(bad_args("compaction command needs 1 argument"));
    }
    // etcdctl fails a bad revision with exit code 1 (ExitError), not as bad arguments.
    let revision = go_parse_int(&args.args[0], 10).map_err(Fail::error)?;
    let client = ctx.client().await?;
    let request = CompactionRequest { revision, physical: args.physical };
    ctx.timed(client.kv().compact(request)).await?;
    print::out(&format!("compacted revision {revision}\n"));
    Ok(())
}
