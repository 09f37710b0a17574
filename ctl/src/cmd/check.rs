//! `check` (not built yet).

use crate::exit::Fail;
use crate::global::Ctx;

/// The `check` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum CheckCommand {
    /// Placeholder.
    List,
}

/// Runs a `check` subcommand.
pub async fn run(_ctx: &Ctx, command: CheckCommand) -> Result<(), Fail> {
    Err(Fail::error(format!("check {command:?} is not implemented yet")))
}
