//! `auth` (not built yet).

use crate::exit::Fail;
use crate::global::Ctx;

/// The `auth` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum AuthCommand {
    /// Placeholder.
    List,
}

/// Runs a `auth` subcommand.
pub async fn run(_ctx: &Ctx, command: AuthCommand) -> Result<(), Fail> {
    Err(Fail::error(format!("auth {command:?} is not implemented yet")))
}
