//! `watch` (not built yet).

use crate::exit::Fail;
use crate::global::Ctx;

/// Arguments of `watch`.
#[derive(Debug, clap::Args)]
pub struct WatchArgs {
    /// Arguments.
    args: Vec<String>,
}

/// Runs `watch`.
pub async fn run(_ctx: &Ctx, args: WatchArgs) -> Result<(), Fail> {
    Err(Fail::error(format!("watch is not implemented yet ({:?})", args.args)))
}
