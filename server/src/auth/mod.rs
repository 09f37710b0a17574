//! etcd's role-based access control: users (bcrypt-hashed passwords, roles),
//! roles (key permissions: read, write or both, on a key, a range or from a
//! key on), the enabled flag and the auth revision, which every change bumps
//! so that a permission checked before a change is not used after it.
//!
//! The store is applied by every member from the raft log (see
//! `cairn_proto::cairnpb::AuthRequest`); [`tokens`] holds the simple tokens
//! `Authenticate` hands out. Passwords reach the store only as bcrypt hashes.

pub mod jwt;
pub mod tokens;

use std::collections::BTreeMap;

use cairn_proto::authpb::permission::Type as PermType;
use cairn_proto::authpb::{Permission, Role, User, UserAddOptions};
use cairn_storage::{Order, ReadView};
use prost::Message;

pub use tokens::Tokens;

/// Users: name -> `authpb.User`.
pub const USERS_BUCKET: &str = "authUsers";
/// Roles: name -> `authpb.Role`.
pub const ROLES_BUCKET: &str = "authRoles";
/// `enabled` -> 1 or 0, `revision` -> big-endian u64.
pub const AUTH_BUCKET: &str = "auth";
/// The user and the role that may do everything.
pub const ROOT: &str = "root";
/// Passwords longer than this are refused (bcrypt reads at most 72 bytes).
pub const MAX_PASSWORD_BYTES: usize = 72;

/// Why an auth operation or check failed, with etcd's messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[allow(missing_docs)]
pub enum AuthError {
    #[error("etcdserver: root user does not exist")]
    RootUserNotExist,
    #[error("etcdserver: root user does not have root role")]
    RootRoleNotExist,
    #[error("etcdserver: user name already exists")]
    UserAlreadyExist,
    #[error("etcdserver: user name is empty")]
    UserEmpty,
    #[error("etcdserver: user name not found")]
    UserNotFound,
    #[error("etcdserver: role name already exists")]
    RoleAlreadyExist,
    #[error("etcdserver: role name not found")]
    RoleNotFound,
    #[error("etcdserver: role name is empty")]
    RoleEmpty,
    #[error("etcdserver: authentication failed, invalid user ID or password")]
    AuthFailed,
    #[error("etcdserver: permission denied")]
    PermissionDenied,
    #[error("etcdserver: role is not granted to the user")]
    RoleNotGranted,
    #[error("etcdserver: permission is not granted to the role")]
    PermissionNotGranted,
    #[error("etcdserver: authentication is not enabled")]
    AuthNotEnabled,
    #[error("etcdserver: invalid auth token")]
    InvalidAuthToken,
    #[error("etcdserver: revision of auth store is old")]
    OldRevision,
    #[error("etcdserver: invalid auth management")]
    InvalidAuthMgmt,
}

/// A write to the backend an auth change makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Put `value` at `key` of `bucket`.
    Put(&'static str, Vec<u8>, Vec<u8>),
    /// Delete `key` of `bucket`.
    Delete(&'static str, Vec<u8>),
}

/// What a request needs on a key or range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Read.
    Read,
    /// Write.
    Write,
}

/// The auth store.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct AuthStore {
    enabled: bool,
    revision: u64,
    users: BTreeMap<String, User>,
    roles: BTreeMap<String, Role>,
}

type Result<T> = std::result::Result<T, AuthError>;

impl AuthStore {
    /// Reads the store from the backend.
    pub fn load(view: &dyn ReadView) -> anyhow::Result<AuthStore> {
        let mut store = AuthStore::default();
        let mut bad = None;
        view.scan(USERS_BUCKET, &[], None, Order::Forward, &mut |k, v| {
            match User::decode(v) {
                Ok(user) => {
                    store.users.insert(String::from_utf8_lossy(k).into_owned(), user);
                }
                Err(e) => bad = Some(format!("user {:?}: {e}", String::from_utf8_lossy(k))),
            }
            true
        })?;
        view.scan(ROLES_BUCKET, &[], None, Order::Forward, &mut |k, v| {
            match Role::decode(v) {
                Ok(role) => {
                    store.roles.insert(String::from_utf8_lossy(k).into_owned(), role);
                }
                Err(e) => bad = Some(format!("role {:?}: {e}", String::from_utf8_lossy(k))),
            }
            true
        })?;
        if let Some(what) = bad {
            anyhow::bail!("corrupt auth record: {what}");
        }
        store.enabled = view.get(AUTH_BUCKET, b"enabled")?.is_some_and(|v| v == [1]);
        store.revision = view
            .get(AUTH_BUCKET, b"revision")?
            .and_then(|v| <[u8; 8]>::try_from(v.as_slice()).ok())
            .map_or(0, u64::from_be_bytes);
        Ok(store)
    }

