//! etcd's v2 store: a tree of directories and files with their own index,
//! TTLs, compare-and-swap, in-order keys, an event history of the last 1000
//! changes and watchers on keys and directories.
//!
//! It is a state machine: every member applies the same requests in the same
//! order (the expirations are absolute times chosen by the member that took
//! the request, and expired nodes are removed only by a `SYNC` request the
//! leader proposes), so every member's tree and index are the same. The
//! wall clock is read only to show how many seconds a node has left.
//!
//! Paths are those of the keys API (`/v2/keys/a/b` is `/a/b`, the root is
//! `/`). Every change records the paths it touched, so the apply loop can
//! write exactly those nodes to the backend ([`Store::take_dirty`]).

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::Arc;

use serde::Serialize;
use tokio::sync::mpsc;

use super::error::{Code, V2Error};

/// How many events the history keeps (etcd's).
pub const HISTORY_CAPACITY: usize = 1000;
/// How many events a watcher may have queued before it is dropped (etcd's).
const WATCHER_QUEUE: usize = 100;
/// Expirations before 2000-01-01 mean "no TTL" (etcd's `minExpireTime`).
const MIN_EXPIRE_NANOS: i64 = 946_684_800 * 1_000_000_000;

/// A node as clients see it (etcd's `NodeExtern`; JSON field order and
/// omitted zero values as etcd writes them).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeView {
    /// The full path; empty (omitted) for the root.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub key: String,
    /// A file's value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Whether it is a directory.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub dir: bool,
    /// When it expires, RFC 3339 with nanoseconds in UTC.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiration: Option<String>,
    /// Seconds left, rounded up.
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub ttl: i64,
    /// A directory's children (when listed).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<NodeView>,
    /// The index of its last change.
    #[serde(skip_serializing_if = "is_zero")]
    pub modified_index: u64,
    /// The index it was created at.
    #[serde(skip_serializing_if = "is_zero")]
    pub created_index: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

fn is_zero_i64(n: &i64) -> bool {
    *n == 0
}

/// What happened to a node (etcd's v2 `Event`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    /// `get`, `set`, `create`, `update`, `delete`, `compareAndSwap`,
    /// `compareAndDelete` or `expire`.
    pub action: &'static str,
    /// The node after the change (or the node read).
    pub node: NodeView,
    /// The node before the change.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prev_node: Option<NodeView>,
    /// Whether it only refreshed a TTL (watchers are not told).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub refresh: bool,
    /// The store's index after the change (the `X-Etcd-Index` header).
    #[serde(skip)]
    pub etcd_index: u64,
}

impl Event {
    fn new(action: &'static str, key: &str, modified: u64, created: u64) -> Self {
        Event {
            action,
            node: NodeView {
                key: key.to_owned(),
                modified_index: modified,
                created_index: created,
                ..NodeView::default()
            },
            prev_node: None,
            refresh: false,
            etcd_index: 0,
        }
    }

    /// The index the event happened at.
    pub fn index(&self) -> u64 {
        self.node.modified_index
    }

    /// Whether the request created the node (answered with HTTP 201).
    pub fn is_created(&self) -> bool {
        self.action == "create" || (self.action == "set" && self.prev_node.is_none())
    }
}

