//! `lock <lockname> [exec-command arg1 arg2 ...]`: acquires a named lock the way etcdctl does,
//! with clientv3's `concurrency` recipe on the KV, lease and watch APIs (not the Lock service),
//! so that the keys, revisions and leases it leaves are etcdctl's: a session lease (`--ttl`,
//! kept alive), a key `<lockname>/<lease in hex>` created under the lock's prefix, and a wait for
//! every older key under the prefix to be deleted.
//!
//! With a command, the command runs while the lock is held (`ETCD_LOCK_KEY`, `ETCD_LOCK_REV` in
//! its environment) and the lock is released after it; without one, the lock's key-value is
//! printed and the lock is held until SIGINT or SIGTERM. The session's lease is not revoked on
//! exit, as etcdctl leaves it too.

use cairn_client::Client;
use cairn_proto::etcdserverpb::compare::{CompareResult, CompareTarget, TargetUnion};
use cairn_proto::etcdserverpb::range_request::{SortOrder, SortTarget};
use cairn_proto::etcdserverpb::{
    Compare, DeleteRangeRequest, LeaseGrantRequest, PutRequest, RangeRequest, RangeResponse, RequestOp, ResponseHeader,
    TxnRequest, TxnResponse, request_op, response_op,
};
use cairn_proto::mvccpb::event::EventType;
use tokio::sync::watch;

use super::watch::{WatchSpec, Watcher};
use super::{bad_args, prefix_end};
use crate::exit::Fail;
use crate::global::Ctx;

/// `lock <lockname> [exec-command arg1 arg2 ...]`
#[derive(Debug, clap::Args)]
pub struct LockArgs {
    /// timeout for session
    #[arg(long, default_value_t = 10, allow_negative_numbers = true)]
    ttl: i64,
    /// <lockname> [exec-command arg1 arg2 ...]
    args: Vec<String>,
}

/// Runs `lock`.
pub async fn run(ctx: &Ctx, args: LockArgs) -> Result<(), Fail> {
    if args.args.is_empty() {
        return Err(bad_args("lock takes a lock name argument and an optional command to execute"));
    }
    let client = ctx.client().await?;
    lock_until_signal(ctx, &client, &args.args[0], &args.args[1..], args.ttl).await.map_err(Fail::error)
}

/// A context that SIGINT or SIGTERM cancels (etcdctl's `signal.Notify` + `context.WithCancel`).
#[derive(Debug, Clone)]
pub struct Cancel(watch::Receiver<bool>);

impl Cancel {
    /// Cancelled on the first SIGINT or SIGTERM (neither ends the process any more).
    pub fn on_signal() -> Cancel {
        use tokio::signal::unix::{SignalKind, signal};
        let (tx, rx) = watch::channel(false);
        let interrupt = signal(SignalKind::interrupt());
        let terminate = signal(SignalKind::terminate());
        tokio::spawn(async move {
            match (interrupt, terminate) {
                (Ok(mut interrupt), Ok(mut terminate)) => {
                    tokio::select! {
                        _ = interrupt.recv() => {}
                        _ = terminate.recv() => {}
                    }
                }
                _ => std::future::pending::<()>().await,
            }
            let _ = tx.send(true);
            // Keep the handlers installed: a second signal is ignored, as in etcdctl.
            std::future::pending::<()>().await;
        });
        Cancel(rx)
    }

    /// Whether it is cancelled.
    pub fn is_cancelled(&self) -> bool {
        *self.0.borrow()
    }

    /// Waits until cancelled.
    pub async fn cancelled(&self) {
        let mut rx = self.0.clone();
        let _ = rx.wait_for(|cancelled| *cancelled).await;
    }

    /// Runs `work` unless the context is cancelled first (`context canceled`).
    pub async fn run<T>(&self, work: impl Future<Output = Result<T, String>>) -> Result<T, String> {
        tokio::select! {
            result = work => result,
            () = self.cancelled() => Err("context canceled".to_owned()),
        }
    }
}

/// Go's `%x` of a lease id.
pub fn lease_key_hex(id: i64) -> String {
    if id < 0 { format!("-{:x}", id.unsigned_abs()) } else { format!("{id:x}") }
}

