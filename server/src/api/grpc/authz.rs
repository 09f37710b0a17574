//! Who is calling and whether they may: the token of a request (its `token`
//! metadata, or `authorization` as etcd's gateway passes it), and the
//! permission checks etcd makes for each call when auth is on, including
//! those etcd 3.4 missed (prev_kv and lease attachments in puts and txns,
//! the keys of a lease in `LeaseTimeToLive`).

use std::time::Instant;

use cairn_mvcc::Backend;
use cairn_proto::etcdserverpb::request_op::Request as Op;
use cairn_proto::etcdserverpb::{DeleteRangeRequest, PutRequest, RangeRequest, TxnRequest};
use tonic::metadata::MetadataMap;

use crate::auth::tokens::TokenInfo;
use crate::auth::{Access, AuthError};
use crate::core::Core;
use crate::error::RequestError;

/// The caller of a request: `None` while auth is off.
pub type Caller = Option<TokenInfo>;

/// Set on each request by the server (never taken from the client) to the
/// common name of the client's TLS certificate.
pub const CLIENT_CN_HEADER: &str = "x-cairn-client-cert-cn";

/// The token in `metadata`, if any.
pub fn token(metadata: &MetadataMap) -> Option<String> {
    ["token", "authorization"]
        .iter()
        .find_map(|name| metadata.get(*name).and_then(|v| v.to_str().ok()).map(str::to_owned))
}

/// Who sent a request with `metadata`: with auth on, a valid token of an
/// existing user is required (etcd's errors otherwise). The caller's
/// revision is the auth revision its permissions are checked at now: a
/// request proposed with it is refused if an auth change is applied first.
/// (etcd instead refuses every request of a token older than the last auth
/// change with "revision of auth store is old", until the client logs in
/// again; clients that do not, such as the Rust `etcd-client`, then fail.)
pub fn caller<B: Backend>(core: &Core<B>, metadata: &MetadataMap) -> Result<Caller, RequestError> {
    let auth = core.state.auth.read();
    if !auth.enabled() {
        return Ok(None);
    }
    let Some(token) = token(metadata) else {
        // With --client-cert-auth, the certificate's common name is the user.
        if core.client_cert_auth
            && let Some(cn) = metadata.get(CLIENT_CN_HEADER).and_then(|v| v.to_str().ok())
        {
            return Ok(Some(TokenInfo { user: cn.to_owned(), revision: auth.revision() }));
        }
        return Err(AuthError::UserEmpty.into());
    };
    let info = match &core.jwt {
        Some(jwt) => jwt.verify(&token),
        None => core.state.tokens.lock().info(&token, Instant::now()),
    }
    .ok_or(AuthError::InvalidAuthToken)?;
    if !auth.has_user(&info.user) {
        return Err(AuthError::InvalidAuthToken.into());
    }
    Ok(Some(TokenInfo { user: info.user, revision: auth.revision() }))
}

/// Fails unless the caller may `access` `[key, range_end)`.
pub fn check<B: Backend>(
    core: &Core<B>,
    caller: &Caller,
    key: &[u8],
    range_end: &[u8],
    access: Access,
) -> Result<(), RequestError> {
    match caller {
        None => Ok(()),
        Some(info) => core.state.auth.read().check(&info.user, key, range_end, access).map_err(Into::into),
    }
}

/// Fails unless the caller holds the root role.
pub fn check_admin<B: Backend>(core: &Core<B>, caller: &Caller) -> Result<(), RequestError> {
    match caller {
        None => Ok(()),
        Some(info) => core.state.auth.read().check_admin(&info.user).map_err(Into::into),
    }
}

/// Fails unless the caller may `access` every key attached to `lease`.
pub fn check_lease_keys<B: Backend>(
    core: &Core<B>,
    caller: &Caller,
    lease: i64,
    access: Access,
) -> Result<(), RequestError> {
    if caller.is_none() || lease == 0 {
        return Ok(());
    }
    let keys: Vec<Vec<u8>> =
        core.state.lessor.lock().get(lease).map(|l| l.keys.iter().map(|k| k.to_vec()).collect()).unwrap_or_default();
    keys.iter().try_for_each(|key| check(core, caller, key, &[], access))
}

/// A range needs read on its keys.
pub fn range<B: Backend>(core: &Core<B>, caller: &Caller, r: &RangeRequest) -> Result<(), RequestError> {
    check(core, caller, &r.key, &r.range_end, Access::Read)
}

/// A put needs write on the key; with `prev_kv`, read too; attached to a
/// lease, write on every key of the lease.
pub fn put<B: Backend>(core: &Core<B>, caller: &Caller, r: &PutRequest) -> Result<(), RequestError> {
    check(core, caller, &r.key, &[], Access::Write)?;
    if r.prev_kv {
        check(core, caller, &r.key, &[], Access::Read)?;
    }
    check_lease_keys(core, caller, r.lease, Access::Write)
}

/// A delete needs write on its range; with `prev_kv`, read too.
pub fn delete_range<B: Backend>(core: &Core<B>, caller: &Caller, r: &DeleteRangeRequest) -> Result<(), RequestError> {
    check(core, caller, &r.key, &r.range_end, Access::Write)?;
    if r.prev_kv {
        check(core, caller, &r.key, &r.range_end, Access::Read)?;
    }
    Ok(())
}

/// A txn needs read on what it compares and, for every op of both branches
/// (nested txns too), what the op needs alone.
pub fn txn<B: Backend>(core: &Core<B>, caller: &Caller, r: &TxnRequest) -> Result<(), RequestError> {
    if caller.is_none() {
        return Ok(());
    }
    for c in &r.compare {
        check(core, caller, &c.key, &c.range_end, Access::Read)?;
    }
    for op in r.success.iter().chain(&r.failure) {
        match &op.request {
            Some(Op::RequestRange(x)) => range(core, caller, x)?,
            Some(Op::RequestPut(x)) => put(core, caller, x)?,
            Some(Op::RequestDeleteRange(x)) => delete_range(core, caller, x)?,
            Some(Op::RequestTxn(x)) => txn(core, caller, x)?,
            None => {}
        }
    }
    Ok(())
}

/// `message` as a request to another member, carrying the caller's token
/// (a follower forwards some calls to the leader, which checks them again).
pub fn forwarded<T>(message: T, token: Option<&str>) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    if let Some(value) = token.and_then(|t| t.parse().ok()) {
        request.metadata_mut().insert("token", value);
    }
    request
}

/// A lock or an election on `name` reads and writes the keys under `name/`
/// (etcd's lock and election servers act as a client with the caller's token).
pub fn coordination<B: Backend>(core: &Core<B>, caller: &Caller, name: &[u8]) -> Result<(), RequestError> {
    if caller.is_none() {
        return Ok(());
    }
    let prefix = super::coordination::prefix_of(name);
    let end = super::coordination::prefix_end(&prefix);
    check(core, caller, &prefix, &end, Access::Read)?;
    check(core, caller, &prefix, &end, Access::Write)
}

/// The admin check of etcd's maintenance server (defragment, snapshot, hash,
/// hash-kv): its errors are the auth package's own (`auth: permission
/// denied`), which reach the client as code Unknown.
pub fn maintenance_admin<B: Backend>(core: &Core<B>, metadata: &MetadataMap) -> Result<(), tonic::Status> {
    let raw = |e: RequestError| match e {
        RequestError::Auth(a) => {
            tonic::Status::unknown(format!("auth: {}", a.to_string().trim_start_matches("etcdserver: ")))
        }
        other => other.into(),
    };
    let caller = caller(core, metadata).map_err(raw)?;
    check_admin(core, &caller).map_err(raw)
}
