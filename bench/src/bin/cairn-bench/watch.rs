//! The watch workloads: `watch` (creating many watchers, then the rate of
//! events they receive), `watch-get` (serializable gets while many watchers
//! catch up from an old revision) and `watch-latency` (from a put to each
//! watcher's event).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use cairn_proto::etcdserverpb::watch_request::RequestUnion;
use cairn_proto::etcdserverpb::{PutRequest, RangeRequest, WatchCreateRequest, WatchRequest, WatchResponse};
use tokio::sync::mpsc;
use tonic::Streaming;
use tonic::codegen::tokio_stream::wrappers::ReceiverStream;

use crate::conn::{Conn, Dial};
use crate::keys::{Pacer, Rng, varint_key};
use crate::progress::Progress;
use crate::report::Recorder;
use crate::workers::{self, Phase};

/// How long a watcher waits for its next event before giving up.
const EVENT_TIMEOUT: Duration = Duration::from_secs(30);

/// One gRPC watch stream: where to send requests and where responses arrive.
struct WatchStream {
    requests: mpsc::Sender<WatchRequest>,
    responses: Streaming<WatchResponse>,
}

fn create(key: Vec<u8>, start_revision: i64) -> WatchRequest {
    let create = WatchCreateRequest { key, start_revision, ..Default::default() };
    WatchRequest { request_union: Some(RequestUnion::CreateRequest(create)) }
}

impl WatchStream {
    /// Opens a stream whose first request is `first`. The request goes out
    /// before the call is awaited: a Go server sends its response headers only
    /// with its first message, which answers that request.
    async fn open(conn: &Conn, first: WatchRequest) -> Result<Self> {
        let (requests, rx) = mpsc::channel(1024);
        requests.send(first).await.context("watch stream closed")?;
        let responses = conn.watch().watch(ReceiverStream::new(rx)).await?.into_inner();
        Ok(WatchStream { requests, responses })
    }

    async fn send(&self, request: WatchRequest) -> Result<()> {
        self.requests.send(request).await.context("watch stream closed")
    }

    /// The next response, or an error when the stream ends or stays silent.
    async fn next(&mut self) -> Result<WatchResponse> {
        match tokio::time::timeout(EVENT_TIMEOUT, self.responses.message()).await {
            Err(_) => bail!("no watch response in {EVENT_TIMEOUT:?}"),
            Ok(Err(status)) => bail!("{}", status.message()),
            Ok(Ok(None)) => bail!("watch stream ended"),
            Ok(Ok(Some(response))) if response.canceled => bail!("watch canceled: {}", response.cancel_reason),
            Ok(Ok(Some(response))) => Ok(response),
        }
    }

    /// Creates a watcher on `key` and waits until the server confirms it.
    async fn create(&mut self, key: Vec<u8>) -> Result<()> {
        self.send(create(key, 0)).await?;
        self.created().await
    }

    async fn created(&mut self) -> Result<()> {
        loop {
            if self.next().await?.created {
                return Ok(());
            }
        }
    }
}

/// `watch`'s flags.
#[derive(Debug, Clone)]
pub struct WatchOpts {
    pub streams: usize,
    pub watch_per_stream: usize,
    pub watched_key_total: usize,
    pub put_rate: u64,
    pub put_total: u64,
    pub key_size: usize,
    pub key_space_size: u64,
    pub sequential_keys: bool,
}

/// Nanoseconds since `epoch`, as the value of a put, so each event carries
/// the time its put was sent.
fn stamp(epoch: Instant) -> Vec<u8> {
    (epoch.elapsed().as_nanos() as u64).to_le_bytes().to_vec()
}

fn stamped_latency(epoch: Instant, value: &[u8]) -> Option<Duration> {
    let sent = Duration::from_nanos(u64::from_le_bytes(value.get(..8)?.try_into().ok()?));
    Some(epoch.elapsed().saturating_sub(sent))
}