/// Counters of the store's operations (`/v2/stats/store`, etcd's names).
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct Stats {
    #[serde(rename = "getsSuccess")]
    pub get_success: u64,
    #[serde(rename = "getsFail")]
    pub get_fail: u64,
    #[serde(rename = "setsSuccess")]
    pub set_success: u64,
    #[serde(rename = "setsFail")]
    pub set_fail: u64,
    pub delete_success: u64,
    pub delete_fail: u64,
    pub update_success: u64,
    pub update_fail: u64,
    pub create_success: u64,
    pub create_fail: u64,
    pub compare_and_swap_success: u64,
    pub compare_and_swap_fail: u64,
    pub compare_and_delete_success: u64,
    pub compare_and_delete_fail: u64,
    pub expire_count: u64,
    pub watchers: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    File(String),
    Dir(BTreeMap<String, Node>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Node {
    created: u64,
    modified: u64,
    /// Unix nanoseconds; `None` is permanent.
    expire: Option<i64>,
    kind: Kind,
}

impl Node {
    fn dir(index: u64, expire: Option<i64>) -> Self {
        Node { created: index, modified: index, expire, kind: Kind::Dir(BTreeMap::new()) }
    }

    fn is_dir(&self) -> bool {
        matches!(self.kind, Kind::Dir(_))
    }

    fn value(&self) -> &str {
        match &self.kind {
            Kind::File(v) => v,
            Kind::Dir(_) => "",
        }
    }

    /// Expiration and seconds left at `now` (etcd's `expirationAndTTL`).
    fn expiration_and_ttl(&self, now: i64) -> (Option<String>, i64) {
        match self.expire {
            None => (None, 0),
            Some(at) => {
                let left = at - now;
                let mut ttl = left.div_euclid(1_000_000_000);
                if left.rem_euclid(1_000_000_000) > 0 {
                    ttl += 1;
                }
                (Some(rfc3339_nanos(at)), ttl)
            }
        }
    }

    /// The node as clients see it (etcd's `Repr`): with children (and theirs
    /// when `recursive`) for a directory listed, hidden children left out.
    fn view(&self, path: &str, list: bool, recursive: bool, sorted: bool, now: i64) -> NodeView {
        let (expiration, ttl) = self.expiration_and_ttl(now);
        let mut view = NodeView {
            key: if path == "/" { String::new() } else { path.to_owned() },
            expiration,
            ttl,
            modified_index: self.modified,
            created_index: self.created,
            ..NodeView::default()
        };
        match &self.kind {
            Kind::File(value) => view.value = Some(value.clone()),
            Kind::Dir(children) => {
                view.dir = true;
                if list {
                    view.nodes = children
                        .iter()
                        .filter(|(name, _)| !name.starts_with('_'))
                        .map(|(name, child)| child.view(&join(path, name), recursive, recursive, sorted, now))
                        .collect();
                    if sorted {
                        view.nodes.sort_by(|a, b| a.key.cmp(&b.key));
                    }
                }
            }
        }
        view
    }
}

/// `parent` + `/` + `name`.
fn join(parent: &str, name: &str) -> String {
    if parent == "/" { format!("/{name}") } else { format!("{parent}/{name}") }
}

/// Cleans a path as Go's `path.Clean(path.Join("/", p))`: rooted, no empty,
/// `.` or `..` components, no trailing slash.
pub fn clean(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    if parts.is_empty() { "/".to_owned() } else { format!("/{}", parts.join("/")) }
}

fn components(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter(|c| !c.is_empty())
}

fn split(path: &str) -> (String, &str) {
    match path.rfind('/') {
        Some(0) => ("/".to_owned(), &path[1..]),
        Some(at) => (path[..at].to_owned(), &path[at + 1..]),
        None => ("/".to_owned(), path),
    }
}

/// A watcher's end: events arrive here; `start_index` is the store's index
/// when it was made (the `X-Etcd-Index` of a watch response).
#[derive(Debug)]
pub struct WatchStream {
    /// The events.
    pub events: mpsc::Receiver<Arc<Event>>,
    /// The store's index when the watch began.
    pub start_index: u64,
}

struct Watcher {
    recursive: bool,
    stream: bool,
    since: u64,
    sender: mpsc::Sender<Arc<Event>>,
    /// The index of the last event sent (an event reaches a watcher once).
    last_sent: u64,
}

/// The v2 store.
pub struct Store {
    root: Node,
    index: u64,
    history: VecDeque<Arc<Event>>,
    watchers: HashMap<String, Vec<Watcher>>,
    ttl: BTreeSet<(i64, String)>,
    dirty: BTreeSet<String>,
    stats: Stats,
}

impl Default for Store {
    fn default() -> Self {
        Store {
            root: Node::dir(0, None),
            index: 0,
            history: VecDeque::new(),
            watchers: HashMap::new(),
            ttl: BTreeSet::new(),
            dirty: BTreeSet::new(),
            stats: Stats::default(),
        }
    }
}

/// A node as the backend keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Whether it is a directory.
    pub dir: bool,
    /// When it was created.
    pub created: u64,
    /// Its last change.
    pub modified: u64,
    /// Unix nanoseconds, 0 for none.
    pub expire: i64,
    /// A file's value.
    pub value: String,
}

impl Record {
    /// `[dir u8][created u64][modified u64][expire i64][value]`, big-endian.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(25 + self.value.len());
        out.push(u8::from(self.dir));
        out.extend_from_slice(&self.created.to_be_bytes());
        out.extend_from_slice(&self.modified.to_be_bytes());
        out.extend_from_slice(&self.expire.to_be_bytes());
        out.extend_from_slice(self.value.as_bytes());
        out
    }

    /// The inverse of [`encode`](Self::encode); `None` for malformed bytes.
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        if bytes.len() < 25 || bytes[0] > 1 {
            return None;
        }
        let u = |at: usize| u64::from_be_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
        Some(Record {
            dir: bytes[0] == 1,
            created: u(1),
            modified: u(9),
            expire: u(17) as i64,
            value: String::from_utf8(bytes[25..].to_vec()).ok()?,
        })
    }
}

type Result<T> = std::result::Result<T, V2Error>;

impl Store {
    /// The current index.
    pub fn index(&self) -> u64 {
        self.index
    }

    /// The operation counters, with the number of watchers.
    pub fn stats(&self) -> Stats {
        Stats { watchers: self.watcher_count() as u64, ..self.stats.clone() }
    }

    /// Whether any node has a TTL (the leader then proposes `SYNC`s).
    pub fn has_ttl_keys(&self) -> bool {
        !self.ttl.is_empty()
    }

    /// The paths changed since the last call, with their nodes now (`None`
    /// for removed ones).
    pub fn take_dirty(&mut self) -> Vec<(String, Option<Record>)> {
        let dirty = std::mem::take(&mut self.dirty);
        dirty
            .into_iter()
            .map(|path| {
                let record = self.node(&path).map(|n| Record {
                    dir: n.is_dir(),
                    created: n.created,
                    modified: n.modified,
                    expire: n.expire.unwrap_or(0),
                    value: n.value().to_owned(),
                });
                (path, record)
            })
            .collect()
    }

