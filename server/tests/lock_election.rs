//! The Rust `etcd-client` crate's lock and election clients against a cairn
//! member (etcd's v3lock and v3election services). The codes and messages
//! asserted here are what etcd 3.4 answers.

mod support;

use std::time::Duration;

use etcd_client::{Client, GetOptions, LeaderKey, LockOptions, ProclaimOptions, ResignOptions};
use support::Member;

const BOUND: Duration = Duration::from_secs(10);

async fn connect(member: &Member) -> Client {
    tokio::time::timeout(BOUND, Client::connect([member.endpoint.as_str()], None))
        .await
        .expect("connect in time")
        .expect("connect")
}

async fn lease(client: &mut Client, ttl: i64) -> i64 {
    client.lease_grant(ttl, None).await.expect("grant").id()
}

async fn keys(client: &mut Client, prefix: &str) -> Vec<String> {
    let found = client.get(prefix, Some(GetOptions::new().with_prefix())).await.expect("get prefix");
    found.kvs().iter().map(|kv| String::from_utf8_lossy(kv.key()).into_owned()).collect()
}

/// Polls until `prefix` holds exactly `expected` keys, at most [`BOUND`].
async fn wait_keys(client: &mut Client, prefix: &str, expected: &[String]) {
    let deadline = tokio::time::Instant::now() + BOUND;
    loop {
        let found = keys(client, prefix).await;
        if found == expected {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "keys under {prefix}: {found:?}, expected {expected:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn status_of(e: etcd_client::Error) -> tonic::Status {
    match e {
        etcd_client::Error::GRpcStatus(status) => status,
        other => panic!("not a gRPC status: {other}"),
    }
}

#[tokio::test]
async fn lock_waits_for_the_holder_and_cleans_up_after_waiters() {
    let member = Member::start(&[]);
    let mut client = connect(&member).await;
    let (l1, l2, l3) = (lease(&mut client, 60).await, lease(&mut client, 60).await, lease(&mut client, 60).await);

    let held = client.lock("mylock", Some(LockOptions::new().with_lease(l1))).await.expect("lock");
    let key = String::from_utf8(held.key().to_vec()).expect("utf-8 key");
    assert_eq!(key, format!("mylock/{l1:x}"));
    let put_revision = held.header().expect("header").revision();
    // Locking again with the same lease is the same acquisition.
    let again = client.lock("mylock", Some(LockOptions::new().with_lease(l1))).await.expect("lock again");
    assert_eq!((again.key(), again.header().expect("header").revision()), (held.key(), put_revision));

    // A second locker waits until the holder unlocks.
    let mut second = client.clone();
    let waiter = tokio::spawn(async move { second.lock("mylock", Some(LockOptions::new().with_lease(l2))).await });
    wait_keys(&mut client, "mylock/", &[key.clone(), format!("mylock/{l2:x}")]).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!waiter.is_finished(), "the second locker got the lock while it was held");

    // A third gives up waiting (its call is dropped): its key goes, as etcd's Mutex deletes it.
    let mut third = client.clone();
    let gave_up =
        tokio::time::timeout(Duration::from_millis(500), third.lock("mylock", Some(LockOptions::new().with_lease(l3))))
            .await;
    assert!(gave_up.is_err(), "the third locker got the lock while it was held");
    wait_keys(&mut client, "mylock/", &[key.clone(), format!("mylock/{l2:x}")]).await;

    let unlocked = client.unlock(key.clone()).await.expect("unlock");
    let unlock_revision = unlocked.header().expect("header").revision();
    let got = tokio::time::timeout(BOUND, waiter).await.expect("the waiter in time").expect("join").expect("lock");
    assert_eq!(got.key(), format!("mylock/{l2:x}").as_bytes());
    assert!(got.header().expect("header").revision() >= unlock_revision);
    client.unlock(got.key()).await.expect("unlock the second");
    wait_keys(&mut client, "mylock/", &[]).await;

    // etcd's errors: gRPC code Unknown with the embedded client's message.
    let missing = client.lock("other", Some(LockOptions::new().with_lease(0x1234))).await.expect_err("no such lease");
    let status = status_of(missing);
    assert_eq!((status.code(), status.message()), (tonic::Code::Unknown, "etcdserver: requested lease not found"));
    let status = status_of(client.unlock("").await.expect_err("empty key"));
    assert_eq!((status.code(), status.message()), (tonic::Code::Unknown, "etcdserver: key is not provided"));
    // Unlocking a key that is not there is fine.
    client.unlock("mylock/nothing").await.expect("unlock nothing");

    // Without a lease, the server grants one of 60 s (etcd's session TTL).
    let own = client.lock("nolease", None).await.expect("lock without a lease");
    let kv = client.get(own.key(), None).await.expect("get");
    let lease_id = kv.kvs()[0].lease();
    assert_eq!(own.key(), format!("nolease/{lease_id:x}").as_bytes());
    let ttl = client.lease_time_to_live(lease_id, None).await.expect("ttl");
    assert_eq!(ttl.granted_ttl(), 60);
}

#[tokio::test]
async fn a_waiter_whose_lease_expires_is_told() {
    let member = Member::start(&[]);
    let mut client = connect(&member).await;
    let holder = lease(&mut client, 60).await;
    let short = lease(&mut client, 2).await;
    client.lock("expiring", Some(LockOptions::new().with_lease(holder))).await.expect("lock");
    let mut second = client.clone();
    let waited = tokio::time::timeout(BOUND, second.lock("expiring", Some(LockOptions::new().with_lease(short))))
        .await
        .expect("an answer before the holder unlocks");
    let status = status_of(waited.expect_err("the waiter's lease expired"));
    assert_eq!((status.code(), status.message()), (tonic::Code::Unknown, "mutex: session is expired"));
    assert_eq!(keys(&mut client, "expiring/").await, [format!("expiring/{holder:x}")]);
}

#[tokio::test]
async fn campaign_proclaim_leader_observe_resign() {
    let member = Member::start(&[]);
    let mut client = connect(&member).await;
    let (l1, l2) = (lease(&mut client, 60).await, lease(&mut client, 60).await);

    let status = status_of(client.leader("myelection").await.expect_err("no leader yet"));
    assert_eq!((status.code(), status.message()), (tonic::Code::Unknown, "election: no leader"));

    let mut observer = client.clone();
    let mut observed = observer.observe("myelection").await.expect("observe");
    let mut next = async || {
        let response = tokio::time::timeout(BOUND, observed.message())
            .await
            .expect("an observation in time")
            .expect("observe ok")
            .expect("observe open");
        let kv = response.kv().expect("kv");
        (String::from_utf8_lossy(kv.key()).into_owned(), String::from_utf8_lossy(kv.value()).into_owned())
    };

    let won = client.campaign("myelection", "p1", l1).await.expect("campaign");
    let leader: LeaderKey = won.leader().expect("leader key").clone();
    let key1 = format!("myelection/{l1:x}");
    assert_eq!((leader.name(), leader.key(), leader.lease()), (&b"myelection"[..], key1.as_bytes(), l1));
    assert_eq!(leader.rev(), won.header().expect("header").revision());
    assert_eq!(next().await, (key1.clone(), "p1".to_owned()));

    let current = client.leader("myelection").await.expect("leader");
    assert_eq!(current.kv().expect("kv").value(), b"p1");

    client.proclaim("p1b", Some(ProclaimOptions::new().with_leader(leader.clone()))).await.expect("proclaim");
    assert_eq!(next().await, (key1.clone(), "p1b".to_owned()));

    // A second candidate waits while the first leads.
    let mut second = client.clone();
    let candidate = tokio::spawn(async move { second.campaign("myelection", "p2", l2).await });
    wait_keys(&mut client, "myelection/", &[key1.clone(), format!("myelection/{l2:x}")]).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!candidate.is_finished(), "the second candidate won while the first led");

    client.resign(Some(ResignOptions::new().with_leader(leader.clone()))).await.expect("resign");
    let won2 = tokio::time::timeout(BOUND, candidate).await.expect("elected in time").expect("join").expect("campaign");
    let key2 = format!("myelection/{l2:x}");
    assert_eq!(won2.leader().expect("leader key").key(), key2.as_bytes());
    assert_eq!(next().await, (key2.clone(), "p2".to_owned()));
    assert_eq!(client.leader("myelection").await.expect("leader").kv().expect("kv").value(), b"p2");

    // The first leader's key is stale now.
    let stale = client.proclaim("again", Some(ProclaimOptions::new().with_leader(leader.clone()))).await;
    let status = status_of(stale.expect_err("not the leader"));
    assert_eq!((status.code(), status.message()), (tonic::Code::Unknown, "election: not leader"));
    client.resign(Some(ResignOptions::new().with_leader(leader))).await.expect("resigning twice is fine");
    let status = status_of(client.resign(None).await.expect_err("no leader key"));
    assert_eq!((status.code(), status.message()), (tonic::Code::Unknown, "\"leader\" field must be provided"));

    // Revoking the leader's lease ends its leadership; observers see the next put.
    client.lease_revoke(l2).await.expect("revoke");
    client.put("myelection/manual", "p3", None).await.expect("put");
    assert_eq!(next().await, ("myelection/manual".to_owned(), "p3".to_owned()));
}