/// Makes `streams × watch_per_stream` watchers over the watched keys, then
/// puts `put_total` times to those keys and measures every event's delivery.
pub async fn watch(conns: &[Conn], clients: usize, o: &WatchOpts) -> Result<Vec<Phase>> {
    if o.key_space_size == 0 {
        bail!("expected positive --key-space-size, got (0)");
    }
    if o.watched_key_total == 0 || o.streams == 0 {
        bail!("expected positive --watched-key-total and --streams");
    }
    let wanted = 1 + o.streams / 100;
    if clients.min(conns.len()) < wanted {
        eprintln!(
            "warning: grpc limits 100 streams per client connection, have {} but need {wanted}",
            clients.min(conns.len())
        );
    }
    let mut rng = Rng::new(0);
    let watched: Vec<Vec<u8>> = (0..o.watched_key_total as u64)
        .map(|i| {
            let n = if o.sequential_keys { i % o.key_space_size } else { rng.below(o.key_space_size) };
            varint_key(n, o.key_size)
        })
        .collect();
    let key_of = |watcher: usize| watched[watcher % watched.len()].clone();
    let mut puts_to: HashMap<Vec<u8>, u64> = HashMap::new();
    for i in 0..o.put_total {
        *puts_to.entry(watched[i as usize % watched.len()].clone()).or_default() += 1;
    }

    // Creating the watchers.
    let (progress, drawing) = Progress::start((o.streams * o.watch_per_stream) as u64);
    let started = Instant::now();
    let made = workers::run(o.streams, |s| {
        let conn = conns[s % conns.len()].clone();
        let keys: Vec<Vec<u8>> = (0..o.watch_per_stream).map(|j| key_of(s * o.watch_per_stream + j)).collect();
        let expected: u64 = keys.iter().map(|k| puts_to.get(k).copied().unwrap_or(0)).sum();
        let progress = progress.clone();
        async move {
            let mut rec = Recorder::default();
            let mut stream = None;
            for key in keys {
                let begin = Instant::now();
                let result = match stream.as_mut() {
                    None => match WatchStream::open(&conn, create(key, 0)).await {
                        Ok(mut opened) => {
                            let created = opened.created().await;
                            stream = Some(opened);
                            created
                        }
                        Err(e) => Err(e),
                    },
                    Some(open) => open.create(key).await,
                };
                rec.record(begin.elapsed(), &result);
                progress.tick();
            }
            (rec, stream, expected)
        }
    });
    let made = made.await?;
    let elapsed = started.elapsed();
    drop(drawing);
    let mut creation = Recorder::default();
    let mut streams = Vec::new();
    for (rec, stream, expected) in made {
        creation.merge(rec);
        if let Some(stream) = stream {
            streams.push((stream, expected));
        }
    }
    let creation = creation.finish("create", elapsed);

    // Putting to the watched keys and receiving the events.
    let events_total: u64 = streams.iter().map(|(_, expected)| expected).sum();
    let (progress, drawing) = Progress::start(events_total);
    let epoch = Instant::now();
    let receivers: Vec<_> = streams
        .into_iter()
        .map(|(mut stream, expected)| {
            let progress = progress.clone();
            tokio::spawn(async move {
                let mut rec = Recorder::default();
                let mut got = 0;
                while got < expected {
                    match stream.next().await {
                        Ok(response) => {
                            for event in response.events {
                                let value = event.kv.map(|kv| kv.value).unwrap_or_default();
                                match stamped_latency(epoch, &value) {
                                    Some(latency) => rec.ok(latency),
                                    None => rec.error("event without a timestamp"),
                                }
                                got += 1;
                                progress.tick();
                            }
                        }
                        Err(e) => {
                            for _ in got..expected {
                                rec.error(&e);
                            }
                            break;
                        }
                    }
                }
                rec
            })
        })
        .collect();
    let pacer = Arc::new(Pacer::new(o.put_total, o.put_rate));
    let watched = Arc::new(watched);
    let put_errors = workers::run(clients, |c| {
        let mut kv = conns[c % conns.len()].kv();
        let (pacer, watched) = (pacer.clone(), watched.clone());
        async move {
            let mut rec = Recorder::default();
            while let Some(n) = pacer.take().await {
                let key = watched[n as usize % watched.len()].clone();
                let result = kv.put(PutRequest { key, value: stamp(epoch), ..Default::default() }).await;
                if let Err(e) = workers::rpc(result) {
                    rec.error(e);
                }
            }
            rec
        }
    })
    .await?;
    let mut events = Recorder::default();
    for receiver in receivers {
        events.merge(receiver.await?);
    }
    for rec in put_errors {
        events.merge(rec);
    }
    let elapsed = epoch.elapsed();
    drop(drawing);
    Ok(vec![
        Phase::headed("Watch creation summary:", creation),
        Phase::headed("Watch events received summary:", events.finish("events", elapsed)),
    ])
}

/// `watch-get`'s flags.
#[derive(Debug, Clone)]
pub struct WatchGetOpts {
    pub watchers: usize,
    pub streams: usize,
    pub events: u64,
}

