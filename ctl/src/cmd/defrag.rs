//! `defrag [--cluster]`: defragments each endpoint's backend, one after the other.
//!
//! `--data-dir` (etcdctl's offline defragmentation of a stopped member's bbolt file) is refused:
//! cairn's data directory belongs to its storage engine (LMDB, sled, RocksDB or fjall), which
//! the ctl does not link, and cairnctl has no bbolt implementation for an etcd data directory.
//! It fails as etcdctl fails to defragment a directory, with the reason.

use super::endpoint::{endpoints_from_cluster, on_endpoint};
use super::go_bool;
use crate::exit::{self, Fail};
use crate::global::Ctx;

/// `defrag [--cluster] [--data-dir DIR]`
#[derive(Debug, clap::Args)]
pub struct DefragArgs {
    /// use all endpoints from the cluster member list
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_parser = go_bool)]
    cluster: bool,
    /// Optional. If present, defragments a data directory not in use by etcd.
    #[arg(long = "data-dir", default_value = "")]
    data_dir: String,
    /// Ignored, as cobra ignores them.
    #[arg(hide = true)]
    args: Vec<String>,
}

/// Runs `defrag`.
pub async fn run(ctx: &Ctx, args: DefragArgs) -> Result<(), Fail> {
    if !args.data_dir.is_empty() {
        eprintln!(
            "Failed to defragment etcd data[{}] (offline defragmentation is not supported by cairnctl: \
             start the member and defragment it through its endpoint)",
            args.data_dir
        );
        std::process::exit(exit::ERROR);
    }
    let config = ctx.config()?;
    let mut failures = 0;
    for endpoint in endpoints_from_cluster(ctx, args.cluster).await? {
        let call = |c: cairn_client::Client| async move {
            c.maintenance().defragment(cairn_proto::etcdserverpb::DefragmentRequest {}).await
        };
        match on_endpoint(ctx, &config, &endpoint, call).await {
            Ok(_) => crate::print::out(&format!("Finished defragmenting etcd member[{endpoint}]\n")),
            Err(fail) => {
                eprintln!("Failed to defragment etcd member[{endpoint}] ({})", fail.message);
                failures += 1;
            }
        }
    }
    if failures != 0 {
        std::process::exit(exit::ERROR);
    }
    Ok(())
}
