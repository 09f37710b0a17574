//! `stm`: software transactional memory transactions as etcd's
//! `clientv3/concurrency` runs them (read through a cache, buffer the writes,
//! commit them in one txn guarded by what the isolation level asks, retry on
//! conflict), optionally each under a lock (`--stm-locker`).

use std::collections::BTreeSet;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use cairn_proto::etcdserverpb::compare::{CompareResult, CompareTarget, TargetUnion};
use cairn_proto::etcdserverpb::range_request::{SortOrder, SortTarget};
use cairn_proto::etcdserverpb::request_op::Request as Op;
use cairn_proto::etcdserverpb::response_op::Response;
use cairn_proto::etcdserverpb::{
    Compare, DeleteRangeRequest, LeaseGrantRequest, PutRequest, RangeRequest, RequestOp, TxnRequest, TxnResponse,
};
use cairn_proto::v3lockpb::{LockRequest, UnlockRequest};

use crate::conn::Conn;
use crate::keys::{Pacer, Rng, prefix_end, varint_key};
use crate::lease::KeepAlive;
use crate::progress::Progress;
use crate::report::Recorder;
use crate::workers::{self, Phase};

/// Which reads a commit re-checks (etcd's `concurrency.Isolation`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isolation {
    /// `c`: no checks; writes win.
    ReadCommitted,
    /// `r`: every key read is unchanged at commit.
    RepeatableReads,
    /// `s`: reads after the first are at the first read's revision; checked as `r`.
    Serializable,
    /// `ss`: as `s`, and no key written was changed after the first read.
    SerializableSnapshot,
}

impl FromStr for Isolation {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "c" => Isolation::ReadCommitted,
            "r" => Isolation::RepeatableReads,
            "s" => Isolation::Serializable,
            "ss" => Isolation::SerializableSnapshot,
            other => bail!(
                "--isolation: Read Committed (c), Repeatable Reads (r), Serializable (s), or Snapshot (ss); not {other:?}"
            ),
        })
    }
}

/// `--stm-locker`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Locker {
    /// No lock: the STM's own retries.
    Stm,
    /// etcd's client-side mutex (`concurrency.Mutex`) over plain KV calls.
    LockClient,
    /// The server's Lock service.
    LockRpc,
}

impl FromStr for Locker {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "stm" => Locker::Stm,
            "lock-client" => Locker::LockClient,
            "lock-rpc" => Locker::LockRpc,
            other => bail!("unexpected stm locker {other:?}"),
        })
    }
}

/// `stm`'s flags.
#[derive(Debug, Clone)]
pub struct StmOpts {
    pub isolation: Isolation,
    pub keys: u64,
    pub total: u64,
    pub keys_per_txn: usize,
    pub txn_wr_percent: u64,
    pub locker: Locker,
    pub val_size: usize,
    pub rate: u64,
}

/// What one attempt of a transaction read and will write.
#[derive(Debug, Default, Clone, PartialEq)]
struct Attempt {
    /// Keys read and the mod revision each had (0: absent).
    reads: Vec<(Vec<u8>, i64)>,
    /// Keys to write and their values, in order.
    writes: Vec<(Vec<u8>, Vec<u8>)>,
    /// Store revision of the first read.
    first_rev: Option<i64>,
}

fn mod_compare(key: &[u8], result: CompareResult, rev: i64) -> Compare {
    Compare {
        result: result as i32,
        target: CompareTarget::Mod as i32,
        key: key.to_vec(),
        range_end: Vec::new(),
        target_union: Some(TargetUnion::ModRevision(rev)),
    }
}

