//! `etcdserverpb.Watch`: one bidirectional stream per client carrying many
//! watchers, each with a stream-local id as in etcd.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::Arc;

use cairn_mvcc::{Backend, EventKind, WatchFilter, WatchId};
use cairn_proto::etcdserverpb::watch_create_request::FilterType;
use cairn_proto::etcdserverpb::watch_request::RequestUnion;
use cairn_proto::etcdserverpb::watch_server::Watch;
use cairn_proto::etcdserverpb::{WatchCreateRequest, WatchRequest, WatchResponse};
use cairn_proto::mvccpb;
use parking_lot::Mutex;
use prost::Message;
use tokio::sync::mpsc;
use tokio_stream::Stream;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use crate::apply::range::{key_range, to_pb};
use crate::core::Core;

/// Responses buffered per stream before a watcher is moved aside to catch up.
const STREAM_BUFFER: usize = 1024;

/// The Watch service of a member.
pub struct WatchService<B: Backend> {
    core: Arc<Core<B>>,
}

impl<B: Backend> WatchService<B> {
    /// The service over `core`.
    pub fn new(core: Arc<Core<B>>) -> Self {
        WatchService { core }
    }
}

/// A stream's watchers: local id -> (store id, fragment).
#[derive(Default)]
struct Watchers {
    by_local: HashMap<i64, (WatchId, bool)>,
    by_store: HashMap<WatchId, i64>,
    next_local: i64,
}

type WatchStream = Pin<Box<dyn Stream<Item = Result<WatchResponse, Status>> + Send>>;

fn event_to_pb(event: cairn_mvcc::WatchEvent) -> mvccpb::Event {
    mvccpb::Event {
        r#type: match event.kind {
            EventKind::Put => mvccpb::event::EventType::Put as i32,
            EventKind::Delete => mvccpb::event::EventType::Delete as i32,
        },
        kv: Some(to_pb(event.kv)),
        prev_kv: event.prev_kv.map(to_pb),
    }
}

/// Splits a response larger than `max` bytes into fragments (etcd's `fragment`).
fn fragments(response: WatchResponse, max: usize) -> Vec<WatchResponse> {
    if response.encoded_len() <= max || response.events.len() <= 1 {
        return vec![response];
    }
    let mut out = Vec::new();
    let mut current = WatchResponse { events: Vec::new(), ..response.clone() };
    let mut size = 0;
    for event in response.events {
        let len = event.encoded_len();
        if !current.events.is_empty() && size + len > max {
            let next = WatchResponse { events: Vec::new(), ..current.clone() };
            out.push(std::mem::replace(&mut current, next));
            size = 0;
        }
        size += len;
        current.events.push(event);
    }
    out.push(current);
    let last = out.len() - 1;
    for (i, part) in out.iter_mut().enumerate() {
        part.fragment = i != last;
    }
    out
}

/// A create request that passed its checks, to register once its `created`
/// response is queued (so that no event can overtake it).
struct Accepted {
    local_id: i64,
    request: cairn_mvcc::WatchRequest,
    fragment: bool,
}

impl<B: Backend> WatchService<B> {
    fn check_create(
        &self,
        watchers: &Mutex<Watchers>,
        caller: &Result<super::authz::Caller, crate::error::RequestError>,
        create: WatchCreateRequest,
    ) -> Result<Accepted, WatchResponse> {
        // With auth on, the stream's token must allow reading the whole range
        // (etcd's answer otherwise: created and at once canceled).
        let permitted = caller.as_ref().is_ok_and(|caller| {
            super::authz::check(&self.core, caller, &create.key, &create.range_end, crate::auth::Access::Read).is_ok()
        });
        if !permitted {
            return Err(WatchResponse {
                header: Some(self.core.header(0)),
                watch_id: create.watch_id,
                created: true,
                canceled: true,
                cancel_reason: "rpc error: code = PermissionDenied desc = etcdserver: permission denied".to_owned(),
                ..Default::default()
            });
        }
        let failed = |reason: String| WatchResponse {
            header: Some(self.core.header(0)),
            watch_id: -1,
            created: true,
            canceled: true,
            cancel_reason: reason,
            ..Default::default()
        };
        let mut local = watchers.lock();
        let local_id = if create.watch_id != 0 {
            create.watch_id
        } else {
            while local.by_local.contains_key(&local.next_local) {
                local.next_local += 1;
            }
            local.next_local
        };
        if local.by_local.contains_key(&local_id) {
            return Err(failed(format!("mvcc: watcher id {local_id} is already in use")));
        }
        if !create.range_end.is_empty() && create.range_end != [0] && create.key >= create.range_end {
            return Err(failed("mvcc: watcher range is empty".to_string()));
        }
        // Reserved until registered, so a second create cannot take it.
        local.by_local.insert(local_id, (-1, create.fragment));
        let mut filter = WatchFilter::default();
        for f in &create.filters {
            match FilterType::try_from(*f) {
                Ok(FilterType::Noput) => filter.no_put = true,
                Ok(FilterType::Nodelete) => filter.no_delete = true,
                Err(_) => {}
            }
        }
        let request = cairn_mvcc::WatchRequest {
            range: key_range(&create.key, &create.range_end),
            start_revision: create.start_revision,
            prev_kv: create.prev_kv,
            filter,
            id: None,
        };
        Ok(Accepted { local_id, request, fragment: create.fragment })
    }

