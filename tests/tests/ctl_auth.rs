//! cairnctl's `auth`, `user` and `role` print what etcdctl 3.4 prints, byte for byte after ids
//! and ports are normalized, against cairn and against a real etcd: the cases of `auth_diff.rs`,
//! every output format, argument checks, and password prompts on stdin.

use cairn_tests::{Differ, Kind};

const ROOT: &str = "--user=root:rootpw";
const ALICE: &str = "--user=alice:alicepw";

fn users_roles_and_permissions(kind: Kind) {
    let mut d = Differ::tools(kind);
    d.run(&["auth", "enable"]).expect_etcd("root user does not exist");
    d.run(&["auth", "enable", "x"]).expect_etcd("auth enable command does not accept any arguments");
    d.run(&["auth", "disable", "x"]).expect_etcd("auth disable command does not accept any arguments");
    d.run(&["user", "add", "root:rootpw"]).expect_etcd("User root created");
    d.run(&["user", "add", "root:again"]).expect_etcd("user name already exists");
    d.run(&["user", "add", ":pw"]).expect_etcd("empty user name is not allowed");
    d.run(&["user", "add"]).expect_etcd("user add command requires user name as its argument");
    d.run(&["user", "add", "alice:alicepw", "-w", "json"]);
    d.run(&["user", "add", "bob", "--new-user-password=bobpw", "-w", "fields"]);
    d.run(&["user", "add", "carol", "--no-password", "-w", "protobuf"]);
    d.run_stdin(&["user", "add", "dave", "--interactive=false"], "davepw and more\n");
    d.run_stdin(&["user", "add", "erin"], "erinpw\nerinpw\n").expect_etcd("Type password of erin again");
    d.run_stdin(&["user", "add", "frank"], "a\nb\n").expect_etcd("given passwords are different");
    d.run_stdin(&["user", "add", "grace"], "\n").expect_etcd("empty password");
    d.run(&["user", "add", "x:y", "-w", "table"]).expect_etcd("table not supported as output format");
    d.run(&["role", "add", "reader"]).expect_etcd("Role reader created");
    d.run(&["role", "add", "reader"]).expect_etcd("role name already exists");
    d.run(&["role", "add", "writer", "-w", "fields"]);
    d.run(&["role", "add"]).expect_etcd("role add command requires role name as its argument");
    d.run(&["role", "grant-permission", "reader", "read", "foo"]);
    d.run(&["role", "grant-permission", "reader", "readwrite", "--prefix", "pre/"]);
    d.run(&["role", "grant-permission", "reader", "WRITE", "a", "z", "-w", "json"]);
    d.run(&["role", "grant-permission", "reader", "read", "--from-key", "zz"]);
    d.run(&["role", "grant-permission", "writer", "write", "--prefix", ""]);
    d.run(&["role", "grant-permission", "writer", "read", "", "ignored"]);
    d.run(&["role", "grant-permission", "reader", "bogus", "foo"]).expect_etcd("invalid permission type: bogus");
    d.run(&["role", "grant-permission", "reader", "read"]).expect_etcd("role grant command requires");
    d.run(&["role", "grant-permission", "reader", "read", "a", "b", "--prefix"]).expect_etcd("unexpected endkey");
    d.run(&["role", "grant-permission", "reader", "read", "a", "b", "--from-key"]).expect_etcd("unexpected endkey");
    d.run(&["role", "grant-permission", "reader", "read", "a", "--from-key", "--prefix"])
        .expect_etcd("mutually exclusive");
    d.run(&["role", "grant-permission", "nope", "read", "foo"]).expect_etcd("role name not found");
    d.run(&["role", "get", "reader"]).expect_etcd("KV Read:");
    d.run(&["role", "get", "writer"]);
    for format in ["json", "fields", "protobuf", "table"] {
        d.run(&["role", "get", "reader", "-w", format]);
        d.run(&["role", "list", "-w", format]);
        d.run(&["user", "list", "-w", format]);
        d.run(&["user", "get", "root", "-w", format]);
    }
    d.run(&["role", "get", "nope"]).expect_etcd("role name not found");
    d.run(&["role", "get"]).expect_etcd("role get command requires role name as its argument");
    d.run(&["role", "list", "x"]).expect_etcd("role list command requires no arguments");
    d.run(&["user", "grant-role", "alice", "reader"]).expect_etcd("Role reader is granted to user alice");
    d.run(&["user", "grant-role", "alice", "writer", "-w", "fields"]);
    d.run(&["user", "grant-role", "bob", "nope"]).expect_etcd("role name not found");
    d.run(&["user", "grant-role", "nobody", "reader"]).expect_etcd("user name not found");
    d.run(&["user", "grant-role", "alice"]).expect_etcd("user grant command requires");
    d.run(&["user", "get", "alice"]).expect_etcd("Roles: reader writer");
    for format in ["simple", "json", "fields", "protobuf", "table"] {
        d.run(&["user", "get", "alice", "--detail", "-w", format]);
    }
    d.run(&["user", "get", "nobody"]).expect_etcd("user name not found");
    d.run(&["user", "get"]).expect_etcd("user get command requires user name as its argument");
    d.run(&["user", "list"]).expect_etcd("alice");
    d.run(&["user", "list", "x"]).expect_etcd("user list command requires no arguments");

    d.run(&["auth", "enable"]).expect_etcd("Authentication Enabled");
    d.run(&["get", "foo"]).expect_etcd("user name is empty");
    d.run(&[ROOT, "put", "foo", "bar"]);
    d.run(&[ALICE, "get", "foo"]).expect_etcd("bar");
    d.run(&[ALICE, "put", "zzz", "x"]);
    d.run(&[ALICE, "get", "zzz"]);
    d.run(&[ALICE, "get", "b"]).expect_etcd("permission denied");
    d.run(&[ROOT, "role", "get", "root"]);
    d.run(&[ROOT, "user", "get", "root", "--detail"]);
    d.run(&[ALICE, "user", "get", "alice"]);
    d.run(&[ALICE, "user", "get", "root"]).expect_etcd("permission denied");
    d.run(&[ALICE, "user", "list"]).expect_etcd("permission denied");
    d.run(&[ALICE, "auth", "disable"]).expect_etcd("permission denied");
    d.run(&[ROOT, "role", "revoke-permission", "reader", "foo"]).expect_etcd("Permission of key foo is revoked");
    d.run(&[ROOT, "role", "revoke-permission", "reader", "foo"]).expect_etcd("permission is not granted to the role");
    d.run(&[ROOT, "role", "revoke-permission", "reader", "--prefix", "pre/", "-w", "json"]);
    d.run(&[ROOT, "role", "revoke-permission", "reader", "a", "z", "-w", "fields"]);
    d.run(&[ROOT, "role", "revoke-permission", "reader", "--from-key", "zz"]).expect_etcd("<open ended>");
    d.run(&[ROOT, "role", "revoke-permission", "reader"]).expect_etcd("role revoke-permission command requires");
    d.run(&[ALICE, "get", "foo"]).expect_etcd("permission denied");
    d.run(&[ROOT, "user", "revoke-role", "alice", "reader"]).expect_etcd("Role reader is revoked from user alice");
    d.run(&[ROOT, "user", "revoke-role", "alice", "reader"]).expect_etcd("role is not granted to the user");
    d.run(&[ROOT, "user", "revoke-role", "alice"]).expect_etcd("user revoke-role requires");
    d.run(&[ROOT, "role", "delete", "reader"]).expect_etcd("Role reader deleted");
    d.run(&[ROOT, "role", "delete", "writer", "-w", "json"]);
    d.run(&[ROOT, "role", "delete", "root"]).expect_etcd("invalid auth management");
    d.run(&[ROOT, "role", "delete"]).expect_etcd("role delete command requires role name as its argument");
    d.run(&[ROOT, "user", "delete", "root"]).expect_etcd("invalid auth management");
    d.run(&[ROOT, "user", "delete", "alice"]).expect_etcd("User alice deleted");
    d.run(&[ROOT, "user", "delete", "bob", "-w", "fields"]);
    d.run(&[ROOT, "user", "delete"]).expect_etcd("user delete command requires user name as its argument");
    d.run_stdin(&[ROOT, "user", "passwd", "root", "--interactive=false"], "newpw\n").expect_etcd("Password updated");
    d.run_stdin(&["--user=root:newpw", "user", "passwd", "dave"], "x1\nx1\n").expect_etcd("Password of dave");
    d.run(&["--user=dave:x1", "user", "get", "dave", "-w", "json"]);
    d.run(&["--user=root:newpw", "user", "passwd"]).expect_etcd("user passwd command requires user name");
    d.run(&["--user=root:newpw", "auth", "disable"]).expect_etcd("Authentication Disabled");
    d.run(&["auth", "disable"]).expect_etcd("Authentication Disabled");
    d.run(&["get", "foo"]);
    d.run(&["user", "list", "-w", "json"]);
    d.finish();
}

#[test]
fn users_roles_and_permissions_against_cairn() {
    users_roles_and_permissions(Kind::Cairn);
}

#[test]
fn users_roles_and_permissions_against_etcd() {
    users_roles_and_permissions(Kind::Etcd);
}

/// `auth enable` with a root user that lacks the root role grants it, as etcdctl does.
fn enable_grants_the_root_role(kind: Kind) {
    let mut d = Differ::tools(kind);
    d.run(&["user", "add", "root", "--new-user-password=pw"]);
    d.run(&["auth", "enable"]).expect_etcd("Authentication Enabled");
    d.run(&["--user=root:pw", "user", "get", "root"]).expect_etcd("Roles: root");
    d.run(&["--user=root:pw", "role", "list"]);
    d.run(&["--user=root:pw", "auth", "disable"]);
    d.finish();
}

#[test]
fn enable_grants_the_root_role_against_cairn() {
    enable_grants_the_root_role(Kind::Cairn);
}

#[test]
fn enable_grants_the_root_role_against_etcd() {
    enable_grants_the_root_role(Kind::Etcd);
}