/// A clientv3 `concurrency.Session`: a lease kept alive until the process ends.
#[derive(Debug)]
pub struct Session {
    /// The session's lease.
    pub lease: i64,
    done: watch::Receiver<bool>,
}

impl Session {
    /// Grants a lease of `ttl` seconds and keeps it alive.
    pub async fn new(client: &Client, ttl: i64) -> Result<Session, String> {
        let request = LeaseGrantRequest { ttl, id: 0 };
        let lease =
            client.lease().lease_grant(request).await.map_err(|s| cairn_client::status_text(&s))?.into_inner().id;
        let mut responses = super::lease::keep_alive(client.clone(), lease);
        let (tx, done) = watch::channel(false);
        tokio::spawn(async move {
            while responses.recv().await.is_some() {}
            let _ = tx.send(true);
        });
        Ok(Session { lease, done })
    }

    /// Waits until the session's lease could not be kept alive any more.
    pub async fn done(&self) {
        let mut done = self.done.clone();
        let _ = done.wait_for(|done| *done).await;
    }
}

/// A unary call's error as clientv3 returns it.
fn text(status: tonic::Status) -> String {
    cairn_client::status_text(&status)
}

/// `Compare(CreateRevision(key), "=", rev)`.
pub fn create_revision_is(key: &[u8], revision: i64) -> Compare {
    Compare {
        result: CompareResult::Equal as i32,
        target: CompareTarget::Create as i32,
        key: key.to_vec(),
        range_end: Vec::new(),
        target_union: Some(TargetUnion::CreateRevision(revision)),
    }
}

/// A range request for the oldest (`ascending`) or newest key under `prefix`
/// (clientv3's `WithFirstCreate` / `WithLastCreate`).
pub fn top_by_create(prefix: &[u8], ascending: bool) -> RangeRequest {
    RangeRequest {
        key: prefix.to_vec(),
        range_end: prefix_end(prefix),
        limit: 1,
        sort_order: if ascending { SortOrder::Ascend } else { SortOrder::Descend } as i32,
        sort_target: SortTarget::Create as i32,
        ..Default::default()
    }
}

/// A request op.
pub fn op(request: request_op::Request) -> RequestOp {
    RequestOp { request: Some(request) }
}

/// The range response of a txn's `i`th result.
pub fn range_result(response: &TxnResponse, i: usize) -> RangeResponse {
    match response.responses.get(i).and_then(|r| r.response.clone()) {
        Some(response_op::Response::ResponseRange(range)) => range,
        _ => RangeResponse::default(),
    }
}

/// A txn.
pub async fn txn(client: &Client, request: TxnRequest) -> Result<TxnResponse, String> {
    client.kv().txn(request).await.map(tonic::Response::into_inner).map_err(text)
}

/// A range.
pub async fn range(client: &Client, request: RangeRequest) -> Result<RangeResponse, String> {
    client.kv().range(request).await.map(tonic::Response::into_inner).map_err(text)
}

/// clientv3 `waitDelete`: waits for `key` to be deleted, watching from `revision`.
async fn wait_delete(client: &Client, key: &[u8], revision: i64, cancel: &Cancel) -> Result<(), String> {
    let watcher = Watcher::new(client.clone());
    let spec = WatchSpec { key: key.to_vec(), start_revision: revision, ..Default::default() };
    let mut responses = watcher.watch(spec);
    let mut last_err = None;
    loop {
        let next = tokio::select! {
            next = responses.recv() => next,
            () = cancel.cancelled() => None,
        };
        let Some(response) = next else { break };
        if response.events().iter().any(|e| e.r#type == EventType::Delete as i32) {
            return Ok(());
        }
        last_err = response.err();
    }
    if let Some(err) = last_err {
        return Err(err);
    }
    if cancel.is_cancelled() {
        return Err("context canceled".to_owned());
    }
    Err("lost watcher waiting for delete".to_owned())
}

/// clientv3 `waitDeletes`: waits until no key under `prefix` created at or before
/// `max_create_revision` is left; returns the header of the last check.
pub async fn wait_deletes(
    client: &Client,
    prefix: &[u8],
    max_create_revision: i64,
    cancel: &Cancel,
) -> Result<ResponseHeader, String> {
    loop {
        let request = RangeRequest { max_create_revision, ..top_by_create(prefix, false) };
        let response = cancel.run(range(client, request)).await?;
        let header = response.header.unwrap_or_default();
        let Some(last) = response.kvs.first() else {
            return Ok(header);
        };
        wait_delete(client, &last.key, header.revision, cancel).await?;
    }
}

