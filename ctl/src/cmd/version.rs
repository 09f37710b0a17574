//! `version` (not built yet).

use crate::exit::Fail;
use crate::global::Ctx;

/// Runs `version`.
pub async fn run(_ctx: &Ctx) -> Result<(), Fail> {
    Err(Fail::error("version is not implemented yet"))
}