/// The commit of `attempt` under `isolation`: its guards and its puts.
fn commit(isolation: Isolation, attempt: &Attempt) -> TxnRequest {
    let reads_current = || attempt.reads.iter().map(|(k, rev)| mod_compare(k, CompareResult::Equal, *rev));
    let compare = match isolation {
        Isolation::ReadCommitted => Vec::new(),
        Isolation::RepeatableReads | Isolation::Serializable => reads_current().collect(),
        Isolation::SerializableSnapshot => {
            let first = attempt.first_rev.unwrap_or(i64::MAX - 1);
            let unwritten = attempt.writes.iter().map(|(k, _)| mod_compare(k, CompareResult::Less, first + 1));
            reads_current().chain(unwritten).collect()
        }
    };
    let success = attempt
        .writes
        .iter()
        .map(|(key, value)| RequestOp {
            request: Some(Op::RequestPut(PutRequest { key: key.clone(), value: value.clone(), ..Default::default() })),
        })
        .collect();
    TxnRequest { compare, success, failure: Vec::new() }
}

/// Reads each key in `keys` through the STM, writing a fresh value to the
/// first `writes` of them, and commits; retries until the commit succeeds.
async fn transact(
    conn: &Conn,
    isolation: Isolation,
    keys: &[Vec<u8>],
    writes: usize,
    rng: &mut Rng,
    val_size: usize,
) -> Result<()> {
    let mut kv = conn.kv();
    let snapshot = matches!(isolation, Isolation::Serializable | Isolation::SerializableSnapshot);
    loop {
        let mut attempt = Attempt::default();
        for (i, key) in keys.iter().enumerate() {
            let request = RangeRequest {
                key: key.clone(),
                revision: if snapshot { attempt.first_rev.unwrap_or(0) } else { 0 },
                serializable: snapshot && attempt.first_rev.is_some(),
                ..Default::default()
            };
            let response = kv.range(request).await.map_err(|e| anyhow!("{}", e.message()))?.into_inner();
            attempt.first_rev.get_or_insert(response.header.map_or(0, |h| h.revision));
            attempt.reads.push((key.clone(), response.kvs.first().map_or(0, |kv| kv.mod_revision)));
            if i < writes {
                attempt.writes.push((key.clone(), rng.bytes(val_size)));
            }
        }
        let response = kv.txn(commit(isolation, &attempt)).await.map_err(|e| anyhow!("{}", e.message()))?;
        if response.into_inner().succeeded {
            return Ok(());
        }
    }
}

/// A lock around each transaction, held by one client's session lease.
enum Lock {
    None,
    Client { lease: i64 },
    Rpc { lease: i64 },
}

const LOCK_NAME: &[u8] = b"stmlock";
const SESSION_TTL: i64 = 60;

impl Lock {
    async fn new(conn: &Conn, locker: Locker) -> Result<(Lock, Option<tokio::task::JoinHandle<()>>)> {
        if locker == Locker::Stm {
            return Ok((Lock::None, None));
        }
        // A session: a lease kept alive for as long as the client runs.
        let lease = conn.lease().lease_grant(LeaseGrantRequest { ttl: SESSION_TTL, id: 0 }).await?.into_inner().id;
        let mut keep = KeepAlive::open(conn, lease).await?;
        let keeper = tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs((SESSION_TTL / 3) as u64)).await;
                if keep.once().await.is_err() {
                    return;
                }
            }
        });
        let lock = if locker == Locker::LockClient { Lock::Client { lease } } else { Lock::Rpc { lease } };
        Ok((lock, Some(keeper)))
    }

    /// Takes the lock; returns the key that holds it.
    async fn lock(&self, conn: &Conn) -> Result<Vec<u8>> {
        match self {
            Lock::None => Ok(Vec::new()),
            Lock::Rpc { lease } => {
                let request = LockRequest { name: LOCK_NAME.to_vec(), lease: *lease };
                Ok(conn.lock().lock(request).await.map_err(|e| anyhow!("lock: {}", e.message()))?.into_inner().key)
            }
            Lock::Client { lease } => mutex_lock(conn, *lease).await,
        }
    }

    async fn unlock(&self, conn: &Conn, key: Vec<u8>) -> Result<()> {
        match self {
            Lock::None => Ok(()),
            Lock::Rpc { .. } => {
                conn.lock().unlock(UnlockRequest { key }).await.map_err(|e| anyhow!("unlock: {}", e.message()))?;
                Ok(())
            }
            Lock::Client { .. } => {
                let delete = DeleteRangeRequest { key, ..Default::default() };
                conn.kv().delete_range(delete).await.map_err(|e| anyhow!("unlock: {}", e.message()))?;
                Ok(())
            }
        }
    }
}

