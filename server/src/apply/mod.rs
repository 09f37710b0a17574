//! The state machine: entries committed by raft applied to the MVCC store, the
//! lessor, the members and the alarms, one backend commit per batch of entries
//! together with the applied index (etcd's consistent index).

/// etcd's failpoint `$name`, compiled only with the feature `failpoints`: besides
/// the `fail` crate's actions (`panic`, `sleep(ms)`, ...), `return` fails the apply
/// with [`ApplyError::Failpoint`] (which stops the member, as etcd's panics do).
macro_rules! failpoint {
    ($name:literal) => {
        #[cfg(feature = "failpoints")]
        fail::fail_point!($name, |arg: Option<String>| Err(ApplyError::Failpoint {
            name: $name,
            arg: arg.unwrap_or_default()
        }));
    };
}

mod compactor;
pub mod compare;
pub mod kv;
pub mod range;

use std::sync::Arc;
use std::time::Instant;

use cairn_mvcc::{Backend, KeyRange, WriteTxn, Writer};
use cairn_proto::cairnpb::internal_request::Request;
use cairn_proto::cairnpb::{AuthRequest, InternalRequest, Member, V2Request};
use cairn_proto::etcdserverpb::alarm_request::AlarmAction;
use cairn_proto::etcdserverpb::{
    AlarmMember, AlarmRequest, AlarmResponse, AlarmType, CompactionResponse, DeleteRangeResponse, LeaseGrantRequest,
    LeaseGrantResponse, LeaseRevokeResponse, PutResponse, ResponseHeader, TxnResponse,
};
use cairn_raft::{Committed, Payload, StateMachine};
use cairn_storage::{ReadView, WriteBatch, snapshot};
use prost::Message;
use raft::eraftpb::{ConfChangeType, ConfChangeV2, Snapshot};
use tokio::sync::oneshot;

pub use compactor::Compactor;

use crate::error::{ApplyError, RequestError};
use crate::members::{MEMBERS_BUCKET, Membership, REMOVED_BUCKET};
use crate::state::{ALARM_BUCKET, LEASE_BUCKET, State, V2_BUCKET, V2_INDEX_KEY};

/// What an applied request produced.
#[derive(Debug)]
pub enum Applied {
    /// A put.
    Put(PutResponse),
    /// A delete-range.
    DeleteRange(DeleteRangeResponse),
    /// A txn.
    Txn(TxnResponse),
    /// A compaction; `done` fires once the compacted revisions are deleted.
    Compaction(CompactionResponse, oneshot::Receiver<()>),
    /// A lease grant.
    LeaseGrant(LeaseGrantResponse),
    /// A lease revocation.
    LeaseRevoke(LeaseRevokeResponse),
    /// An alarm request.
    Alarm(AlarmResponse),
    /// A v2 keys API write.
    V2(Box<Result<crate::v2::Event, crate::v2::V2Error>>),
    /// Nothing to report (member updates, empty entries).
    Nothing,
}

/// The data of every raft snapshot this member takes: the state is in the backend.
const SNAPSHOT_MARKER: &[u8] = b"cairn: state in the backend\n";

/// The data a follower is sent with a snapshot: an export of this member's
/// backend (at its current applied index, at or after the snapshot's).
pub fn export_for_peer<B: Backend>(state: &State<B>) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    state.store.backend().export(&mut out).map_err(|e| e.to_string())?;
    Ok(out)
}

/// The result a proposer gets.
pub type Output = Result<Applied, RequestError>;

/// The raft state machine of a cairn member.
pub struct Applier<B: Backend> {
    state: Arc<State<B>>,
    applied: u64,
    compactor: Compactor,
}

fn header(revision: i64) -> Option<ResponseHeader> {
    Some(ResponseHeader { revision, ..Default::default() })
}

impl<B: Backend> Applier<B> {
    /// A state machine over `state`, resuming at the index its backend recorded.
    pub fn new(state: Arc<State<B>>) -> Self {
        let applied = state.store.consistent_index();
        let compactor = Compactor::start(state.clone());
        Applier { state, applied, compactor }
    }

