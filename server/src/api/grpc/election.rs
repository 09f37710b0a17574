//! `v3electionpb.Election`: etcd's election service, a `concurrency.Election`
//! per request.
//!
//! A candidate's key is `name/<lease hex>` on its lease; the leader is the key
//! under `name/` created first, and its value is what the leader proclaims.

use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use cairn_mvcc::{Backend, EventKind, KeyRange};
use cairn_proto::etcdserverpb::TxnRequest;
use cairn_proto::v3electionpb::election_server::Election;
use cairn_proto::v3electionpb::{
    CampaignRequest, CampaignResponse, LeaderKey, LeaderRequest, LeaderResponse, ProclaimRequest, ProclaimResponse,
    ResignRequest, ResignResponse,
};
use tokio::sync::mpsc;
use tokio_stream::Stream;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use super::coordination::{
    CleanupOnDrop, StoreWatch, by_create, created_at, delete, get, grpc_timeout, lease_key, ops, prefix_of, put,
    range_kvs, read, session_lease, txn, wait_deletes,
};
use crate::apply::range::to_pb;
use crate::core::Core;
use crate::error::{CoordinationError, RequestError};

type ObserveStream = Pin<Box<dyn Stream<Item = Result<LeaderResponse, Status>> + Send>>;

/// The Election service of a member.
pub struct ElectionService<B: Backend> {
    core: Arc<Core<B>>,
}

impl<B: Backend> ElectionService<B> {
    /// The service over `core`.
    pub fn new(core: Arc<Core<B>>) -> Self {
        ElectionService { core }
    }

    /// etcd's `Election.Campaign` on a session of `lease`.
    async fn elect(&self, request: CampaignRequest) -> Result<CampaignResponse, CoordinationError> {
        let CampaignRequest { name, lease, value } = request;
        let core = &self.core;
        let lease = session_lease(core, lease).await?;
        let prefix = prefix_of(&name);
        let key = lease_key(&prefix, lease);
        let enter = TxnRequest {
            compare: vec![created_at(&key, 0)],
            success: ops([put(&key, &value, lease)]),
            failure: ops([get(&key)]),
        };
        let response = txn(core, enter).await?;
        let mut created = response.header.as_ref().map_or(0, |h| h.revision);
        if !response.succeeded {
            let kv = range_kvs(&response, 0).first();
            let kv = kv.ok_or_else(|| RequestError::Internal("campaign key vanished".into()))?;
            created = kv.create_revision;
            if kv.value != value
                && let Err(e) = proclaim(core, &key, created, lease, &value).await
            {
                let _ = txn(core, resign_request(&key, created)).await;
                return Err(e);
            }
        }
        // etcd resigns when the client gives up (cancels, or its deadline
        // passes: both drop this future), not when the wait fails otherwise.
        let mut cleanup = CleanupOnDrop::new(core.clone(), resign_request(&key, created));
        let waited = wait_deletes(core, &prefix, created - 1, None).await;
        cleanup.disarm();
        waited?;
        let leader = LeaderKey { name, key, rev: created, lease };
        Ok(CampaignResponse { header: response.header, leader: Some(leader) })
    }
}

/// Puts `value` on `key` with `lease` if `key` was created at `created`;
/// etcd's `Election.Proclaim`.
async fn proclaim<B: Backend>(
    core: &Core<B>,
    key: &[u8],
    created: i64,
    lease: i64,
    value: &[u8],
) -> Result<ProclaimResponse, CoordinationError> {
    let request =
        TxnRequest { compare: vec![created_at(key, created)], success: ops([put(key, value, lease)]), failure: vec![] };
    let response = txn(core, request).await?;
    if !response.succeeded {
        return Err(CoordinationError::NotLeader);
    }
    Ok(ProclaimResponse { header: response.header })
}

/// Deletes `key` if it was created at `created`; etcd's `Election.Resign`.
fn resign_request(key: &[u8], created: i64) -> TxnRequest {
    TxnRequest { compare: vec![created_at(key, created)], success: ops([delete(key)]), failure: vec![] }
}

#[tonic::async_trait]
impl<B: Backend> Election for ElectionService<B> {
    async fn campaign(&self, request: Request<CampaignRequest>) -> Result<Response<CampaignResponse>, Status> {
        let caller = super::authz::caller(&self.core, request.metadata())?;
        let request = request.into_inner();
        super::authz::coordination(&self.core, &caller, &request.name)?;
        Ok(Response::new(self.elect(request).await?))
    }

