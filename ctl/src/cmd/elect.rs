//! `elect <election-name> [proposal]`: campaigns in an election with a proposal, or observes it
//! (`-l`), with clientv3's `concurrency` recipe on the KV, lease and watch APIs (as etcdctl
//! does, not the Election service): a session lease, a key `<election>/<lease in hex>`, and a
//! wait for every older key under the election's prefix to be deleted. SIGINT or SIGTERM resigns
//! (or stops observing).

use cairn_client::Client;
use cairn_proto::etcdserverpb::{
    DeleteRangeRequest, PutRequest, RangeRequest, RangeResponse, ResponseHeader, TxnRequest, request_op,
};
use cairn_proto::mvccpb::KeyValue;
use cairn_proto::mvccpb::event::EventType;
use tokio::sync::mpsc;

use super::lock::{
    Cancel, Session, create_revision_is, lease_key_hex, op, range, range_result, top_by_create, txn, wait_deletes,
};
use super::watch::{WatchSpec, Watcher};
use super::{bad_args, go_bool};
use crate::exit::Fail;
use crate::global::Ctx;
use crate::print::Printer;

/// clientv3's default session TTL, in seconds.
const DEFAULT_SESSION_TTL: i64 = 60;

/// `elect <election-name> [proposal]`
#[derive(Debug, clap::Args)]
pub struct ElectArgs {
    /// observation mode
    #[arg(short = 'l', long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_parser = go_bool)]
    listen: bool,
    /// <election-name> [proposal]
    args: Vec<String>,
}

/// Runs `elect`.
pub async fn run(ctx: &Ctx, args: ElectArgs) -> Result<(), Fail> {
    if args.args.len() != 1 && args.args.len() != 2 {
        return Err(bad_args("elect takes one election name argument and an optional proposal argument"));
    }
    let client = ctx.client().await?;
    let printer = ctx.printer()?;
    let result = if args.args.len() == 1 {
        if !args.listen {
            return Err(bad_args("no proposal argument but -l not set"));
        }
        observe(printer, &client, &args.args[0]).await
    } else {
        if args.listen {
            return Err(bad_args("proposal given but -l is set"));
        }
        campaign(printer, &client, &args.args[0], &args.args[1]).await
    };
    result.map_err(Fail::error)
}

/// Prints a range response as etcdctl's `display.Get`; a format it cannot print ends the process.
fn display(printer: Printer, response: &RangeResponse) {
    if let Err(fail) = super::kv::print_get(printer, response, false) {
        std::process::exit(crate::exit::report(&fail));
    }
}

/// clientv3's `concurrency.Election` of a campaigner.
struct Election {
    prefix: Vec<u8>,
    leader_key: Vec<u8>,
    leader_rev: i64,
    leader_lease: Option<i64>,
}

impl Election {
    async fn campaign(
        &mut self,
        client: &Client,
        session: &Session,
        value: &str,
        cancel: &Cancel,
    ) -> Result<(), String> {
        let key = [self.prefix.clone(), lease_key_hex(session.lease).into_bytes()].concat();
        let put = PutRequest {
            key: key.clone(),
            value: value.as_bytes().to_vec(),
            lease: session.lease,
            ..Default::default()
        };
        let request = TxnRequest {
            compare: vec![create_revision_is(&key, 0)],
            success: vec![op(request_op::Request::RequestPut(put))],
            failure: vec![op(request_op::Request::RequestRange(RangeRequest {
                key: key.clone(),
                ..Default::default()
            }))],
        };
        let response = cancel.run(txn(client, request)).await?;
        self.leader_key = key;
        self.leader_rev = response.header.as_ref().map(|h| h.revision).unwrap_or_default();
        self.leader_lease = Some(session.lease);
        if !response.succeeded {
            let kv = range_result(&response, 0).kvs.into_iter().next().unwrap_or_default();
            self.leader_rev = kv.create_revision;
            if kv.value != value.as_bytes()
                && let Err(e) = self.proclaim(client, value, cancel).await
            {
                let _ = self.resign(client).await;
                return Err(e);
            }
        }
        if let Err(e) = wait_deletes(client, &self.prefix, self.leader_rev - 1, cancel).await {
            if cancel.is_cancelled() {
                let _ = self.resign(client).await;
            } else {
                self.leader_lease = None;
            }
            return Err(e);
        }
        Ok(())
    }

    async fn proclaim(&mut self, client: &Client, value: &str, cancel: &Cancel) -> Result<(), String> {
        let Some(lease) = self.leader_lease else {
            return Err("election: not leader".to_owned());
        };
        let put =
            PutRequest { key: self.leader_key.clone(), value: value.as_bytes().to_vec(), lease, ..Default::default() };
        let request = TxnRequest {
            compare: vec![create_revision_is(&self.leader_key, self.leader_rev)],
            success: vec![op(request_op::Request::RequestPut(put))],
            failure: Vec::new(),
        };
        let response = cancel.run(txn(client, request)).await?;
        if !response.succeeded {
            self.leader_key.clear();
            return Err("election: not leader".to_owned());
        }
        Ok(())
    }

