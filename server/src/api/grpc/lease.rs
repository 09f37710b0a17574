//! `etcdserverpb.Lease`: grants and revocations go through raft; keep-alives
//! and time-to-live are answered by the leader, which alone tracks expiry.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use cairn_mvcc::Backend;
use cairn_proto::cairnpb::internal_request::Request as Internal;
use cairn_proto::etcdserverpb::lease_client::LeaseClient;
use cairn_proto::etcdserverpb::lease_server::Lease;
use cairn_proto::etcdserverpb::{
    LeaseGrantRequest, LeaseGrantResponse, LeaseKeepAliveRequest, LeaseKeepAliveResponse, LeaseLeasesRequest,
    LeaseLeasesResponse, LeaseRevokeRequest, LeaseRevokeResponse, LeaseStatus, LeaseTimeToLiveRequest,
    LeaseTimeToLiveResponse,
};
use cairn_raft::Role;
use tokio::sync::mpsc;
use tokio_stream::Stream;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Channel;
use tonic::{Request, Response, Status, Streaming};

use super::authz;
use super::kv::check_quota;
use crate::apply::Applied;
use crate::auth::Access;
use crate::core::Core;
use crate::error::RequestError;
use crate::lease::{LeaseError, MAX_LEASE_TTL};

/// The Lease service of a member.
pub struct LeaseService<B: Backend> {
    core: Arc<Core<B>>,
}

impl<B: Backend> LeaseService<B> {
    /// The service over `core`.
    pub fn new(core: Arc<Core<B>>) -> Self {
        LeaseService { core }
    }
}

type KeepAliveStream = Pin<Box<dyn Stream<Item = Result<LeaseKeepAliveResponse, Status>> + Send>>;

/// A lease client to the current leader's client URL (followers forward
/// keep-alives and time-to-live there, as etcd's followers do).
async fn leader_client<B: Backend>(core: &Core<B>) -> Result<LeaseClient<Channel>, RequestError> {
    Ok(LeaseClient::new(core.leader_channel().await?))
}

fn from_status(status: Status) -> RequestError {
    match status.message() {
        m if m.contains("requested lease not found") => LeaseError::NotFound.into(),
        _ => RequestError::LeaderChanged,
    }
}

/// Renews lease `id` at the leader, from a follower.
async fn forward_renew<B: Backend>(core: &Core<B>, id: i64, token: Option<&str>) -> Result<i64, RequestError> {
    let mut client = leader_client(core).await?;
    let request = authz::forwarded(tokio_stream::once(LeaseKeepAliveRequest { id }), token);
    let mut responses = client.lease_keep_alive(request).await.map_err(from_status)?.into_inner();
    match responses.message().await {
        Ok(Some(response)) => Ok(response.ttl),
        Ok(None) => Err(RequestError::LeaderChanged),
        Err(status) => Err(from_status(status)),
    }
}

/// Renews lease `id`: here if this member leads, else at the leader. The TTL,
/// or 0 if the lease is gone.
async fn renew<B: Backend>(core: &Core<B>, id: i64, token: Option<&str>) -> Result<i64, RequestError> {
    if core.node.status().role != Role::Leader {
        return forward_renew(core, id, token).await;
    }
    // A lease renewed just after a leader change must not be one the new leader
    // already revoked: wait until this member has applied what it committed.
    core.linearizable_read().await?;
    let result = core.state.lessor.lock().renew(id, Instant::now());
    match result {
        Ok(ttl) => Ok(ttl),
        Err(LeaseError::NotFound) => Ok(0),
        // Leadership moved between the check and the renewal.
        Err(LeaseError::NotPrimary) => forward_renew(core, id, token).await,
        Err(e) => Err(e.into()),
    }
}

#[tonic::async_trait]
impl<B: Backend> Lease for LeaseService<B> {
    async fn lease_grant(&self, request: Request<LeaseGrantRequest>) -> Result<Response<LeaseGrantResponse>, Status> {
        // Unlike etcd 3.4, a lease is granted only to a known caller when auth is on.
        let caller = authz::caller(&self.core, request.metadata())?;
        let mut request = request.into_inner();
        if request.ttl > MAX_LEASE_TTL {
            return Err(RequestError::from(LeaseError::TtlTooLarge).into());
        }
        if request.id == 0 {
            request.id = self.core.ids.next_lease_id();
        }
        check_quota(&self.core, 16).await?;
        match self.core.propose_as(Internal::LeaseGrant(request), &caller).await? {
            Applied::LeaseGrant(mut response) => {
                self.core.fill(&mut response.header);
                Ok(Response::new(response))
            }
            other => Err(Status::internal(format!("unexpected apply result {other:?}"))),
        }
    }

