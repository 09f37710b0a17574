//! The Rust `etcd-client` crate against a cairn member: KV, txn, watch, lease.

mod support;

use std::time::Duration;

use etcd_client::{Client, Compare, CompareOp, EventType, GetOptions, PutOptions, Txn, TxnOp, WatchOptions};
use support::Member;

async fn connect(member: &Member) -> Client {
    tokio::time::timeout(Duration::from_secs(10), Client::connect([member.endpoint.as_str()], None))
        .await
        .expect("connect in time")
        .expect("connect")
}

#[tokio::test]
async fn kv_and_txn() {
    let member = Member::start(&[]);
    let mut client = connect(&member).await;
    let put = client.put("a", "1", None).await.expect("put a");
    let first = put.header().expect("header").revision();
    client.put("b", "2", None).await.expect("put b");
    client.put("c", "3", None).await.expect("put c");

    let all = client.get("", Some(GetOptions::new().with_all_keys())).await.expect("get all");
    let keys: Vec<&[u8]> = all.kvs().iter().map(|kv| kv.key()).collect();
    assert_eq!(keys, [b"a", b"b", b"c"]);
    assert_eq!(all.header().expect("header").revision(), first + 2);

    let limited = client.get("", Some(GetOptions::new().with_all_keys().with_limit(2))).await.expect("limit");
    assert_eq!((limited.kvs().len(), limited.more(), limited.count()), (2, true, 3));

    let old = client.get("a", Some(GetOptions::new().with_revision(first))).await.expect("get at revision");
    assert_eq!(old.kvs()[0].value(), b"1");

    let txn = Txn::new()
        .when([Compare::value("a", CompareOp::Equal, "1")])
        .and_then([TxnOp::put("a", "10", None), TxnOp::get("b", None)])
        .or_else([TxnOp::put("a", "never", None)]);
    let result = client.txn(txn).await.expect("txn");
    assert!(result.succeeded());
    let a = client.get("a", None).await.expect("get a");
    assert_eq!((a.kvs()[0].value(), a.kvs()[0].version()), (&b"10"[..], 2));

    let deleted = client.delete("", Some(etcd_client::DeleteOptions::new().with_prefix())).await.expect("delete");
    assert_eq!(deleted.deleted(), 3);

    // etcd's errors come back with etcd's messages.
    let empty = client.put("", "v", None).await.expect_err("empty key");
    assert!(empty.to_string().contains("etcdserver: key is not provided"), "{empty}");
    let future = client.get("a", Some(GetOptions::new().with_revision(1_000_000))).await.expect_err("future rev");
    assert!(future.to_string().contains("required revision is a future revision"), "{future}");
}

#[tokio::test]
async fn watch_sees_puts_and_deletes_in_order() {
    let member = Member::start(&[]);
    let mut client = connect(&member).await;
    let mut stream = client.watch("w/", Some(WatchOptions::new().with_prefix().with_prev_key())).await.expect("watch");
    let mut watch_id = None;
    for i in 0..5 {
        client.put(format!("w/{i}"), format!("v{i}"), None).await.expect("put");
    }
    client.put("w/0", "again", None).await.expect("put again");
    client.delete("w/1", None).await.expect("delete");
    let mut seen = Vec::new();
    while seen.len() < 7 {
        let response = tokio::time::timeout(Duration::from_secs(10), stream.message())
            .await
            .expect("events in time")
            .expect("stream ok")
            .expect("stream open");
        watch_id.get_or_insert(response.watch_id());
        for event in response.events() {
            let kv = event.kv().expect("kv");
            let prev = event.prev_kv().map(|p| p.value().to_vec());
            seen.push((event.event_type(), kv.key().to_vec(), kv.mod_revision(), prev));
        }
    }
    let revisions: Vec<i64> = seen.iter().map(|s| s.2).collect();
    assert!(revisions.windows(2).all(|w| w[0] < w[1]), "revisions in order: {revisions:?}");
    assert_eq!(seen[5].0, EventType::Put);
    assert_eq!(seen[5].3.as_deref(), Some(&b"v0"[..]), "prev kv of the second put");
    assert_eq!((seen[6].0, seen[6].1.as_slice()), (EventType::Delete, &b"w/1"[..]));
    stream.cancel(watch_id.expect("a watch id")).await.expect("cancel");
    let canceled = tokio::time::timeout(Duration::from_secs(10), stream.message())
        .await
        .expect("cancel answered in time")
        .expect("stream ok")
        .expect("stream open");
    assert!(canceled.canceled());
}

