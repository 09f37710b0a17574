//! `lease-keepalive`: every client grants a lease, then keeps it alive as
//! fast as it can; each keep-alive round trip is one request.

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use cairn_proto::etcdserverpb::{LeaseGrantRequest, LeaseKeepAliveRequest, LeaseKeepAliveResponse, LeaseRevokeRequest};
use tokio::sync::mpsc;
use tonic::Streaming;
use tonic::codegen::tokio_stream::wrappers::ReceiverStream;

use crate::conn::Conn;
use crate::keys::Pacer;
use crate::progress::Progress;
use crate::report::Recorder;
use crate::workers::{self, Phase};

/// TTL of the benchmark's leases, as etcd's.
const TTL: i64 = 100;

/// A LeaseKeepAlive stream for one lease.
pub struct KeepAlive {
    id: i64,
    requests: mpsc::Sender<LeaseKeepAliveRequest>,
    responses: Streaming<LeaseKeepAliveResponse>,
}

impl KeepAlive {
    /// Opens the stream with a first keep-alive (a Go server answers headers
    /// only with its first message) and waits for its answer.
    pub async fn open(conn: &Conn, id: i64) -> Result<Self> {
        let (requests, rx) = mpsc::channel(16);
        requests.send(LeaseKeepAliveRequest { id }).await.context("keep-alive stream closed")?;
        let responses = conn.lease().lease_keep_alive(ReceiverStream::new(rx)).await?.into_inner();
        let mut keep = KeepAlive { id, requests, responses };
        keep.answer().await?;
        Ok(keep)
    }

    /// One keep-alive round trip.
    pub async fn once(&mut self) -> Result<()> {
        self.requests.send(LeaseKeepAliveRequest { id: self.id }).await.context("keep-alive stream closed")?;
        self.answer().await
    }

    async fn answer(&mut self) -> Result<()> {
        match self.responses.message().await {
            Ok(Some(r)) if r.ttl > 0 => Ok(()),
            Ok(Some(_)) => bail!("lease {:x} expired", self.id),
            Ok(None) => bail!("keep-alive stream ended"),
            Err(status) => bail!("{}", status.message()),
        }
    }
}

/// Grants one lease per client and sends `total` keep-alives over them.
pub async fn keepalive(conns: &[Conn], clients: usize, total: u64) -> Result<Vec<Phase>> {
    let pacer = Arc::new(Pacer::new(total, 0));
    let (progress, drawing) = Progress::start(total);
    let started = Instant::now();
    let recorders = workers::run(clients, |c| {
        let conn = conns[c % conns.len()].clone();
        let (pacer, progress) = (pacer.clone(), progress.clone());
        async move {
            let mut rec = Recorder::default();
            let mut lease = conn.lease();
            let id = match lease.lease_grant(LeaseGrantRequest { ttl: TTL, id: 0 }).await {
                Ok(granted) => granted.into_inner().id,
                Err(e) => return Err(anyhow::anyhow!("lease grant: {}", e.message())),
            };
            let mut keep = KeepAlive::open(&conn, id).await?;
            while pacer.take().await.is_some() {
                let begin = Instant::now();
                let result = keep.once().await;
                rec.record(begin.elapsed(), &result);
                progress.tick();
            }
            drop(keep);
            let _ = lease.lease_revoke(LeaseRevokeRequest { id }).await;
            Ok(rec)
        }
    })
    .await?;
    let elapsed = started.elapsed();
    drop(drawing);
    let mut all = Recorder::default();
    for rec in recorders {
        all.merge(rec?);
    }
    Ok(vec![Phase::plain(all.finish("lease-keepalive", elapsed))])
}
