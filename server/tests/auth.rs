//! Auth with the Rust `etcd-client` crate, and regression tests for etcd's
//! known auth holes, each refused by cairn: lease keys listed to a caller who
//! cannot read them (CVE-2023-32082), a txn put with prev_kv or a lease attach
//! on keys the caller cannot read or write, a from-key watch reaching outside
//! the caller's permission, member list / alarm / lease calls without a token,
//! a huge or empty password, a token of a deleted user, and lock / election
//! through the client.

mod support;

use std::time::Duration;

use etcd_client::{
    AlarmAction, AlarmType, Client, ConnectOptions, LeaseTimeToLiveOptions, Permission, PutOptions, Txn, TxnOp,
    WatchOptions,
};
use support::Member;

async fn connect(member: &Member, user: Option<(&str, &str)>) -> Result<Client, etcd_client::Error> {
    let options = user.map(|(name, password)| ConnectOptions::new().with_user(name, password));
    tokio::time::timeout(Duration::from_secs(10), Client::connect([member.endpoint.as_str()], options))
        .await
        .expect("connect in time")
}

/// root (root role), alice (read-write on `a/`, read on `pub`), auth on.
async fn setup(member: &Member) -> (Client, Client) {
    let mut admin = connect(member, None).await.expect("connect");
    admin.user_add("root", "rootpw", None).await.expect("add root");
    admin.user_grant_role("root", "root").await.expect("root role");
    admin.user_add("alice", "alicepw", None).await.expect("add alice");
    admin.role_add("a-role").await.expect("add role");
    admin.role_grant_permission("a-role", Permission::read_write("a/").with_prefix()).await.expect("grant a/");
    admin.role_grant_permission("a-role", Permission::read("pub")).await.expect("grant pub");
    admin.user_grant_role("alice", "a-role").await.expect("grant role");
    admin.auth_enable().await.expect("enable");
    let root = connect(member, Some(("root", "rootpw"))).await.expect("root logs in");
    let alice = connect(member, Some(("alice", "alicepw"))).await.expect("alice logs in");
    (root, alice)
}

fn denied(e: etcd_client::Error) -> String {
    let text = e.to_string();
    assert!(text.contains("permission denied"), "expected permission denied, got {text}");
    text
}

#[tokio::test]
async fn users_roles_and_permissions_through_the_rust_client() {
    let member = Member::start(&["--bcrypt-cost", "4"]);
    let (mut root, mut alice) = setup(&member).await;
    root.put("secret", "s", None).await.expect("root writes anywhere");
    alice.put("a/1", "v", None).await.expect("alice writes a/");
    assert_eq!(alice.get("a/1", None).await.expect("read a/1").kvs()[0].value(), b"v");
    denied(alice.put("secret", "x", None).await.expect_err("alice may not write secret"));
    denied(alice.get("secret", None).await.expect_err("alice may not read secret"));
    denied(alice.put("pub", "x", None).await.expect_err("pub is read-only for alice"));
    denied(alice.auth_disable().await.expect_err("only root turns auth off"));
    let Err(wrong) = connect(&member, Some(("alice", "nope"))).await else { panic!("a wrong password connected") };
    assert!(wrong.to_string().contains("authentication failed, invalid user ID or password"), "{wrong}");
    let users = root.user_list().await.expect("user list");
    assert_eq!(users.users(), ["alice", "root"]);
    // A permission change takes effect at once: alice's next write is refused.
    root.role_revoke_permission("a-role", "a/", Some(etcd_client::RoleRevokePermissionOptions::new().with_prefix()))
        .await
        .expect("revoke a/");
    let mut alice = connect(&member, Some(("alice", "alicepw"))).await.expect("alice again");
    denied(alice.put("a/2", "v", None).await.expect_err("a/ was revoked"));
}