    /// Rebuilds the tree from the backend's records (parents before children,
    /// as a sorted scan gives them) and the recorded index. Watchers and the
    /// history are kept.
    pub fn restore(&mut self, index: u64, records: impl IntoIterator<Item = (String, Record)>) {
        self.root = Node::dir(0, None);
        self.ttl.clear();
        self.dirty.clear();
        self.index = index;
        for (path, record) in records {
            let path = clean(&path);
            if path == "/" {
                continue;
            }
            let expire = (record.expire != 0).then_some(record.expire);
            let node = Node {
                created: record.created,
                modified: record.modified,
                expire,
                kind: if record.dir { Kind::Dir(BTreeMap::new()) } else { Kind::File(record.value) },
            };
            let (parent, name) = split(&path);
            if let Some(Node { kind: Kind::Dir(children), .. }) = self.node_mut(&parent) {
                children.insert(name.to_owned(), node);
                if let Some(at) = expire {
                    self.ttl.insert((at, path));
                }
            }
        }
    }

    fn node(&self, path: &str) -> Option<&Node> {
        let mut node = &self.root;
        for name in components(path) {
            match &node.kind {
                Kind::Dir(children) => node = children.get(name)?,
                Kind::File(_) => return None,
            }
        }
        Some(node)
    }

    fn node_mut(&mut self, path: &str) -> Option<&mut Node> {
        let mut node = &mut self.root;
        for name in components(path) {
            match &mut node.kind {
                Kind::Dir(children) => node = children.get_mut(name)?,
                Kind::File(_) => return None,
            }
        }
        Some(node)
    }

    /// etcd's `internalGet`: the node at `path`, or 100 (key not found, the
    /// first missing path as cause) or 104 (a file on the way).
    fn get_node(&self, path: &str) -> Result<&Node> {
        let mut node = &self.root;
        let mut at = String::from("/");
        for name in components(path) {
            match &node.kind {
                Kind::Dir(children) => match children.get(name) {
                    Some(child) => {
                        node = child;
                        at = join(&at, name);
                    }
                    None => return Err(V2Error::new(Code::KeyNotFound, join(&at, name), self.index)),
                },
                Kind::File(_) => return Err(V2Error::new(Code::NotDir, at, self.index)),
            }
        }
        Ok(node)
    }

    /// Reads `path`: a file, or a directory with its children (all levels
    /// when `recursive`), sorted by key when `sorted`.
    pub fn get(&mut self, path: &str, recursive: bool, sorted: bool, now: i64) -> Result<Event> {
        let path = clean(path);
        let result = self.get_node(&path).map(|node| {
            let mut event = Event::new("get", &path, node.modified, node.created);
            event.node = node.view(&path, true, recursive, sorted, now);
            event.etcd_index = self.index;
            event
        });
        self.count(result.is_ok(), |s| &mut s.get_success, |s| &mut s.get_fail);
        result
    }

    fn count(&mut self, ok: bool, success: fn(&mut Stats) -> &mut u64, fail: fn(&mut Stats) -> &mut u64) {
        *(if ok { success(&mut self.stats) } else { fail(&mut self.stats) }) += 1;
    }

    /// Creates `path` (a directory when `dir`), failing with 105 if it exists;
    /// with `unique`, creates an in-order key under `path` named after the
    /// new index (POST).
    pub fn create(
        &mut self,
        path: &str,
        dir: bool,
        value: &str,
        unique: bool,
        expire: Option<i64>,
        now: i64,
    ) -> Result<Event> {
        let result = self.internal_create(path, dir, value, unique, false, expire, "create", now);
        let result = result.map(|e| self.notify(e));
        self.count(result.is_ok(), |s| &mut s.create_success, |s| &mut s.create_fail);
        result
    }

    /// Sets `path`, replacing a file there (PUT without conditions). With
    /// `refresh`, only the TTL of an existing file changes and watchers are
    /// not told.
    pub fn set(
        &mut self,
        path: &str,
        dir: bool,
        value: &str,
        expire: Option<i64>,
        refresh: bool,
        now: i64,
    ) -> Result<Event> {
        let result = self.internal_set(path, dir, value, expire, refresh, now);
        self.count(result.is_ok(), |s| &mut s.set_success, |s| &mut s.set_fail);
        result
    }

    fn internal_set(
        &mut self,
        path: &str,
        dir: bool,
        value: &str,
        expire: Option<i64>,
        refresh: bool,
        now: i64,
    ) -> Result<Event> {
        let path = clean(path);
        let existing = match self.get_node(&path) {
            Ok(node) => Some(node.clone()),
            Err(e) if e.code == Code::KeyNotFound => None,
            Err(e) => return Err(e),
        };
        let mut value = value.to_owned();
        if refresh {
            match &existing {
                Some(node) => value = node.value().to_owned(),
                None => return Err(self.get_node(&path).expect_err("the node is missing")),
            }
        }
        let mut event = self.internal_create(&path, dir, &value, false, true, expire, "set", now)?;
        if let Some(prev) = existing {
            event.prev_node = Some(prev.view(&path, false, false, false, now));
        }
        Ok(self.publish(event, refresh))
    }

