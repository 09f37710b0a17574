//! `completion` (not built yet).

use crate::exit::Fail;
use crate::global::Ctx;

/// Arguments of `completion`.
#[derive(Debug, clap::Args)]
pub struct CompletionArgs {
    /// Arguments.
    args: Vec<String>,
}

/// Runs `completion`.
pub fn run(_ctx: &Ctx, args: CompletionArgs, _cli: clap::Command) -> Result<(), Fail> {
    Err(Fail::error(format!("completion is not implemented yet ({:?})", args.args)))
}