    /// Whether auth is on.
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// The auth revision.
    pub fn revision(&self) -> u64 {
        self.revision
    }

    fn bump(&mut self, changes: &mut Vec<Change>) {
        self.revision += 1;
        changes.push(Change::Put(AUTH_BUCKET, b"revision".to_vec(), self.revision.to_be_bytes().to_vec()));
    }

    fn put_user(&self, name: &str, changes: &mut Vec<Change>) {
        if let Some(user) = self.users.get(name) {
            changes.push(Change::Put(USERS_BUCKET, name.as_bytes().to_vec(), user.encode_to_vec()));
        }
    }

    fn put_role(&self, name: &str, changes: &mut Vec<Change>) {
        if let Some(role) = self.roles.get(name) {
            changes.push(Change::Put(ROLES_BUCKET, name.as_bytes().to_vec(), role.encode_to_vec()));
        }
    }

    /// Turns auth on: the root user must exist and have the root role.
    pub fn enable(&mut self) -> Result<Vec<Change>> {
        if self.enabled {
            return Ok(Vec::new());
        }
        let root = self.users.get(ROOT).ok_or(AuthError::RootUserNotExist)?;
        if !root.roles.iter().any(|r| r == ROOT) {
            return Err(AuthError::RootRoleNotExist);
        }
        self.enabled = true;
        Ok(vec![Change::Put(AUTH_BUCKET, b"enabled".to_vec(), vec![1])])
    }

    /// Turns auth off.
    pub fn disable(&mut self) -> Vec<Change> {
        if !self.enabled {
            return Vec::new();
        }
        self.enabled = false;
        let mut changes = vec![Change::Put(AUTH_BUCKET, b"enabled".to_vec(), vec![0])];
        self.bump(&mut changes);
        changes
    }

    /// Adds a user with a bcrypt hash (empty with `no_password`).
    pub fn user_add(&mut self, name: &str, hashed: &[u8], no_password: bool) -> Result<Vec<Change>> {
        if name.is_empty() {
            return Err(AuthError::UserEmpty);
        }
        if self.users.contains_key(name) {
            return Err(AuthError::UserAlreadyExist);
        }
        let user = User {
            name: name.as_bytes().to_vec(),
            password: if no_password { Vec::new() } else { hashed.to_vec() },
            roles: Vec::new(),
            options: Some(UserAddOptions { no_password }),
        };
        self.users.insert(name.to_owned(), user);
        let mut changes = Vec::new();
        self.put_user(name, &mut changes);
        self.bump(&mut changes);
        Ok(changes)
    }

    /// Deletes a user (never root while auth is on).
    pub fn user_delete(&mut self, name: &str) -> Result<Vec<Change>> {
        if self.enabled && name == ROOT {
            return Err(AuthError::InvalidAuthMgmt);
        }
        self.users.remove(name).ok_or(AuthError::UserNotFound)?;
        let mut changes = vec![Change::Delete(USERS_BUCKET, name.as_bytes().to_vec())];
        self.bump(&mut changes);
        Ok(changes)
    }

    /// Replaces a user's password hash.
    pub fn change_password(&mut self, name: &str, hashed: &[u8]) -> Result<Vec<Change>> {
        let user = self.users.get_mut(name).ok_or(AuthError::UserNotFound)?;
        user.password = hashed.to_vec();
        let mut changes = Vec::new();
        self.put_user(name, &mut changes);
        self.bump(&mut changes);
        Ok(changes)
    }

    /// Grants `role` (which must exist, unless it is root) to `name`.
    pub fn grant_role(&mut self, name: &str, role: &str) -> Result<Vec<Change>> {
        if !self.users.contains_key(name) {
            return Err(AuthError::UserNotFound);
        }
        if role != ROOT && !self.roles.contains_key(role) {
            return Err(AuthError::RoleNotFound);
        }
        let user = self.users.get_mut(name).expect("checked above");
        match user.roles.binary_search_by(|r| r.as_str().cmp(role)) {
            Ok(_) => return Ok(Vec::new()),
            Err(at) => user.roles.insert(at, role.to_owned()),
        }
        let mut changes = Vec::new();
        self.put_user(name, &mut changes);
        self.bump(&mut changes);
        Ok(changes)
    }

