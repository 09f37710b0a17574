//! What clients did: one [`Operation`] per request, with its invoke and return times and what
//! came back, or nothing when the outcome is unknown (an error or a timeout: the request may or
//! may not have taken effect).

use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde::{Deserialize, Serialize};

/// One key-value pair as a read returns it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct KeyValue {
    /// The key.
    pub key: String,
    /// The value.
    pub value: String,
    /// The revision of the key's last change.
    pub mod_revision: i64,
    /// The revision that created the key (`None`: not recorded, not checked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_revision: Option<i64>,
    /// How many times the key was put since its creation (`None`: not recorded, not checked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
}

impl KeyValue {
    /// A pair with only key, value and mod revision (the other fields go unchecked).
    pub fn new(key: &str, value: &str, mod_revision: i64) -> KeyValue {
        KeyValue { key: key.to_owned(), value: value.to_owned(), mod_revision, create_revision: None, version: None }
    }

    /// True when `got` is this pair, as far as `got` recorded it.
    pub fn matches(&self, got: &KeyValue) -> bool {
        self.key == got.key
            && self.value == got.value
            && self.mod_revision == got.mod_revision
            && got.create_revision.is_none_or(|c| Some(c) == self.create_revision)
            && got.version.is_none_or(|v| Some(v) == self.version)
    }
}

/// True when the model's `want` and the response's `got` agree (see [`KeyValue::matches`]).
pub fn kv_matches(want: &Option<KeyValue>, got: &Option<KeyValue>) -> bool {
    match (want, got) {
        (None, None) => true,
        (Some(w), Some(g)) => w.matches(g),
        _ => false,
    }
}

/// [`kv_matches`] for whole lists.
pub fn kvs_match(want: &[KeyValue], got: &[KeyValue]) -> bool {
    want.len() == got.len() && want.iter().zip(got).all(|(w, g)| w.matches(g))
}

/// True when transaction results agree, reads compared with [`kv_matches`].
pub fn txn_results_match(want: &[TxnOpResult], got: &[TxnOpResult]) -> bool {
    want.len() == got.len()
        && want.iter().zip(got).all(|(w, g)| match (w, g) {
            (TxnOpResult::Get(w), TxnOpResult::Get(g)) => kv_matches(w, g),
            (w, g) => w == g,
        })
}

/// One operation inside a transaction branch.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TxnOp {
    /// Read one key.
    Get {
        /// The key.
        key: String,
    },
    /// Write one key.
    Put {
        /// The key.
        key: String,
        /// The value (unique per put in a run, so a watch event names its put).
        value: String,
    },
    /// Delete one key.
    Delete {
        /// The key.
        key: String,
    },
}

/// What one branch operation of a transaction returned.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TxnOpResult {
    /// A read's result: the pair, or `None` when the key does not exist.
    Get(Option<KeyValue>),
    /// A put.
    Put,
    /// A delete, with how many keys it deleted.
    Delete(i64),
}

/// A request a client sent.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Request {
    /// A read of one key (`serializable`: served from the member's local state, may be stale).
    Get {
        /// The key.
        key: String,
        /// True for a serializable read, false for a linearizable one.
        serializable: bool,
    },
    /// A read of every key under a prefix.
    Range {
        /// The prefix.
        prefix: String,
        /// True for a serializable read.
        serializable: bool,
    },
    /// A put, attached to a lease when `lease` is not 0.
    Put {
        /// The key.
        key: String,
        /// The value, unique per put in a run.
        value: String,
        /// The lease id, or 0.
        lease: i64,
    },
    /// A delete of one key.
    Delete {
        /// The key.
        key: String,
    },
    /// A transaction: if every compare holds (`mod_revision(key) == revision`, 0 for a missing
    /// key) run `then`, else `otherwise`.
    Txn {
        /// `(key, expected mod_revision)` pairs.
        compares: Vec<(String, i64)>,
        /// The branch taken when every compare holds.
        then: Vec<TxnOp>,
        /// The branch taken otherwise.
        otherwise: Vec<TxnOp>,
    },
    /// A lease grant with an id the client picked.
    LeaseGrant {
        /// The lease id.
        id: i64,
    },
    /// A lease revoke: deletes every key attached to the lease.
    LeaseRevoke {
        /// The lease id.
        id: i64,
    },
}

impl Request {
    /// True for requests that may change the store.
    pub fn is_write(&self) -> bool {
        !matches!(self, Request::Get { .. } | Request::Range { .. })
    }

