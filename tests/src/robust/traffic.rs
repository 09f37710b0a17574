//! Traffic like etcd's robustness suite: clients doing linearizable and serializable reads, puts,
//! deletes, compare-and-swap and multi-key transactions, puts with leases and lease revokes, each
//! recorded in a [`Recorder`]; and watchers that follow every change and resume after a broken
//! stream, recorded in [`WatcherLog`]s.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use etcd_client::{
    Client, Compare, CompareOp, EventType, GetOptions, LeaseGrantOptions, PutOptions, Txn, TxnOpResponse, WatchOptions,
};
use tokio::sync::watch;

use super::cluster::connect;
use super::history::{KeyValue, Recorder, Request, Response, TxnOp, TxnOpResult};
use super::watch::{Event, EventKind, WatcherLog};

/// How long one request may take before its outcome counts as unknown.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(3);
/// The TTL of the leases clients grant: long enough never to expire during a run (an expiry
/// would change keys with no request to account for it).
pub const LEASE_TTL: i64 = 3600;

/// The shape of the traffic.
#[derive(Clone, Debug)]
pub struct TrafficConfig {
    /// Every key starts with this.
    pub prefix: String,
    /// How many distinct keys the clients use.
    pub keys: usize,
    /// How many clients send requests.
    pub clients: usize,
    /// How many watchers follow the prefix.
    pub watchers: usize,
    /// A pause between two requests of one client.
    pub think: Duration,
}

impl Default for TrafficConfig {
    fn default() -> Self {
        TrafficConfig { prefix: "key/".into(), keys: 8, clients: 4, watchers: 2, think: Duration::from_millis(2) }
    }
}

/// The endpoints clients may use; member replacement changes them.
pub type Endpoints = Arc<Mutex<Vec<String>>>;

fn endpoint_at(endpoints: &Endpoints, i: usize) -> String {
    let list = endpoints.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    list[i % list.len()].clone()
}

/// A small deterministic random number generator (splitmix64).
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

/// One client's view: the mod revisions it last saw, its lease.
struct ClientState {
    id: usize,
    seq: u64,
    rng: Rng,
    seen: HashMap<String, i64>,
    lease: Option<i64>,
    leases_granted: i64,
}

impl ClientState {
    fn value(&mut self) -> String {
        self.seq += 1;
        format!("c{}.{}", self.id, self.seq)
    }

    fn next_request(&mut self, cfg: &TrafficConfig) -> Request {
        let key = |rng: &mut Rng| format!("{}{}", cfg.prefix, rng.below(cfg.keys as u64));
        let roll = self.rng.below(100);
        match roll {
            0..=19 => Request::Get { key: key(&mut self.rng), serializable: false },
            20..=27 => Request::Get { key: key(&mut self.rng), serializable: true },
            28..=31 => Request::Range { prefix: cfg.prefix.clone(), serializable: roll == 31 },
            32..=56 => Request::Put { key: key(&mut self.rng), value: self.value(), lease: 0 },
            57..=63 => Request::Delete { key: key(&mut self.rng) },
            64..=79 => {
                let k = key(&mut self.rng);
                let expect = self.seen.get(&k).copied().unwrap_or(0);
                Request::Txn {
                    compares: vec![(k.clone(), expect)],
                    then: vec![TxnOp::Put { key: k.clone(), value: self.value() }],
                    otherwise: vec![TxnOp::Get { key: k }],
                }
            }
            80..=87 => {
                let a = key(&mut self.rng);
                let mut b = key(&mut self.rng);
                if a == b {
                    b = format!(
                        "{}{}",
                        cfg.prefix,
                        (self.rng.below(cfg.keys as u64 - 1) + 1 + a_index(&a, cfg)) % cfg.keys as u64
                    );
                }
                let expect = self.seen.get(&a).copied().unwrap_or(0);
                let then = if self.rng.below(4) == 0 {
                    vec![TxnOp::Put { key: a.clone(), value: self.value() }, TxnOp::Delete { key: b.clone() }]
                } else {
                    vec![
                        TxnOp::Put { key: a.clone(), value: self.value() },
                        TxnOp::Put { key: b.clone(), value: self.value() },
                    ]
                };
                Request::Txn {
                    compares: vec![(a.clone(), expect)],
                    then,
                    otherwise: vec![TxnOp::Get { key: a }, TxnOp::Get { key: b }],
                }
            }
            88..=95 => match self.lease {
                Some(lease) => Request::Put { key: key(&mut self.rng), value: self.value(), lease },
                None => {
                    self.leases_granted += 1;
                    Request::LeaseGrant { id: ((self.id as i64 + 1) << 32) | self.leases_granted }
                }
            },
            _ => match self.lease.take() {
                Some(id) => Request::LeaseRevoke { id },
                None => Request::Get { key: key(&mut self.rng), serializable: false },
            },
        }
    }

