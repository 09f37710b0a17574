//! `etcdserverpb.Cluster`: membership through raft conf changes.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// etcd 3.4 lets a cluster have one learner at a time.
const MAX_LEARNERS: usize = 1;

use cairn_mvcc::Backend;
use cairn_proto::cairnpb;
use cairn_proto::cairnpb::internal_request::Request as Internal;
use cairn_proto::etcdserverpb::StatusRequest;
use cairn_proto::etcdserverpb::cluster_client::ClusterClient;
use cairn_proto::etcdserverpb::cluster_server::Cluster;
use cairn_proto::etcdserverpb::maintenance_client::MaintenanceClient;
use cairn_proto::etcdserverpb::{
    Member, MemberAddRequest, MemberAddResponse, MemberListRequest, MemberListResponse, MemberPromoteRequest,
    MemberPromoteResponse, MemberRemoveRequest, MemberRemoveResponse, MemberUpdateRequest, MemberUpdateResponse,
};
use prost::Message;
use std::time::Duration;
use tonic::transport::Channel;
use tonic::{Request, Response, Status};

use crate::config::parse_urls;
use crate::core::{Core, proposal_error};
use crate::error::RequestError;
use crate::ids;

/// The Cluster service of a member.
pub struct ClusterService<B: Backend> {
    core: Arc<Core<B>>,
    /// Served on the peer port (to members joining), where auth does not apply.
    peer: bool,
}

impl<B: Backend> ClusterService<B> {
    /// The service over `core`, for clients.
    pub fn new(core: Arc<Core<B>>) -> Self {
        ClusterService { core, peer: false }
    }

    /// The service over `core` on the peer port: members ask it who is in the
    /// cluster when they join; the peer listener's TLS guards it, not auth.
    pub fn for_peers(core: Arc<Core<B>>) -> Self {
        ClusterService { core, peer: true }
    }

    fn caller(&self, metadata: &tonic::metadata::MetadataMap) -> Result<super::authz::Caller, Status> {
        if self.peer { Ok(None) } else { Ok(super::authz::caller(&self.core, metadata)?) }
    }

    fn members(&self) -> Vec<Member> {
        self.core.state.members.read().members.values().map(to_pb).collect()
    }

    /// A client to the leader, for a membership change asked of a follower.
    async fn leader(&self) -> Result<ClusterClient<Channel>, Status> {
        Ok(ClusterClient::new(self.core.leader_channel().await?))
    }

    /// etcd's readiness rule for promotion: the learner has applied at least
    /// 90% of what the leader has committed (asked of the learner itself).
    async fn learner_ready(&self, learner: &cairnpb::Member) -> bool {
        let Some(url) = learner.client_urls.first() else { return false };
        let committed = self.core.node.status().commit;
        let ask = async {
            let connector = self.core.client_tls.as_ref().map(|t| &t.connector);
            let channel = crate::tls::channel(url, connector, Duration::from_secs(2)).await.ok()?;
            let status = MaintenanceClient::new(channel).status(StatusRequest {}).await.ok()?.into_inner();
            Some(status.raft_applied_index)
        };
        match tokio::time::timeout(Duration::from_secs(5), ask).await {
            Ok(Some(applied)) => applied as f64 >= committed as f64 * 0.9,
            _ => false,
        }
    }
}

fn to_pb(m: &cairnpb::Member) -> Member {
    Member {
        id: m.id,
        name: m.name.clone(),
        peer_ur_ls: m.peer_urls.clone(),
        client_ur_ls: m.client_urls.clone(),
        is_learner: m.is_learner,
    }
}

fn check_urls(urls: &[String]) -> Result<(), RequestError> {
    if urls.is_empty() || parse_urls(&urls.join(",")).is_err() {
        return Err(RequestError::MemberBadUrls);
    }
    Ok(())
}

