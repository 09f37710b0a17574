//! `make-mirror`: copies the keys (under a prefix) of the cluster at `--endpoints` to a
//! destination cluster, then follows the source's changes, as etcdctl's (clientv3/mirror):
//! the keys as of one revision, a thousand per range request, each put to the destination;
//! then a watch from the next revision, each revision's events applied in one transaction.
//! The number of keys synced so far is printed every 30 seconds.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use cairn_client::{Client, Config, TlsConfig};
use cairn_proto::etcdserverpb::request_op::Request as Op;
use cairn_proto::etcdserverpb::watch_request::RequestUnion;
use cairn_proto::etcdserverpb::{
    DeleteRangeRequest, PutRequest, RangeRequest, RequestOp, TxnRequest, WatchCreateRequest, WatchRequest,
};
use cairn_proto::mvccpb::event::EventType;
use tokio_stream::StreamExt;

use super::{bad_args, go_bool, prefix_end};
use crate::exit::Fail;
use crate::global::Ctx;

/// How many keys one range request of the initial sync asks for.
const BATCH_LIMIT: i64 = 1000;
/// How often the count of synced keys is printed.
const REPORT_EVERY: Duration = Duration::from_secs(30);

/// `make-mirror [options] <destination>`
#[derive(Debug, clap::Args)]
pub struct MakeMirrorArgs {
    /// Key-value prefix to mirror
    #[arg(long, default_value = "")]
    prefix: String,
    /// destination prefix to mirror a prefix to a different prefix in the destination cluster
    #[arg(long = "dest-prefix", default_value = "")]
    dest_prefix: String,
    /// mirror key-values to the root of the destination cluster
    #[arg(long = "no-dest-prefix", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_parser = go_bool)]
    no_dest_prefix: bool,
    /// Identify secure client using this TLS certificate file for the destination cluster
    #[arg(long = "dest-cert", default_value = "")]
    dest_cert: String,
    /// Identify secure client using this TLS key file
    #[arg(long = "dest-key", default_value = "")]
    dest_key: String,
    /// Verify certificates of TLS enabled secure servers using this CA bundle
    #[arg(long = "dest-cacert", default_value = "")]
    dest_cacert: String,
    /// Disable transport security for client connections
    #[arg(long = "dest-insecure-transport", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "true", value_parser = go_bool)]
    dest_insecure_transport: bool,
    /// <destination>
    args: Vec<String>,
}

/// Runs `make-mirror`; it returns only on an error.
pub async fn run(ctx: &Ctx, args: MakeMirrorArgs) -> Result<(), Fail> {
    let [destination] = args.args.as_slice() else {
        return Err(bad_args("make-mirror takes one destination argument"));
    };
    let dest = connect_destination(ctx, &args, destination).await?;
    let mut config = ctx.config()?;
    config.keepalive_time = go_keepalive(config.keepalive_time);
    let source = Client::connect(config).await.map_err(|e| match e {
        cairn_client::Error::Config(message) => bad_args(message),
        other => Fail::new(crate::exit::BAD_CONNECTION, other.to_string()),
    })?;
    let total = Arc::new(AtomicI64::new(0));
    let reporter = {
        let total = total.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(REPORT_EVERY).await;
                crate::print::out(&format!("{}\n", total.load(Ordering::Relaxed)));
            }
        })
    };
    let result = mirror(&source, &dest, &args, &total).await;
    reporter.abort();
    Err(match result {
        Err(fail) => fail,
        // The watch ended without an error: etcdctl exits with its nil error.
        Ok(()) => Fail::error("<nil>"),
    })
}

/// The keepalive interval Go's gRPC client uses for `interval`: never below 10 s. A mirror runs
/// for long, idle at times, and etcd refuses pings more often than every 5 s (its
/// `--grpc-keepalive-min-time`) by closing the connection.
fn go_keepalive(interval: Duration) -> Duration {
    if interval.is_zero() { interval } else { interval.max(Duration::from_secs(10)) }
}

/// The destination's client: its own TLS flags, the global timeouts, no user.
async fn connect_destination(ctx: &Ctx, args: &MakeMirrorArgs, destination: &str) -> Result<Client, Fail> {
    let mut config = Config::new([destination.to_owned()]);
    config.dial_timeout = ctx.global.dial_timeout;
    config.keepalive_time = go_keepalive(ctx.global.keepalive_time);
    config.keepalive_timeout = ctx.global.keepalive_timeout;
    let file = |path: &str| (!path.is_empty()).then(|| PathBuf::from(path));
    let files = [&args.dest_cert, &args.dest_key, &args.dest_cacert];
    if files.iter().any(|f| !f.is_empty()) || !args.dest_insecure_transport {
        config.tls = Some(TlsConfig {
            ca_file: file(&args.dest_cacert),
            cert_file: file(&args.dest_cert),
            key_file: file(&args.dest_key),
            server_name: None,
            insecure_skip_verify: false,
        });
    }
    match Client::connect(config).await {
        Ok(client) => Ok(client),
        Err(cairn_client::Error::Config(message)) => Err(bad_args(message)),
        Err(e) => Err(Fail::new(crate::exit::BAD_CONNECTION, e.to_string())),
    }
}