#[tokio::test]
async fn lease_keys_are_listed_only_to_readers() {
    let member = Member::start(&["--bcrypt-cost", "4"]);
    let (mut root, mut alice) = setup(&member).await;
    let lease = alice.lease_grant(60, None).await.expect("alice grants a lease").id();
    alice.put("a/k", "v", Some(PutOptions::new().with_lease(lease))).await.expect("alice attaches a/k");
    root.put("secret", "s", Some(PutOptions::new().with_lease(lease))).await.expect("root attaches secret");
    let keys = Some(LeaseTimeToLiveOptions::new().with_keys());
    denied(alice.lease_time_to_live(lease, keys.clone()).await.expect_err("CVE-2023-32082: secret is listed"));
    alice.lease_time_to_live(lease, None).await.expect("without keys it is fine");
    let listed = root.lease_time_to_live(lease, keys).await.expect("root lists them");
    assert_eq!(listed.keys().len(), 2);
    denied(alice.lease_revoke(lease).await.expect_err("revoking would delete secret"));
}

#[tokio::test]
async fn txn_prev_kv_and_lease_attach_need_their_permissions() {
    let member = Member::start(&["--bcrypt-cost", "4"]);
    let (mut root, mut alice) = setup(&member).await;
    root.put("pub", "public", None).await.expect("root writes pub");
    // alice may read pub but not write it; prev_kv on a key she may only write is refused too.
    let put_pub = Txn::new().and_then([TxnOp::put("pub", "x", None)]);
    denied(alice.txn(put_pub).await.expect_err("txn put on a read-only key"));
    root.role_add("w-only").await.expect("add w-only");
    root.role_grant_permission("w-only", Permission::write("wo")).await.expect("grant wo");
    root.user_grant_role("alice", "w-only").await.expect("grant w-only");
    let mut alice = connect(&member, Some(("alice", "alicepw"))).await.expect("alice again");
    alice.put("wo", "1", None).await.expect("alice writes wo");
    let prev = Txn::new().and_then([TxnOp::put("wo", "2", Some(PutOptions::new().with_prev_key()))]);
    denied(alice.txn(prev).await.expect_err("prev_kv of a key alice cannot read"));
    denied(alice.put("wo", "3", Some(PutOptions::new().with_prev_key())).await.expect_err("the same outside a txn"));
    // Attaching a key to a lease that holds a key alice cannot write.
    let lease = root.lease_grant(60, None).await.expect("root lease").id();
    root.put("secret", "s", Some(PutOptions::new().with_lease(lease))).await.expect("root attaches secret");
    let attach = Txn::new().and_then([TxnOp::put("a/x", "v", Some(PutOptions::new().with_lease(lease)))]);
    denied(alice.txn(attach).await.expect_err("lease attach next to secret"));
    let attach = Some(PutOptions::new().with_lease(lease));
    denied(alice.put("a/y", "v", attach.clone()).await.expect_err("the same outside a txn"));
    // A key alice cannot write, attached to her own lease, in a txn and outside one.
    let own = alice.lease_grant(60, None).await.expect("alice's lease").id();
    let own_attach = Some(PutOptions::new().with_lease(own));
    let put_pub = Txn::new().and_then([TxnOp::put("pub", "x", own_attach.clone())]);
    denied(alice.txn(put_pub).await.expect_err("a read-only key on alice's lease"));
    denied(alice.put("secret", "x", own_attach).await.expect_err("a key she cannot touch on her lease"));
    // Nothing of it was written.
    let secret = root.get("secret", None).await.expect("root reads secret");
    assert_eq!(secret.kvs()[0].value(), b"s");
    assert_eq!(root.get("a/", Some(etcd_client::GetOptions::new().with_prefix())).await.expect("a/").count(), 0);
}

