//! `lease` (not built yet).

use crate::exit::Fail;
use crate::global::Ctx;

/// The `lease` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum LeaseCommand {
    /// Placeholder.
    List,
}

/// Runs a `lease` subcommand.
pub async fn run(_ctx: &Ctx, command: LeaseCommand) -> Result<(), Fail> {
    Err(Fail::error(format!("lease {command:?} is not implemented yet")))
}