    fn register(
        &self,
        watchers: &Mutex<Watchers>,
        accepted: Accepted,
        events: &mpsc::Sender<cairn_mvcc::WatchResponse>,
    ) -> Option<WatchResponse> {
        // The lock is held while the store registers, so the event forwarder finds
        // the id mapping for the first event.
        let mut local = watchers.lock();
        match self.core.state.store.watch(accepted.request, events.clone()) {
            Ok(watcher) => {
                local.by_local.insert(accepted.local_id, (watcher.id, accepted.fragment));
                local.by_store.insert(watcher.id, accepted.local_id);
                None
            }
            Err(e) => {
                local.by_local.remove(&accepted.local_id);
                Some(WatchResponse {
                    header: Some(self.core.header(0)),
                    watch_id: accepted.local_id,
                    canceled: true,
                    cancel_reason: e.to_string(),
                    ..Default::default()
                })
            }
        }
    }
}

#[tonic::async_trait]
impl<B: Backend> Watch for WatchService<B> {
    type WatchStream = WatchStream;

    async fn watch(&self, request: Request<Streaming<WatchRequest>>) -> Result<Response<Self::WatchStream>, Status> {
        let caller = super::authz::caller(&self.core, request.metadata());
        let mut incoming = request.into_inner();
        let (out_tx, out_rx) = mpsc::channel::<Result<WatchResponse, Status>>(STREAM_BUFFER);
        let (events_tx, mut events_rx) = mpsc::channel::<cairn_mvcc::WatchResponse>(STREAM_BUFFER);
        let watchers = Arc::new(Mutex::new(Watchers::default()));
        let service = WatchService { core: self.core.clone() };
        let max_fragment = self.core.state.limits.max_request_bytes;

        // Events from the store, translated to the stream's ids.
        let forward = {
            let (core, watchers, out_tx) = (self.core.clone(), watchers.clone(), out_tx.clone());
            tokio::spawn(async move {
                while let Some(response) = events_rx.recv().await {
                    let (local_id, fragment) = {
                        let mut w = watchers.lock();
                        let Some(&local_id) = w.by_store.get(&response.watch_id) else { continue };
                        let fragment = w.by_local.get(&local_id).is_some_and(|(_, f)| *f);
                        if response.canceled {
                            w.by_store.remove(&response.watch_id);
                            w.by_local.remove(&local_id);
                        }
                        (local_id, fragment)
                    };
                    // A watcher cancelled for compaction gets a header without a
                    // revision, as from etcd.
                    let mut header = core.header(response.revision);
                    if response.compact_revision > 0 {
                        header.revision = 0;
                    }
                    let pb = WatchResponse {
                        header: Some(header),
                        watch_id: local_id,
                        canceled: response.canceled,
                        compact_revision: response.compact_revision,
                        events: response.events.into_iter().map(event_to_pb).collect(),
                        ..Default::default()
                    };
                    let parts = if fragment { fragments(pb, max_fragment) } else { vec![pb] };
                    for part in parts {
                        if out_tx.send(Ok(part)).await.is_err() {
                            return;
                        }
                    }
                }
            })
        };

        // Requests from the client.
        let core = self.core.clone();
        tokio::spawn(async move {
            loop {
                let message = match incoming.message().await {
                    Ok(Some(message)) => message,
                    Ok(None) | Err(_) => break,
                };
                let reply = match message.request_union {
                    Some(RequestUnion::CreateRequest(create)) => match service.check_create(&watchers, &caller, create)
                    {
                        Ok(accepted) => {
                            let created = WatchResponse {
                                header: Some(core.header(0)),
                                watch_id: accepted.local_id,
                                created: true,
                                ..Default::default()
                            };
                            if out_tx.send(Ok(created)).await.is_err() {
                                break;
                            }
                            match service.register(&watchers, accepted, &events_tx) {
                                Some(failure) => failure,
                                None => continue,
                            }
                        }
                        Err(failure) => failure,
                    },
                    Some(RequestUnion::CancelRequest(cancel)) => {
                        let found = watchers.lock().by_local.remove(&cancel.watch_id);
                        match found {
                            Some((store_id, _)) => {
                                watchers.lock().by_store.remove(&store_id);
                                core.state.store.cancel(store_id);
                                WatchResponse {
                                    header: Some(core.header(0)),
                                    watch_id: cancel.watch_id,
                                    canceled: true,
                                    ..Default::default()
                                }
                            }
                            None => continue,
                        }
                    }
                    Some(RequestUnion::ProgressRequest(_)) => {
                        WatchResponse { header: Some(core.header(0)), watch_id: -1, ..Default::default() }
                    }
                    None => continue,
                };
                if out_tx.send(Ok(reply)).await.is_err() {
                    break;
                }
            }
            // The client went away: its watchers go too.
            let ids: Vec<WatchId> = watchers.lock().by_store.keys().copied().collect();
            for id in ids {
                core.state.store.cancel(id);
            }
            forward.abort();
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(out_rx))))
    }
}