/// Tokens that are not valid (made up, or of a signature that does not match) are refused with
/// etcd's code and message on KV, member list, alarm and lease calls.
#[tokio::test]
async fn made_up_tokens_are_refused() {
    use cairn_proto::etcdserverpb::{
        AlarmRequest, LeaseGrantRequest, RangeRequest, kv_client::KvClient, lease_client::LeaseClient,
        maintenance_client::MaintenanceClient,
    };
    let member = Member::start(&["--bcrypt-cost", "4"]);
    let (_root, _alice) = setup(&member).await;
    let channel = tonic::transport::Channel::from_shared(format!("http://{}", member.endpoint))
        .expect("a channel url")
        .connect()
        .await
        .expect("connect");
    fn with_token<T>(message: T, token: &str) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        request.metadata_mut().insert("token", token.parse().expect("an ascii token"));
        request
    }
    for token in ["garbage", "alice.1", "rootpw", &"x".repeat(4096)] {
        let invalid = |e: tonic::Status| {
            assert_eq!(
                (e.code(), e.message()),
                (tonic::Code::Unauthenticated, "etcdserver: invalid auth token"),
                "{token:?}"
            );
        };
        let range = RangeRequest { key: b"pub".to_vec(), ..Default::default() };
        invalid(KvClient::new(channel.clone()).range(with_token(range, token)).await.expect_err("range"));
        let grant = LeaseGrantRequest { ttl: 10, id: 0 };
        invalid(LeaseClient::new(channel.clone()).lease_grant(with_token(grant, token)).await.expect_err("grant"));
        let alarm = AlarmRequest::default();
        invalid(MaintenanceClient::new(channel.clone()).alarm(with_token(alarm, token)).await.expect_err("alarm"));
    }
}

/// Passwords reach the raft log and the backend only as bcrypt hashes: neither the one a user
/// was added with nor a changed one is found in any file of the data dir.
#[tokio::test]
async fn passwords_are_stored_only_as_hashes() {
    let member = Member::start(&["--bcrypt-cost", "4"]);
    let (mut root, _alice) = setup(&member).await;
    let (first, second) = ("plain-text-first-8c41e", "plain-text-second-77d0a");
    root.user_add("carol", first, None).await.expect("add carol");
    connect(&member, Some(("carol", first))).await.expect("carol logs in");
    root.user_change_password("carol", second).await.expect("change carol's password");
    connect(&member, Some(("carol", second))).await.expect("carol logs in with the new one");
    assert!(connect(&member, Some(("carol", first))).await.is_err(), "the old password still works");
    let mut files = 0;
    let mut pending = vec![member.dir.path().to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).expect("read a data dir folder") {
            let path = entry.expect("a dir entry").path();
            if path.is_dir() {
                pending.push(path);
                continue;
            }
            // LMDB's file is a sparse map of its whole size; what is written sits at its start.
            let mut bytes = Vec::new();
            let file = std::fs::File::open(&path).expect("open a data file");
            std::io::Read::read_to_end(&mut std::io::Read::take(file, 256 << 20), &mut bytes).expect("read it");
            // Zeros at the end (a preallocated WAL segment, the map's unused pages) hold nothing.
            bytes.truncate(bytes.iter().rposition(|&b| b != 0).map_or(0, |last| last + 1));
            files += 1;
            for password in [first, second, "alicepw", "rootpw"] {
                let found = bytes.windows(password.len()).any(|w| w == password.as_bytes());
                assert!(!found, "{password:?} is in {}", path.display());
            }
        }
    }
    assert!(files >= 2, "the data dir holds the WAL and the backend ({files} files)");
}

#[tokio::test]
async fn a_from_key_watch_must_stay_inside_the_permission() {
    let member = Member::start(&["--bcrypt-cost", "4"]);
    let (_root, mut alice) = setup(&member).await;
    let mut stream =
        alice.watch("a/", Some(WatchOptions::new().with_from_key())).await.expect("the watch stream opens");
    let response = tokio::time::timeout(Duration::from_secs(5), stream.message())
        .await
        .expect("an answer in time")
        .expect("no stream error")
        .expect("a response");
    assert!(response.canceled(), "a from-key watch past a/ is canceled: {response:?}");
    assert!(response.cancel_reason().contains("permission denied"), "{}", response.cancel_reason());
    let mut stream = alice.watch("a/", Some(WatchOptions::new().with_prefix())).await.expect("a prefix watch opens");
    let created = tokio::time::timeout(Duration::from_secs(5), stream.message())
        .await
        .expect("an answer in time")
        .expect("no stream error")
        .expect("a response");
    assert!(created.created() && !created.canceled(), "the a/ prefix is alice's: {created:?}");
}

