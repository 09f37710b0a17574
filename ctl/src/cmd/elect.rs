//! `elect` (not built yet).

use crate::exit::Fail;
use crate::global::Ctx;

/// Arguments of `elect`.
#[derive(Debug, clap::Args)]
pub struct ElectArgs {
    /// Arguments.
    args: Vec<String>,
}

/// Runs `elect`.
pub async fn run(_ctx: &Ctx, args: ElectArgs) -> Result<(), Fail> {
    Err(Fail::error(format!("elect is not implemented yet ({:?})", args.args)))
}
