//! `etcdserverpb.Auth`: turning auth on and off, `Authenticate`, users and
//! roles. Changes go through raft; passwords are hashed with bcrypt
//! (`--bcrypt-cost`) here, before anything is proposed, so they are never in
//! the raft log, the backend or a log line in plain text. Managing users and
//! roles takes the root role once auth is on; a user may read its own record
//! and the roles it holds.

use std::sync::Arc;

use cairn_mvcc::Backend;
use cairn_proto::cairnpb::auth_request::Op;
use cairn_proto::cairnpb::internal_request::Request as Internal;
use cairn_proto::cairnpb::{AuthRequest, AuthToken, AuthUser};
use cairn_proto::etcdserverpb::auth_server::Auth;
use cairn_proto::etcdserverpb::*;
use tonic::{Request, Response, Status};

use super::authz::{self, Caller};
use crate::auth::{AuthError, MAX_PASSWORD_BYTES, Tokens};
use crate::core::Core;
use crate::error::RequestError;

/// The Auth service of a member.
pub struct AuthService<B: Backend> {
    core: Arc<Core<B>>,
}

impl<B: Backend> AuthService<B> {
    /// The service over `core`.
    pub fn new(core: Arc<Core<B>>) -> Self {
        AuthService { core }
    }

    fn header(&self) -> Option<ResponseHeader> {
        Some(self.core.header(0))
    }

    /// Applies `op` through raft for `caller`.
    async fn change(&self, op: Op, caller: &Caller) -> Result<(), Status> {
        self.core.propose_as(Internal::Auth(AuthRequest { op: Some(op) }), caller).await?;
        Ok(())
    }

    /// The caller, who must hold the root role (with auth on).
    fn admin<T>(&self, request: &Request<T>) -> Result<Caller, Status> {
        let caller = authz::caller(&self.core, request.metadata())?;
        authz::check_admin(&self.core, &caller)?;
        Ok(caller)
    }

    /// A bcrypt hash of `password`, off the async threads (it is slow on purpose).
    async fn hash(&self, password: String) -> Result<Vec<u8>, Status> {
        check_password(&password)?;
        let cost = self.core.bcrypt_cost;
        let hashed = tokio::task::spawn_blocking(move || bcrypt::hash(password, cost))
            .await
            .map_err(|e| Status::internal(e.to_string()))?
            .map_err(|e| Status::internal(format!("etcdserver: cannot hash the password: {e}")))?;
        Ok(hashed.into_bytes())
    }
}

/// Refuses an empty password, and one longer than bcrypt reads (it would cut
/// it silently, so two passwords with the same first 72 bytes would match).
fn check_password(password: &str) -> Result<(), Status> {
    if password.is_empty() {
        return Err(Status::invalid_argument("etcdserver: password is empty"));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(Status::invalid_argument(format!(
            "etcdserver: password is longer than {MAX_PASSWORD_BYTES} bytes"
        )));
    }
    Ok(())
}

#[tonic::async_trait]
impl<B: Backend> Auth for AuthService<B> {
    async fn auth_enable(&self, request: Request<AuthEnableRequest>) -> Result<Response<AuthEnableResponse>, Status> {
        let caller = self.admin(&request)?;
        self.change(Op::Enable(AuthEnableRequest {}), &caller).await?;
        Ok(Response::new(AuthEnableResponse { header: self.header() }))
    }

    async fn auth_disable(
        &self,
        request: Request<AuthDisableRequest>,
    ) -> Result<Response<AuthDisableResponse>, Status> {
        let caller = self.admin(&request)?;
        self.change(Op::Disable(AuthDisableRequest {}), &caller).await?;
        Ok(Response::new(AuthDisableResponse { header: self.header() }))
    }

