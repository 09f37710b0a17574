//! The server core: requests proposed through raft and answered once applied,
//! linearizable reads, response headers.

use std::sync::Arc;
use std::time::Duration;

use cairn_mvcc::Backend;
use cairn_proto::cairnpb::InternalRequest;
use cairn_proto::cairnpb::internal_request::Request;
use cairn_proto::etcdserverpb::ResponseHeader;
use cairn_raft::{NodeHandle, ProposalError, Role};
use prost::Message;

use crate::apply::{Applied, Applier};
use crate::error::RequestError;
use crate::lease::IdGenerator;
use crate::state::State;

/// The extra room etcd's gRPC server allows above `--max-request-bytes`.
pub const GRPC_OVERHEAD_BYTES: usize = 512 * 1024;

/// One running member, as the API handlers use it.
pub struct Core<B: Backend> {
    /// The replicated state.
    pub state: Arc<State<B>>,
    /// The raft node.
    pub node: NodeHandle<Applier<B>>,
    /// Ids for leases granted without one.
    pub ids: IdGenerator,
    /// How long a request may wait for raft (etcd: 5 s + 2 election timeouts).
    pub request_timeout: Duration,
    /// The election timeout.
    pub election_timeout: Duration,
    /// This member's id.
    pub member_id: u64,
    /// This member's name.
    pub name: String,
    /// The cluster token (`--initial-cluster-token`), for new member ids.
    pub token: String,
    /// A channel to the leader's client URL, for requests only the leader serves.
    pub leader_channel: parking_lot::Mutex<Option<(String, tonic::transport::Channel)>>,
    /// Whether the v2 API is served (`--enable-v2`).
    pub enable_v2: bool,
    /// bcrypt's cost for new passwords (`--bcrypt-cost`).
    pub bcrypt_cost: u32,
    /// TLS of the client listeners (and towards other members' client URLs).
    pub client_tls: Option<crate::tls::Tls>,
    /// `--client-cert-auth`: a client certificate's common name is the user
    /// of a request without a token.
    pub client_cert_auth: bool,
    /// JWT tokens (`--auth-token jwt,...`); simple tokens when `None`.
    pub jwt: Option<Arc<crate::auth::jwt::Jwt>>,
    /// When this member started.
    pub started: std::time::SystemTime,
}

impl<B: Backend> Core<B> {
    /// A response header: cluster and member id, raft term, and `revision` (the
    /// current revision when 0).
    pub fn header(&self, revision: i64) -> ResponseHeader {
        ResponseHeader {
            cluster_id: self.state.cluster_id(),
            member_id: self.member_id,
            revision: if revision == 0 { self.state.store.current_revision() } else { revision },
            raft_term: self.node.with_status(|s| s.term),
        }
    }

    /// A header without a revision, as etcd's Cluster service sends.
    pub fn cluster_header(&self) -> ResponseHeader {
        ResponseHeader { revision: 0, ..self.header(0) }
    }

    /// Fills in a response header that apply left partly empty.
    pub fn fill(&self, header: &mut Option<ResponseHeader>) {
        let revision = header.as_ref().map_or(0, |h| h.revision);
        *header = Some(self.header(revision));
    }

    /// Proposes `request` through raft and waits for its result.
    pub async fn propose(&self, request: Request) -> Result<Applied, RequestError> {
        self.propose_as(request, &None).await
    }

    /// Proposes `request` for `caller`: with auth on, it carries the auth
    /// revision its permissions were checked at, and is refused when applied
    /// after an auth change.
    pub async fn propose_as(
        &self,
        request: Request,
        caller: &crate::api::grpc::authz::Caller,
    ) -> Result<Applied, RequestError> {
        let auth_revision = caller.as_ref().map_or(0, |c| c.revision);
        let data = InternalRequest { request: Some(request), auth_revision }.encode_to_vec();
        if data.len() > self.state.limits.max_request_bytes {
            return Err(RequestError::RequestTooLarge);
        }
        if self.node.is_stopped() {
            return Err(RequestError::Stopped);
        }
        let _pending = self.state.metrics.pending();
        let result = match tokio::time::timeout(self.request_timeout, self.node.propose(data)).await {
            Err(_) => Err(RequestError::Timeout),
            Ok(Ok(output)) => return output,
            Ok(Err(e)) => Err(proposal_error(e)),
        };
        self.state.metrics.proposal_failed();
        result
    }

    /// Waits until a read of the local state is linearizable.
    pub async fn linearizable_read(&self) -> Result<(), RequestError> {
        match tokio::time::timeout(self.request_timeout, self.node.read_index()).await {
            Err(_) => Err(RequestError::Timeout),
            Ok(Err(_)) => Err(RequestError::Stopped),
            Ok(Ok(_)) => Ok(()),
        }
    }

    /// A channel to the current leader's client URL, for requests only the
    /// leader serves (followers forward them, as etcd's do).
    pub async fn leader_channel(&self) -> Result<tonic::transport::Channel, RequestError> {
        let leader = self.node.status().leader_id.ok_or(RequestError::NoLeader)?;
        let url = {
            let members = self.state.members.read();
            members.members.get(&leader).and_then(|m| m.client_urls.first().cloned()).ok_or(RequestError::NoLeader)?
        };
        if let Some((cached_url, channel)) = self.leader_channel.lock().clone()
            && cached_url == url
        {
            return Ok(channel);
        }
        let connector = self.client_tls.as_ref().map(|t| &t.connector);
        let channel = crate::tls::channel(&url, connector, self.request_timeout / 2)
            .await
            .map_err(|_| RequestError::LeaderChanged)?;
        *self.leader_channel.lock() = Some((url, channel.clone()));
        Ok(channel)
    }

    /// Whether this member leads.
    pub fn is_leader(&self) -> bool {
        self.node.with_status(|s| s.role == Role::Leader)
    }

    /// Fails with `NoLeader` unless a leader is known.
    pub fn require_leader(&self) -> Result<(), RequestError> {
        let status = self.node.status();
        if status.role == Role::Removed || self.node.is_stopped() {
            return Err(RequestError::Stopped);
        }
        status.leader_id.map(|_| ()).ok_or(RequestError::NoLeader)
    }
}

/// The etcd error for a proposal raft did not take.
pub fn proposal_error(e: ProposalError) -> RequestError {
    match e {
        ProposalError::Dropped { leader: None, .. } => RequestError::NoLeader,
        ProposalError::Dropped { .. } => RequestError::LeaderChanged,
        ProposalError::Indeterminate => RequestError::LeaderChanged,
        ProposalError::Rejected(reason) => RequestError::Internal(reason),
        ProposalError::TooLarge { .. } => RequestError::RequestTooLarge,
        ProposalError::Stopped => RequestError::Stopped,
    }
}
