//! `make_mirror` (not built yet).

use crate::exit::Fail;
use crate::global::Ctx;

/// Arguments of `make_mirror`.
#[derive(Debug, clap::Args)]
pub struct MakeMirrorArgs {
    /// Arguments.
    args: Vec<String>,
}

/// Runs `make_mirror`.
pub async fn run(_ctx: &Ctx, args: MakeMirrorArgs) -> Result<(), Fail> {
    Err(Fail::error(format!("make_mirror is not implemented yet ({:?})", args.args)))
}