    #[allow(clippy::too_many_arguments)]
    fn internal_create(
        &mut self,
        path: &str,
        dir: bool,
        value: &str,
        unique: bool,
        replace: bool,
        expire: Option<i64>,
        action: &'static str,
        now: i64,
    ) -> Result<Event> {
        let current = self.index;
        let next = current + 1;
        let path = if unique { clean(&format!("{path}/{next:020}")) } else { clean(path) };
        if path == "/" {
            return Err(V2Error::new(Code::RootReadOnly, "/", current));
        }
        let expire = expire.filter(|at| *at >= MIN_EXPIRE_NANOS);
        let (parent, name) = split(&path);
        // Directories on the way are made as needed (etcd's `checkDir`); a file
        // on the way is error 104.
        let mut at = String::from("/");
        {
            let mut node = &mut self.root;
            for component in components(&parent) {
                let Kind::Dir(children) = &mut node.kind else { unreachable!("directories only on the way") };
                at = join(&at, component);
                let child = children.entry(component.to_owned()).or_insert_with(|| {
                    self.dirty.insert(at.clone());
                    Node::dir(next, None)
                });
                if !child.is_dir() {
                    return Err(V2Error::new(Code::NotDir, at, current));
                }
                node = child;
            }
        }
        let mut event = Event::new(action, &path, next, next);
        let mut removed = None;
        if let Some(existing) = self.node(&path) {
            if !replace {
                return Err(V2Error::new(Code::NodeExist, path, current));
            }
            if existing.is_dir() {
                return Err(V2Error::new(Code::NotFile, path, current));
            }
            event.prev_node = Some(existing.view(&path, false, false, false, now));
            removed = existing.expire;
        }
        if let Some(at) = removed {
            self.ttl.remove(&(at, path.clone()));
        }
        let node = if dir {
            event.node.dir = true;
            Node::dir(next, expire)
        } else {
            event.node.value = Some(value.to_owned());
            Node { created: next, modified: next, expire, kind: Kind::File(value.to_owned()) }
        };
        if let Some(at) = expire {
            self.ttl.insert((at, path.clone()));
            (event.node.expiration, event.node.ttl) = node.expiration_and_ttl(now);
        }
        let Some(Node { kind: Kind::Dir(children), .. }) = self.node_mut(&parent) else {
            unreachable!("the parent was just made")
        };
        children.insert(name.to_owned(), node);
        self.dirty.insert(path);
        self.index = next;
        event.etcd_index = next;
        Ok(event)
    }

    /// Updates an existing node's value and TTL (PUT with `prevExist=true`).
    pub fn update(&mut self, path: &str, value: &str, expire: Option<i64>, refresh: bool, now: i64) -> Result<Event> {
        let result = self.internal_update(path, value, expire, refresh, now);
        self.count(result.is_ok(), |s| &mut s.update_success, |s| &mut s.update_fail);
        result
    }

    fn internal_update(
        &mut self,
        path: &str,
        value: &str,
        expire: Option<i64>,
        refresh: bool,
        now: i64,
    ) -> Result<Event> {
        let path = clean(path);
        if path == "/" {
            return Err(V2Error::new(Code::RootReadOnly, "/", self.index));
        }
        let current = self.index;
        let next = current + 1;
        let node = self.get_node(&path)?;
        if node.is_dir() && !value.is_empty() {
            return Err(V2Error::new(Code::NotFile, path, current));
        }
        let value = if refresh { node.value().to_owned() } else { value.to_owned() };
        let mut event = Event::new("update", &path, next, node.created);
        event.prev_node = Some(node.view(&path, false, false, false, now));
        event.etcd_index = next;
        let expire = expire.filter(|at| *at >= MIN_EXPIRE_NANOS);
        let old_expire = node.expire;
        let node = self.node_mut(&path).expect("the node exists");
        if let Kind::File(v) = &mut node.kind {
            *v = value.clone();
            node.modified = next;
            event.node.value = Some(value);
        } else {
            event.node.dir = true;
        }
        node.expire = expire;
        (event.node.expiration, event.node.ttl) = node.expiration_and_ttl(now);
        self.retime(&path, old_expire, expire);
        self.dirty.insert(path);
        self.index = next;
        Ok(self.publish(event, refresh))
    }

    fn retime(&mut self, path: &str, old: Option<i64>, new: Option<i64>) {
        if let Some(at) = old {
            self.ttl.remove(&(at, path.to_owned()));
        }
        if let Some(at) = new {
            self.ttl.insert((at, path.to_owned()));
        }
    }

    /// Replaces a file's value if its value and/or modified index match
    /// (PUT with `prevValue` / `prevIndex`).
    #[allow(clippy::too_many_arguments)]
    pub fn compare_and_swap(
        &mut self,
        path: &str,
        prev_value: &str,
        prev_index: u64,
        value: &str,
        expire: Option<i64>,
        refresh: bool,
        now: i64,
    ) -> Result<Event> {
        let result = self.internal_cas(path, prev_value, prev_index, value, expire, refresh, now);
        self.count(result.is_ok(), |s| &mut s.compare_and_swap_success, |s| &mut s.compare_and_swap_fail);
        result
    }

    #[allow(clippy::too_many_arguments)]
    fn internal_cas(
        &mut self,
        path: &str,
        prev_value: &str,
        prev_index: u64,
        value: &str,
        expire: Option<i64>,
        refresh: bool,
        now: i64,
    ) -> Result<Event> {
        let path = clean(path);
        if path == "/" {
            return Err(V2Error::new(Code::RootReadOnly, "/", self.index));
        }
        let node = self.get_node(&path)?;
        self.compare(node, &path, prev_value, prev_index)?;
        let value = if refresh { node.value().to_owned() } else { value.to_owned() };
        let next = self.index + 1;
        let mut event = Event::new("compareAndSwap", &path, next, node.created);
        event.etcd_index = next;
        event.prev_node = Some(node.view(&path, false, false, false, now));
        let expire = expire.filter(|at| *at >= MIN_EXPIRE_NANOS);
        let old_expire = node.expire;
        let node = self.node_mut(&path).expect("the node exists");
        node.kind = Kind::File(value.clone());
        node.modified = next;
        node.expire = expire;
        event.node.value = Some(value);
        (event.node.expiration, event.node.ttl) = node.expiration_and_ttl(now);
        self.retime(&path, old_expire, expire);
        self.dirty.insert(path);
        self.index = next;
        Ok(self.publish(event, refresh))
    }