#[tokio::test]
async fn leases_expire_and_take_their_keys() {
    let member = Member::start(&[]);
    let mut client = connect(&member).await;
    let lease = client.lease_grant(2, None).await.expect("grant");
    assert_eq!(lease.ttl(), 2);
    client.put("leased", "x", Some(PutOptions::new().with_lease(lease.id()))).await.expect("put with lease");
    let ttl = client
        .lease_time_to_live(lease.id(), Some(etcd_client::LeaseTimeToLiveOptions::new().with_keys()))
        .await
        .expect("ttl");
    assert_eq!(ttl.keys(), [b"leased".to_vec()]);
    assert!(ttl.ttl() > 0 && ttl.ttl() <= 2);

    // Kept alive past its TTL, it stays.
    let (mut keeper, mut responses) = client.lease_keep_alive(lease.id()).await.expect("keep alive");
    for _ in 0..3 {
        keeper.keep_alive().await.expect("send keep-alive");
        let response = responses.message().await.expect("response").expect("open");
        assert_eq!(response.ttl(), 2);
        tokio::time::sleep(Duration::from_millis(900)).await;
    }
    assert_eq!(client.get("leased", None).await.expect("get").count(), 1);

    // Left alone, it expires (within TTL plus the expiry check) and the key goes.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if client.get("leased", None).await.expect("get").count() == 0 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the lease did not expire");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let leases = client.leases().await.expect("leases");
    assert!(leases.leases().is_empty());

    let missing = client.lease_revoke(lease.id()).await.expect_err("revoke a gone lease");
    assert!(missing.to_string().contains("requested lease not found"), "{missing}");
}

#[tokio::test]
async fn oversized_requests_are_refused_and_the_server_goes_on() {
    let member = Member::start(&[]);
    let mut client = connect(&member).await;
    let big = vec![b'x'; 2 << 20];
    let refused = client.put("big", big, None).await.expect_err("a 2 MiB put is refused");
    assert!(refused.to_string().contains("grpc: received message larger than max"), "{refused}");
    let mid = vec![b'y'; 1_600_000];
    let refused = client.put("mid", mid, None).await.expect_err("1.6 MB is over --max-request-bytes");
    assert!(refused.to_string().contains("etcdserver: request is too large"), "{refused}");
    client.put("small", "ok", None).await.expect("the server goes on serving");
    assert_eq!(client.get("big", None).await.expect("get").count(), 0);
}

#[tokio::test]
async fn nospace_alarm_refuses_writes_until_compacted_defragmented_and_disarmed() {
    let member = Member::start(&["--quota-backend-bytes", "4000000"]);
    let mut client = connect(&member).await;
    let value = vec![b'v'; 100_000];
    let mut refused = None;
    for i in 0..200 {
        match client.put(format!("k{}", i % 5), value.clone(), None).await {
            Ok(_) => {}
            Err(e) => {
                refused = Some(e.to_string());
                break;
            }
        }
    }
    let refused = refused.expect("writes past the quota are refused");
    assert!(refused.contains("etcdserver: mvcc: database space exceeded"), "{refused}");
    let alarms = client.alarm(etcd_client::AlarmAction::Get, etcd_client::AlarmType::None, None).await.expect("alarms");
    assert_eq!(alarms.alarms().len(), 1);
    assert_eq!(alarms.alarms()[0].alarm(), etcd_client::AlarmType::Nospace);
    // Reads and deletes still work; puts do not, even small ones.
    assert_eq!(client.get("k0", None).await.expect("get").count(), 1);
    let small = client.put("small", "x", None).await.expect_err("still refused");
    assert!(small.to_string().contains("database space exceeded"), "{small}");

    // etcd's recovery: compact, defragment, disarm.
    let revision = client.get("k0", None).await.expect("get").header().expect("header").revision();
    client.compact(revision, Some(etcd_client::CompactionOptions::new().with_physical())).await.expect("compact");
    client.defragment().await.expect("defragment");
    let member_id = alarms.alarms()[0].member_id();
    let mut only_this = etcd_client::AlarmOptions::new();
    only_this.with_member(member_id);
    client
        .alarm(etcd_client::AlarmAction::Deactivate, etcd_client::AlarmType::Nospace, Some(only_this))
        .await
        .expect("disarm");
    client.put("small", "x", None).await.expect("writes are accepted again");
}
