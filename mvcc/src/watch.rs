//! The watchable store: watchers on keys and ranges, fed after each commit and
//! caught up from history when they start in the past or fall behind.
//!
//! Guarantees, per watcher: events arrive in revision order, once each, with
//! none missing; all matching events of one revision arrive in one response; a
//! watcher whose next revision was compacted away is cancelled with the
//! compacted revision. A slow consumer never blocks the writer or other
//! watchers: responses are offered with `try_send` on a bounded channel, and a
//! watcher whose channel is full is moved aside and caught up from the backend
//! in bounded chunks once it has room again.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use cairn_storage::{Backend, Order, ReadView};
use parking_lot::{Condvar, Mutex};
use tokio::sync::mpsc::Sender;
use tokio::sync::mpsc::error::TrySendError;

use crate::store::buckets;
use crate::{Error, EventKind, KeyRange, KeyValue, KvStore, RangeOptions, Result, Revision, RevisionEvents};

/// A watcher's id, unique within its [`WatchableStore`].
pub type WatchId = i64;

/// Which events a watcher leaves out, as etcd's NOPUT and NODELETE filters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WatchFilter {
    /// Leave out puts.
    pub no_put: bool,
    /// Leave out deletes.
    pub no_delete: bool,
}

/// What to watch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchRequest {
    /// The keys.
    pub range: KeyRange,
    /// The first revision to deliver; 0 = the next one.
    pub start_revision: i64,
    /// Attach each key's previous version to its events.
    pub prev_kv: bool,
    /// Events to leave out.
    pub filter: WatchFilter,
    /// An id chosen by the caller, or `None` for the next free one.
    pub id: Option<WatchId>,
}

impl WatchRequest {
    /// Watches `range` from the next revision on, with no filter.
    pub fn new(range: KeyRange) -> Self {
        WatchRequest { range, start_revision: 0, prev_kv: false, filter: WatchFilter::default(), id: None }
    }
}

/// One event as a watcher receives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchEvent {
    /// Put or delete.
    pub kind: EventKind,
    /// The key-value after the change (for a delete: the key and its revision).
    pub kv: KeyValue,
    /// The key's previous version, if asked for and still in history.
    pub prev_kv: Option<KeyValue>,
}

/// What a watcher's channel carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchResponse {
    /// The watcher.
    pub watch_id: WatchId,
    /// Events, in revision order; whole revisions only.
    pub events: Vec<WatchEvent>,
    /// The store's revision when sent (for live events, the revision they belong to).
    pub revision: i64,
    /// Set when the watcher was cancelled because its history was compacted.
    pub compact_revision: i64,
    /// Whether this response ends the watcher.
    pub canceled: bool,
}

/// A registered watcher, as [`WatchableStore::watch`] returns it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Watcher {
    /// Its id.
    pub id: WatchId,
}

struct WatcherState {
    request: WatchRequest,
    tx: Sender<WatchResponse>,
    /// The next revision this watcher must receive.
    next: i64,
}

#[derive(Default)]
struct Hub {
    /// Watchers fed straight from commits.
    synced: HashMap<WatchId, WatcherState>,
    /// Watchers catching up from the backend.
    unsynced: HashMap<WatchId, WatcherState>,
    /// The last revision handed to synced watchers.
    revision: i64,
    next_id: WatchId,
}

struct Shared {
    hub: Mutex<Hub>,
    wake: Condvar,
    stop: AtomicBool,
}

/// Revisions read per catch-up chunk.
const CATCH_UP_REVISIONS: i64 = 1000;
/// How often late watchers are caught up when nothing wakes the syncer.
const SYNC_INTERVAL: Duration = Duration::from_millis(100);

/// A [`KvStore`] with watchers. Writes go through [`KvStore::writer`] as usual
/// (the store is reachable with `Deref`); each commit feeds the watchers.
pub struct WatchableStore<B: Backend> {
    kv: Arc<KvStore<B>>,
    shared: Arc<Shared>,
    syncer: Option<std::thread::JoinHandle<()>>,
}

impl<B: Backend> std::ops::Deref for WatchableStore<B> {
    type Target = KvStore<B>;
    fn deref(&self) -> &KvStore<B> {
        &self.kv
    }
}

impl<B: Backend> Drop for WatchableStore<B> {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.shared.wake.notify_all();
        if let Some(syncer) = self.syncer.take() {
            let _ = syncer.join();
        }
    }
}

fn matches(request: &WatchRequest, kind: EventKind, key: &[u8]) -> bool {
    let filtered = match kind {
        EventKind::Put => request.filter.no_put,
        EventKind::Delete => request.filter.no_delete,
    };
    !filtered && request.range.contains(key)
}

/// The previous version of `kv`'s key before its revision, if still in history.
fn prev_of<B: Backend>(kv_store: &KvStore<B>, kv: &KeyValue) -> Option<KeyValue> {
    if kv.version == 1 {
        return None;
    }
    let options = RangeOptions { revision: kv.mod_revision - 1, ..RangeOptions::default() };
    kv_store.range(&KeyRange::Single(kv.key.clone()), options).ok()?.kvs.pop()
}