/// clientv3's `strings.Replace(key, prefix, dest_prefix, 1)`: the first occurrence of the prefix
/// anywhere in the key (an empty prefix: the start) becomes the destination prefix.
fn modify_prefix(key: &[u8], prefix: &[u8], dest_prefix: &[u8]) -> Vec<u8> {
    if prefix.is_empty() {
        return [dest_prefix, key].concat();
    }
    match key.windows(prefix.len()).position(|w| w == prefix) {
        Some(at) => [&key[..at], dest_prefix, &key[at + prefix.len()..]].concat(),
        None => key.to_vec(),
    }
}

async fn mirror(source: &Client, dest: &Client, args: &MakeMirrorArgs, total: &AtomicI64) -> Result<(), Fail> {
    // The revision to sync at: the header of a read of any key.
    let probe = RangeRequest { key: b"foo".to_vec(), ..Default::default() };
    let revision = source.kv().range(probe).await?.into_inner().header.map_or(0, |h| h.revision);
    if args.no_dest_prefix && !args.dest_prefix.is_empty() {
        return Err(bad_args("`--dest-prefix` and `--no-dest-prefix` cannot be set at the same time, choose one"));
    }
    let prefix = args.prefix.as_bytes();
    let dest_prefix =
        if !args.no_dest_prefix && args.dest_prefix.is_empty() { prefix } else { args.dest_prefix.as_bytes() };
    let (mut key, range_end) =
        if prefix.is_empty() { (vec![0], vec![0]) } else { (prefix.to_vec(), prefix_end(prefix)) };
    loop {
        let request = RangeRequest {
            key: key.clone(),
            range_end: range_end.clone(),
            limit: BATCH_LIMIT,
            revision,
            ..Default::default()
        };
        let page = source.kv().range(request).await?.into_inner();
        for kv in &page.kvs {
            let put = PutRequest {
                key: modify_prefix(&kv.key, prefix, dest_prefix),
                value: kv.value.clone(),
                ..Default::default()
            };
            dest.kv().put(put).await?;
            total.fetch_add(1, Ordering::Relaxed);
        }
        match page.kvs.last() {
            Some(last) if page.more => key = [last.key.as_slice(), &[0]].concat(),
            _ => break,
        }
    }

    let (watch_key, watch_end) =
        if prefix.is_empty() { (vec![0], vec![0]) } else { (prefix.to_vec(), prefix_end(prefix)) };
    let create =
        WatchCreateRequest { key: watch_key, range_end: watch_end, start_revision: revision + 1, ..Default::default() };
    let (requests, receiver) = tokio::sync::mpsc::channel(1);
    requests
        .send(WatchRequest { request_union: Some(RequestUnion::CreateRequest(create)) })
        .await
        .map_err(|_| Fail::error("the watch request could not be sent"))?;
    let mut responses = source.watch().watch(tokio_stream::wrappers::ReceiverStream::new(receiver)).await?.into_inner();
    while let Some(response) = responses.next().await {
        let response = response?;
        if response.compact_revision != 0 {
            return Err(Fail::error("etcdserver: mvcc: required revision has been compacted"));
        }
        let mut ops = Vec::new();
        let mut last_revision = 0;
        for event in &response.events {
            let Some(kv) = &event.kv else { continue };
            if last_revision != 0 && kv.mod_revision > last_revision {
                commit(dest, std::mem::take(&mut ops)).await?;
            }
            last_revision = kv.mod_revision;
            let key = modify_prefix(&kv.key, prefix, dest_prefix);
            let op = if event.r#type == EventType::Delete as i32 {
                Op::RequestDeleteRange(DeleteRangeRequest { key, ..Default::default() })
            } else {
                Op::RequestPut(PutRequest { key, value: kv.value.clone(), ..Default::default() })
            };
            ops.push(RequestOp { request: Some(op) });
            total.fetch_add(1, Ordering::Relaxed);
        }
        if !ops.is_empty() {
            commit(dest, ops).await?;
        }
        if response.canceled {
            break;
        }
    }
    drop(requests);
    Ok(())
}

/// One transaction of `ops` (a revision's events) at the destination.
async fn commit(dest: &Client, ops: Vec<RequestOp>) -> Result<(), Fail> {
    dest.kv().txn(TxnRequest { success: ops, ..Default::default() }).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_replaced_as_go_replaces_them() {
        assert_eq!(modify_prefix(b"a/x", b"a/", b"b/"), b"b/x");
        assert_eq!(modify_prefix(b"x", b"", b"d/"), b"d/x");
        assert_eq!(modify_prefix(b"za/a/", b"a/", b""), b"za/");
        assert_eq!(modify_prefix(b"zz", b"a/", b"b/"), b"zz");
    }
}
