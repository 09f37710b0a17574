//! The KV workloads: `put`, `range`, `txn-put` and `txn-mixed`.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use cairn_proto::etcdserverpb::request_op::Request as Op;
use cairn_proto::etcdserverpb::{CompactionRequest, HashKvRequest, PutRequest, RangeRequest, RequestOp, TxnRequest};

use crate::conn::{Conn, Dial};
use crate::keys::{Pacer, Rng, prefix_end, varint_key};
use crate::progress::Progress;
use crate::report::Recorder;
use crate::workers::{self, Phase};

/// `put`'s flags.
#[derive(Debug, Clone)]
pub struct PutOpts {
    pub total: u64,
    pub key_size: usize,
    pub val_size: usize,
    pub key_space_size: u64,
    pub sequential_keys: bool,
    pub rate: u64,
    pub compact_interval: Duration,
    pub compact_index_delta: i64,
    pub check_hashkv: bool,
}

/// Puts `total` keys; optionally compacts as it goes and checks the members'
/// hashes agree at the end.
pub async fn put(conns: &[Conn], clients: usize, dial: &Dial, o: &PutOpts) -> Result<Vec<Phase>> {
    if o.key_space_size == 0 {
        bail!("expected positive --key-space-size, got (0)");
    }
    let value = Arc::new(Rng::new(0).bytes(o.val_size));
    let pacer = Arc::new(Pacer::new(o.total, o.rate));
    let revision = Arc::new(AtomicI64::new(0));
    let compactor = (!o.compact_interval.is_zero()).then(|| {
        let (kv, interval, delta, revision) =
            (conns[0].kv(), o.compact_interval, o.compact_index_delta, revision.clone());
        tokio::spawn(async move {
            let mut kv = kv;
            loop {
                tokio::time::sleep(interval).await;
                let rev = revision.load(Ordering::Relaxed) - delta;
                if rev > 0 {
                    let started = Instant::now();
                    match kv.compact(CompactionRequest { revision: rev, physical: false }).await {
                        Ok(_) => eprintln!("\ncompacted rev {rev}, took {:?}", started.elapsed()),
                        Err(e) => eprintln!("\ncompaction at {rev} failed: {}", e.message()),
                    }
                }
            }
        })
    });
    let (progress, drawing) = Progress::start(o.total);
    let started = Instant::now();
    let recorders = workers::run(clients, |c| {
        let mut kv = conns[c % conns.len()].kv();
        let (pacer, progress, value, revision, o) =
            (pacer.clone(), progress.clone(), value.clone(), revision.clone(), o.clone());
        async move {
            let mut rec = Recorder::default();
            let mut rng = Rng::new(c as u64 + 1);
            while let Some(n) = pacer.take().await {
                let k = if o.sequential_keys { n % o.key_space_size } else { rng.below(o.key_space_size) };
                let request =
                    PutRequest { key: varint_key(k, o.key_size), value: value.to_vec(), ..Default::default() };
                let begin = Instant::now();
                let result = workers::rpc(kv.put(request).await);
                rec.record(begin.elapsed(), &result);
                if let Ok(response) = &result {
                    let rev = response.get_ref().header.as_ref().map_or(0, |h| h.revision);
                    revision.fetch_max(rev, Ordering::Relaxed);
                }
                progress.tick();
            }
            rec
        }
    })
    .await?;
    let elapsed = started.elapsed();
    drop(drawing);
    if let Some(task) = compactor {
        task.abort();
    }
    let mut all = Recorder::default();
    recorders.into_iter().for_each(|r| all.merge(r));
    let phases = vec![Phase::plain(all.finish("put", elapsed))];
    if o.check_hashkv {
        check_hashkv(dial).await?;
    }
    Ok(phases)
}

