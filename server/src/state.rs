//! The member's replicated state, shared by the apply loop (which changes it)
//! and the API handlers (which read it).

use std::sync::Arc;
use std::time::Instant;

use cairn_mvcc::{Backend, KvStore, WatchableStore};
use cairn_proto::etcdserverpb::AlarmMember;
use cairn_storage::{Order, ReadView};
use parking_lot::{Mutex, RwLock};

use crate::lease::Lessor;
use crate::members::{MEMBERS_BUCKET, Membership, REMOVED_BUCKET};

/// The bucket of leases: id (big-endian) -> TTL (big-endian i64).
pub const LEASE_BUCKET: &str = "lease";
/// The bucket of alarms: member id (big-endian) ++ alarm type (big-endian i32) -> empty.
pub const ALARM_BUCKET: &str = "alarm";

/// The bucket of the v2 store's nodes: path -> [`crate::v2::store::Record`],
/// and [`V2_INDEX_KEY`] -> the store's index (big-endian u64).
pub const V2_BUCKET: &str = "v2";
/// The v2 store's index in [`V2_BUCKET`] (no path starts without `/`).
pub const V2_INDEX_KEY: &[u8] = b"index";

/// Limits on requests, from the configuration.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// `--max-txn-ops`.
    pub max_txn_ops: usize,
    /// `--max-request-bytes`.
    pub max_request_bytes: usize,
    /// The backend quota in bytes.
    pub quota_bytes: u64,
    /// How long an unused simple token lives (`--auth-token-ttl`).
    pub auth_token_ttl: std::time::Duration,
}

/// What every part of the server shares.
pub struct State<B: Backend> {
    /// The MVCC store with its watchers.
    pub store: WatchableStore<B>,
    /// The leases.
    pub lessor: Mutex<Lessor>,
    /// The members.
    pub members: RwLock<Membership>,
    /// Raised alarms.
    pub alarms: RwLock<Vec<AlarmMember>>,
    /// etcd's v2 store (served with `--enable-v2`, replicated either way).
    pub v2: Mutex<crate::v2::Store>,
    /// Users, roles and whether auth is on.
    pub auth: RwLock<crate::auth::AuthStore>,
    /// The simple tokens this member knows.
    pub tokens: Mutex<crate::auth::Tokens>,
    /// Request limits.
    pub limits: Limits,
    /// The counters `/metrics` shows.
    pub metrics: crate::metrics::Metrics,
    /// This member's id.
    pub member_id: u64,
    /// The backend's allocated size and when it was read (reading it costs a
    /// read transaction, too much for every write's quota check).
    db_size: Mutex<(Option<Instant>, u64)>,
}

/// How long a read backend size is reused by quota checks.
const DB_SIZE_REFRESH: std::time::Duration = std::time::Duration::from_millis(100);

impl<B: Backend> State<B> {
    /// Opens the state over `backend`, restoring leases, members and alarms from it.
    pub fn open(backend: B, member_id: u64, min_lease_ttl: i64, limits: Limits) -> anyhow::Result<Arc<Self>> {
        let kv = KvStore::open(backend)?;
        let state = State {
            store: WatchableStore::new(kv),
            lessor: Mutex::new(Lessor::new(min_lease_ttl)),
            members: RwLock::new(Membership::default()),
            alarms: RwLock::new(Vec::new()),
            v2: Mutex::new(crate::v2::Store::default()),
            auth: RwLock::new(crate::auth::AuthStore::default()),
            tokens: Mutex::new(crate::auth::Tokens::new(limits.auth_token_ttl)),
            limits,
            metrics: crate::metrics::Metrics::default(),
            member_id,
            db_size: Mutex::new((None, 0)),
        };
        state.reload_side_tables()?;
        Ok(Arc::new(state))
    }

