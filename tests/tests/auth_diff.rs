//! Auth with the real etcdctl against etcd 3.4 and cairn, compared step by step: enabling without
//! root refused, enabling, user and role management, permissions on a key, a range, a prefix and
//! from a key, a read-only user's writes refused with etcd's `permission denied`, a wrong
//! password with etcd's message, revocations taking effect at once, password change, disabling.
//!
//! Where cairn refuses on purpose what etcd 3.4 allowed (tokenless member list, lease and alarm
//! calls, empty passwords, lease keys listed to those who cannot read them), the Rust client tests
//! in `server/tests/auth.rs` show it.

use cairn_tests::Differ;

const ROOT: &str = "--user=root:rootpw";
const ALICE: &str = "--user=alice:alicepw";

#[test]
fn auth_users_roles_and_permissions() {
    let mut d = Differ::start();
    d.run(&["auth", "enable"]).expect_etcd("root user does not exist");
    d.run(&["user", "add", "root:rootpw"]).expect_etcd("User root created");
    d.run(&["user", "add", "root:again"]).expect_etcd("user name already exists");
    d.run(&["user", "add", "alice:alicepw"]);
    d.run(&["role", "add", "reader"]);
    d.run(&["role", "add", "reader"]).expect_etcd("role name already exists");
    d.run(&["role", "grant-permission", "reader", "read", "foo"]);
    d.run(&["role", "grant-permission", "reader", "readwrite", "--prefix", "pre/"]);
    d.run(&["role", "grant-permission", "reader", "write", "a", "z"]);
    d.run(&["role", "grant-permission", "reader", "read", "--from-key", "zz"]);
    d.run(&["role", "grant-permission", "nope", "read", "foo"]).expect_etcd("role name not found");
    d.run(&["user", "grant-role", "alice", "reader"]);
    d.run(&["user", "grant-role", "bob", "reader"]).expect_etcd("user name not found");
    // etcdctl adds the root role and grants it when enabling finds it missing.
    d.run(&["auth", "enable"]).expect_etcd("Authentication Enabled");
    d.run(&["get", "foo"]).expect_etcd("user name is empty");
    d.run(&[ROOT, "put", "foo", "bar"]);
    d.run(&[ALICE, "get", "foo"]).expect_etcd("bar");
    // foo is in alice's write range [a, z) too.
    d.run(&[ALICE, "put", "foo", "x"]);
    d.run(&[ALICE, "put", "zzz", "x"]).expect_etcd("permission denied");
    d.run(&["--user=alice:wrong", "get", "foo"]).expect_etcd("authentication failed, invalid user ID or password");
    d.run(&[ALICE, "put", "pre/x", "1"]);
    d.run(&[ALICE, "get", "--prefix", "pre/"]);
    d.run(&[ALICE, "get", "--prefix", "pr"]).expect_etcd("permission denied");
    d.run(&[ALICE, "put", "b", "1"]);
    d.run(&[ALICE, "get", "b"]).expect_etcd("permission denied");
    d.run(&[ALICE, "get", "zzz"]);
    d.run(&[ALICE, "get", "--from-key", "z"]).expect_etcd("permission denied");
    d.run(&[ALICE, "del", "pre/x", "--prev-kv"]);
    d.run_stdin(&[ALICE, "txn"], "value(\"foo\") = \"x\"\n\nput pre/y 2\n\n\n").expect_etcd("SUCCESS");
    d.run_stdin(&[ALICE, "txn"], "value(\"foo\") = \"x\"\n\nput zzz y\n\n\n").expect_etcd("permission denied");
    d.run(&[ROOT, "role", "get", "reader"]).expect_etcd("KV Read:");
    d.run(&[ROOT, "role", "get", "root"]);
    d.run(&[ROOT, "role", "list"]);
    d.run(&[ROOT, "user", "list"]);
    d.run(&[ROOT, "user", "get", "alice"]);
    d.run(&[ROOT, "user", "get", "alice", "--detail"]);
    d.run(&[ALICE, "user", "get", "alice"]);
    d.run(&[ALICE, "user", "get", "root"]).expect_etcd("permission denied");
    d.run(&[ALICE, "role", "get", "reader"]);
    d.run(&[ALICE, "user", "list"]).expect_etcd("permission denied");
    d.run(&[ALICE, "auth", "disable"]).expect_etcd("permission denied");
    d.run(&[ALICE, "defrag"]).expect_etcd("auth: permission denied");
    d.run(&[ROOT, "role", "revoke-permission", "reader", "foo"]);
    d.run(&[ROOT, "role", "revoke-permission", "reader", "foo"]).expect_etcd("permission is not granted to the role");
    d.run(&[ALICE, "get", "foo"]).expect_etcd("permission denied");
    d.run(&[ROOT, "user", "revoke-role", "alice", "reader"]);
    d.run(&[ROOT, "user", "revoke-role", "alice", "reader"]).expect_etcd("role is not granted to the user");
    d.run(&[ROOT, "role", "delete", "reader"]);
    d.run(&[ROOT, "role", "delete", "root"]).expect_etcd("invalid auth management");
    d.run(&[ROOT, "user", "delete", "root"]).expect_etcd("invalid auth management");
    d.run(&[ROOT, "user", "revoke-role", "root", "root"]).expect_etcd("invalid auth management");
    d.run(&[ROOT, "user", "delete", "alice"]);
    d.run(&[ALICE, "get", "foo"]).expect_etcd("authentication failed");
    d.run_stdin(&[ROOT, "user", "passwd", "root", "--interactive=false"], "newpw\n").expect_etcd("Password updated");
    d.run(&[ROOT, "get", "foo"]).expect_etcd("authentication failed");
    d.run(&["--user=root:newpw", "get", "foo"]);
    d.run(&["--user=root:newpw", "auth", "disable"]).expect_etcd("Authentication Disabled");
    d.run(&["get", "foo"]);
    d.run(&["user", "list"]);
    d.finish();
}