#[tokio::test]
async fn an_abandoned_campaign_resigns_and_observe_keeps_the_deadline() {
    use cairn_proto::v3electionpb::LeaderRequest;
    use cairn_proto::v3electionpb::election_client::ElectionClient;

    let member = Member::start(&[]);
    let mut client = connect(&member).await;
    let (l1, l2) = (lease(&mut client, 60).await, lease(&mut client, 60).await);
    client.campaign("e", "first", l1).await.expect("campaign");
    let mut second = client.clone();
    let gave_up = tokio::time::timeout(Duration::from_millis(500), second.campaign("e", "second", l2)).await;
    assert!(gave_up.is_err(), "the second candidate won while the first led");
    // As etcd, the server resigns for a candidate that gave up.
    wait_keys(&mut client, "e/", &[format!("e/{l1:x}")]).await;

    // A deadline ends an observation with etcd's error.
    let channel = tonic::transport::Channel::from_shared(format!("http://{}", member.endpoint))
        .expect("endpoint")
        .connect()
        .await
        .expect("connect");
    let mut request = tonic::Request::new(LeaderRequest { name: b"e".to_vec() });
    request.set_timeout(Duration::from_millis(300));
    let mut observed = ElectionClient::new(channel).observe(request).await.expect("observe").into_inner();
    let first = observed.message().await.expect("first").expect("open");
    assert_eq!(first.kv.expect("kv").value, b"first");
    let end = tokio::time::timeout(BOUND, observed.message()).await.expect("ended in time");
    let status = end.expect_err("deadline");
    assert_eq!((status.code(), status.message()), (tonic::Code::Unknown, "context deadline exceeded"));
}