    fn apply_request(
        &mut self,
        writer: &mut Writer<'_, B>,
        request: InternalRequest,
        index: u64,
        now: Instant,
        compactions: &mut Vec<(i64, oneshot::Sender<()>)>,
    ) -> Result<Output, ApplyError> {
        let state = &*self.state;
        if request.auth_revision != 0 {
            let auth = state.auth.read();
            if auth.enabled() && request.auth_revision < auth.revision() {
                return Ok(Err(crate::auth::AuthError::OldRevision.into()));
            }
        }
        let Some(request) = request.request else { return Ok(Ok(Applied::Nothing)) };
        // etcd's corrupt applier, outside its capped one: no writes, compactions or lease changes.
        let writes = matches!(
            request,
            Request::Put(_)
                | Request::DeleteRange(_)
                | Request::Txn(_)
                | Request::Compaction(_)
                | Request::LeaseGrant(_)
                | Request::LeaseRevoke(_)
        );
        if writes && state.corrupt() {
            return Ok(Err(RequestError::Corrupt));
        }
        let capped = state.no_space();
        Ok(match request {
            Request::Put(put) => {
                if capped {
                    return Ok(Err(RequestError::NoSpace));
                }
                let (result, revision) = in_txn(state, writer, |txn, ctx| kv::put(txn, ctx, &put))?;
                result.map(|mut r| {
                    r.header = header(revision);
                    Applied::Put(r)
                })
            }
            Request::DeleteRange(delete) => {
                let (mut response, revision) = in_txn(state, writer, |txn, ctx| kv::delete_range(txn, ctx, &delete))?;
                response.header = header(revision);
                Ok(Applied::DeleteRange(response))
            }
            Request::Txn(request) => {
                if capped && has_put(&request) {
                    return Ok(Err(RequestError::NoSpace));
                }
                let (result, revision) = in_txn(state, writer, |txn, ctx| kv::txn(txn, ctx, &request))?;
                result.map(|mut r| {
                    r.header = header(revision);
                    Applied::Txn(r)
                })
            }
            Request::Compaction(request) => {
                // Everything before this entry reaches the backend with its index
                // first, so the compaction's own commit cannot record writes
                // without the index they belong to.
                writer.commit(Some(index - 1))?;
                match writer.compact(request.revision) {
                    Ok(job) => {
                        let revision = job.revision();
                        drop(job);
                        let (done, wait) = oneshot::channel();
                        compactions.push((revision, done));
                        let current = writer.revision();
                        Ok(Applied::Compaction(CompactionResponse { header: header(current) }, wait))
                    }
                    Err(e) => Err(RequestError::from(e)),
                }
            }
            Request::LeaseGrant(LeaseGrantRequest { ttl, id }) => {
                if capped {
                    return Ok(Err(RequestError::NoSpace));
                }
                let mut lessor = state.lessor.lock();
                match lessor.grant(id, ttl, now) {
                    Ok(lease) => {
                        let ttl = lease.ttl;
                        writer.batch().put(LEASE_BUCKET, id.to_be_bytes().to_vec(), ttl.to_be_bytes().to_vec())?;
                        Ok(Applied::LeaseGrant(LeaseGrantResponse {
                            header: header(writer.revision()),
                            id,
                            ttl,
                            error: String::new(),
                        }))
                    }
                    Err(e) => Err(e.into()),
                }
            }
            Request::LeaseRevoke(request) => {
                let mut lessor = state.lessor.lock();
                match lessor.revoke(request.id) {
                    Ok(lease) => {
                        drop(lessor);
                        let mut txn = writer.txn();
                        for key in lease.keys {
                            txn.delete_range(&KeyRange::Single(key), false)?;
                        }
                        let revision = txn.end();
                        writer.batch().delete(LEASE_BUCKET, request.id.to_be_bytes().to_vec())?;
                        Ok(Applied::LeaseRevoke(LeaseRevokeResponse { header: header(revision) }))
                    }
                    Err(e) => Err(e.into()),
                }
            }
            Request::Alarm(request) => Ok(Applied::Alarm(self.apply_alarm(writer, &request)?)),
            Request::V2(request) => Ok(self.apply_v2(writer, &request)?),
            Request::Auth(request) => self.apply_auth(writer, request, now)?.map(|()| Applied::Nothing),
            Request::MemberAttributes(member) | Request::MemberUpdate(member) => {
                let mut membership = state.members.write();
                if let Some(existing) = membership.members.get_mut(&member.id) {
                    if !member.name.is_empty() || !member.client_urls.is_empty() {
                        existing.name = member.name;
                        existing.client_urls = member.client_urls;
                    }
                    if !member.peer_urls.is_empty() {
                        existing.peer_urls = member.peer_urls;
                    }
                    let encoded = Membership::encode(existing);
                    writer.batch().put(MEMBERS_BUCKET, member.id.to_be_bytes().to_vec(), encoded)?;
                    Ok(Applied::Nothing)
                } else {
                    Err(RequestError::MemberNotFound)
                }
            }
        })
    }