    /// Revokes `role` from `name` (never root's root role while auth is on).
    pub fn revoke_role(&mut self, name: &str, role: &str) -> Result<Vec<Change>> {
        if self.enabled && name == ROOT && role == ROOT {
            return Err(AuthError::InvalidAuthMgmt);
        }
        let user = self.users.get_mut(name).ok_or(AuthError::UserNotFound)?;
        let before = user.roles.len();
        user.roles.retain(|r| r != role);
        if user.roles.len() == before {
            return Err(AuthError::RoleNotGranted);
        }
        let mut changes = Vec::new();
        self.put_user(name, &mut changes);
        self.bump(&mut changes);
        Ok(changes)
    }

    /// Adds a role without permissions.
    pub fn role_add(&mut self, name: &str) -> Result<Vec<Change>> {
        if name.is_empty() {
            return Err(AuthError::RoleEmpty);
        }
        if self.roles.contains_key(name) {
            return Err(AuthError::RoleAlreadyExist);
        }
        self.roles.insert(name.to_owned(), Role { name: name.as_bytes().to_vec(), key_permission: Vec::new() });
        let mut changes = Vec::new();
        self.put_role(name, &mut changes);
        self.bump(&mut changes);
        Ok(changes)
    }

    /// Deletes a role and revokes it from every user (never root while auth is on).
    pub fn role_delete(&mut self, name: &str) -> Result<Vec<Change>> {
        if self.enabled && name == ROOT {
            return Err(AuthError::InvalidAuthMgmt);
        }
        self.roles.remove(name).ok_or(AuthError::RoleNotFound)?;
        let mut changes = vec![Change::Delete(ROLES_BUCKET, name.as_bytes().to_vec())];
        let holders: Vec<String> =
            self.users.iter().filter(|(_, u)| u.roles.iter().any(|r| r == name)).map(|(n, _)| n.clone()).collect();
        for holder in holders {
            if let Some(user) = self.users.get_mut(&holder) {
                user.roles.retain(|r| r != name);
            }
            self.put_user(&holder, &mut changes);
        }
        self.bump(&mut changes);
        Ok(changes)
    }

    /// Grants `perm` to `role`: replaces the type of a permission on the same
    /// key and range end, or adds it (kept sorted by key).
    pub fn grant_permission(&mut self, role: &str, perm: Permission) -> Result<Vec<Change>> {
        let r = self.roles.get_mut(role).ok_or(AuthError::RoleNotFound)?;
        match r.key_permission.iter_mut().find(|p| p.key == perm.key && p.range_end == perm.range_end) {
            Some(existing) => existing.perm_type = perm.perm_type,
            None => {
                let at = r.key_permission.partition_point(|p| p.key <= perm.key);
                r.key_permission.insert(at, perm);
            }
        }
        let mut changes = Vec::new();
        self.put_role(role, &mut changes);
        self.bump(&mut changes);
        Ok(changes)
    }

    /// Revokes the permission of `role` on exactly `key` and `range_end`.
    pub fn revoke_permission(&mut self, role: &str, key: &[u8], range_end: &[u8]) -> Result<Vec<Change>> {
        let r = self.roles.get_mut(role).ok_or(AuthError::RoleNotFound)?;
        let before = r.key_permission.len();
        r.key_permission.retain(|p| !(p.key == key && p.range_end == range_end));
        if r.key_permission.len() == before {
            return Err(AuthError::PermissionNotGranted);
        }
        let mut changes = Vec::new();
        self.put_role(role, &mut changes);
        self.bump(&mut changes);
        Ok(changes)
    }

    /// A user's roles.
    pub fn user_get(&self, name: &str) -> Result<Vec<String>> {
        self.users.get(name).map(|u| u.roles.clone()).ok_or(AuthError::UserNotFound)
    }

    /// Every user name, sorted.
    pub fn user_list(&self) -> Vec<String> {
        self.users.keys().cloned().collect()
    }

