//! `user` (not built yet).

use crate::exit::Fail;
use crate::global::Ctx;

/// The `user` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum UserCommand {
    /// Placeholder.
    List,
}

/// Runs a `user` subcommand.
pub async fn run(_ctx: &Ctx, command: UserCommand) -> Result<(), Fail> {
    Err(Fail::error(format!("user {command:?} is not implemented yet")))
}