    /// A v2 request, as etcd's `applierV2store` dispatches it; the nodes it
    /// changed go into the batch with the store's index.
    fn apply_v2(&self, writer: &mut Writer<'_, B>, r: &V2Request) -> Result<Applied, ApplyError> {
        let now = crate::v2::unix_nanos();
        let mut store = self.state.v2.lock();
        let before = store.index();
        let result = crate::v2::apply(&mut store, r, now);
        for (path, record) in store.take_dirty() {
            match record {
                Some(record) => writer.batch().put(V2_BUCKET, path.into_bytes(), record.encode())?,
                None => writer.batch().delete(V2_BUCKET, path.into_bytes())?,
            }
        }
        if store.index() != before {
            writer.batch().put(V2_BUCKET, V2_INDEX_KEY.to_vec(), store.index().to_be_bytes().to_vec())?;
        }
        Ok(match result {
            Some(result) => Applied::V2(Box::new(result)),
            None => Applied::Nothing,
        })
    }

    /// An auth change; its backend writes go into the batch. Tokens of a
    /// deleted user or a changed password, and every token when auth is
    /// turned off, are forgotten.
    fn apply_auth(
        &self,
        writer: &mut Writer<'_, B>,
        request: AuthRequest,
        now: Instant,
    ) -> Result<Result<(), RequestError>, ApplyError> {
        use cairn_proto::cairnpb::auth_request::Op;
        let Some(op) = request.op else { return Ok(Ok(())) };
        let state = &*self.state;
        let mut auth = state.auth.write();
        let changes = match op {
            Op::Enable(_) => auth.enable(),
            Op::Disable(_) => {
                state.tokens.lock().clear();
                Ok(auth.disable())
            }
            Op::Token(t) => {
                if !auth.enabled() {
                    return Ok(Err(crate::auth::AuthError::AuthNotEnabled.into()));
                }
                if !auth.has_user(&t.name) {
                    return Ok(Err(crate::auth::AuthError::AuthFailed.into()));
                }
                let info = crate::auth::tokens::TokenInfo { user: t.name, revision: t.revision };
                state.tokens.lock().assign(t.token, info, now);
                Ok(Vec::new())
            }
            Op::UserAdd(u) => auth.user_add(&u.name, &u.hashed_password, u.no_password),
            Op::UserDelete(r) => {
                state.tokens.lock().invalidate_user(&r.name);
                auth.user_delete(&r.name)
            }
            Op::ChangePassword(u) => {
                state.tokens.lock().invalidate_user(&u.name);
                auth.change_password(&u.name, &u.hashed_password)
            }
            Op::GrantRole(r) => auth.grant_role(&r.user, &r.role),
            Op::RevokeRole(r) => auth.revoke_role(&r.name, &r.role),
            Op::RoleAdd(r) => auth.role_add(&r.name),
            Op::RoleDelete(r) => auth.role_delete(&r.role),
            Op::GrantPermission(r) => match r.perm {
                Some(perm) => auth.grant_permission(&r.name, perm),
                None => Err(crate::auth::AuthError::PermissionNotGranted),
            },
            Op::RevokePermission(r) => auth.revoke_permission(&r.role, &r.key, &r.range_end),
        };
        let changes = match changes {
            Ok(changes) => changes,
            Err(e) => return Ok(Err(e.into())),
        };
        for change in changes {
            match change {
                crate::auth::Change::Put(bucket, key, value) => writer.batch().put(bucket, key, value)?,
                crate::auth::Change::Delete(bucket, key) => writer.batch().delete(bucket, key)?,
            }
        }
        Ok(Ok(()))
    }

