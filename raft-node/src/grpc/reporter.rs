//! [`Reporter`]: how the transport's tasks tell the local node about delivery.

use std::sync::{Arc, OnceLock};

use raft::SnapshotStatus;
use tokio::sync::mpsc;

use crate::command::Inbound;

/// The local node's inbox, once [`GrpcTransport::connect`](super::GrpcTransport::connect)
/// gave it. Clones share it. Reports made before that are lost: the node has then
/// only just started and sent no snapshot yet.
#[derive(Clone, Debug, Default)]
pub(super) struct Reporter {
    inbox: Arc<OnceLock<mpsc::Sender<Inbound>>>,
}

impl Reporter {
    /// Sets the inbox; false if one was set already.
    pub fn set(&self, inbox: mpsc::Sender<Inbound>) -> bool {
        self.inbox.set(inbox).is_ok()
    }

    /// Tells the node that `peer` missed messages. A hint: dropped if the inbox is full.
    pub fn unreachable(&self, peer: u64) {
        if let Some(inbox) = self.inbox.get() {
            let _ = inbox.try_send(Inbound::Unreachable(peer));
        }
    }

    /// Tells the node how its snapshot to `to` went, waiting for room in the inbox:
    /// the leader sends `to` nothing else until it knows.
    pub async fn snapshot(&self, to: u64, status: SnapshotStatus) {
        if let Some(inbox) = self.inbox.get() {
            let _ = inbox.send(Inbound::Snapshot { to, status }).await;
        }
    }

    /// [`snapshot`](Self::snapshot) from synchronous code: at once if the inbox has
    /// room, else from a task on the current runtime.
    pub fn snapshot_soon(&self, to: u64, status: SnapshotStatus) {
        let Some(inbox) = self.inbox.get() else { return };
        if let Err(mpsc::error::TrySendError::Full(report)) = inbox.try_send(Inbound::Snapshot { to, status })
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            let inbox = inbox.clone();
            runtime.spawn(async move { inbox.send(report).await });
        }
    }
}
