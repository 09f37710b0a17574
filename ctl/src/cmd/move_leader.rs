//! `move_leader` (not built yet).

use crate::exit::Fail;
use crate::global::Ctx;

/// Arguments of `move_leader`.
#[derive(Debug, clap::Args)]
pub struct MoveLeaderArgs {
    /// Arguments.
    args: Vec<String>,
}

/// Runs `move_leader`.
pub async fn run(_ctx: &Ctx, args: MoveLeaderArgs) -> Result<(), Fail> {
    Err(Fail::error(format!("move_leader is not implemented yet ({:?})", args.args)))
}