    /// A role's permissions.
    pub fn role_get(&self, name: &str) -> Result<Vec<Permission>> {
        self.roles.get(name).map(|r| r.key_permission.clone()).ok_or(AuthError::RoleNotFound)
    }

    /// Every role name, sorted.
    pub fn role_list(&self) -> Vec<String> {
        self.roles.keys().cloned().collect()
    }

    /// Whether `user` exists and has `role`.
    pub fn has_role(&self, user: &str, role: &str) -> bool {
        self.users.get(user).is_some_and(|u| u.roles.iter().any(|r| r == role))
    }

    /// The bcrypt hash of a user's password, if the user may log in with one.
    pub fn password_hash(&self, name: &str) -> Option<Vec<u8>> {
        let user = self.users.get(name)?;
        let no_password = user.options.as_ref().is_some_and(|o| o.no_password);
        (!no_password && !user.password.is_empty()).then(|| user.password.clone())
    }

    /// Whether `user` exists.
    pub fn has_user(&self, user: &str) -> bool {
        self.users.contains_key(user)
    }

    /// Fails unless `user` holds the root role (with auth on).
    pub fn check_admin(&self, user: &str) -> Result<()> {
        if !self.enabled || self.has_role(user, ROOT) { Ok(()) } else { Err(AuthError::PermissionDenied) }
    }

    /// Fails unless `user` may `access` the key `key` (`range_end` empty) or
    /// every key of `[key, range_end)` (`range_end` `"\0"`: every key from
    /// `key` on), through the union of its roles' permissions.
    pub fn check(&self, user: &str, key: &[u8], range_end: &[u8], access: Access) -> Result<()> {
        if !self.enabled {
            return Ok(());
        }
        let Some(u) = self.users.get(user) else { return Err(AuthError::PermissionDenied) };
        if u.roles.iter().any(|r| r == ROOT) {
            return Ok(());
        }
        let mut intervals: Vec<(Vec<u8>, Option<Vec<u8>>)> = u
            .roles
            .iter()
            .filter_map(|r| self.roles.get(r))
            .flat_map(|r| r.key_permission.iter())
            .filter(|p| grants(p.perm_type, access))
            .map(|p| interval(&p.key, &p.range_end))
            .collect();
        intervals.sort();
        let wanted = interval(key, range_end);
        if covered(&intervals, &wanted) { Ok(()) } else { Err(AuthError::PermissionDenied) }
    }
}

fn grants(perm_type: i32, access: Access) -> bool {
    match PermType::try_from(perm_type) {
        Ok(PermType::Readwrite) => true,
        Ok(PermType::Read) => access == Access::Read,
        Ok(PermType::Write) => access == Access::Write,
        Err(_) => false,
    }
}

/// `[key, end)` with `None` as "no end": a single key is `[key, key\0)`.
fn interval(key: &[u8], range_end: &[u8]) -> (Vec<u8>, Option<Vec<u8>>) {
    match range_end {
        [] => (key.to_vec(), Some([key, &[0]].concat())),
        [0] => (key.to_vec(), None),
        end => (key.to_vec(), Some(end.to_vec())),
    }
}

