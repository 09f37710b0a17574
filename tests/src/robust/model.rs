//! The sequential specification the histories are checked against: etcd's key-value store as a
//! map of per-key registers (value, mod revision, lease) under one store revision, with leases.
//!
//! [`KvState::step`] applies one operation and, when the operation's response is known, checks
//! the response against the state: the header revision, the values and mod revisions read, whether
//! a transaction's compares held, how many keys a delete removed. An operation whose outcome is
//! unknown is applied as the server would have applied it, without checks.
//!
//! The rules are etcd's: a put bumps the revision; a delete or transaction bumps it once when it
//! changes at least one key, and not at all otherwise; a lease grant does not bump it; a revoke
//! deletes the lease's keys in one revision. Requests the server refuses (a put on a lease that does
//! not exist, a revoke of an unknown lease, a grant of an id in use) change nothing.

use std::collections::{BTreeMap, BTreeSet};

use super::history::{
    KeyValue, Operation, Request, Response, TxnOp, TxnOpResult, kv_matches, kvs_match, txn_results_match,
};

/// One key's register.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Register {
    /// The value.
    pub value: String,
    /// The revision of the last change.
    pub mod_revision: i64,
    /// The revision that created the key.
    pub create_revision: i64,
    /// Puts since creation.
    pub version: i64,
    /// The attached lease, or 0.
    pub lease: i64,
}

impl Register {
    fn to_kv(&self, key: &str) -> KeyValue {
        KeyValue {
            create_revision: Some(self.create_revision),
            version: Some(self.version),
            ..KeyValue::new(key, &self.value, self.mod_revision)
        }
    }

    /// The register after a put of `value` at `revision` (to `previous`, if the key existed).
    pub fn put(previous: Option<&Register>, value: &str, revision: i64, lease: i64) -> Register {
        Register {
            value: value.to_owned(),
            mod_revision: revision,
            create_revision: previous.map_or(revision, |p| p.create_revision),
            version: previous.map_or(1, |p| p.version + 1),
            lease,
        }
    }
}

/// The whole store: every key's register, the store revision and the live leases.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct KvState {
    /// The store revision (1 for an empty store, as in etcd).
    pub revision: i64,
    /// The keys that exist.
    pub keys: BTreeMap<String, Register>,
    /// Leases granted and not revoked.
    pub leases: BTreeSet<i64>,
}

impl Default for KvState {
    fn default() -> Self {
        KvState::new()
    }
}

impl KvState {
    /// An empty store at revision 1.
    pub fn new() -> KvState {
        KvState { revision: 1, keys: BTreeMap::new(), leases: BTreeSet::new() }
    }

    fn read(&self, key: &str) -> Option<KeyValue> {
        self.keys.get(key).map(|r| r.to_kv(key))
    }

    fn range(&self, prefix: &str) -> Vec<KeyValue> {
        self.keys
            .range(prefix.to_owned()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, r)| r.to_kv(k))
            .collect()
    }

    fn mod_revision(&self, key: &str) -> i64 {
        self.keys.get(key).map_or(0, |r| r.mod_revision)
    }

    /// Applies `op`; returns the next state, or `None` when the op's known response cannot be
    /// what this state answers.
    pub fn step(&self, op: &Operation) -> Option<KvState> {
        let response = op.response.as_ref();
        match &op.request {
            Request::Get { key, .. } => match response? {
                Response::Get { revision, kv } => {
                    (*revision == self.revision && kv_matches(&self.read(key), kv)).then(|| self.clone())
                }
                _ => None,
            },
            Request::Range { prefix, .. } => match response? {
                Response::Range { revision, kvs } => {
                    (*revision == self.revision && kvs_match(&self.range(prefix), kvs)).then(|| self.clone())
                }
                _ => None,
            },
            Request::Put { key, value, lease } => {
                if *lease != 0 && !self.leases.contains(lease) {
                    // Refused by the server: only an unknown outcome fits.
                    return response.is_none().then(|| self.clone());
                }
                let mut next = self.clone();
                next.revision += 1;
                next.keys.insert(key.clone(), Register::put(self.keys.get(key), value, next.revision, *lease));
                match response {
                    None => Some(next),
                    Some(Response::Put { revision }) => (*revision == next.revision).then_some(next),
                    Some(_) => None,
                }
            }
            Request::Delete { key } => {
                let mut next = self.clone();
                let deleted = i64::from(next.keys.remove(key).is_some());
                next.revision += deleted;
                match response {
                    None => Some(next),
                    Some(Response::Delete { revision, deleted: d }) => {
                        (*revision == next.revision && *d == deleted).then_some(next)
                    }
                    Some(_) => None,
                }
            }
            Request::Txn { compares, then, otherwise } => {
                let succeeded = compares.iter().all(|(key, rev)| self.mod_revision(key) == *rev);
                let branch = if succeeded { then } else { otherwise };
                let (next, results) = self.apply_txn_ops(branch);
                match response {
                    None => Some(next),
                    Some(Response::Txn { revision, succeeded: s, results: r }) => {
                        (*revision == next.revision && *s == succeeded && txn_results_match(&results, r))
                            .then_some(next)
                    }
                    Some(_) => None,
                }
            }
            Request::LeaseGrant { id } => {
                if self.leases.contains(id) {
                    return response.is_none().then(|| self.clone());
                }
                let mut next = self.clone();
                next.leases.insert(*id);
                match response {
                    None | Some(Response::LeaseGrant) => Some(next),
                    Some(_) => None,
                }
            }
            Request::LeaseRevoke { id } => {
                if !self.leases.contains(id) {
                    return response.is_none().then(|| self.clone());
                }
                let mut next = self.clone();
                next.leases.remove(id);
                let before = next.keys.len();
                next.keys.retain(|_, r| r.lease != *id);
                if next.keys.len() != before {
                    next.revision += 1;
                }
                match response {
                    None | Some(Response::LeaseRevoke) => Some(next),
                    Some(_) => None,
                }
            }
        }
    }

    /// Runs a branch's operations in order, as one revision.
    fn apply_txn_ops(&self, ops: &[TxnOp]) -> (KvState, Vec<TxnOpResult>) {
        let mut next = self.clone();
        let revision = self.revision + 1;
        let mut changed = false;
        let mut results = Vec::with_capacity(ops.len());
        for op in ops {
            match op {
                TxnOp::Get { key } => results.push(TxnOpResult::Get(next.read(key))),
                TxnOp::Put { key, value } => {
                    let register = Register::put(next.keys.get(key), value, revision, 0);
                    next.keys.insert(key.clone(), register);
                    changed = true;
                    results.push(TxnOpResult::Put);
                }
                TxnOp::Delete { key } => {
                    let deleted = next.keys.remove(key).is_some();
                    changed |= deleted;
                    results.push(TxnOpResult::Delete(i64::from(deleted)));
                }
            }
        }
        if changed {
            next.revision = revision;
        }
        (next, results)
    }
}
