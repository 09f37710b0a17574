//! `version`: etcdctl's two lines, `etcdctl version: 3.4.23` and `API version: 3.4`.
//!
//! cairnctl answers as the etcdctl it stands in for, not with its own crate version: scripts
//! parse these lines to learn which etcdctl (and which API) they talk to, and cairnctl takes
//! exactly etcdctl 3.4.23's commands, flags and output.

use crate::exit::Fail;
use crate::global::Ctx;

/// The etcdctl release whose behaviour cairnctl reproduces.
pub const ETCDCTL_VERSION: &str = "3.4.23";
/// The API version of that release.
pub const API_VERSION: &str = "3.4";

/// Runs `version`.
pub async fn run(_ctx: &Ctx) -> Result<(), Fail> {
    crate::print::out(&format!("etcdctl version: {ETCDCTL_VERSION}\nAPI version: {API_VERSION}\n"));
    Ok(())
}