    async fn authenticate(
        &self,
        request: Request<AuthenticateRequest>,
    ) -> Result<Response<AuthenticateResponse>, Status> {
        let AuthenticateRequest { name, password } = request.into_inner();
        let (hash, revision) = {
            let auth = self.core.state.auth.read();
            if !auth.enabled() {
                return Err(RequestError::from(AuthError::AuthNotEnabled).into());
            }
            (auth.password_hash(&name), auth.revision())
        };
        let Some(hash) = hash else { return Err(RequestError::from(AuthError::AuthFailed).into()) };
        if password.len() > MAX_PASSWORD_BYTES {
            return Err(RequestError::from(AuthError::AuthFailed).into());
        }
        let matches = tokio::task::spawn_blocking(move || {
            std::str::from_utf8(&hash).ok().is_some_and(|h| bcrypt::verify(password, h).unwrap_or(false))
        })
        .await
        .map_err(|e| Status::internal(e.to_string()))?;
        if !matches {
            return Err(RequestError::from(AuthError::AuthFailed).into());
        }
        if let Some(jwt) = &self.core.jwt {
            // A JWT needs no shared state: every member checks its signature.
            let token = jwt.sign(&name, revision).map_err(|e| Status::internal(format!("etcdserver: {e}")))?;
            return Ok(Response::new(AuthenticateResponse { header: self.header(), token }));
        }
        let serial = self.core.node.with_status(|s| s.commit);
        let token = Tokens::generate(serial).map_err(|e| Status::internal(format!("etcdserver: {e}")))?;
        let op = Op::Token(AuthToken { name, token: token.clone(), revision });
        self.change(op, &None).await?;
        Ok(Response::new(AuthenticateResponse { header: self.header(), token }))
    }

    async fn user_add(&self, request: Request<AuthUserAddRequest>) -> Result<Response<AuthUserAddResponse>, Status> {
        let caller = self.admin(&request)?;
        let AuthUserAddRequest { name, password, options } = request.into_inner();
        let no_password = options.is_some_and(|o| o.no_password);
        if name.is_empty() {
            return Err(RequestError::from(AuthError::UserEmpty).into());
        }
        let hashed_password = if no_password { Vec::new() } else { self.hash(password).await? };
        self.change(Op::UserAdd(AuthUser { name, hashed_password, no_password }), &caller).await?;
        Ok(Response::new(AuthUserAddResponse { header: self.header() }))
    }

    async fn user_get(&self, request: Request<AuthUserGetRequest>) -> Result<Response<AuthUserGetResponse>, Status> {
        let caller = authz::caller(&self.core, request.metadata())?;
        let name = request.into_inner().name;
        if caller.as_ref().is_some_and(|c| c.user != name) {
            authz::check_admin(&self.core, &caller)?;
        }
        self.core.linearizable_read().await?;
        let roles = self.core.state.auth.read().user_get(&name).map_err(RequestError::from)?;
        Ok(Response::new(AuthUserGetResponse { header: self.header(), roles }))
    }

    async fn user_list(&self, request: Request<AuthUserListRequest>) -> Result<Response<AuthUserListResponse>, Status> {
        self.admin(&request)?;
        self.core.linearizable_read().await?;
        let users = self.core.state.auth.read().user_list();
        Ok(Response::new(AuthUserListResponse { header: self.header(), users }))
    }

    async fn user_delete(
        &self,
        request: Request<AuthUserDeleteRequest>,
    ) -> Result<Response<AuthUserDeleteResponse>, Status> {
        let caller = self.admin(&request)?;
        self.change(Op::UserDelete(request.into_inner()), &caller).await?;
        Ok(Response::new(AuthUserDeleteResponse { header: self.header() }))
    }

    async fn user_change_password(
        &self,
        request: Request<AuthUserChangePasswordRequest>,
    ) -> Result<Response<AuthUserChangePasswordResponse>, Status> {
        let caller = self.admin(&request)?;
        let AuthUserChangePasswordRequest { name, password } = request.into_inner();
        if !self.core.state.auth.read().has_user(&name) {
            return Err(RequestError::from(AuthError::UserNotFound).into());
        }
        let hashed_password = self.hash(password).await?;
        self.change(Op::ChangePassword(AuthUser { name, hashed_password, no_password: false }), &caller).await?;
        Ok(Response::new(AuthUserChangePasswordResponse { header: self.header() }))
    }

