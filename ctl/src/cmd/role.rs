//! `role` (not built yet).

use crate::exit::Fail;
use crate::global::Ctx;

/// The `role` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum RoleCommand {
    /// Placeholder.
    List,
}

/// Runs a `role` subcommand.
pub async fn run(_ctx: &Ctx, command: RoleCommand) -> Result<(), Fail> {
    Err(Fail::error(format!("role {command:?} is not implemented yet")))
}
