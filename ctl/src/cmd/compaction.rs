//! `compaction` (not built yet).

use crate::exit::Fail;
use crate::global::Ctx;

/// Arguments of `compaction`.
#[derive(Debug, clap::Args)]
pub struct CompactionArgs {
    /// Arguments.
    args: Vec<String>,
}

/// Runs `compaction`.
pub async fn run(_ctx: &Ctx, args: CompactionArgs) -> Result<(), Fail> {
    Err(Fail::error(format!("compaction is not implemented yet ({:?})", args.args)))
}
