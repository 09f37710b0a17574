//! `txn` (not built yet).

use crate::exit::Fail;
use crate::global::Ctx;

/// Arguments of `txn`.
#[derive(Debug, clap::Args)]
pub struct TxnArgs {
    /// Arguments.
    args: Vec<String>,
}

/// Runs `txn`.
pub async fn run(_ctx: &Ctx, args: TxnArgs) -> Result<(), Fail> {
    Err(Fail::error(format!("txn is not implemented yet ({:?})", args.args)))
}