    /// Re-reads leases, members and alarms from the backend (at open, and after a
    /// snapshot replaced its contents).
    pub fn reload_side_tables(&self) -> anyhow::Result<()> {
        let view = self.store.backend().view()?;
        let now = Instant::now();
        let mut lessor = self.lessor.lock();
        lessor.clear();
        let mut leases = Vec::new();
        view.scan(LEASE_BUCKET, &[], None, Order::Forward, &mut |k, v| {
            if let (Ok(id), Ok(ttl)) = (<[u8; 8]>::try_from(k), <[u8; 8]>::try_from(v)) {
                leases.push((i64::from_be_bytes(id), i64::from_be_bytes(ttl)));
            }
            true
        })?;
        for (id, ttl) in leases {
            lessor.restore(id, ttl, now);
        }
        // Keys attached to leases, from the current key-values.
        let all = self.store.range(
            &cairn_mvcc::KeyRange::From(bytes::Bytes::from_static(b"\0")),
            cairn_mvcc::RangeOptions::default(),
        )?;
        for kv in all.kvs.into_iter().filter(|kv| kv.lease != 0) {
            let _ = lessor.attach(kv.lease, kv.key);
        }
        drop(lessor);

        let mut membership = Membership::default();
        let mut bad = None;
        view.scan(MEMBERS_BUCKET, &[], None, Order::Forward, &mut |_, v| {
            match Membership::decode(v) {
                Ok(m) => {
                    membership.members.insert(m.id, m);
                }
                Err(e) => bad = Some(e),
            }
            true
        })?;
        if let Some(e) = bad {
            anyhow::bail!("corrupt member record: {e}");
        }
        view.scan(REMOVED_BUCKET, &[], None, Order::Forward, &mut |k, _| {
            if let Ok(id) = <[u8; 8]>::try_from(k) {
                membership.removed.insert(u64::from_be_bytes(id));
            }
            true
        })?;
        if let Some(cid) = view.get(cairn_mvcc::buckets::META, b"cluster_id")?
            && let Ok(cid) = <[u8; 8]>::try_from(cid.as_slice())
        {
            membership.cluster_id = u64::from_be_bytes(cid);
        }
        *self.members.write() = membership;

        let mut alarms = Vec::new();
        view.scan(ALARM_BUCKET, &[], None, Order::Forward, &mut |k, _| {
            if k.len() == 12 {
                let mut id = [0u8; 8];
                id.copy_from_slice(&k[..8]);
                let mut alarm = [0u8; 4];
                alarm.copy_from_slice(&k[8..]);
                alarms.push(AlarmMember { member_id: u64::from_be_bytes(id), alarm: i32::from_be_bytes(alarm) });
            }
            true
        })?;
        *self.alarms.write() = alarms;

        let mut v2_index = 0;
        let mut records = Vec::new();
        let mut bad = None;
        view.scan(V2_BUCKET, &[], None, Order::Forward, &mut |k, v| {
            if k == V2_INDEX_KEY {
                v2_index = <[u8; 8]>::try_from(v).map(u64::from_be_bytes).unwrap_or(0);
            } else {
                match (std::str::from_utf8(k), crate::v2::store::Record::decode(v)) {
                    (Ok(path), Some(record)) => records.push((path.to_owned(), record)),
                    _ => bad = Some(String::from_utf8_lossy(k).into_owned()),
                }
            }
            true
        })?;
        if let Some(path) = bad {
            anyhow::bail!("corrupt v2 node record at {path:?}");
        }
        self.v2.lock().restore(v2_index, records);
        *self.auth.write() = crate::auth::AuthStore::load(&view)?;
        Ok(())
    }

    /// The backend's allocated bytes, read at most every 100 ms.
    pub fn db_size(&self) -> u64 {
        let mut cached = self.db_size.lock();
        if cached.0.is_none_or(|at| at.elapsed() > DB_SIZE_REFRESH) {
            let size = self.store.backend().space().map(|s| s.allocated).unwrap_or(cached.1);
            *cached = (Some(Instant::now()), size);
        }
        cached.1
    }

    /// Forgets the cached backend size (after a defragmentation changed it).
    pub fn forget_db_size(&self) {
        self.db_size.lock().0 = None;
    }

    /// The cluster id.
    pub fn cluster_id(&self) -> u64 {
        self.members.read().cluster_id
    }

    /// Whether the NOSPACE alarm is raised anywhere.
    pub fn no_space(&self) -> bool {
        use cairn_proto::etcdserverpb::AlarmType;
        self.alarms.read().iter().any(|a| a.alarm == AlarmType::Nospace as i32)
    }

    /// Whether the CORRUPT alarm is raised: etcd then refuses every write.
    pub fn corrupt(&self) -> bool {
        use cairn_proto::etcdserverpb::AlarmType;
        self.alarms.read().iter().any(|a| a.alarm == AlarmType::Corrupt as i32)
    }
}
