//! A member's state machine over the in-memory reference backend, for the fuzz
//! targets that apply requests or restore snapshots as a member does.
//!
//! A member costs a directory and two threads (the compactor, the watch syncer): the
//! targets keep one per thread and put it back into a known state before each input
//! by restoring a snapshot of that state ([`Member::reset`]), which is deterministic
//! and about a hundred times faster.

use std::sync::Arc;
use std::time::Duration;

use cairn_proto::cairnpb::InternalRequest;
use cairn_proto::cairnpb::internal_request::Request;
use cairn_raft::{Committed, Payload, StateMachine};
use cairn_server::apply::{Applier, Output};
use cairn_server::error::ApplyError;
use cairn_server::state::{Limits, State};
use cairn_storage::{MemBackend, Options};
use prost::Message;

/// `--max-txn-ops` and `--max-request-bytes` as etcd's defaults.
pub const LIMITS: Limits = Limits {
    max_txn_ops: 128,
    max_request_bytes: 1536 * 1024,
    quota_bytes: 2 << 30,
    auth_token_ttl: Duration::from_secs(300),
};

/// A member's state and state machine, in a directory of its own.
pub struct Member {
    /// The shared state.
    pub state: Arc<State<MemBackend>>,
    /// The state machine.
    pub applier: Applier<MemBackend>,
    /// The next raft index to apply at.
    pub index: u64,
    _dir: tempfile::TempDir,
}

impl Member {
    /// An empty member.
    pub fn new() -> Member {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let backend = <MemBackend as cairn_storage::Backend>::open(dir.path(), &Options::relaxed()).expect("open");
        let state = State::open(backend, 1, 5, LIMITS).expect("open the state");
        let applier = Applier::new(state.clone());
        Member { state, applier, index: 1, _dir: dir }
    }

    /// A snapshot of the member's current state, to [`reset`](Member::reset) it to.
    pub fn snapshot(&self) -> raft::eraftpb::Snapshot {
        let data = cairn_server::apply::export_for_peer(&self.state).expect("export the state");
        let mut snapshot = raft::eraftpb::Snapshot::default();
        snapshot.mut_metadata().index = self.index - 1;
        snapshot.mut_metadata().term = 1;
        snapshot.set_data(data.into());
        snapshot
    }

    /// Puts the member back into the state of `snapshot` (made by [`snapshot`](Member::snapshot)).
    pub fn reset(&mut self, snapshot: &raft::eraftpb::Snapshot) {
        if let Err(e) = self.applier.restore(snapshot) {
            panic!("restoring a member's own export failed: {e}");
        }
        self.index = self.state.store.consistent_index() + 1;
    }

    /// Applies `request` as the next committed entry. A state machine error stops a
    /// member (every member, since they all apply the same entry): it must not happen
    /// for a request that passed the API's checks.
    #[allow(dead_code, reason = "one of the binaries that include this file uses only `try_apply`")]
    pub fn apply(&mut self, request: Request) -> Output {
        let shown = format!("{request:?}");
        match self.try_apply(request) {
            Ok(output) => output,
            Err(e) => panic!("applying {shown} failed, which stops the member: {e}"),
        }
    }

    /// Applies `request` as the next committed entry; a state machine error is returned.
    pub fn try_apply(&mut self, request: Request) -> Result<Output, ApplyError> {
        let data = InternalRequest { request: Some(request), auth_revision: 0 }.encode_to_vec();
        let entry = Committed { index: self.index, term: 1, payload: Payload::Normal(&data) };
        self.index += 1;
        let mut outputs = self.applier.apply(&[entry])?;
        assert_eq!(outputs.len(), 1, "one output per entry");
        let output = outputs.pop().expect("one output");
        // A compaction's deletes run on the compactor thread: wait for them, so that
        // nothing runs on after the input (and a reset finds the member at rest).
        match output {
            Ok(cairn_server::apply::Applied::Compaction(response, done)) => {
                let _ = done.blocking_recv();
                let (_, done) = tokio::sync::oneshot::channel();
                Ok(Ok(cairn_server::apply::Applied::Compaction(response, done)))
            }
            other => Ok(other),
        }
    }
}
