//! `etcdserverpb.Maintenance`: status, alarms, defragment, hashes, snapshots,
//! leader transfer.

use std::pin::Pin;
use std::sync::Arc;

use cairn_mvcc::Backend;
use cairn_proto::cairnpb::internal_request::Request as Internal;
use cairn_proto::etcdserverpb::alarm_request::AlarmAction;
use cairn_proto::etcdserverpb::maintenance_server::Maintenance;
use cairn_proto::etcdserverpb::{
    AlarmRequest, AlarmResponse, AlarmType, DefragmentRequest, DefragmentResponse, HashKvRequest, HashKvResponse,
    HashRequest, HashResponse, MoveLeaderRequest, MoveLeaderResponse, SnapshotRequest, SnapshotResponse, StatusRequest,
    StatusResponse,
};
use cairn_raft::{Role, TransferError};
use cairn_storage::ReadView;
use tokio::sync::mpsc;
use tokio_stream::Stream;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use crate::apply::Applied;
use crate::core::Core;
use crate::error::RequestError;

/// The etcd version cairn answers with, so clients enable the features of the
/// API it implements.
pub const ETCD_VERSION: &str = "3.4.23";
/// Bytes per snapshot chunk.
const SNAPSHOT_CHUNK: usize = 32 * 1024;

/// The Maintenance service of a member.
pub struct MaintenanceService<B: Backend> {
    core: Arc<Core<B>>,
}

impl<B: Backend> MaintenanceService<B> {
    /// The service over `core`.
    pub fn new(core: Arc<Core<B>>) -> Self {
        MaintenanceService { core }
    }
}

type SnapshotStream = Pin<Box<dyn Stream<Item = Result<SnapshotResponse, Status>> + Send>>;

fn alarm_name(alarm: i32) -> &'static str {
    match AlarmType::try_from(alarm) {
        Ok(AlarmType::Nospace) => "NOSPACE",
        Ok(AlarmType::Corrupt) => "CORRUPT",
        _ => "NONE",
    }
}

fn internal(e: impl std::fmt::Display) -> Status {
    Status::unknown(format!("etcdserver: {e}"))
}

/// A writer that hands full chunks to a channel (a snapshot in flight).
struct ChunkWriter {
    tx: mpsc::Sender<Result<SnapshotResponse, Status>>,
    buffer: Vec<u8>,
    hasher: sha2::Sha256,
    len: u64,
}

impl ChunkWriter {
    /// Ends the stream as etcd's: zeros up to a multiple of 512 bytes, then, in
    /// a message of its own, the SHA-256 of everything before it (etcdctl
    /// checks for it); returns the rest of the data and the digest.
    fn finish(mut self) -> (Vec<u8>, Vec<u8>) {
        use sha2::Digest;
        let pad = (512 - (self.len % 512) as usize) % 512;
        let zeros = vec![0u8; pad];
        self.hasher.update(&zeros);
        self.buffer.extend_from_slice(&zeros);
        let digest = self.hasher.finalize();
        (self.buffer, digest.to_vec())
    }
}

impl std::io::Write for ChunkWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        use sha2::Digest;
        self.hasher.update(data);
        self.len += data.len() as u64;
        self.buffer.extend_from_slice(data);
        while self.buffer.len() >= SNAPSHOT_CHUNK {
            let rest = self.buffer.split_off(SNAPSHOT_CHUNK);
            let chunk = std::mem::replace(&mut self.buffer, rest);
            let response = SnapshotResponse { header: None, remaining_bytes: 1, blob: chunk };
            self.tx.blocking_send(Ok(response)).map_err(|_| std::io::Error::other("client went away"))?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tonic::async_trait]
impl<B: Backend> Maintenance for MaintenanceService<B> {
    async fn alarm(&self, request: Request<AlarmRequest>) -> Result<Response<AlarmResponse>, Status> {
        let caller = super::authz::caller(&self.core, request.metadata())?;
        super::authz::check_admin(&self.core, &caller)?;
        let request = request.into_inner();
        if request.action == AlarmAction::Get as i32 {
            // etcd answers alarm requests without a header.
            let alarms = self.core.state.alarms.read().clone();
            return Ok(Response::new(AlarmResponse { header: None, alarms }));
        }
        match self.core.propose(Internal::Alarm(request)).await? {
            Applied::Alarm(mut response) => {
                response.header = None;
                Ok(Response::new(response))
            }
            other => Err(internal(format!("unexpected apply result {other:?}"))),
        }
    }

    async fn status(&self, _request: Request<StatusRequest>) -> Result<Response<StatusResponse>, Status> {
        let status = self.core.node.status();
        let space = self.core.state.store.backend().space().map_err(internal)?;
        // As etcd: no leader first, then the alarms.
        let no_leader = status.leader_id.is_none().then(|| RequestError::NoLeader.to_string());
        let alarms = self
            .core
            .state
            .alarms
            .read()
            .iter()
            .map(|a| format!("memberID:{} alarm:{} ", a.member_id, alarm_name(a.alarm)))
            .collect::<Vec<_>>();
        let errors = no_leader.into_iter().chain(alarms).collect();
        Ok(Response::new(StatusResponse {
            header: Some(self.core.header(0)),
            version: ETCD_VERSION.to_string(),
            db_size: space.allocated as i64,
            leader: status.leader_id.unwrap_or(0),
            raft_index: status.commit,
            raft_term: status.term,
            raft_applied_index: status.applied,
            errors,
            db_size_in_use: space.in_use as i64,
            is_learner: status.role == Role::Learner,
        }))
    }