#[tonic::async_trait]
impl<B: Backend> Cluster for ClusterService<B> {
    async fn member_add(&self, request: Request<MemberAddRequest>) -> Result<Response<MemberAddResponse>, Status> {
        let caller = self.caller(request.metadata())?;
        super::authz::check_admin(&self.core, &caller)?;
        let token = super::authz::token(request.metadata());
        let request = request.into_inner();
        if !self.core.is_leader() {
            return self.leader().await?.member_add(super::authz::forwarded(request, token.as_deref())).await;
        }
        check_urls(&request.peer_ur_ls)?;
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
        let id = ids::member_id(&request.peer_ur_ls, &self.core.token, Some(now));
        {
            // etcd's order: the quorum check, then the configuration's own checks (id, URLs, learners).
            let membership = self.core.state.members.read();
            if !request.is_learner && !membership.ready_to_add_voter() {
                return Err(RequestError::NotEnoughStartedMembers.into());
            }
            if membership.members.contains_key(&id) {
                return Err(RequestError::MemberExists.into());
            }
            if request.peer_ur_ls.iter().any(|u| membership.by_peer_url(u).is_some()) {
                return Err(RequestError::PeerUrlExists.into());
            }
            if request.is_learner && membership.learners() >= MAX_LEARNERS {
                return Err(RequestError::TooManyLearners.into());
            }
        }
        let member = cairnpb::Member {
            id,
            name: String::new(),
            peer_urls: request.peer_ur_ls.clone(),
            client_urls: Vec::new(),
            is_learner: request.is_learner,
        };
        let context = member.encode_to_vec();
        let change = if request.is_learner {
            self.core.node.add_learner(id, context).await
        } else {
            self.core.node.add_voter(id, context).await
        };
        change.map_err(proposal_error)?;
        Ok(Response::new(MemberAddResponse {
            header: Some(self.core.cluster_header()),
            member: Some(to_pb(&member)),
            members: self.members(),
        }))
    }

    async fn member_remove(
        &self,
        request: Request<MemberRemoveRequest>,
    ) -> Result<Response<MemberRemoveResponse>, Status> {
        let caller = self.caller(request.metadata())?;
        super::authz::check_admin(&self.core, &caller)?;
        let token = super::authz::token(request.metadata());
        let request = request.into_inner();
        if !self.core.is_leader() {
            return self.leader().await?.member_remove(super::authz::forwarded(request, token.as_deref())).await;
        }
        let id = request.id;
        {
            // etcd's order: the quorum check (of any id not a learner) before the existence check.
            let membership = self.core.state.members.read();
            let learner = membership.members.get(&id).is_some_and(|m| m.is_learner);
            if !learner && !membership.ready_to_remove_voter(id) {
                return Err(RequestError::NotEnoughStartedMembers.into());
            }
            if !membership.members.contains_key(&id) {
                return Err(RequestError::MemberNotFound.into());
            }
        }
        self.core.node.remove_node(id, Vec::new()).await.map_err(proposal_error)?;
        Ok(Response::new(MemberRemoveResponse { header: Some(self.core.cluster_header()), members: self.members() }))
    }

    async fn member_update(
        &self,
        request: Request<MemberUpdateRequest>,
    ) -> Result<Response<MemberUpdateResponse>, Status> {
        let caller = self.caller(request.metadata())?;
        super::authz::check_admin(&self.core, &caller)?;
        let request = request.into_inner();
        check_urls(&request.peer_ur_ls)?;
        if !self.core.state.members.read().members.contains_key(&request.id) {
            return Err(RequestError::MemberNotFound.into());
        }
        let update = cairnpb::Member { id: request.id, peer_urls: request.peer_ur_ls, ..Default::default() };
        self.core.propose(Internal::MemberUpdate(update)).await?;
        Ok(Response::new(MemberUpdateResponse { header: Some(self.core.cluster_header()), members: self.members() }))
    }

    async fn member_list(&self, request: Request<MemberListRequest>) -> Result<Response<MemberListResponse>, Status> {
        // Unlike etcd 3.4, members are listed only to a known caller when auth is on.
        self.caller(request.metadata())?;
        Ok(Response::new(MemberListResponse { header: Some(self.core.cluster_header()), members: self.members() }))
    }

    async fn member_promote(
        &self,
        request: Request<MemberPromoteRequest>,
    ) -> Result<Response<MemberPromoteResponse>, Status> {
        let caller = self.caller(request.metadata())?;
        super::authz::check_admin(&self.core, &caller)?;
        let token = super::authz::token(request.metadata());
        let request = request.into_inner();
        if !self.core.is_leader() {
            return self.leader().await?.member_promote(super::authz::forwarded(request, token.as_deref())).await;
        }
        let id = request.id;
        let learner = match self.core.state.members.read().members.get(&id) {
            None => return Err(RequestError::MemberNotFound.into()),
            Some(m) => m.clone(),
        };
        if !learner.is_learner {
            return Err(RequestError::MemberNotLearner.into());
        }
        if !self.learner_ready(&learner).await {
            return Err(RequestError::LearnerNotReady.into());
        }
        if !self.core.state.members.read().ready_to_promote() {
            return Err(RequestError::NotEnoughStartedMembers.into());
        }
        self.core.node.promote_learner(id, Vec::new()).await.map_err(proposal_error)?;
        Ok(Response::new(MemberPromoteResponse { header: Some(self.core.cluster_header()), members: self.members() }))
    }
}