fn range_of(response: &TxnResponse, i: usize) -> Option<&cairn_proto::etcdserverpb::RangeResponse> {
    match response.responses.get(i)?.response.as_ref()? {
        Response::ResponseRange(r) => Some(r),
        _ => None,
    }
}

/// etcd's `concurrency.Mutex.Lock`: queue a key under the lock's prefix, then
/// wait until every key queued before it is deleted.
async fn mutex_lock(conn: &Conn, lease: i64) -> Result<Vec<u8>> {
    let mut kv = conn.kv();
    let mut prefix = LOCK_NAME.to_vec();
    prefix.push(b'/');
    let my_key = [prefix.as_slice(), format!("{lease:x}").as_bytes()].concat();
    let owner = RangeRequest {
        key: prefix.clone(),
        range_end: prefix_end(&prefix),
        sort_order: SortOrder::Ascend as i32,
        sort_target: SortTarget::Create as i32,
        limit: 1,
        ..Default::default()
    };
    let get_mine = RangeRequest { key: my_key.clone(), ..Default::default() };
    let op = |r: Op| RequestOp { request: Some(r) };
    let txn = TxnRequest {
        compare: vec![Compare {
            result: CompareResult::Equal as i32,
            target: CompareTarget::Create as i32,
            key: my_key.clone(),
            range_end: Vec::new(),
            target_union: Some(TargetUnion::CreateRevision(0)),
        }],
        success: vec![
            op(Op::RequestPut(PutRequest { key: my_key.clone(), lease, ..Default::default() })),
            op(Op::RequestRange(owner.clone())),
        ],
        failure: vec![op(Op::RequestRange(get_mine)), op(Op::RequestRange(owner))],
    };
    let response = kv.txn(txn).await.map_err(|e| anyhow!("lock: {}", e.message()))?.into_inner();
    let my_rev = if response.succeeded {
        response.header.as_ref().map_or(0, |h| h.revision)
    } else {
        range_of(&response, 0).and_then(|r| r.kvs.first()).map_or(0, |kv| kv.create_revision)
    };
    let owner_rev = range_of(&response, 1).and_then(|r| r.kvs.first()).map_or(0, |kv| kv.create_revision);
    if owner_rev == my_rev {
        return Ok(my_key);
    }
    // Wait for the last key queued before ours to go, until none is left.
    loop {
        let before = RangeRequest {
            key: prefix.clone(),
            range_end: prefix_end(&prefix),
            sort_order: SortOrder::Descend as i32,
            sort_target: SortTarget::Create as i32,
            max_create_revision: my_rev - 1,
            limit: 1,
            ..Default::default()
        };
        let response = kv.range(before).await.map_err(|e| anyhow!("lock: {}", e.message()))?.into_inner();
        let Some(last) = response.kvs.first() else {
            return Ok(my_key);
        };
        let rev = response.header.map_or(0, |h| h.revision);
        wait_delete(conn, last.key.clone(), rev).await?;
    }
}

async fn wait_delete(conn: &Conn, key: Vec<u8>, rev: i64) -> Result<()> {
    use cairn_proto::etcdserverpb::watch_request::RequestUnion;
    use cairn_proto::etcdserverpb::{WatchCreateRequest, WatchRequest};
    use tonic::codegen::tokio_stream::wrappers::ReceiverStream;
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    let create = WatchCreateRequest { key, start_revision: rev + 1, ..Default::default() };
    tx.send(WatchRequest { request_union: Some(RequestUnion::CreateRequest(create)) }).await.context("watch closed")?;
    let mut responses = conn.watch().watch(ReceiverStream::new(rx)).await?.into_inner();
    while let Some(response) = responses.message().await? {
        // Event type 1 is DELETE.
        if response.events.iter().any(|e| e.r#type == 1) {
            return Ok(());
        }
    }
    bail!("watch ended before the lock holder went")
}

