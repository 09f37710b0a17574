//! `snapshot` (not built yet).

use crate::exit::Fail;
use crate::global::Ctx;

/// The `snapshot` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum SnapshotCommand {
    /// Placeholder.
    List,
}

/// Runs a `snapshot` subcommand.
pub async fn run(_ctx: &Ctx, command: SnapshotCommand) -> Result<(), Fail> {
    Err(Fail::error(format!("snapshot {command:?} is not implemented yet")))
}