/// Whether the union of `sorted` intervals covers `wanted`.
fn covered(sorted: &[(Vec<u8>, Option<Vec<u8>>)], wanted: &(Vec<u8>, Option<Vec<u8>>)) -> bool {
    let (start, end) = wanted;
    if end.as_ref().is_some_and(|e| e <= start) {
        // An empty range asks for nothing, but etcd still wants the start key.
        return covered(sorted, &interval(start, &[]));
    }
    // Walk the merged intervals from the one holding `start`.
    let mut reach: Option<Option<&Vec<u8>>> = None;
    for (s, e) in sorted {
        match reach {
            None => {
                if s <= start && e.as_ref().is_none_or(|e| e > start) {
                    reach = Some(e.as_ref());
                }
            }
            Some(None) => break,
            Some(Some(r)) => {
                if s <= r && e.as_ref().is_none_or(|e| e > r) {
                    reach = Some(e.as_ref());
                }
            }
        }
        if let Some(reached) = reach {
            match (reached, end) {
                (None, _) => return true,
                (Some(r), Some(end)) if r >= end => return true,
                _ => {}
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn perm(t: PermType, key: &str, end: &[u8]) -> Permission {
        Permission { perm_type: t as i32, key: key.as_bytes().to_vec(), range_end: end.to_vec() }
    }

    fn store() -> AuthStore {
        let mut s = AuthStore::default();
        s.user_add("root", b"h", false).expect("root");
        s.grant_role("root", ROOT).expect("root role");
        s.user_add("alice", b"h", false).expect("alice");
        s.role_add("r").expect("role");
        s.grant_role("alice", "r").expect("grant");
        s.enable().expect("enable");
        s
    }

    #[test]
    fn enable_needs_root_with_the_root_role() {
        let mut s = AuthStore::default();
        assert_eq!(s.enable(), Err(AuthError::RootUserNotExist));
        s.user_add("root", b"h", false).expect("root");
        assert_eq!(s.enable(), Err(AuthError::RootRoleNotExist));
        s.grant_role("root", ROOT).expect("root role");
        assert!(s.enable().is_ok());
        assert_eq!(s.user_delete("root"), Err(AuthError::InvalidAuthMgmt));
        assert_eq!(s.revoke_role("root", ROOT), Err(AuthError::InvalidAuthMgmt));
        assert_eq!(s.role_delete(ROOT), Err(AuthError::InvalidAuthMgmt));
    }

    #[test]
    fn management_errors_and_revisions() {
        let mut s = store();
        let rev = s.revision();
        assert_eq!(s.user_add("alice", b"h", false), Err(AuthError::UserAlreadyExist));
        assert_eq!(s.user_add("", b"h", false), Err(AuthError::UserEmpty));
        assert_eq!(s.role_add(""), Err(AuthError::RoleEmpty));
        assert_eq!(s.grant_role("bob", "r"), Err(AuthError::UserNotFound));
        assert_eq!(s.grant_role("alice", "nope"), Err(AuthError::RoleNotFound));
        assert_eq!(s.revoke_role("alice", "nope"), Err(AuthError::RoleNotGranted));
        assert_eq!(s.revoke_permission("r", b"k", b""), Err(AuthError::PermissionNotGranted));
        assert_eq!(s.revision(), rev, "failures change nothing");
        assert_eq!(s.grant_role("alice", "r").expect("again"), Vec::new(), "granting twice is a no-op");
        s.role_delete("r").expect("delete the role");
        assert_eq!(s.user_get("alice"), Ok(Vec::new()), "a deleted role leaves its users");
        assert!(s.revision() > rev);
    }

    #[test]
    fn permissions_cover_keys_ranges_and_prefixes() {
        let mut s = store();
        s.grant_permission("r", perm(PermType::Read, "key", b"")).expect("a key");
        s.grant_permission("r", perm(PermType::Readwrite, "a", b"c")).expect("a range");
        s.grant_permission("r", perm(PermType::Write, "c", b"e")).expect("an adjacent range");
        s.grant_permission("r", perm(PermType::Read, "z", &[0])).expect("from z on");
        let ok = |k: &str, e: &[u8], a| s.check("alice", k.as_bytes(), e, a).is_ok();
        assert!(ok("key", b"", Access::Read));
        assert!(!ok("key", b"", Access::Write));
        assert!(!ok("key1", b"", Access::Read));
        assert!(ok("a", b"c", Access::Read) && ok("b", b"", Access::Write));
        assert!(ok("a", b"e", Access::Write), "two adjacent ranges cover their union");
        assert!(!ok("a", b"e", Access::Read), "the second range is write-only");
        assert!(!ok("a", b"f", Access::Write));
        assert!(ok("zz", b"", Access::Read) && ok("z", &[0], Access::Read));
        assert!(!ok("y", &[0], Access::Read), "from y on reaches keys outside z..");
        assert!(!ok("", &[0], Access::Read), "the whole keyspace is not granted");
        assert!(s.check("root", b"anything", &[0], Access::Write).is_ok());
        assert_eq!(s.check("ghost", b"a", b"", Access::Read), Err(AuthError::PermissionDenied));
        s.grant_permission("r", perm(PermType::Write, "key", b"")).expect("a new type");
        assert_eq!(s.role_get("r").expect("role").len(), 4, "the same key and range end is replaced");
        assert!(s.check("alice", b"key", b"", Access::Read).is_err());
    }

    #[test]
    fn admin_is_the_root_role() {
        let s = store();
        assert!(s.check_admin("root").is_ok());
        assert_eq!(s.check_admin("alice"), Err(AuthError::PermissionDenied));
    }
}