/// etcd's `--check-hashkv`: every member's HashKV at the same revision agrees.
async fn check_hashkv(dial: &Dial) -> Result<()> {
    let members = dial.each_endpoint().await?;
    let rev = members[0].kv().range(RangeRequest { key: b"foo".to_vec(), ..Default::default() }).await?;
    let rev = rev.into_inner().header.map_or(0, |h| h.revision);
    let mut hashes = Vec::new();
    for member in &members {
        for _attempt in 0..10 {
            match member.maintenance().hash_kv(HashKvRequest { revision: rev }).await {
                Ok(r) => {
                    hashes.push((member.url.clone(), r.into_inner().hash));
                    break;
                }
                // A member that is behind answers once it has applied `rev`.
                Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
            }
        }
    }
    eprintln!("hashkv at revision {rev}: {hashes:?}");
    if hashes.len() != members.len() || hashes.windows(2).any(|w| w[0].1 != w[1].1) {
        bail!("hashkv mismatch at revision {rev}: {hashes:?}");
    }
    Ok(())
}

/// `range`'s flags.
#[derive(Debug, Clone)]
pub struct RangeOpts {
    pub key: String,
    pub end: Option<String>,
    pub total: u64,
    pub rate: u64,
    pub serializable: bool,
}

/// Ranges over `[key, end)` (or gets `key`) `total` times.
pub async fn range(conns: &[Conn], clients: usize, o: &RangeOpts) -> Result<Vec<Phase>> {
    let request = RangeRequest {
        key: o.key.clone().into_bytes(),
        range_end: o.end.clone().map(String::into_bytes).unwrap_or_default(),
        serializable: o.serializable,
        ..Default::default()
    };
    let pacer = Arc::new(Pacer::new(o.total, o.rate));
    let (progress, drawing) = Progress::start(o.total);
    let started = Instant::now();
    let recorders = workers::run(clients, |c| {
        let mut kv = conns[c % conns.len()].kv();
        let (pacer, progress, request) = (pacer.clone(), progress.clone(), request.clone());
        async move {
            let mut rec = Recorder::default();
            while pacer.take().await.is_some() {
                let begin = Instant::now();
                let result = workers::rpc(kv.range(request.clone()).await);
                rec.record(begin.elapsed(), &result);
                progress.tick();
            }
            rec
        }
    })
    .await?;
    let elapsed = started.elapsed();
    drop(drawing);
    let mut all = Recorder::default();
    recorders.into_iter().for_each(|r| all.merge(r));
    Ok(vec![Phase::plain(all.finish("range", elapsed))])
}

/// `txn-put`'s flags.
#[derive(Debug, Clone)]
pub struct TxnPutOpts {
    pub total: u64,
    pub key_size: usize,
    pub val_size: usize,
    pub txn_ops: u64,
    pub key_space_size: u64,
    pub rate: u64,
}

/// Transactions of `txn_ops` unconditional puts, keys cycling through the key space.
pub async fn txn_put(conns: &[Conn], clients: usize, o: &TxnPutOpts) -> Result<Vec<Phase>> {
    if o.key_space_size == 0 {
        bail!("expected positive --key-space-size, got (0)");
    }
    if o.txn_ops > o.key_space_size {
        bail!(
            "expected --txn-ops no larger than --key-space-size, got txn-ops({}) key-space-size({})",
            o.txn_ops,
            o.key_space_size
        );
    }
    let value = Arc::new(Rng::new(0).bytes(o.val_size));
    let pacer = Arc::new(Pacer::new(o.total, o.rate));
    let (progress, drawing) = Progress::start(o.total);
    let started = Instant::now();
    let recorders = workers::run(clients, |c| {
        let mut kv = conns[c % conns.len()].kv();
        let (pacer, progress, value, o) = (pacer.clone(), progress.clone(), value.clone(), o.clone());
        async move {
            let mut rec = Recorder::default();
            while let Some(n) = pacer.take().await {
                let success = (0..o.txn_ops)
                    .map(|j| {
                        let key = varint_key((n * o.txn_ops + j) % o.key_space_size, o.key_size);
                        put_op(key, value.to_vec())
                    })
                    .collect();
                let begin = Instant::now();
                let result =
                    workers::rpc(kv.txn(TxnRequest { compare: Vec::new(), success, failure: Vec::new() }).await);
                rec.record(begin.elapsed(), &result);
                progress.tick();
            }
            rec
        }
    })
    .await?;
    let elapsed = started.elapsed();
    drop(drawing);
    let mut all = Recorder::default();
    recorders.into_iter().for_each(|r| all.merge(r));
    Ok(vec![Phase::plain(all.finish("txn-put", elapsed))])
}

