//! `/v3/auth/*`: the Auth service (the token goes in the `Authorization` header).

use std::sync::Arc;

use cairn_mvcc::Backend;
use cairn_proto::etcdserverpb::auth_server::Auth;

use super::unary_route;
use crate::api::grpc::auth::AuthService;
use crate::core::Core;

pub(super) fn routes<B: Backend>() -> axum::Router<Arc<Core<B>>> {
    axum::Router::new()
        .route("/v3/auth/enable", unary_route!(AuthService, Auth, auth_enable))
        .route("/v3/auth/disable", unary_route!(AuthService, Auth, auth_disable))
        .route("/v3/auth/authenticate", unary_route!(AuthService, Auth, authenticate))
        .route("/v3/auth/user/add", unary_route!(AuthService, Auth, user_add))
        .route("/v3/auth/user/get", unary_route!(AuthService, Auth, user_get))
        .route("/v3/auth/user/list", unary_route!(AuthService, Auth, user_list))
        .route("/v3/auth/user/delete", unary_route!(AuthService, Auth, user_delete))
        .route("/v3/auth/user/changepw", unary_route!(AuthService, Auth, user_change_password))
        .route("/v3/auth/user/grant", unary_route!(AuthService, Auth, user_grant_role))
        .route("/v3/auth/user/revoke", unary_route!(AuthService, Auth, user_revoke_role))
        .route("/v3/auth/role/add", unary_route!(AuthService, Auth, role_add))
        .route("/v3/auth/role/get", unary_route!(AuthService, Auth, role_get))
        .route("/v3/auth/role/list", unary_route!(AuthService, Auth, role_list))
        .route("/v3/auth/role/delete", unary_route!(AuthService, Auth, role_delete))
        .route("/v3/auth/role/grant", unary_route!(AuthService, Auth, role_grant_permission))
        .route("/v3/auth/role/revoke", unary_route!(AuthService, Auth, role_revoke_permission))
}