    async fn resign(&mut self, client: &Client) -> Result<(), String> {
        if self.leader_lease.is_none() {
            return Ok(());
        }
        let delete = DeleteRangeRequest { key: self.leader_key.clone(), ..Default::default() };
        let request = TxnRequest {
            compare: vec![create_revision_is(&self.leader_key, self.leader_rev)],
            success: vec![op(request_op::Request::RequestDeleteRange(delete))],
            failure: Vec::new(),
        };
        let result = txn(client, request).await.map(|_| ());
        self.leader_key.clear();
        self.leader_lease = None;
        result
    }
}

async fn campaign(printer: Printer, client: &Client, name: &str, proposal: &str) -> Result<(), String> {
    let session = Session::new(client, DEFAULT_SESSION_TTL).await?;
    let mut election =
        Election { prefix: format!("{name}/").into_bytes(), leader_key: Vec::new(), leader_rev: 0, leader_lease: None };
    let cancel = Cancel::on_signal();
    election.campaign(client, &session, proposal, &cancel).await?;
    let response =
        cancel.run(range(client, RangeRequest { key: election.leader_key.clone(), ..Default::default() })).await?;
    display(printer, &response);
    tokio::select! {
        () = cancel.cancelled() => {}
        () = session.done() => return Err("elect: session expired".to_owned()),
    }
    election.resign(client).await
}

async fn observe(printer: Printer, client: &Client, name: &str) -> Result<(), String> {
    // etcdctl opens a session for observing too (its lease is granted and kept alive).
    let _session = Session::new(client, DEFAULT_SESSION_TTL).await?;
    let cancel = Cancel::on_signal();
    let (tx, mut leaders) = mpsc::channel(1);
    let prefix = format!("{name}/").into_bytes();
    let observer = tokio::spawn(observe_leaders(client.clone(), prefix, tx, cancel.clone()));
    while let Some(response) = leaders.recv().await {
        display(printer, &response);
    }
    observer.abort();
    if cancel.is_cancelled() { Ok(()) } else { Err("elect: observer lost".to_owned()) }
}

/// clientv3 `Election.observe`: sends the leader's key-value, then each new value of it; when the
/// leader's key goes, the next leader's.
async fn observe_leaders(client: Client, prefix: Vec<u8>, out: mpsc::Sender<RangeResponse>, cancel: Cancel) {
    loop {
        let Ok(mut response) = cancel.run(range(&client, top_by_create(&prefix, true))).await else {
            return;
        };
        let (header, kv): (ResponseHeader, KeyValue) = match response.kvs.first() {
            Some(kv) => (response.header.unwrap_or_default(), kv.clone()),
            None => {
                let start = response.header.as_ref().map(|h| h.revision).unwrap_or_default();
                let spec = WatchSpec {
                    key: prefix.clone(),
                    range_end: super::prefix_end(&prefix),
                    start_revision: start,
                    prev_kv: false,
                };
                let watcher = Watcher::new(client.clone());
                let mut responses = watcher.watch(spec);
                let mut found = None;
                while found.is_none() {
                    let next = tokio::select! {
                        next = responses.recv() => next,
                        () = cancel.cancelled() => None,
                    };
                    let Some(wr) = next.filter(|wr| wr.err().is_none()) else {
                        return;
                    };
                    if let Some(kv) =
                        wr.events().iter().find(|e| e.r#type == EventType::Put as i32).and_then(|e| e.kv.clone())
                    {
                        let mut header = wr.header;
                        header.revision = kv.mod_revision;
                        found = Some((header, kv));
                    }
                }
                match found {
                    Some(found) => found,
                    None => return,
                }
            }
        };
        let first = RangeResponse { header: Some(header), kvs: vec![kv.clone()], more: false, count: 0 };
        if out.send(first).await.is_err() {
            return;
        }
        let spec = WatchSpec { key: kv.key.clone(), start_revision: header.revision + 1, ..Default::default() };
        let watcher = Watcher::new(client.clone());
        let mut responses = watcher.watch(spec);
        let mut deleted = false;
        while !deleted {
            let next = tokio::select! {
                next = responses.recv() => next,
                () = cancel.cancelled() => None,
            };
            let Some(wr) = next else {
                return;
            };
            for event in wr.events() {
                if event.r#type == EventType::Delete as i32 {
                    deleted = true;
                    break;
                }
                response.header = Some(wr.header);
                response.kvs = event.kv.clone().into_iter().collect();
                if out.send(response.clone()).await.is_err() {
                    return;
                }
            }
        }
    }
}
