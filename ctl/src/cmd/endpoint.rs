//! `endpoint` (not built yet).

use crate::exit::Fail;
use crate::global::Ctx;

/// The `endpoint` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum EndpointCommand {
    /// Placeholder.
    List,
}

/// Runs a `endpoint` subcommand.
pub async fn run(_ctx: &Ctx, command: EndpointCommand) -> Result<(), Fail> {
    Err(Fail::error(format!("endpoint {command:?} is not implemented yet")))
}