    fn apply_alarm(&self, writer: &mut Writer<'_, B>, request: &AlarmRequest) -> Result<AlarmResponse, ApplyError> {
        let mut alarms = self.state.alarms.write();
        let key = |m: &AlarmMember| [m.member_id.to_be_bytes().as_slice(), &m.alarm.to_be_bytes()].concat();
        let wanted = AlarmMember { member_id: request.member_id, alarm: request.alarm };
        let mut listed = Vec::new();
        match AlarmAction::try_from(request.action).unwrap_or(AlarmAction::Get) {
            AlarmAction::Get => {
                listed = alarms
                    .iter()
                    .filter(|a| request.alarm == AlarmType::None as i32 || a.alarm == request.alarm)
                    .copied()
                    .collect();
            }
            AlarmAction::Activate => {
                if request.alarm != AlarmType::None as i32 {
                    if !alarms.contains(&wanted) {
                        alarms.push(wanted);
                        writer.batch().put(ALARM_BUCKET, key(&wanted), Vec::new())?;
                    }
                    listed.push(wanted);
                }
            }
            AlarmAction::Deactivate => {
                if let Some(at) = alarms.iter().position(|a| *a == wanted) {
                    alarms.remove(at);
                    writer.batch().delete(ALARM_BUCKET, key(&wanted))?;
                    listed.push(wanted);
                }
            }
        }
        Ok(AlarmResponse { header: header(0), alarms: listed })
    }

    fn apply_conf_change(&mut self, writer: &mut Writer<'_, B>, change: &ConfChangeV2) -> Result<(), ApplyError> {
        let context = if change.context.is_empty() { None } else { Member::decode(change.context.as_ref()).ok() };
        let mut membership = self.state.members.write();
        for single in change.changes.iter() {
            let id = single.node_id;
            match single.get_change_type() {
                ConfChangeType::AddNode | ConfChangeType::AddLearnerNode => {
                    let learner = single.get_change_type() == ConfChangeType::AddLearnerNode;
                    let member = match membership.members.get(&id) {
                        Some(existing) => Member { is_learner: learner, ..existing.clone() },
                        None => match context.as_ref().filter(|m| m.id == id) {
                            Some(m) => Member { is_learner: learner, ..m.clone() },
                            None => Member { id, is_learner: learner, ..Default::default() },
                        },
                    };
                    writer.batch().put(MEMBERS_BUCKET, id.to_be_bytes().to_vec(), Membership::encode(&member))?;
                    membership.members.insert(id, member);
                }
                ConfChangeType::RemoveNode => {
                    membership.members.remove(&id);
                    membership.removed.insert(id);
                    writer.batch().delete(MEMBERS_BUCKET, id.to_be_bytes().to_vec())?;
                    writer.batch().put(REMOVED_BUCKET, id.to_be_bytes().to_vec(), Vec::new())?;
                }
            }
        }
        Ok(())
    }
}