    fn learn(&mut self, request: &Request, response: &Response) {
        let see = |seen: &mut HashMap<String, i64>, kv: &Option<KeyValue>, key: &str| {
            seen.insert(key.to_owned(), kv.as_ref().map_or(0, |kv| kv.mod_revision));
        };
        match (request, response) {
            (Request::Get { key, .. }, Response::Get { kv, .. }) => see(&mut self.seen, kv, key),
            (Request::Range { .. }, Response::Range { kvs, .. }) => {
                for kv in kvs {
                    self.seen.insert(kv.key.clone(), kv.mod_revision);
                }
            }
            (Request::Put { key, .. }, Response::Put { revision }) => {
                self.seen.insert(key.clone(), *revision);
            }
            (Request::Txn { then, otherwise, .. }, Response::Txn { revision, succeeded, results }) => {
                let branch = if *succeeded { then } else { otherwise };
                for (op, result) in branch.iter().zip(results) {
                    match (op, result) {
                        (TxnOp::Put { key, .. }, _) => {
                            self.seen.insert(key.clone(), *revision);
                        }
                        (TxnOp::Get { key }, TxnOpResult::Get(kv)) => see(&mut self.seen, kv, key),
                        _ => {}
                    }
                }
            }
            (Request::LeaseGrant { id }, Response::LeaseGrant) => self.lease = Some(*id),
            _ => {}
        }
    }
}

fn a_index(key: &str, cfg: &TrafficConfig) -> u64 {
    key[cfg.prefix.len()..].parse().unwrap_or(0)
}

/// Sends `request` and turns the reply into a [`Response`]; an error text otherwise.
pub async fn execute(client: &mut Client, request: &Request) -> Result<Response, String> {
    match tokio::time::timeout(REQUEST_TIMEOUT, execute_inner(client, request)).await {
        Ok(r) => r,
        Err(_) => Err("timed out".into()),
    }
}

fn header_revision(header: Option<&etcd_client::ResponseHeader>) -> Result<i64, String> {
    header.map(etcd_client::ResponseHeader::revision).ok_or_else(|| "no response header".to_owned())
}

fn to_kv(kv: &etcd_client::KeyValue) -> Result<KeyValue, String> {
    Ok(KeyValue {
        key: kv.key_str().map_err(|e| e.to_string())?.to_owned(),
        value: kv.value_str().map_err(|e| e.to_string())?.to_owned(),
        mod_revision: kv.mod_revision(),
        create_revision: Some(kv.create_revision()),
        version: Some(kv.version()),
    })
}