    async fn user_grant_role(
        &self,
        request: Request<AuthUserGrantRoleRequest>,
    ) -> Result<Response<AuthUserGrantRoleResponse>, Status> {
        let caller = self.admin(&request)?;
        self.change(Op::GrantRole(request.into_inner()), &caller).await?;
        Ok(Response::new(AuthUserGrantRoleResponse { header: self.header() }))
    }

    async fn user_revoke_role(
        &self,
        request: Request<AuthUserRevokeRoleRequest>,
    ) -> Result<Response<AuthUserRevokeRoleResponse>, Status> {
        let caller = self.admin(&request)?;
        self.change(Op::RevokeRole(request.into_inner()), &caller).await?;
        Ok(Response::new(AuthUserRevokeRoleResponse { header: self.header() }))
    }

    async fn role_add(&self, request: Request<AuthRoleAddRequest>) -> Result<Response<AuthRoleAddResponse>, Status> {
        let caller = self.admin(&request)?;
        self.change(Op::RoleAdd(request.into_inner()), &caller).await?;
        Ok(Response::new(AuthRoleAddResponse { header: self.header() }))
    }

    async fn role_get(&self, request: Request<AuthRoleGetRequest>) -> Result<Response<AuthRoleGetResponse>, Status> {
        let caller = authz::caller(&self.core, request.metadata())?;
        let role = request.into_inner().role;
        if let Some(c) = &caller
            && !self.core.state.auth.read().has_role(&c.user, &role)
        {
            authz::check_admin(&self.core, &caller)?;
        }
        self.core.linearizable_read().await?;
        let perm = self.core.state.auth.read().role_get(&role).map_err(RequestError::from)?;
        Ok(Response::new(AuthRoleGetResponse { header: self.header(), perm }))
    }

    async fn role_list(&self, request: Request<AuthRoleListRequest>) -> Result<Response<AuthRoleListResponse>, Status> {
        self.admin(&request)?;
        self.core.linearizable_read().await?;
        let roles = self.core.state.auth.read().role_list();
        Ok(Response::new(AuthRoleListResponse { header: self.header(), roles }))
    }

    async fn role_delete(
        &self,
        request: Request<AuthRoleDeleteRequest>,
    ) -> Result<Response<AuthRoleDeleteResponse>, Status> {
        let caller = self.admin(&request)?;
        self.change(Op::RoleDelete(request.into_inner()), &caller).await?;
        Ok(Response::new(AuthRoleDeleteResponse { header: self.header() }))
    }

    async fn role_grant_permission(
        &self,
        request: Request<AuthRoleGrantPermissionRequest>,
    ) -> Result<Response<AuthRoleGrantPermissionResponse>, Status> {
        let caller = self.admin(&request)?;
        let request = request.into_inner();
        if request.perm.is_none() {
            return Err(Status::invalid_argument("etcdserver: permission is not given"));
        }
        self.change(Op::GrantPermission(request), &caller).await?;
        Ok(Response::new(AuthRoleGrantPermissionResponse { header: self.header() }))
    }

    async fn role_revoke_permission(
        &self,
        request: Request<AuthRoleRevokePermissionRequest>,
    ) -> Result<Response<AuthRoleRevokePermissionResponse>, Status> {
        let caller = self.admin(&request)?;
        self.change(Op::RevokePermission(request.into_inner()), &caller).await?;
        Ok(Response::new(AuthRoleRevokePermissionResponse { header: self.header() }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_huge_passwords_are_refused() {
        assert!(check_password("").is_err());
        assert!(check_password(&"x".repeat(73)).is_err());
        assert!(check_password(&"x".repeat(72)).is_ok());
    }
}