/// The events of `batches` that `state` wants, from its next revision on.
fn select<B: Backend>(kv_store: &KvStore<B>, state: &WatcherState, batches: &[RevisionEvents]) -> Vec<WatchEvent> {
    let mut out = Vec::new();
    for batch in batches.iter().filter(|b| b.revision >= state.next) {
        for event in &batch.events {
            if matches(&state.request, event.kind, &event.kv.key) {
                let prev_kv = if state.request.prev_kv { prev_of(kv_store, &event.kv) } else { None };
                out.push(WatchEvent { kind: event.kind, kv: event.kv.clone(), prev_kv });
            }
        }
    }
    out
}

impl<B: Backend> WatchableStore<B> {
    /// Wraps `kv` and starts the thread that catches late watchers up.
    pub fn new(kv: KvStore<B>) -> Self {
        let kv = Arc::new(kv);
        let shared = Arc::new(Shared {
            hub: Mutex::new(Hub { revision: kv.current_revision(), next_id: 0, ..Hub::default() }),
            wake: Condvar::new(),
            stop: AtomicBool::new(false),
        });
        let hook_shared = Arc::downgrade(&shared);
        kv.set_commit_hook(Box::new(move |store, batches| {
            if let Some(shared) = hook_shared.upgrade() {
                notify(&shared, store, batches);
            }
        }));
        let syncer = {
            let (kv, shared) = (kv.clone(), shared.clone());
            std::thread::Builder::new().name("cairn-watch-sync".into()).spawn(move || sync_loop(&kv, &shared)).ok()
        };
        WatchableStore { kv, shared, syncer }
    }

    /// Registers a watcher whose responses go to `tx` (which several watchers may
    /// share). Fails if `request.id` is taken.
    pub fn watch(&self, request: WatchRequest, tx: Sender<WatchResponse>) -> Result<Watcher> {
        let mut hub = self.shared.hub.lock();
        let id = match request.id {
            Some(id) if hub.synced.contains_key(&id) || hub.unsynced.contains_key(&id) => {
                return Err(Error::WatchIdTaken(id));
            }
            Some(id) => id,
            None => {
                while hub.synced.contains_key(&hub.next_id) || hub.unsynced.contains_key(&hub.next_id) {
                    hub.next_id += 1;
                }
                hub.next_id
            }
        };
        let start = request.start_revision;
        let caught_up = start <= 0 || start > hub.revision;
        let next = if start <= 0 { hub.revision + 1 } else { start };
        let state = WatcherState { request, tx, next };
        if caught_up {
            hub.synced.insert(id, state);
        } else {
            hub.unsynced.insert(id, state);
            self.shared.wake.notify_all();
        }
        Ok(Watcher { id })
    }

    /// Removes a watcher; returns whether it existed.
    pub fn cancel(&self, id: WatchId) -> bool {
        let mut hub = self.shared.hub.lock();
        hub.synced.remove(&id).is_some() || hub.unsynced.remove(&id).is_some()
    }

    /// Sends watcher `id` an empty response carrying the current revision, if it
    /// is caught up (as etcd's progress notification); returns whether it was sent.
    pub fn progress(&self, id: WatchId) -> bool {
        let hub = self.shared.hub.lock();
        let Some(state) = hub.synced.get(&id) else { return false };
        let response = WatchResponse {
            watch_id: id,
            events: Vec::new(),
            revision: hub.revision,
            compact_revision: 0,
            canceled: false,
        };
        state.tx.try_send(response).is_ok()
    }

    /// Reloads the store after its backend's contents were replaced (see
    /// [`KvStore::reload`]); every watcher is then caught up from the new
    /// history (or cancelled if it was compacted past its next revision).
    pub fn reload(&self) -> Result<()> {
        self.kv.reload()?;
        let mut hub = self.shared.hub.lock();
        hub.revision = self.kv.current_revision();
        let synced: Vec<(WatchId, WatcherState)> = hub.synced.drain().collect();
        hub.unsynced.extend(synced);
        self.shared.wake.notify_all();
        Ok(())
    }

    /// How many watchers are caught up and how many are catching up.
    pub fn watcher_counts(&self) -> (usize, usize) {
        let hub = self.shared.hub.lock();
        (hub.synced.len(), hub.unsynced.len())
    }
}

