//! `defrag` (not built yet).

use crate::exit::Fail;
use crate::global::Ctx;

/// Arguments of `defrag`.
#[derive(Debug, clap::Args)]
pub struct DefragArgs {
    /// Arguments.
    args: Vec<String>,
}

/// Runs `defrag`.
pub async fn run(_ctx: &Ctx, args: DefragArgs) -> Result<(), Fail> {
    Err(Fail::error(format!("defrag is not implemented yet ({:?})", args.args)))
}