async fn execute_inner(client: &mut Client, request: &Request) -> Result<Response, String> {
    let e = |e: etcd_client::Error| e.to_string();
    Ok(match request {
        Request::Get { key, serializable } => {
            let options = serializable.then(|| GetOptions::new().with_serializable());
            let r = client.get(key.as_str(), options).await.map_err(e)?;
            Response::Get { revision: header_revision(r.header())?, kv: r.kvs().first().map(to_kv).transpose()? }
        }
        Request::Range { prefix, serializable } => {
            let mut options = GetOptions::new().with_prefix();
            if *serializable {
                options = options.with_serializable();
            }
            let r = client.get(prefix.as_str(), Some(options)).await.map_err(e)?;
            let mut kvs = r.kvs().iter().map(to_kv).collect::<Result<Vec<_>, _>>()?;
            kvs.sort_by(|a, b| a.key.cmp(&b.key));
            Response::Range { revision: header_revision(r.header())?, kvs }
        }
        Request::Put { key, value, lease } => {
            let options = (*lease != 0).then(|| PutOptions::new().with_lease(*lease));
            let r = client.put(key.as_str(), value.as_str(), options).await.map_err(e)?;
            Response::Put { revision: header_revision(r.header())? }
        }
        Request::Delete { key } => {
            let r = client.delete(key.as_str(), None).await.map_err(e)?;
            Response::Delete { revision: header_revision(r.header())?, deleted: r.deleted() }
        }
        Request::Txn { compares, then, otherwise } => {
            let ops = |ops: &[TxnOp]| -> Vec<etcd_client::TxnOp> {
                ops.iter()
                    .map(|op| match op {
                        TxnOp::Get { key } => etcd_client::TxnOp::get(key.as_str(), None),
                        TxnOp::Put { key, value } => etcd_client::TxnOp::put(key.as_str(), value.as_str(), None),
                        TxnOp::Delete { key } => etcd_client::TxnOp::delete(key.as_str(), None),
                    })
                    .collect()
            };
            let txn = Txn::new()
                .when(
                    compares
                        .iter()
                        .map(|(k, rev)| Compare::mod_revision(k.as_str(), CompareOp::Equal, *rev))
                        .collect::<Vec<_>>(),
                )
                .and_then(ops(then))
                .or_else(ops(otherwise));
            let r = client.txn(txn).await.map_err(e)?;
            let mut results = Vec::new();
            for op in r.op_responses() {
                results.push(match op {
                    TxnOpResponse::Get(g) => TxnOpResult::Get(g.kvs().first().map(to_kv).transpose()?),
                    TxnOpResponse::Put(_) => TxnOpResult::Put,
                    TxnOpResponse::Delete(d) => TxnOpResult::Delete(d.deleted()),
                    TxnOpResponse::Txn(_) => return Err("nested txn in the response".into()),
                });
            }
            Response::Txn { revision: header_revision(r.header())?, succeeded: r.succeeded(), results }
        }
        Request::LeaseGrant { id } => {
            client.lease_grant(LEASE_TTL, Some(LeaseGrantOptions::new().with_id(*id))).await.map_err(e)?;
            Response::LeaseGrant
        }
        Request::LeaseRevoke { id } => {
            client.lease_revoke(*id).await.map_err(e)?;
            Response::LeaseRevoke
        }
    })
}

/// Runs one client until `stop` turns true: it starts on endpoint `id`, and moves to the next
/// after three failures in a row.
pub async fn run_client(
    id: usize,
    cfg: TrafficConfig,
    endpoints: Endpoints,
    recorder: Recorder,
    seed: u64,
    mut stop: watch::Receiver<bool>,
) {
    let mut state =
        ClientState { id, seq: 0, rng: Rng::new(seed), seen: HashMap::new(), lease: None, leases_granted: 0 };
    let mut target = id;
    let mut failures = 0;
    // Failures in a row, across endpoints: the pause after each grows with it, so a cluster that
    // is down does not fill the history with unknown outcomes.
    let mut streak: u64 = 0;
    let mut client: Option<Client> = None;
    while !*stop.borrow() {
        if client.is_none() {
            match connect(&endpoint_at(&endpoints, target)).await {
                Ok(c) => client = Some(c),
                Err(_) => {
                    target += 1;
                    let _ = tokio::time::timeout(Duration::from_millis(100), stop.changed()).await;
                    continue;
                }
            }
        }
        let Some(c) = client.as_mut() else { continue };
        let request = state.next_request(&cfg);
        let call = recorder.now();
        match execute(c, &request).await {
            Ok(response) => {
                failures = 0;
                streak = 0;
                state.learn(&request, &response);
                recorder.record_ok(id, call, request, response);
            }
            Err(error) => {
                // A lease whose revoke failed is dropped (taken above); one whose grant failed is
                // never used.
                recorder.record_unknown(id, call, request, error);
                failures += 1;
                streak += 1;
                if failures >= 3 {
                    failures = 0;
                    target += 1;
                    client = None;
                }
                let pause = Duration::from_millis((50 * streak).min(500));
                let _ = tokio::time::timeout(pause, stop.changed()).await;
            }
        }
        if !cfg.think.is_zero() {
            tokio::time::sleep(cfg.think).await;
        }
    }
}

