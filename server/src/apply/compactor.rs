//! Physical compaction off the apply path: a thread deletes compacted
//! revisions in small batches, one compaction after another.

use std::sync::Arc;
use std::sync::mpsc;

use cairn_mvcc::Backend;
use tokio::sync::oneshot;

use crate::state::State;

/// Runs compaction jobs in order on its own thread.
pub struct Compactor {
    jobs: mpsc::Sender<(i64, oneshot::Sender<()>)>,
}

impl Compactor {
    /// Starts the thread for `state`'s store.
    pub fn start<B: Backend>(state: Arc<State<B>>) -> Self {
        let (jobs, queue) = mpsc::channel::<(i64, oneshot::Sender<()>)>();
        let spawned = std::thread::Builder::new().name("cairn-compactor".into()).spawn(move || {
            for (revision, done) in queue {
                if let Err(e) = run(&state, revision) {
                    // The next open finishes an interrupted compaction.
                    tracing::error!(revision, error = %e, "compaction failed");
                }
                let _ = done.send(());
            }
        });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start the compactor thread");
        }
        Compactor { jobs }
    }

    /// Queues the deletion of what a compaction at `revision` dropped; `done`
    /// fires when it is finished.
    pub fn schedule(&self, revision: i64, done: oneshot::Sender<()>) {
        let _ = self.jobs.send((revision, done));
    }
}

/// Runs the compaction at `revision` batch by batch, with etcd's failpoints around
/// each batch's commit (feature `failpoints`; `return` fails the compaction).
fn run<B: Backend>(state: &State<B>, revision: i64) -> Result<(), String> {
    let mut job = state.store.compaction_job(revision);
    loop {
        #[cfg(feature = "failpoints")]
        fail::fail_point!("compactBeforeCommitBatch", |arg: Option<String>| Err(format!(
            "failpoint compactBeforeCommitBatch returned an error ({})",
            arg.unwrap_or_default()
        )));
        let done = job.step().map_err(|e| e.to_string())?;
        #[cfg(feature = "failpoints")]
        fail::fail_point!("compactAfterCommitBatch", |arg: Option<String>| Err(format!(
            "failpoint compactAfterCommitBatch returned an error ({})",
            arg.unwrap_or_default()
        )));
        if done {
            return Ok(());
        }
    }
}
