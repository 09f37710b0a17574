//! `v3lockpb.Lock`: etcd's lock service, a `concurrency.Mutex` per request.
//!
//! Lock(name, lease) puts `name/<lease hex>` on the lease unless it exists, and
//! answers once no key under `name/` was created before it. The lock is held
//! while that key exists: until Unlock deletes it or the lease ends.
//!
//! A waiter whose key goes (its lease expired or was revoked) fails with
//! `mutex: session is expired` as soon as it goes. etcd's Mutex fails so (in
//! 3.5, and 3.4 after 3.4.23) only once the keys before it are gone; etcd
//! 3.4.23 then even answered with the lock, for a key that no longer exists.

use std::sync::Arc;

use cairn_mvcc::Backend;
use cairn_proto::etcdserverpb::TxnRequest;
use cairn_proto::etcdserverpb::request_op::Request as Op;
use cairn_proto::v3lockpb::lock_server::Lock;
use cairn_proto::v3lockpb::{LockRequest, LockResponse, UnlockRequest, UnlockResponse};
use tonic::{Request, Response, Status};

use super::coordination::{
    CleanupOnDrop, by_create, created_at, delete, delete_key, get, lease_key, ops, prefix_of, put, range_kvs,
    session_lease, txn, wait_deletes,
};
use crate::core::Core;
use crate::error::{CoordinationError, RequestError};

/// The Lock service of a member.
pub struct LockService<B: Backend> {
    core: Arc<Core<B>>,
}

impl<B: Backend> LockService<B> {
    /// The service over `core`.
    pub fn new(core: Arc<Core<B>>) -> Self {
        LockService { core }
    }

    /// etcd's `Mutex.Lock` on a session of `lease`.
    async fn acquire(&self, name: &[u8], lease: i64) -> Result<LockResponse, CoordinationError> {
        let core = &self.core;
        let lease = session_lease(core, lease).await?;
        let prefix = prefix_of(name);
        let key = lease_key(&prefix, lease);
        // Join the waiters unless this lease already did, and read the oldest
        // waiter (the holder) in the same txn.
        let owner = || Op::RequestRange(by_create(&prefix, true, 0));
        let acquire = TxnRequest {
            compare: vec![created_at(&key, 0)],
            success: ops([put(&key, b"", lease), owner()]),
            failure: ops([get(&key), owner()]),
        };
        let response = txn(core, acquire).await?;
        let mut header = response.header.unwrap_or_default();
        let created = if response.succeeded {
            header.revision
        } else {
            let kv = range_kvs(&response, 0).first();
            kv.map(|kv| kv.create_revision).ok_or_else(|| RequestError::Internal("lock key vanished".into()))?
        };
        let holder = range_kvs(&response, 1).first().map(|kv| kv.create_revision);
        if holder.is_some_and(|h| h != created) {
            // etcd's Mutex deletes its key when the wait fails, the client's
            // cancellation and deadline included (which drop this future).
            let unlock = TxnRequest { success: ops([delete(&key)]), ..Default::default() };
            let mut cleanup = CleanupOnDrop::new(core.clone(), unlock);
            let waited = wait_deletes(core, &prefix, created - 1, Some((&key, created))).await;
            if matches!(waited, Ok(_) | Err(CoordinationError::SessionExpired)) {
                cleanup.disarm();
            }
            header = waited?;
        }
        Ok(LockResponse { header: Some(header), key })
    }
}

#[tonic::async_trait]
impl<B: Backend> Lock for LockService<B> {
    async fn lock(&self, request: Request<LockRequest>) -> Result<Response<LockResponse>, Status> {
        let caller = super::authz::caller(&self.core, request.metadata())?;
        let LockRequest { name, lease } = request.into_inner();
        super::authz::coordination(&self.core, &caller, &name)?;
        Ok(Response::new(self.acquire(&name, lease).await?))
    }

    async fn unlock(&self, request: Request<UnlockRequest>) -> Result<Response<UnlockResponse>, Status> {
        let caller = super::authz::caller(&self.core, request.metadata())?;
        let key = request.into_inner().key;
        super::authz::check(&self.core, &caller, &key, &[], crate::auth::Access::Write)?;
        let response = delete_key(&self.core, &key).await?;
        Ok(Response::new(UnlockResponse { header: response.header }))
    }
}