#[tokio::test]
async fn calls_without_a_valid_token_are_refused() {
    let member = Member::start(&["--bcrypt-cost", "4"]);
    let (mut root, _alice) = setup(&member).await;
    let mut anonymous = connect(&member, None).await.expect("connect without a user");
    let empty = |e: etcd_client::Error| {
        assert!(e.to_string().contains("user name is empty"), "{e}");
    };
    empty(anonymous.member_list().await.expect_err("member list"));
    empty(anonymous.lease_grant(10, None).await.expect_err("lease grant"));
    empty(anonymous.leases().await.expect_err("lease list"));
    empty(anonymous.get("pub", None).await.expect_err("get"));
    empty(anonymous.alarm(AlarmAction::Get, AlarmType::None, None).await.expect_err("alarm"));
    let mut alice = connect(&member, Some(("alice", "alicepw"))).await.expect("alice");
    denied(alice.alarm(AlarmAction::Get, AlarmType::None, None).await.expect_err("alarm is for root"));
    // A deleted user's token is dead at once.
    root.user_delete("alice").await.expect("delete alice");
    let gone = alice.get("a/1", None).await.expect_err("a deleted user's token");
    // (The client tries to log in again on "invalid auth token", which fails.)
    let gone = gone.to_string();
    assert!(gone.contains("invalid auth token") || gone.contains("authentication failed"), "{gone}");
    // Passwords: empty and longer than bcrypt reads are refused.
    let e = root.user_add("bob", "", None).await.expect_err("empty password");
    assert!(e.to_string().contains("password is empty"), "{e}");
    let e = root.user_add("bob", "p".repeat(100_000), None).await.expect_err("huge password");
    assert!(e.to_string().contains("password is longer than 72 bytes"), "{e}");
    let e = root.user_add("", "pw", None).await.expect_err("empty user name");
    assert!(e.to_string().contains("user name is empty"), "{e}");
}

#[tokio::test]
async fn lock_and_election_with_auth() {
    let member = Member::start(&["--bcrypt-cost", "4"]);
    let (_root, mut alice) = setup(&member).await;
    let lease = alice.lease_grant(30, None).await.expect("lease").id();
    let lock = alice
        .lock("a/lock", Some(etcd_client::LockOptions::new().with_lease(lease)))
        .await
        .expect("alice locks under a/");
    alice.unlock(lock.key()).await.expect("unlock");
    let elected = alice
        .campaign("a/elect", "me", lease)
        .await
        .expect("alice campaigns under a/")
        .leader()
        .cloned()
        .expect("a leader key");
    let leader = alice.leader("a/elect").await.expect("leader");
    assert_eq!(leader.kv().expect("kv").value(), b"me");
    alice.resign(Some(etcd_client::ResignOptions::new().with_leader(elected))).await.expect("resign");
    let e = alice.lock("secret", Some(etcd_client::LockOptions::new().with_lease(lease))).await.expect_err("secret");
    denied(e);
}

/// `--auth-token jwt,...`: tokens are JWTs any member verifies; a wrong password gets none.
#[tokio::test]
async fn jwt_tokens() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("a key");
    let (public, private) = (dir.path().join("jwt.pub"), dir.path().join("jwt.key"));
    std::fs::write(&public, pair.public_key_pem()).expect("write");
    std::fs::write(&private, pair.serialize_pem()).expect("write");
    let option = format!(
        "--auth-token=jwt,pub-key={},priv-key={},sign-method=ES256,ttl=5m",
        public.display(),
        private.display()
    );
    let member = Member::start(&["--bcrypt-cost", "4", &option]);
    let (mut root, mut alice) = setup(&member).await;
    root.put("x", "1", None).await.expect("root with a JWT");
    alice.put("a/1", "v", None).await.expect("alice with a JWT");
    denied(alice.get("x", None).await.expect_err("alice may not read x"));
    let auth = connect(&member, None).await.expect("connect");
    let token = auth.auth_client().authenticate("alice".into(), "alicepw".into()).await.expect("authenticate");
    assert_eq!(token.token().split('.').count(), 3, "a JWT: {}", token.token());
    let Err(wrong) = connect(&member, Some(("alice", "nope"))).await else { panic!("a wrong password connected") };
    assert!(wrong.to_string().contains("authentication failed"), "{wrong}");
}
