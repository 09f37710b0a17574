//! `lock` (not built yet).

use crate::exit::Fail;
use crate::global::Ctx;

/// Arguments of `lock`.
#[derive(Debug, clap::Args)]
pub struct LockArgs {
    /// Arguments.
    args: Vec<String>,
}

/// Runs `lock`.
pub async fn run(_ctx: &Ctx, args: LockArgs) -> Result<(), Fail> {
    Err(Fail::error(format!("lock is not implemented yet ({:?})", args.args)))
}