    async fn defragment(&self, request: Request<DefragmentRequest>) -> Result<Response<DefragmentResponse>, Status> {
        super::authz::maintenance_admin(&self.core, request.metadata())?;
        let core = self.core.clone();
        tokio::task::spawn_blocking(move || core.state.store.backend().defrag())
            .await
            .map_err(internal)?
            .map_err(internal)?;
        self.core.state.forget_db_size();
        Ok(Response::new(DefragmentResponse { header: None }))
    }

    async fn hash(&self, request: Request<HashRequest>) -> Result<Response<HashResponse>, Status> {
        super::authz::maintenance_admin(&self.core, request.metadata())?;
        let core = self.core.clone();
        let hash = tokio::task::spawn_blocking(move || -> Result<u32, cairn_storage::Error> {
            let view = core.state.store.backend().view()?;
            let mut hash = 0u32;
            for bucket in view.buckets()? {
                hash = crc32c::crc32c_append(hash, bucket.as_bytes());
                view.scan(&bucket, &[], None, cairn_storage::Order::Forward, &mut |k, v| {
                    hash = crc32c::crc32c_append(crc32c::crc32c_append(hash, k), v);
                    true
                })?;
            }
            Ok(hash)
        })
        .await
        .map_err(internal)?
        .map_err(internal)?;
        Ok(Response::new(HashResponse { header: Some(self.core.header(0)), hash }))
    }

    async fn hash_kv(&self, request: Request<HashKvRequest>) -> Result<Response<HashKvResponse>, Status> {
        super::authz::maintenance_admin(&self.core, request.metadata())?;
        let revision = request.into_inner().revision;
        // As etcd: a revision at or below the compaction point is compacted.
        let compacted = self.core.state.store.compacted_revision();
        if revision > 0 && revision <= compacted {
            return Err(RequestError::Compacted.into());
        }
        let core = self.core.clone();
        let hash = tokio::task::spawn_blocking(move || core.state.store.hash(revision))
            .await
            .map_err(internal)?
            .map_err(RequestError::from)?;
        Ok(Response::new(HashKvResponse {
            header: Some(self.core.header(0)),
            hash: hash.hash,
            // etcd reports -1 for a store never compacted.
            compact_revision: if hash.compact_revision == 0 { -1 } else { hash.compact_revision },
        }))
    }

    type SnapshotStream = SnapshotStream;

    async fn snapshot(&self, request: Request<SnapshotRequest>) -> Result<Response<Self::SnapshotStream>, Status> {
        super::authz::maintenance_admin(&self.core, request.metadata())?;
        let (tx, rx) = mpsc::channel(16);
        let core = self.core.clone();
        tokio::task::spawn_blocking(move || {
            let mut writer = ChunkWriter { tx: tx.clone(), buffer: Vec::new(), hasher: Default::default(), len: 0 };
            match core.state.store.backend().export(&mut writer) {
                Ok(_) => {
                    // As etcd's, snapshot responses carry no header.
                    let (rest, digest) = writer.finish();
                    if !rest.is_empty() {
                        let _ = tx.blocking_send(Ok(SnapshotResponse { header: None, remaining_bytes: 1, blob: rest }));
                    }
                    let _ = tx.blocking_send(Ok(SnapshotResponse { header: None, remaining_bytes: 0, blob: digest }));
                }
                Err(e) => {
                    let _ = tx.blocking_send(Err(internal(e)));
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    async fn move_leader(&self, request: Request<MoveLeaderRequest>) -> Result<Response<MoveLeaderResponse>, Status> {
        let caller = super::authz::caller(&self.core, request.metadata())?;
        super::authz::check_admin(&self.core, &caller)?;
        let target = request.into_inner().target_id;
        let status = self.core.node.status();
        if status.role != Role::Leader {
            return Err(RequestError::NotLeader.into());
        }
        if target == self.core.member_id {
            return Ok(Response::new(MoveLeaderResponse { header: None }));
        }
        if !status.voters.contains(&target) {
            return Err(RequestError::BadLeaderTransferee.into());
        }
        match tokio::time::timeout(self.core.request_timeout, self.core.node.transfer_leader(target)).await {
            Err(_) | Ok(Err(TransferError::TimedOut)) => Err(RequestError::Timeout.into()),
            Ok(Err(TransferError::NotLeader { .. })) => Err(RequestError::NotLeader.into()),
            Ok(Err(TransferError::NotVoter(_))) => Err(RequestError::BadLeaderTransferee.into()),
            Ok(Err(TransferError::Stopped)) => Err(RequestError::Stopped.into()),
            Ok(Ok(())) => Ok(Response::new(MoveLeaderResponse { header: None })),
        }
    }
}