/// clientv3's `concurrency.Mutex`.
struct Mutex {
    prefix: Vec<u8>,
    key: Vec<u8>,
    revision: i64,
    header: ResponseHeader,
}

impl Mutex {
    fn new(name: &str) -> Mutex {
        Mutex {
            prefix: format!("{name}/").into_bytes(),
            key: Vec::new(),
            revision: -1,
            header: ResponseHeader::default(),
        }
    }

    async fn lock(&mut self, client: &Client, session: &Session, cancel: &Cancel) -> Result<(), String> {
        self.key = [self.prefix.clone(), lease_key_hex(session.lease).into_bytes()].concat();
        let get_owner = op(request_op::Request::RequestRange(top_by_create(&self.prefix, true)));
        let put = PutRequest { key: self.key.clone(), lease: session.lease, ..Default::default() };
        let get = RangeRequest { key: self.key.clone(), ..Default::default() };
        let request = TxnRequest {
            compare: vec![create_revision_is(&self.key, 0)],
            success: vec![op(request_op::Request::RequestPut(put)), get_owner.clone()],
            failure: vec![op(request_op::Request::RequestRange(get)), get_owner],
        };
        let response = cancel.run(txn(client, request)).await?;
        let header = response.header.unwrap_or_default();
        self.revision = header.revision;
        if !response.succeeded {
            self.revision = range_result(&response, 0).kvs.first().map(|kv| kv.create_revision).unwrap_or_default();
        }
        let owner = range_result(&response, 1).kvs;
        if owner.first().is_none_or(|kv| kv.create_revision == self.revision) {
            self.header = header;
            return Ok(());
        }
        match wait_deletes(client, &self.prefix, self.revision - 1, cancel).await {
            Ok(header) => {
                self.header = header;
                Ok(())
            }
            Err(e) => {
                let _ = self.unlock(client).await;
                Err(e)
            }
        }
    }

    async fn unlock(&mut self, client: &Client) -> Result<(), String> {
        let request = DeleteRangeRequest { key: self.key.clone(), ..Default::default() };
        client.kv().delete_range(request).await.map_err(text)?;
        self.key = vec![0];
        self.revision = -1;
        Ok(())
    }
}

async fn lock_until_signal(ctx: &Ctx, client: &Client, name: &str, command: &[String], ttl: i64) -> Result<(), String> {
    // concurrency.WithTTL ignores a TTL that is not positive (the default is 60 s).
    let session = Session::new(client, if ttl > 0 { ttl } else { 60 }).await?;
    let mut mutex = Mutex::new(name);
    let cancel = Cancel::on_signal();
    mutex.lock(client, &session, &cancel).await?;
    if let Some((program, rest)) = command.split_first() {
        let mut child = tokio::process::Command::new(program);
        child.args(rest);
        // etcdctl puts these before its own environment, where an inherited value wins.
        for (name, value) in [
            ("ETCD_LOCK_KEY", String::from_utf8_lossy(&mutex.key).into_owned()),
            ("ETCD_LOCK_REV", mutex.header.revision.to_string()),
        ] {
            if std::env::var_os(name).is_none() {
                child.env(name, value);
            }
        }
        let ran = match child.status().await {
            Ok(status) if status.success() => Ok(()),
            Ok(status) => Err(super::watch::go_exit_status(status)),
            Err(e) => Err(super::watch::go_exec_error(program, &e)),
        };
        let unlocked = mutex.unlock(client).await;
        return ran.and(unlocked);
    }
    let request = RangeRequest { key: mutex.key.clone(), ..Default::default() };
    let response = cancel.run(range(client, request)).await?;
    if response.kvs.is_empty() {
        return Err("lock lost on init".to_owned());
    }
    let printer = ctx.printer().map_err(|f| f.message)?;
    if let Err(fail) = super::kv::print_get(printer, &response, false) {
        std::process::exit(crate::exit::report(&fail));
    }
    tokio::select! {
        () = cancel.cancelled() => mutex.unlock(client).await,
        () = session.done() => Err("session expired".to_owned()),
    }
}