/// Follows every change under `prefix` from revision 1 until `stop` turns true and it has seen
/// revision `*until` (or `stop` has been true for 15 s); resumes on the next endpoint after a
/// broken stream.
pub async fn run_watcher(
    log: Arc<Mutex<WatcherLog>>,
    start_endpoint: usize,
    endpoints: Endpoints,
    stop: watch::Receiver<bool>,
    until: watch::Receiver<i64>,
) {
    let mut target = start_endpoint;
    let prefix = log.lock().unwrap_or_else(std::sync::PoisonError::into_inner).prefix.clone();
    let mut stop_deadline: Option<tokio::time::Instant> = None;
    let mut first = true;
    loop {
        let next = log.lock().unwrap_or_else(std::sync::PoisonError::into_inner).last_revision() + 1;
        if done(&stop, &until, next) {
            return;
        }
        if *stop.borrow() {
            let deadline = *stop_deadline.get_or_insert_with(|| tokio::time::Instant::now() + Duration::from_secs(15));
            if tokio::time::Instant::now() >= deadline {
                return;
            }
        }
        if !first {
            log.lock().unwrap_or_else(std::sync::PoisonError::into_inner).resumed_at.push(next);
        }
        first = false;
        let endpoint = endpoint_at(&endpoints, target);
        target += 1;
        let Ok(mut client) = connect(&endpoint).await else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let options = WatchOptions::new().with_prefix().with_start_revision(next);
        let Ok(Ok(mut stream)) =
            tokio::time::timeout(REQUEST_TIMEOUT, client.watch(prefix.as_str(), Some(options))).await
        else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        loop {
            let message = tokio::select! {
                m = stream.message() => m,
                _ = tokio::time::sleep(Duration::from_millis(500)) => {
                    let next = log.lock().unwrap_or_else(std::sync::PoisonError::into_inner).last_revision() + 1;
                    if done(&stop, &until, next) { return; }
                    if let Some(deadline) = stop_deadline && tokio::time::Instant::now() >= deadline { return; }
                    if *stop.borrow() && stop_deadline.is_none() {
                        stop_deadline = Some(tokio::time::Instant::now() + Duration::from_secs(15));
                    }
                    continue;
                }
            };
            match message {
                Ok(Some(response)) => {
                    if response.canceled() {
                        let mut l = log.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                        if response.compact_revision() > 0 {
                            l.ended = Some(format!("compacted at {}", response.compact_revision()));
                            return;
                        }
                        break;
                    }
                    let events: Vec<Event> = response.events().iter().filter_map(to_event).collect();
                    if !events.is_empty() {
                        log.lock().unwrap_or_else(std::sync::PoisonError::into_inner).responses.push(events);
                    }
                    let next = log.lock().unwrap_or_else(std::sync::PoisonError::into_inner).last_revision() + 1;
                    if done(&stop, &until, next) {
                        return;
                    }
                }
                Ok(None) | Err(_) => break,
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn done(stop: &watch::Receiver<bool>, until: &watch::Receiver<i64>, next: i64) -> bool {
    let until = *until.borrow();
    *stop.borrow() && until > 0 && next > until
}

fn to_event(e: &etcd_client::Event) -> Option<Event> {
    let kv = e.kv()?;
    let key = kv.key_str().ok()?;
    Some(match e.event_type() {
        EventType::Put => Event {
            revision: kv.mod_revision(),
            key: key.to_owned(),
            kind: EventKind::Put,
            value: kv.value_str().ok()?.to_owned(),
        },
        EventType::Delete => Event::delete(kv.mod_revision(), key),
    })
}

/// Reads the history of `prefix` from `from` to `until` with one watch on `endpoint`. `None` when
/// the history from `from` was compacted, or it could not be read in time.
pub async fn read_history(endpoint: &str, prefix: &str, from: i64, until: i64) -> Option<Vec<Event>> {
    let attempt = async {
        let mut client = connect(endpoint).await.ok()?;
        let options = WatchOptions::new().with_prefix().with_start_revision(from);
        let mut stream = client.watch(prefix, Some(options)).await.ok()?;
        let mut events = Vec::new();
        loop {
            let response = stream.message().await.ok()??;
            if response.canceled() {
                return None;
            }
            events.extend(response.events().iter().filter_map(to_event));
            if events.last().is_some_and(|e| e.revision >= until) || until < from {
                return Some(events);
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(20), attempt).await.ok().flatten()
}