    /// 102 for a directory, 101 with etcd's cause when the file does not match.
    fn compare(&self, node: &Node, path: &str, prev_value: &str, prev_index: u64) -> Result<()> {
        if node.is_dir() {
            return Err(V2Error::new(Code::NotFile, path, self.index));
        }
        let index_match = prev_index == 0 || node.modified == prev_index;
        let value_match = prev_value.is_empty() || node.value() == prev_value;
        let cause = match (value_match, index_match) {
            (true, true) => return Ok(()),
            (false, true) => format!("[{prev_value} != {}]", node.value()),
            (true, false) => format!("[{prev_index} != {}]", node.modified),
            (false, false) => format!("[{prev_value} != {}] [{prev_index} != {}]", node.value(), node.modified),
        };
        Err(V2Error::new(Code::TestFailed, cause, self.index))
    }

    /// Deletes `path`: a file; a directory only with `dir` (and only an empty
    /// one unless `recursive`).
    pub fn delete(&mut self, path: &str, dir: bool, recursive: bool, now: i64) -> Result<Event> {
        let result = self.internal_delete(path, dir, recursive, now);
        self.count(result.is_ok(), |s| &mut s.delete_success, |s| &mut s.delete_fail);
        result
    }

    fn internal_delete(&mut self, path: &str, dir: bool, recursive: bool, now: i64) -> Result<Event> {
        let path = clean(path);
        if path == "/" {
            return Err(V2Error::new(Code::RootReadOnly, "/", self.index));
        }
        let dir = dir || recursive;
        let node = self.get_node(&path)?;
        if let Kind::Dir(children) = &node.kind {
            if !dir {
                return Err(V2Error::new(Code::NotFile, &path, self.index));
            }
            if !children.is_empty() && !recursive {
                return Err(V2Error::new(Code::DirNotEmpty, &path, self.index));
            }
        }
        let next = self.index + 1;
        let mut event = Event::new("delete", &path, next, node.created);
        event.etcd_index = next;
        event.node.dir = node.is_dir();
        event.prev_node = Some(node.view(&path, false, false, false, now));
        self.index = next;
        self.remove(&path, event)
    }

    /// Deletes a file if its value and/or modified index match (DELETE with
    /// `prevValue` / `prevIndex`).
    pub fn compare_and_delete(&mut self, path: &str, prev_value: &str, prev_index: u64, now: i64) -> Result<Event> {
        let result = self.internal_cad(path, prev_value, prev_index, now);
        self.count(result.is_ok(), |s| &mut s.compare_and_delete_success, |s| &mut s.compare_and_delete_fail);
        result
    }

    fn internal_cad(&mut self, path: &str, prev_value: &str, prev_index: u64, now: i64) -> Result<Event> {
        let path = clean(path);
        let node = self.get_node(&path)?;
        self.compare(node, &path, prev_value, prev_index)?;
        let next = self.index + 1;
        let mut event = Event::new("compareAndDelete", &path, next, node.created);
        event.etcd_index = next;
        event.prev_node = Some(node.view(&path, false, false, false, now));
        self.index = next;
        self.remove(&path, event)
    }

    /// Removes the node at `path` and everything under it, telling the
    /// watchers of every removed path, then publishes `event`.
    fn remove(&mut self, path: &str, event: Event) -> Result<Event> {
        let (parent, name) = split(path);
        let Some(Node { kind: Kind::Dir(children), .. }) = self.node_mut(&parent) else {
            unreachable!("a node's parent is a directory")
        };
        let node = children.remove(name).expect("the node exists");
        let mut removed = Vec::new();
        collect(&node, path, &mut removed);
        let event = Arc::new(event);
        for (removed_path, expire) in removed {
            if let Some(at) = expire {
                self.ttl.remove(&(at, removed_path.clone()));
            }
            self.notify_watchers(&event, &removed_path, true);
            self.dirty.insert(removed_path);
        }
        Ok(self.notify_arc(event))
    }

    /// Removes every node expired at `cutoff` (a `SYNC`), each with an
    /// `expire` event.
    pub fn delete_expired(&mut self, cutoff: i64, now: i64) {
        while let Some((at, path)) = self.ttl.first().cloned() {
            if at > cutoff {
                break;
            }
            self.ttl.remove(&(at, path.clone()));
            let Some(node) = self.node(&path) else { continue };
            let next = self.index + 1;
            let mut event = Event::new("expire", &path, next, node.created);
            event.etcd_index = next;
            event.node.dir = node.is_dir();
            event.prev_node = Some(node.view(&path, false, false, false, now));
            self.index = next;
            self.stats.expire_count += 1;
            let _ = self.remove(&path, event);
        }
    }

    /// Adds `event` to the history and tells the watchers, unless it is a refresh.
    fn publish(&mut self, mut event: Event, refresh: bool) -> Event {
        if refresh {
            event.refresh = true;
            self.add_history(Arc::new(event.clone()));
            event
        } else {
            self.notify(event)
        }
    }

