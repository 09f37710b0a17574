//! The plain data the store takes and returns.

use crate::KeyValue;

/// Options of a range read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RangeOptions {
    /// At most this many keys (0 = all).
    pub limit: usize,
    /// Read at this revision (0 or less = the current one).
    pub revision: i64,
    /// Count the keys, return none.
    pub count_only: bool,
    /// Return keys and metadata without values.
    pub keys_only: bool,
}

/// What a range read found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RangeResult {
    /// The key-values, in key order, at most `limit`.
    pub kvs: Vec<KeyValue>,
    /// The revision the read was made at.
    pub revision: i64,
    /// How many keys the range holds at that revision, ignoring the limit.
    pub count: usize,
    /// Whether keys were left out because of the limit.
    pub more: bool,
}

/// How a put treats the existing key.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PutOptions {
    /// Return the previous key-value.
    pub prev_kv: bool,
    /// Keep the current value (the key must exist).
    pub ignore_value: bool,
    /// Keep the current lease (the key must exist).
    pub ignore_lease: bool,
}

/// What a delete-range removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Deleted {
    /// How many keys were deleted.
    pub count: usize,
    /// The deleted key-values, when asked for.
    pub prev_kvs: Vec<KeyValue>,
}

/// Whether an event is a put or a delete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// A put.
    Put,
    /// A delete; the key-value has only `key` and `mod_revision`.
    Delete,
}

/// One change, as a watcher sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Put or delete.
    pub kind: EventKind,
    /// The key-value after the change.
    pub kv: KeyValue,
}

/// All changes of one revision, which watchers receive whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevisionEvents {
    /// The main revision.
    pub revision: i64,
    /// The changes, in sub-revision order.
    pub events: Vec<Event>,
}

/// The hash of the store's history, for etcd's `HashKV`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashKv {
    /// CRC32C over every revision up to `revision` that compaction keeps.
    pub hash: u32,
    /// The revision hashed up to.
    pub revision: i64,
    /// The compacted revision when hashed.
    pub compact_revision: i64,
}
