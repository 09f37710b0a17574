//! `alarm` (not built yet).

use crate::exit::Fail;
use crate::global::Ctx;

/// The `alarm` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum AlarmCommand {
    /// Placeholder.
    List,
}

/// Runs a `alarm` subcommand.
pub async fn run(_ctx: &Ctx, command: AlarmCommand) -> Result<(), Fail> {
    Err(Fail::error(format!("alarm {command:?} is not implemented yet")))
}