/// Runs `op` in one write transaction, with the lessor and the compaction
/// point at hand; returns what it made and the revision the transaction ended at.
fn in_txn<B: Backend, T>(
    state: &State<B>,
    writer: &mut Writer<'_, B>,
    op: impl FnOnce(&mut WriteTxn<'_, '_, B>, &mut kv::Context<'_>) -> Result<T, ApplyError>,
) -> Result<(T, i64), ApplyError> {
    let mut lessor = state.lessor.lock();
    let mut ctx = kv::Context { lessor: &mut lessor, compacted: state.store.compacted_revision() };
    let mut txn = writer.txn();
    let made = op(&mut txn, &mut ctx)?;
    Ok((made, txn.end()))
}

fn has_put(request: &cairn_proto::etcdserverpb::TxnRequest) -> bool {
    use cairn_proto::etcdserverpb::request_op::Request as Op;
    request.success.iter().chain(&request.failure).any(|op| match &op.request {
        Some(Op::RequestPut(_)) => true,
        Some(Op::RequestTxn(t)) => has_put(t),
        _ => false,
    })
}

impl<B: Backend> StateMachine for Applier<B> {
    type Output = Output;
    type Error = ApplyError;

    fn apply(&mut self, entries: &[Committed<'_>]) -> Result<Vec<Output>, ApplyError> {
        let Some(last) = entries.last() else { return Ok(Vec::new()) };
        let state = self.state.clone();
        // Entries a restored export already holds are not applied again.
        let recorded = state.store.consistent_index();
        let mut writer = state.store.writer();
        let now = Instant::now();
        let mut outputs = Vec::with_capacity(entries.len());
        let mut compactions = Vec::new();
        for entry in entries {
            if entry.index <= recorded {
                outputs.push(Ok(Applied::Nothing));
                continue;
            }
            let output = match entry.payload {
                Payload::Empty => Ok(Applied::Nothing),
                Payload::Normal(data) => match InternalRequest::decode(data) {
                    Ok(request) => self.apply_request(&mut writer, request, entry.index, now, &mut compactions)?,
                    // Every member refuses the same malformed entry the same way.
                    Err(e) => Err(RequestError::Internal(format!("malformed request: {e}"))),
                },
                Payload::ConfChange { change, .. } => {
                    self.apply_conf_change(&mut writer, change)?;
                    Ok(Applied::Nothing)
                }
            };
            outputs.push(output);
        }
        let started = Instant::now();
        // etcd's failpoints (feature `failpoints`): around the backend commit, and,
        // when the batch schedules a compaction, around the commit that records it.
        failpoint!("beforeCommit");
        if !compactions.is_empty() {
            failpoint!("compactBeforeCommitScheduledCompact");
        }
        writer.commit((last.index > recorded).then_some(last.index))?;
        if !compactions.is_empty() {
            failpoint!("compactAfterCommitScheduledCompact");
        }
        failpoint!("afterCommit");
        state.metrics.backend_commit.observe(started.elapsed());
        drop(writer);
        self.applied = last.index;
        for (revision, done) in compactions {
            self.compactor.schedule(revision, done);
        }
        Ok(outputs)
    }

    fn applied_index(&self) -> u64 {
        self.applied
    }

    /// The state lives in the backend, so a raft snapshot holds only a marker:
    /// the backend is made durable at the snapshot's index (so a restart never
    /// needs the log before it), and a follower that needs the state is sent an
    /// export of the leader's backend when the snapshot goes out
    /// ([`export_for_peer`]).
    fn snapshot(&self) -> Result<Vec<u8>, ApplyError> {
        self.state.store.backend().sync()?;
        Ok(SNAPSHOT_MARKER.to_vec())
    }

    fn restore(&mut self, snap: &Snapshot) -> Result<(), ApplyError> {
        let index = snap.get_metadata().index;
        if snap.get_data() == SNAPSHOT_MARKER {
            let recorded = self.state.store.consistent_index();
            if index <= 1 || recorded >= index {
                // A new cluster's first snapshot (its state was recorded before the
                // node started), or a backend already at or past the snapshot.
                self.applied = index;
                return Ok(());
            }
            return Err(ApplyError::Corrupt(format!(
                "the backend is at index {recorded}, behind snapshot {index}, and the snapshot holds no data"
            )));
        }
        let mut batch = WriteBatch::new();
        let backend = self.state.store.backend();
        {
            let view = backend.view()?;
            for bucket in view.buckets()? {
                let mut keys = Vec::new();
                view.scan(&bucket, &[], None, cairn_storage::Order::Forward, &mut |k, _| {
                    keys.push(k.to_vec());
                    true
                })?;
                for key in keys {
                    batch.delete(bucket.clone(), key)?;
                }
            }
        }
        let mut bucket = String::new();
        let mut failed = None;
        snapshot::read(&mut snap.get_data(), &mut |record| {
            match record {
                snapshot::Record::Bucket(name) => bucket = name,
                snapshot::Record::Pair(k, v) => {
                    if let Err(e) = batch.put(bucket.clone(), k, v) {
                        failed = Some(e);
                    }
                }
            }
            Ok(())
        })?;
        if let Some(e) = failed {
            return Err(e.into());
        }
        // The export may be of a later state than the snapshot's index (it is made
        // when the snapshot is sent); it records its own consistent index, and
        // entries up to it are skipped when they arrive.
        backend.commit(batch)?;
        self.state.store.reload()?;
        self.state.reload_side_tables().map_err(|e| ApplyError::Corrupt(e.to_string()))?;
        if self.state.store.consistent_index() < index {
            return Err(ApplyError::Corrupt(format!("a snapshot export behind its index {index}")));
        }
        self.applied = index;
        Ok(())
    }
}