    fn notify(&mut self, event: Event) -> Event {
        let event = Arc::new(event);
        self.notify_arc(event)
    }

    /// etcd's `notify`: history, then the watchers of the key and of every
    /// directory above it.
    fn notify_arc(&mut self, event: Arc<Event>) -> Event {
        self.add_history(event.clone());
        let key = event.node.key.clone();
        let key = if key.is_empty() { "/".to_owned() } else { key };
        self.notify_watchers(&event, "/", false);
        let mut at = String::from("/");
        for name in components(&key) {
            at = join(&at, name);
            self.notify_watchers(&event, &at, false);
        }
        (*event).clone()
    }

    fn add_history(&mut self, event: Arc<Event>) {
        if self.history.len() == HISTORY_CAPACITY {
            self.history.pop_front();
        }
        self.history.push_back(event);
    }

    fn notify_watchers(&mut self, event: &Arc<Event>, path: &str, deleted: bool) {
        let Some(list) = self.watchers.get_mut(path) else { return };
        let key = if event.node.key.is_empty() { "/" } else { event.node.key.as_str() };
        let original = key == path;
        if !original && is_hidden(path, key) {
            return;
        }
        list.retain_mut(|w| {
            if w.sender.is_closed() {
                return false;
            }
            if !((w.recursive || original || deleted) && event.index() >= w.since) || w.last_sent >= event.index() {
                return true;
            }
            w.last_sent = event.index();
            match w.sender.try_send(event.clone()) {
                // A one-shot watcher is done; a stream keeps watching.
                Ok(()) => w.stream,
                // A watcher too slow to take its events is dropped (etcd's).
                Err(_) => false,
            }
        });
        if list.is_empty() {
            self.watchers.remove(path);
        }
    }

    /// The first event in the history at or after `since` that a watch of
    /// `key` sees; 401 when `since` has been cleared from the history.
    fn scan(&self, key: &str, recursive: bool, since: u64) -> Result<Option<Arc<Event>>> {
        let (Some(first), Some(last)) = (self.history.front(), self.history.back()) else { return Ok(None) };
        if since < first.index() {
            return Err(V2Error::new(
                Code::EventIndexCleared,
                format!("the requested history has been cleared [{}/{since}]", first.index()),
                self.index,
            ));
        }
        if since > last.index() {
            return Ok(None);
        }
        let prefix = if key == "/" { "/".to_owned() } else { format!("{key}/") };
        let skip = (since - first.index()) as usize;
        for event in self.history.iter().skip(skip.min(self.history.len())) {
            if event.refresh || event.index() < since {
                continue;
            }
            let event_key = if event.node.key.is_empty() { "/" } else { event.node.key.as_str() };
            let mut seen = event_key == key || (recursive && event_key.starts_with(&prefix));
            if let Some(prev) = &event.prev_node
                && (event.action == "delete" || event.action == "expire")
                && prev.dir
            {
                seen = seen || key.starts_with(prev.key.as_str());
            }
            if seen {
                return Ok(Some(event.clone()));
            }
        }
        Ok(None)
    }

    /// Watches `key` (and what is under it when `recursive`) for events at or
    /// after `since` (0: the next one). A past event is delivered at once;
    /// otherwise the watcher waits, for one event or, with `stream`, for all.
    pub fn watch(&mut self, key: &str, recursive: bool, stream: bool, since: u64) -> Result<WatchStream> {
        let key = clean(key);
        let since = if since == 0 { self.index + 1 } else { since };
        let found = self.scan(&key, recursive, since)?;
        let (sender, events) = mpsc::channel(WATCHER_QUEUE);
        let start_index = self.index;
        if let Some(event) = found {
            let mut event = (*event).clone();
            event.etcd_index = start_index;
            let _ = sender.try_send(Arc::new(event));
            if !stream {
                return Ok(WatchStream { events, start_index });
            }
        }
        let watcher = Watcher { recursive, stream, since, sender, last_sent: since.saturating_sub(1) };
        self.watchers.entry(key).or_default().push(watcher);
        Ok(WatchStream { events, start_index })
    }

    /// Drops watchers whose clients have gone.
    pub fn prune_watchers(&mut self) {
        self.watchers.retain(|_, list| {
            list.retain(|w| !w.sender.is_closed());
            !list.is_empty()
        });
    }

    /// How many watchers wait.
    pub fn watcher_count(&self) -> usize {
        self.watchers.values().map(Vec::len).sum()
    }
}

/// Every path under (and including) `node` at `path`, children first, with
/// their expirations.
fn collect(node: &Node, path: &str, out: &mut Vec<(String, Option<i64>)>) {
    if let Kind::Dir(children) = &node.kind {
        for (name, child) in children {
            collect(child, &join(path, name), out);
        }
    }
    out.push((path.to_owned(), node.expire));
}

/// Whether `key`, below the watched `path`, has a hidden (`_`) component
/// after it (etcd's `isHidden`).
fn is_hidden(path: &str, key: &str) -> bool {
    if path.len() > key.len() {
        return false;
    }
    let after = clean(&format!("/{}", &key[path.len()..]));
    after.contains("/_")
}

/// Unix nanoseconds as Go's `time.Time` JSON (RFC 3339 in UTC, with the
/// fraction's trailing zeros dropped).
pub fn rfc3339_nanos(nanos: i64) -> String {
    let secs = nanos.div_euclid(1_000_000_000);
    let frac = nanos.rem_euclid(1_000_000_000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    let mut out = format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}", rem / 3600, (rem % 3600) / 60, rem % 60);
    if frac != 0 {
        let digits = format!("{frac:09}");
        out.push('.');
        out.push_str(digits.trim_end_matches('0'));
    }
    out.push('Z');
    out
}