/// Runs `total` STM transactions over `keys` keys, `keys_per_txn` each.
pub async fn stm(conns: &[Conn], clients: usize, o: &StmOpts) -> Result<Vec<Phase>> {
    if o.keys == 0 {
        bail!("expected positive --keys, got (0)");
    }
    if o.txn_wr_percent > 100 {
        bail!("expected [0, 100] --txn-wr-percent, got ({})", o.txn_wr_percent);
    }
    if o.keys_per_txn as u64 > o.keys {
        bail!("expected --keys-per-txn between 0 and {}, got ({})", o.keys, o.keys_per_txn);
    }
    let pacer = Arc::new(Pacer::new(o.total, o.rate));
    let (progress, drawing) = Progress::start(o.total);
    let started = Instant::now();
    let recorders = workers::run(clients, |c| {
        let conn = conns[c % conns.len()].clone();
        let (pacer, progress, o) = (pacer.clone(), progress.clone(), o.clone());
        async move {
            let mut rec = Recorder::default();
            let mut rng = Rng::new(c as u64 + 1);
            let (lock, keeper) = Lock::new(&conn, o.locker).await?;
            let writes = o.keys_per_txn * o.txn_wr_percent as usize / 100;
            while pacer.take().await.is_some() {
                let mut picked = BTreeSet::new();
                while picked.len() < o.keys_per_txn {
                    picked.insert(rng.below(o.keys));
                }
                let keys: Vec<Vec<u8>> = picked.into_iter().map(|k| varint_key(k, 16)).collect();
                let begin = Instant::now();
                let result = match lock.lock(&conn).await {
                    Ok(held) => {
                        let result = transact(&conn, o.isolation, &keys, writes, &mut rng, o.val_size).await;
                        let unlocked = lock.unlock(&conn, held).await;
                        result.and(unlocked)
                    }
                    Err(e) => Err(e),
                };
                rec.record(begin.elapsed(), &result.map_err(|e| format!("{e:#}")));
                progress.tick();
            }
            if let Some(keeper) = keeper {
                keeper.abort();
            }
            anyhow::Ok(rec)
        }
    })
    .await?;
    let elapsed = started.elapsed();
    drop(drawing);
    let mut all = Recorder::default();
    for rec in recorders {
        all.merge(rec?);
    }
    Ok(vec![Phase::plain(all.finish("stm", elapsed))])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt() -> Attempt {
        Attempt {
            reads: vec![(b"a".to_vec(), 5), (b"b".to_vec(), 0)],
            writes: vec![(b"a".to_vec(), b"1".to_vec())],
            first_rev: Some(9),
        }
    }

    fn guards(isolation: Isolation) -> Vec<(Vec<u8>, i32, Option<TargetUnion>)> {
        commit(isolation, &attempt()).compare.into_iter().map(|c| (c.key, c.result, c.target_union)).collect()
    }

    #[test]
    fn read_committed_commits_blindly() {
        let txn = commit(Isolation::ReadCommitted, &attempt());
        assert!(txn.compare.is_empty());
        assert_eq!(txn.success.len(), 1);
    }

    #[test]
    fn repeatable_reads_check_every_read() {
        let expected = vec![
            (b"a".to_vec(), CompareResult::Equal as i32, Some(TargetUnion::ModRevision(5))),
            (b"b".to_vec(), CompareResult::Equal as i32, Some(TargetUnion::ModRevision(0))),
        ];
        assert_eq!(guards(Isolation::RepeatableReads), expected);
        assert_eq!(guards(Isolation::Serializable), expected);
    }

    #[test]
    fn snapshot_also_checks_writes_against_the_first_read() {
        let g = guards(Isolation::SerializableSnapshot);
        assert_eq!(g.len(), 3);
        assert_eq!(g[2], (b"a".to_vec(), CompareResult::Less as i32, Some(TargetUnion::ModRevision(10))));
    }

    #[test]
    fn flags_parse() {
        assert_eq!("ss".parse::<Isolation>().ok(), Some(Isolation::SerializableSnapshot));
        assert!("x".parse::<Isolation>().is_err());
        assert_eq!("lock-rpc".parse::<Locker>().ok(), Some(Locker::LockRpc));
    }
}
