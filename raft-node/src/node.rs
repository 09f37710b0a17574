//! [`RaftNode`]: starting and stopping a node's loop.

use std::fmt;
use std::ops::Deref;

use raft::RawNode;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use crate::config::NodeConfig;
use crate::driver::{Channels, Driver};
use crate::error::NodeError;
use crate::handle::NodeHandle;
use crate::recovery::recover;
use crate::state_machine::StateMachine;
use crate::status::Status;
use crate::transport::Transport;

/// A running raft member: a tokio task that owns raft-rs's `RawNode`, the WAL and
/// the state machine, and a [`NodeHandle`] to talk to it (it derefs to one).
///
/// Dropping it stops the loop (after its current turn); [`shutdown`](Self::shutdown)
/// also waits for that and reports why it ended.
pub struct RaftNode<S: StateMachine> {
    handle: NodeHandle<S>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), NodeError>>>,
}

impl<S: StateMachine> fmt::Debug for RaftNode<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RaftNode").field("id", &self.handle.id).finish_non_exhaustive()
    }
}

impl<S: StateMachine> RaftNode<S> {
    /// Opens (or bootstraps) the log in `config.dir`, brings `machine` to where the
    /// log continues (restoring the latest snapshot if it is behind; it then gets
    /// only entries after its [`applied_index`](StateMachine::applied_index)), and
    /// spawns the loop on the current tokio runtime.
    ///
    /// The loop writes the WAL and applies entries inline, so run it on a
    /// multi-threaded runtime (or one of its own) in a server.
    pub fn start(config: NodeConfig, mut machine: S, transport: impl Transport) -> Result<Self, NodeError> {
        config.validate()?;
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| NodeError::NoRuntime)?;
        let logger = config.logger.new(slog::o!("raft_id" => config.id));
        let recovery = recover(&config, &mut machine, &logger)?;
        // Raft hands out again every committed entry after the snapshot: membership
        // changes must reach raft again; the state machine skips what it applied.
        // raft-rs tags its records with `raft_id` itself.
        let raw = RawNode::new(&config.raft_config(recovery.snapshot_index), recovery.storage.clone(), &config.logger)?;

        let (status_tx, status) = watch::channel(Status::default());
        let (commands, commands_rx) = mpsc::channel(config.command_queue);
        let (inbox, inbox_rx) = mpsc::channel(config.inbox);
        let (shutdown, shutdown_rx) = oneshot::channel();
        let mut driver = Driver::new(&config, raw, recovery, machine, Box::new(transport), status_tx, logger);
        driver.publish_status(); // the recovered state, before the first turn
        let channels = Channels { commands: commands_rx, inbox: inbox_rx, shutdown: shutdown_rx };
        let task = runtime.spawn(driver.run(channels));
        let handle =
            NodeHandle { id: config.id, max_proposal_bytes: config.max_proposal_bytes, commands, inbox, status };
        Ok(RaftNode { handle, shutdown: Some(shutdown), task: Some(task) })
    }

    /// A handle to clone and give away.
    pub fn handle(&self) -> &NodeHandle<S> {
        &self.handle
    }

    /// Stops the loop after its current turn and waits for it: the WAL is closed when
    /// this returns. Callers still waiting get `Stopped`. Returns the error that
    /// stopped the loop earlier, if one did.
    pub async fn shutdown(mut self) -> Result<(), NodeError> {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        match self.task.take() {
            Some(task) => task.await.map_err(|_| NodeError::Aborted)?,
            None => Ok(()),
        }
    }
}

impl<S: StateMachine> Deref for RaftNode<S> {
    type Target = NodeHandle<S>;

    fn deref(&self) -> &NodeHandle<S> {
        &self.handle
    }
}