/// Days since 1970-01-01 to (year, month, day), Howard Hinnant's algorithm.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000 * 1_000_000_000;
    const SEC: i64 = 1_000_000_000;

    fn code(result: Result<Event>) -> (Code, String) {
        let e = result.expect_err("an error");
        (e.code, e.cause)
    }

    #[test]
    fn set_get_and_indexes() {
        let mut s = Store::default();
        let e = s.set("/message", false, "hello", None, false, NOW).expect("ok");
        assert_eq!((e.action, e.index(), e.is_created()), ("set", 1, true));
        let e = s.set("/message", false, "again", None, false, NOW).expect("ok");
        assert_eq!(e.prev_node.as_ref().expect("ok").value.as_deref(), Some("hello"));
        assert!(!e.is_created());
        let got = s.get("/message", false, false, NOW).expect("ok");
        assert_eq!((got.node.value.as_deref(), got.node.modified_index, got.node.created_index), (Some("again"), 2, 2));
        assert_eq!(code(s.get("/missing/deeper", false, false, NOW)), (Code::KeyNotFound, "/missing".into()));
        assert_eq!(code(s.get("/message/x", false, false, NOW)), (Code::NotDir, "/message".into()));
        assert_eq!(s.index(), 2);
    }

    #[test]
    fn directories_are_made_on_the_way_and_listed_without_hidden_nodes() {
        let mut s = Store::default();
        s.set("/dir/a/b", false, "1", None, false, NOW).expect("ok");
        s.set("/dir/_hidden", false, "h", None, false, NOW).expect("ok");
        s.set("/dir/c", false, "2", None, false, NOW).expect("ok");
        let dir = s.get("/dir", false, true, NOW).expect("ok").node;
        assert!(dir.dir);
        let keys: Vec<_> = dir.nodes.iter().map(|n| (n.key.as_str(), n.dir, n.nodes.len())).collect();
        assert_eq!(keys, vec![("/dir/a", true, 0), ("/dir/c", false, 0)]);
        let all = s.get("/dir", true, true, NOW).expect("ok").node;
        assert_eq!(all.nodes[0].nodes[0].value.as_deref(), Some("1"));
        assert_eq!(s.get("/dir/_hidden", false, false, NOW).expect("ok").node.value.as_deref(), Some("h"));
        assert_eq!(code(s.set("/dir", false, "x", None, false, NOW)), (Code::NotFile, "/dir".into()));
        assert_eq!(code(s.set("/dir/c/d", false, "x", None, false, NOW)), (Code::NotDir, "/dir/c".into()));
    }

    #[test]
    fn create_update_and_compare() {
        let mut s = Store::default();
        s.create("/k", false, "v", false, None, NOW).expect("ok");
        assert_eq!(code(s.create("/k", false, "v", false, None, NOW)), (Code::NodeExist, "/k".into()));
        assert_eq!(code(s.update("/nope", "v", None, false, NOW)).0, Code::KeyNotFound);
        let e = s.update("/k", "w", None, false, NOW).expect("ok");
        assert_eq!((e.action, e.node.created_index, e.node.modified_index), ("update", 1, 2));
        assert_eq!(
            code(s.compare_and_swap("/k", "zz", 0, "x", None, false, NOW)),
            (Code::TestFailed, "[zz != w]".into())
        );
        assert_eq!(code(s.compare_and_swap("/k", "", 7, "x", None, false, NOW)), (Code::TestFailed, "[7 != 2]".into()));
        assert_eq!(code(s.compare_and_swap("/k", "a", 7, "x", None, false, NOW)).1, "[a != w] [7 != 2]");
        let e = s.compare_and_swap("/k", "w", 2, "x", None, false, NOW).expect("ok");
        assert_eq!(e.action, "compareAndSwap");
        assert_eq!(code(s.compare_and_delete("/k", "w", 0, NOW)).0, Code::TestFailed);
        let e = s.compare_and_delete("/k", "x", 0, NOW).expect("ok");
        assert_eq!((e.action, e.prev_node.expect("ok").value.as_deref()), ("compareAndDelete", Some("x")));
    }

    #[test]
    fn in_order_keys_are_named_after_the_index() {
        let mut s = Store::default();
        s.set("/other", false, "o", None, false, NOW).expect("ok");
        let e = s.create("/queue", false, "job1", true, None, NOW).expect("ok");
        assert_eq!(e.node.key, "/queue/00000000000000000002");
        let e = s.create("/queue", false, "job2", true, None, NOW).expect("ok");
        assert_eq!(e.node.key, "/queue/00000000000000000003");
    }

    #[test]
    fn deletes_of_directories() {
        let mut s = Store::default();
        s.set("/d/f", false, "v", None, false, NOW).expect("ok");
        assert_eq!(code(s.delete("/d", false, false, NOW)), (Code::NotFile, "/d".into()));
        assert_eq!(code(s.delete("/d", true, false, NOW)), (Code::DirNotEmpty, "/d".into()));
        assert_eq!(code(s.delete("/", true, true, NOW)), (Code::RootReadOnly, "/".into()));
        let e = s.delete("/d", false, true, NOW).expect("ok");
        assert!(e.node.dir && e.prev_node.expect("ok").dir);
        assert_eq!(code(s.get("/d/f", false, false, NOW)).0, Code::KeyNotFound);
        let dirty: Vec<_> = s.take_dirty().into_iter().filter(|(_, r)| r.is_none()).map(|(p, _)| p).collect();
        assert_eq!(dirty, vec!["/d".to_owned(), "/d/f".to_owned()]);
    }

    #[test]
    fn ttl_nodes_expire_on_sync_with_an_expire_event() {
        let mut s = Store::default();
        let e = s.set("/t", false, "v", Some(NOW + 5 * SEC), false, NOW).expect("ok");
        assert_eq!(e.node.ttl, 5);
        assert_eq!(e.node.expiration.as_deref(), Some("2023-11-14T22:13:25Z"));
        assert_eq!(s.get("/t", false, false, NOW + SEC / 2).expect("ok").node.ttl, 5);
        assert!(s.has_ttl_keys());
        let mut watch = s.watch("/t", false, false, 0).expect("ok");
        s.delete_expired(NOW + 4 * SEC, NOW);
        assert!(s.get("/t", false, false, NOW).is_ok());
        s.delete_expired(NOW + 5 * SEC, NOW);
        assert_eq!(code(s.get("/t", false, false, NOW)).0, Code::KeyNotFound);
        assert_eq!(watch.events.try_recv().expect("ok").action, "expire");
        assert!(!s.has_ttl_keys());
        // An update without a TTL makes a node permanent.
        s.set("/p", false, "v", Some(NOW + SEC), false, NOW).expect("ok");
        s.update("/p", "w", None, false, NOW).expect("ok");
        s.delete_expired(NOW + 10 * SEC, NOW);
        assert!(s.get("/p", false, false, NOW).is_ok());
        // A refresh keeps the value and tells no watcher.
        s.set("/r", false, "keep", Some(NOW + SEC), false, NOW).expect("ok");
        let mut watch = s.watch("/r", false, false, 0).expect("ok");
        let e = s.set("/r", false, "", Some(NOW + 9 * SEC), true, NOW).expect("ok");
        assert!(e.refresh);
        assert_eq!(e.node.value.as_deref(), Some("keep"));
        assert!(watch.events.try_recv().is_err());
    }

    #[test]
    fn watchers_see_their_key_or_subtree_once() {
        let mut s = Store::default();
        let mut one = s.watch("/a", false, false, 0).expect("ok");
        let mut tree = s.watch("/a", true, true, 0).expect("ok");
        let mut hidden = s.watch("/", true, true, 0).expect("ok");
        let mut own = s.watch("/a/_h", false, false, 0).expect("ok");
        s.set("/a/b", false, "1", None, false, NOW).expect("ok");
        s.set("/a/_h", false, "1", None, false, NOW).expect("ok");
        s.delete("/a", true, true, NOW).expect("ok");
        assert_eq!(one.events.try_recv().expect("ok").action, "delete");
        // A hidden node is seen only by a watch of its own path.
        let seen: Vec<_> = std::iter::from_fn(|| tree.events.try_recv().ok()).map(|e| e.index()).collect();
        assert_eq!(seen, vec![1, 3]);
        assert_eq!(own.events.try_recv().expect("ok").index(), 2);
        let seen: Vec<_> = std::iter::from_fn(|| hidden.events.try_recv().ok()).map(|e| e.index()).collect();
        assert_eq!(seen, vec![1, 3]);
        assert_eq!(s.watcher_count(), 2);
    }

    #[test]
    fn watch_from_the_history_and_its_end() {
        let mut s = Store::default();
        for i in 0..(HISTORY_CAPACITY + 10) {
            s.set("/k", false, &i.to_string(), None, false, NOW).expect("ok");
        }
        let mut w = s.watch("/k", false, false, 500).expect("ok");
        let e = w.events.try_recv().expect("ok");
        assert_eq!((e.index(), e.etcd_index), (500, 1010));
        let e = s.watch("/k", false, false, 5).expect_err("an error");
        assert_eq!(
            (e.code, e.cause.as_str()),
            (Code::EventIndexCleared, "the requested history has been cleared [11/5]")
        );
    }

    #[test]
    fn records_round_trip_and_restore_the_tree() {
        let mut s = Store::default();
        s.set("/d/f", false, "v", Some(NOW + SEC), false, NOW).expect("ok");
        s.set("/d-x", false, "w", None, false, NOW).expect("ok");
        let mut records: Vec<_> = s.take_dirty().into_iter().map(|(p, r)| (p, r.expect("ok"))).collect();
        records.sort_by(|a, b| a.0.cmp(&b.0));
        for (_, r) in &records {
            assert_eq!(Record::decode(&r.encode()).as_ref(), Some(r));
        }
        assert_eq!(Record::decode(&[7; 30]), None);
        let mut restored = Store::default();
        restored.restore(s.index(), records);
        assert_eq!(restored.root, s.root);
        assert_eq!(restored.ttl, s.ttl);
    }

    #[test]
    fn paths_are_cleaned_and_times_formatted() {
        assert_eq!(clean(""), "/");
        assert_eq!(clean("/a//b/../c/."), "/a/c");
        assert_eq!(clean("../../x"), "/x");
        assert_eq!(rfc3339_nanos(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_nanos(951_782_400 * SEC + 120_000_000), "2000-02-29T00:00:00.12Z");
    }
}
