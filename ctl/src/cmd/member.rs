//! `member` (not built yet).

use crate::exit::Fail;
use crate::global::Ctx;

/// The `member` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum MemberCommand {
    /// Placeholder.
    List,
}

/// Runs a `member` subcommand.
pub async fn run(_ctx: &Ctx, command: MemberCommand) -> Result<(), Fail> {
    Err(Fail::error(format!("member {command:?} is not implemented yet")))
}