    /// True for serializable reads, which are not checked for linearizability but against the
    /// store's history at the revision they name.
    pub fn is_serializable_read(&self) -> bool {
        matches!(self, Request::Get { serializable: true, .. } | Request::Range { serializable: true, .. })
    }

    /// The value this request writes, when it is a single put or a transaction that puts.
    pub fn put_values(&self) -> Vec<&str> {
        match self {
            Request::Put { value, .. } => vec![value.as_str()],
            Request::Txn { then, otherwise, .. } => then
                .iter()
                .chain(otherwise)
                .filter_map(|op| match op {
                    TxnOp::Put { value, .. } => Some(value.as_str()),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        }
    }
}

/// What came back for a request that succeeded.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Response {
    /// A single-key read: the pair or `None`, at the header revision.
    Get {
        /// The response header's revision.
        revision: i64,
        /// The pair read.
        kv: Option<KeyValue>,
    },
    /// A prefix read: every pair, sorted by key.
    Range {
        /// The response header's revision.
        revision: i64,
        /// The pairs, sorted by key.
        kvs: Vec<KeyValue>,
    },
    /// A put.
    Put {
        /// The response header's revision (the put's revision).
        revision: i64,
    },
    /// A delete.
    Delete {
        /// The response header's revision.
        revision: i64,
        /// How many keys were deleted.
        deleted: i64,
    },
    /// A transaction.
    Txn {
        /// The response header's revision.
        revision: i64,
        /// Whether the compares held.
        succeeded: bool,
        /// One result per operation of the branch taken.
        results: Vec<TxnOpResult>,
    },
    /// A lease grant.
    LeaseGrant,
    /// A lease revoke.
    LeaseRevoke,
}

impl Response {
    /// The header revision, for responses that are checked against it.
    pub fn revision(&self) -> Option<i64> {
        match self {
            Response::Get { revision, .. }
            | Response::Range { revision, .. }
            | Response::Put { revision }
            | Response::Delete { revision, .. }
            | Response::Txn { revision, .. } => Some(*revision),
            Response::LeaseGrant | Response::LeaseRevoke => None,
        }
    }
}

/// One request of one client, from invoke to return.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Operation {
    /// Which client sent it (a client sends one request at a time).
    pub client: usize,
    /// When it was sent, in nanoseconds since the run started.
    pub call: u64,
    /// When the response came, or `None` when the outcome is unknown (an error or a timeout);
    /// such an operation may have taken effect at any time after `call`, or never.
    pub ret: Option<u64>,
    /// The request.
    pub request: Request,
    /// The response, `None` exactly when `ret` is `None`.
    pub response: Option<Response>,
    /// The error text of an unknown outcome, for reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Operation {
    /// A completed operation.
    pub fn ok(client: usize, call: u64, ret: u64, request: Request, response: Response) -> Operation {
        Operation { client, call, ret: Some(ret), request, response: Some(response), error: None }
    }

    /// An operation whose outcome is unknown.
    pub fn unknown(client: usize, call: u64, request: Request) -> Operation {
        Operation { client, call, ret: None, request, response: None, error: None }
    }
}

/// A thread-safe log of operations with a shared clock.
#[derive(Clone, Debug)]
pub struct Recorder {
    start: Instant,
    ops: Arc<Mutex<Vec<Operation>>>,
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder::new()
    }
}

impl Recorder {
    /// A recorder whose clock starts now.
    pub fn new() -> Recorder {
        Recorder { start: Instant::now(), ops: Arc::new(Mutex::new(Vec::new())) }
    }

    /// Nanoseconds since the recorder was made.
    pub fn now(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// Records a completed operation that was invoked at `call` and returned now.
    pub fn record_ok(&self, client: usize, call: u64, request: Request, response: Response) {
        let ret = self.now();
        self.push(Operation::ok(client, call, ret, request, response));
    }

    /// Records an operation that failed or timed out: its outcome is unknown for writes. Failed
    /// reads say nothing and are dropped.
    pub fn record_unknown(&self, client: usize, call: u64, request: Request, error: String) {
        if request.is_write() {
            self.push(Operation { error: Some(error), ..Operation::unknown(client, call, request) });
        }
    }

    fn push(&self, op: Operation) {
        self.ops.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(op);
    }

    /// Every operation recorded so far, in the order they were recorded.
    pub fn operations(&self) -> Vec<Operation> {
        self.ops.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }
}