fn put_op(key: Vec<u8>, value: Vec<u8>) -> RequestOp {
    RequestOp { request: Some(Op::RequestPut(PutRequest { key, value, ..Default::default() })) }
}

/// `txn-mixed`'s flags.
#[derive(Debug, Clone)]
pub struct TxnMixedOpts {
    pub key: String,
    pub end: Option<String>,
    pub total: u64,
    pub key_size: usize,
    pub val_size: usize,
    pub key_space_size: u64,
    pub rate: u64,
    pub end_key: Option<String>,
    pub limit: i64,
    pub serializable: bool,
    pub rw_ratio: f64,
}

/// A mix of one-op transactions: ranges (`rw_ratio` of them per put) and puts.
pub async fn txn_mixed(conns: &[Conn], clients: usize, o: &TxnMixedOpts) -> Result<Vec<Phase>> {
    if o.key_space_size == 0 {
        bail!("expected positive --key-space-size, got (0)");
    }
    let mut key = o.key.clone().into_bytes();
    let range_end = match (&o.end_key, &o.end) {
        (Some(end), _) | (None, Some(end)) => end.clone().into_bytes(),
        (None, None) => prefix_end(&key),
    };
    if key.is_empty() {
        // etcd's client turns an empty prefix into `\0`..`\0`: every key.
        key = vec![0];
    }
    let read = RangeRequest { key, range_end, limit: o.limit, serializable: o.serializable, ..Default::default() };
    let value = Arc::new(Rng::new(0).bytes(o.val_size));
    let pacer = Arc::new(Pacer::new(o.total, o.rate));
    let (progress, drawing) = Progress::start(o.total);
    let started = Instant::now();
    let read_share = o.rw_ratio / (1.0 + o.rw_ratio);
    let recorders = workers::run(clients, |c| {
        let mut kv = conns[c % conns.len()].kv();
        let (pacer, progress, value, read, o) =
            (pacer.clone(), progress.clone(), value.clone(), read.clone(), o.clone());
        async move {
            let (mut reads, mut writes) = (Recorder::default(), Recorder::default());
            let mut rng = Rng::new(c as u64 + 1);
            while let Some(n) = pacer.take().await {
                let is_read = rng.unit() < read_share;
                let op = if is_read {
                    RequestOp { request: Some(Op::RequestRange(read.clone())) }
                } else {
                    put_op(varint_key(n % o.key_space_size, o.key_size), value.to_vec())
                };
                let begin = Instant::now();
                let result = workers::rpc(
                    kv.txn(TxnRequest { compare: Vec::new(), success: vec![op], failure: Vec::new() }).await,
                );
                if is_read { &mut reads } else { &mut writes }.record(begin.elapsed(), &result);
                progress.tick();
            }
            (reads, writes)
        }
    })
    .await?;
    let elapsed = started.elapsed();
    drop(drawing);
    let consistency = if o.serializable { "serializable" } else { "linearizable" };
    let (mut reads, mut writes) = (Recorder::default(), Recorder::default());
    for (r, w) in recorders {
        reads.merge(r);
        writes.merge(w);
    }
    Ok(vec![
        Phase::headed(
            format!("bench with {consistency} range\nTotal Read Ops: {}\nDetails:", reads.len()),
            reads.finish("read", elapsed),
        ),
        Phase::headed(format!("Total Write Ops: {}\nDetails:", writes.len()), writes.finish("write", elapsed)),
    ])
}