    async fn proclaim(&self, request: Request<ProclaimRequest>) -> Result<Response<ProclaimResponse>, Status> {
        let caller = super::authz::caller(&self.core, request.metadata())?;
        let ProclaimRequest { leader, value } = request.into_inner();
        let leader = leader.ok_or(CoordinationError::MissingLeaderKey)?;
        super::authz::coordination(&self.core, &caller, &leader.name)?;
        let lease = session_lease(&self.core, leader.lease).await?;
        Ok(Response::new(proclaim(&self.core, &leader.key, leader.rev, lease, &value).await?))
    }

    async fn leader(&self, request: Request<LeaderRequest>) -> Result<Response<LeaderResponse>, Status> {
        let caller = super::authz::caller(&self.core, request.metadata())?;
        let name = request.into_inner().name;
        super::authz::coordination(&self.core, &caller, &name)?;
        let prefix = prefix_of(&name);
        let found = read(&self.core, &by_create(&prefix, true, 0)).await?;
        let kv = found.kvs.into_iter().next().ok_or(CoordinationError::NoLeader)?;
        Ok(Response::new(LeaderResponse { header: found.header, kv: Some(kv) }))
    }

    type ObserveStream = ObserveStream;

    async fn observe(&self, request: Request<LeaderRequest>) -> Result<Response<Self::ObserveStream>, Status> {
        let deadline = grpc_timeout(request.metadata());
        let caller = super::authz::caller(&self.core, request.metadata())?;
        let name = request.into_inner().name;
        super::authz::coordination(&self.core, &caller, &name)?;
        let prefix = prefix_of(&name);
        let (tx, rx) = mpsc::channel(16);
        let core = self.core.clone();
        tokio::spawn(async move {
            let expired = async {
                match deadline {
                    Some(after) => tokio::time::sleep(after).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = observe(&core, &prefix, &tx) => {}
                _ = tx.closed() => {}
                // What etcd's server answers when the client's deadline passes.
                _ = expired => {
                    let _ = tx.send(Err(CoordinationError::DeadlineExceeded.into())).await;
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    async fn resign(&self, request: Request<ResignRequest>) -> Result<Response<ResignResponse>, Status> {
        let caller = super::authz::caller(&self.core, request.metadata())?;
        let leader = request.into_inner().leader.ok_or(CoordinationError::MissingLeaderKey)?;
        super::authz::coordination(&self.core, &caller, &leader.name)?;
        // etcd opens a session with the leader's lease here too (granting one for none).
        session_lease(&self.core, leader.lease).await?;
        let response = txn(&self.core, resign_request(&leader.key, leader.rev)).await?;
        Ok(Response::new(ResignResponse { header: response.header }))
    }
}

/// etcd's `Election.observe`: sends the leader, then each put of the leader's
/// key until it is deleted, then the next leader (or, if there is none, the
/// first key put under the prefix). Returns when the stream or a watcher ends.
async fn observe<B: Backend>(
    core: &Arc<Core<B>>,
    prefix: &[u8],
    tx: &mpsc::Sender<Result<LeaderResponse, Status>>,
) -> Option<()> {
    let range = || KeyRange::prefix(Bytes::copy_from_slice(prefix));
    loop {
        let found = read(core, &by_create(prefix, true, 0)).await.ok()?;
        let (mut header, kv) = match found.kvs.into_iter().next() {
            Some(kv) => (found.header.unwrap_or_default(), kv),
            None => {
                let from = found.header.map_or(0, |h| h.revision);
                let mut watch = StoreWatch::new(core.clone(), range(), from).ok()?;
                loop {
                    let response = watch.next().await?;
                    if let Some(event) = response.events.into_iter().find(|e| e.kind == EventKind::Put) {
                        let revision = event.kv.mod_revision;
                        break (core.header(revision), to_pb(event.kv));
                    }
                }
            }
        };
        let key = Bytes::from(kv.key.clone());
        tx.send(Ok(LeaderResponse { header: Some(header), kv: Some(kv) })).await.ok()?;
        let mut watch = StoreWatch::new(core.clone(), KeyRange::Single(key), header.revision + 1).ok()?;
        'leader: loop {
            let response = watch.next().await?;
            header = core.header(response.revision);
            for event in response.events {
                if event.kind == EventKind::Delete {
                    break 'leader;
                }
                tx.send(Ok(LeaderResponse { header: Some(header), kv: Some(to_pb(event.kv)) })).await.ok()?;
            }
        }
    }
}