/// Feeds one commit's events to the synced watchers; called with the writer lock
/// held, after the revisions were published.
fn notify<B: Backend>(shared: &Shared, store: &KvStore<B>, batches: &[RevisionEvents]) {
    let Some(last) = batches.last().map(|b| b.revision) else { return };
    let mut hub = shared.hub.lock();
    hub.revision = last;
    let mut lagging = Vec::new();
    for (&id, state) in hub.synced.iter_mut() {
        if state.next > last {
            continue;
        }
        let events = select(store, state, batches);
        if events.is_empty() {
            state.next = last + 1;
            continue;
        }
        let response = WatchResponse { watch_id: id, events, revision: last, compact_revision: 0, canceled: false };
        match state.tx.try_send(response) {
            Ok(()) => state.next = last + 1,
            Err(TrySendError::Full(_)) => lagging.push((id, false)),
            Err(TrySendError::Closed(_)) => lagging.push((id, true)),
        }
    }
    for (id, closed) in lagging {
        if let Some(state) = hub.synced.remove(&id)
            && !closed
        {
            // `next` still names the first revision it missed.
            hub.unsynced.insert(id, state);
        }
    }
    if !hub.unsynced.is_empty() {
        shared.wake.notify_all();
    }
}

fn sync_loop<B: Backend>(store: &KvStore<B>, shared: &Shared) {
    while !shared.stop.load(Ordering::SeqCst) {
        let busy = catch_up(store, shared);
        if !busy {
            let mut hub = shared.hub.lock();
            if !shared.stop.load(Ordering::SeqCst) {
                shared.wake.wait_for(&mut hub, SYNC_INTERVAL);
            }
        }
    }
}

/// One catch-up round: every late watcher with room in its channel gets one
/// chunk of history. Returns whether any watcher is still behind and got a
/// chunk (so another round should follow at once).
fn catch_up<B: Backend>(store: &KvStore<B>, shared: &Shared) -> bool {
    let (targets, upto) = {
        let hub = shared.hub.lock();
        let ids: Vec<(WatchId, i64)> =
            hub.unsynced.iter().filter(|(_, s)| s.tx.capacity() > 0).map(|(&id, s)| (id, s.next)).collect();
        (ids, hub.revision)
    };
    if targets.is_empty() {
        return false;
    }
    let mut progressed = false;
    for (id, from) in targets {
        // The view is opened before the compaction point is read: if that point
        // is older than `from`, everything from `from` on is in the view.
        let Ok(view) = store.backend().view() else { continue };
        let compacted = store.compacted_revision();
        let mut hub = shared.hub.lock();
        if from < compacted {
            if let Some(state) = hub.unsynced.get(&id) {
                let response = WatchResponse {
                    watch_id: id,
                    events: Vec::new(),
                    revision: hub.revision,
                    compact_revision: compacted,
                    canceled: true,
                };
                if state.tx.try_send(response).is_ok() || state.tx.is_closed() {
                    hub.unsynced.remove(&id);
                }
            }
            continue;
        }
        drop(hub);
        let to = (from + CATCH_UP_REVISIONS - 1).min(upto);
        let Ok(batches) = read_history(&view, from, to) else { continue };
        drop(view);
        let mut hub = shared.hub.lock();
        let revision = hub.revision;
        let Some(state) = hub.unsynced.get_mut(&id) else { continue };
        if state.next != from {
            continue;
        }
        let events = select(store, state, &batches);
        let sent = if events.is_empty() {
            true
        } else {
            // As etcd, a response from history carries the store's current revision.
            let response = WatchResponse { watch_id: id, events, revision, compact_revision: 0, canceled: false };
            match state.tx.try_send(response) {
                Ok(()) => true,
                Err(TrySendError::Full(_)) => false,
                Err(TrySendError::Closed(_)) => {
                    hub.unsynced.remove(&id);
                    continue;
                }
            }
        };
        if sent {
            state.next = to + 1;
            progressed = true;
            if state.next > revision
                && let Some(state) = hub.unsynced.remove(&id)
            {
                hub.synced.insert(id, state);
            }
        }
    }
    progressed
}

/// The committed events of revisions `from..=to`, from the `key` bucket.
fn read_history(view: &impl ReadView, from: i64, to: i64) -> Result<Vec<RevisionEvents>> {
    let mut batches: Vec<RevisionEvents> = Vec::new();
    let mut failed = None;
    let (start, end) = (Revision::lower_bound(from), Revision::lower_bound(to + 1));
    view.scan(buckets::KEY, &start, Some(&end), Order::Forward, &mut |k, v| {
        let decoded = Revision::decode(k)
            .ok_or_else(|| Error::Corrupt(format!("bad revision key {k:?}")))
            .and_then(|(rev, tombstone)| Ok((rev, tombstone, KeyValue::decode(v)?)));
        match decoded {
            Ok((rev, tombstone, mut kv)) => {
                let kind = if tombstone { EventKind::Delete } else { EventKind::Put };
                kv.mod_revision = rev.main;
                let event = crate::Event { kind, kv };
                match batches.last_mut() {
                    Some(batch) if batch.revision == rev.main => batch.events.push(event),
                    _ => batches.push(RevisionEvents { revision: rev.main, events: vec![event] }),
                }
                true
            }
            Err(e) => {
                failed = Some(e);
                false
            }
        }
    })?;
    match failed {
        Some(e) => Err(e),
        None => Ok(batches),
    }
}