    async fn lease_revoke(
        &self,
        request: Request<LeaseRevokeRequest>,
    ) -> Result<Response<LeaseRevokeResponse>, Status> {
        let caller = authz::caller(&self.core, request.metadata())?;
        let request = request.into_inner();
        // Revoking deletes the lease's keys: the caller must be able to.
        authz::check_lease_keys(&self.core, &caller, request.id, Access::Write)?;
        match self.core.propose_as(Internal::LeaseRevoke(request), &caller).await? {
            Applied::LeaseRevoke(mut response) => {
                self.core.fill(&mut response.header);
                Ok(Response::new(response))
            }
            other => Err(Status::internal(format!("unexpected apply result {other:?}"))),
        }
    }

    type LeaseKeepAliveStream = KeepAliveStream;

    async fn lease_keep_alive(
        &self,
        request: Request<Streaming<LeaseKeepAliveRequest>>,
    ) -> Result<Response<Self::LeaseKeepAliveStream>, Status> {
        authz::caller(&self.core, request.metadata())?;
        let token = authz::token(request.metadata());
        let mut incoming = request.into_inner();
        let (tx, rx) = mpsc::channel(64);
        let core = self.core.clone();
        tokio::spawn(async move {
            loop {
                let request = match incoming.message().await {
                    Ok(Some(request)) => request,
                    Ok(None) | Err(_) => break,
                };
                let reply = match renew(&core, request.id, token.as_deref()).await {
                    Ok(ttl) => Ok(LeaseKeepAliveResponse { header: Some(core.header(0)), id: request.id, ttl }),
                    Err(e) => Err(Status::from(e)),
                };
                let failed = reply.is_err();
                if tx.send(reply).await.is_err() || failed {
                    break;
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    async fn lease_time_to_live(
        &self,
        request: Request<LeaseTimeToLiveRequest>,
    ) -> Result<Response<LeaseTimeToLiveResponse>, Status> {
        let caller = authz::caller(&self.core, request.metadata())?;
        let token = authz::token(request.metadata());
        let request = request.into_inner();
        if request.keys {
            // Listing a lease's keys needs read on every one of them (etcd
            // 3.4 listed them to anyone: CVE-2023-32082).
            authz::check_lease_keys(&self.core, &caller, request.id, Access::Read)?;
        }
        if self.core.node.status().role != Role::Leader {
            // Only the leader knows how long a lease has left.
            let mut client = leader_client(&self.core).await?;
            let forwarded = authz::forwarded(request, token.as_deref());
            let mut response = client.lease_time_to_live(forwarded).await?.into_inner();
            response.header = Some(self.core.header(0));
            return Ok(Response::new(response));
        }
        self.core.linearizable_read().await?;
        let lessor = self.core.state.lessor.lock();
        let response = match lessor.get(request.id) {
            Some(lease) => LeaseTimeToLiveResponse {
                header: Some(self.core.header(0)),
                id: lease.id,
                ttl: lease.remaining(Instant::now()),
                granted_ttl: lease.ttl,
                keys: if request.keys { lease.keys.iter().map(|k| k.to_vec()).collect() } else { Vec::new() },
            },
            None => LeaseTimeToLiveResponse {
                header: Some(self.core.header(0)),
                id: request.id,
                ttl: -1,
                granted_ttl: 0,
                keys: Vec::new(),
            },
        };
        Ok(Response::new(response))
    }

    async fn lease_leases(
        &self,
        request: Request<LeaseLeasesRequest>,
    ) -> Result<Response<LeaseLeasesResponse>, Status> {
        authz::caller(&self.core, request.metadata())?;
        self.core.linearizable_read().await?;
        let ids = self.core.state.lessor.lock().ids();
        Ok(Response::new(LeaseLeasesResponse {
            header: Some(self.core.header(0)),
            leases: ids.into_iter().map(|id| LeaseStatus { id }).collect(),
        }))
    }
}