/// Puts `events` revisions of `watchkey`, makes `watchers` watchers that
/// start from the first (so the server replays history to each), and times
/// serializable gets on another connection until every watcher caught up.
pub async fn watch_get(conns: &[Conn], dial: &Dial, o: &WatchGetOpts) -> Result<Vec<Phase>> {
    if o.streams == 0 {
        bail!("expected positive --streams");
    }
    let mut kv = conns[0].kv();
    let mut watch_rev = 0;
    for i in 0..o.events {
        let put = PutRequest { key: b"watchkey".to_vec(), value: i.to_string().into_bytes(), ..Default::default() };
        let response = kv.put(put).await?.into_inner();
        if i == 0 {
            watch_rev = response.header.map_or(0, |h| h.revision);
        }
    }
    let getter_conn = dial.connect(1).await?.remove(0);
    let (progress, drawing) = Progress::start(o.watchers as u64 * o.events);
    let done = Arc::new(AtomicBool::new(false));
    let getter = {
        let (mut kv, done) = (getter_conn.kv(), done.clone());
        tokio::spawn(async move {
            let mut rec = Recorder::default();
            let request = RangeRequest { key: b"abc".to_vec(), serializable: true, ..Default::default() };
            while !done.load(Ordering::Relaxed) {
                let begin = Instant::now();
                let result = workers::rpc(kv.range(request.clone()).await);
                rec.record(begin.elapsed(), &result);
            }
            rec
        })
    };
    let started = Instant::now();
    let watchers = workers::run(o.streams, |s| {
        let conn = conns[s % conns.len()].clone();
        let mine = (s..o.watchers).step_by(o.streams).count() as u64;
        let (progress, events) = (progress.clone(), o.events);
        async move {
            if mine == 0 {
                return Ok(());
            }
            let mut stream = WatchStream::open(&conn, create(b"watchkey".to_vec(), watch_rev)).await?;
            for _ in 1..mine {
                stream.send(create(b"watchkey".to_vec(), watch_rev)).await?;
            }
            let mut got = 0;
            while got < mine * events {
                let n = stream.next().await?.events.len() as u64;
                got += n;
                progress.add(n);
            }
            anyhow::Ok(())
        }
    })
    .await?;
    done.store(true, Ordering::Relaxed);
    let elapsed = started.elapsed();
    drop(drawing);
    let gets = getter.await?;
    for result in watchers {
        result?;
    }
    Ok(vec![Phase::headed("Get during watch summary:", gets.finish("get", elapsed))])
}

/// `watch-latency`'s flags.
#[derive(Debug, Clone)]
pub struct WatchLatencyOpts {
    pub total: u64,
    pub put_rate: u64,
    pub key_size: usize,
    pub val_size: usize,
}

/// One watcher per client on one key; each put's latency is measured from
/// sending the put to each watcher receiving its event.
pub async fn watch_latency(conns: &[Conn], clients: usize, dial: &Dial, o: &WatchLatencyOpts) -> Result<Vec<Phase>> {
    let mut rng = Rng::new(0);
    let (key, value) = (rng.bytes(o.key_size), rng.bytes(o.val_size));
    let mut arrivals = Vec::with_capacity(clients);
    for c in 0..clients.max(1) {
        let mut stream = WatchStream::open(&conns[c % conns.len()], create(key.clone(), 0)).await?;
        stream.created().await?;
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok(response) = stream.next().await {
                let at = Instant::now();
                for _ in &response.events {
                    if tx.send(at).is_err() {
                        return;
                    }
                }
            }
        });
        arrivals.push(rx);
    }
    let mut kv = dial.connect(1).await?.remove(0).kv();
    let pacer = Pacer::new(o.total, o.put_rate);
    let (progress, drawing) = Progress::start(o.total);
    let mut rec = Recorder::default();
    let started = Instant::now();
    while pacer.take().await.is_some() {
        let sent = Instant::now();
        if let Err(e) = kv.put(PutRequest { key: key.clone(), value: value.clone(), ..Default::default() }).await {
            bail!("Failed to Put for watch latency benchmark: {}", e.message());
        }
        for rx in &mut arrivals {
            match tokio::time::timeout(EVENT_TIMEOUT, rx.recv()).await {
                Ok(Some(at)) => rec.ok(at.saturating_duration_since(sent)),
                _ => rec.error("watcher received no event"),
            }
        }
        progress.tick();
    }
    let elapsed = started.elapsed();
    drop(drawing);
    Ok(vec![Phase::plain(rec.finish("watch-latency", elapsed))])
}
