//! The lessor: pure bookkeeping of leases, with time passed in.
//!
//! Every member holds every lease (grants and revocations come through raft).
//! Only the leader (the primary) tracks expiry: on a follower leases never
//! expire, and when a member becomes leader every lease's clock restarts with
//! its remaining TTL plus an election timeout, as in etcd, so a leader change
//! never expires a lease early.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use bytes::Bytes;

/// The largest TTL a lease may have, in seconds (etcd's `MaxLeaseTTL`).
pub const MAX_LEASE_TTL: i64 = 9_000_000_000;

/// What lease operations refuse; the messages are etcd's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LeaseError {
    /// No lease with that id.
    #[error("etcdserver: requested lease not found")]
    NotFound,
    /// A grant of an id in use.
    #[error("etcdserver: lease already exists")]
    Exists,
    /// A TTL above [`MAX_LEASE_TTL`].
    #[error("etcdserver: too large lease TTL")]
    TtlTooLarge,
    /// A keep-alive on a member that is not the leader.
    #[error("etcdserver: not leader")]
    NotPrimary,
}

/// One lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// Its id.
    pub id: i64,
    /// The TTL granted, in seconds.
    pub ttl: i64,
    /// When it expires, on the primary; `None` elsewhere.
    pub expiry: Option<Instant>,
    /// The keys attached to it.
    pub keys: BTreeSet<Bytes>,
}

impl Lease {
    /// Seconds left before expiry at `now` (the granted TTL when not tracked).
    pub fn remaining(&self, now: Instant) -> i64 {
        match self.expiry {
            Some(at) => at.saturating_duration_since(now).as_secs() as i64,
            None => self.ttl,
        }
    }
}

/// All leases of the member.
#[derive(Debug)]
pub struct Lessor {
    leases: HashMap<i64, Lease>,
    /// Which lease each attached key is on.
    owners: HashMap<Bytes, i64>,
    min_ttl: i64,
    primary: bool,
}

impl Lessor {
    /// An empty lessor whose leases last at least `min_ttl` seconds.
    pub fn new(min_ttl: i64) -> Self {
        Lessor { leases: HashMap::new(), owners: HashMap::new(), min_ttl: min_ttl.max(1), primary: false }
    }

    /// etcd's minimum TTL for an election timeout: 1.5 election timeouts, rounded up to seconds.
    pub fn min_ttl_for(election_timeout: Duration) -> i64 {
        ((election_timeout.as_millis() as i64 * 3 / 2 + 999) / 1000).max(1)
    }

    /// Whether this member tracks expiry.
    pub fn is_primary(&self) -> bool {
        self.primary
    }

    /// Creates lease `id` (non-zero); the TTL is raised to the minimum.
    pub fn grant(&mut self, id: i64, ttl: i64, now: Instant) -> Result<&Lease, LeaseError> {
        if ttl > MAX_LEASE_TTL {
            return Err(LeaseError::TtlTooLarge);
        }
        if self.leases.contains_key(&id) {
            return Err(LeaseError::Exists);
        }
        let ttl = ttl.max(self.min_ttl);
        let expiry = self.primary.then(|| now + Duration::from_secs(ttl as u64));
        let lease = self.leases.entry(id).or_insert(Lease { id, ttl, expiry, keys: BTreeSet::new() });
        Ok(lease)
    }

    /// Restores a lease read back from storage (no minimum applied).
    pub fn restore(&mut self, id: i64, ttl: i64, now: Instant) {
        let expiry = self.primary.then(|| now + Duration::from_secs(ttl.max(0) as u64));
        self.leases.entry(id).or_insert(Lease { id, ttl, expiry, keys: BTreeSet::new() });
    }

    /// Removes lease `id`, returning it with its keys (which the caller deletes).
    pub fn revoke(&mut self, id: i64) -> Result<Lease, LeaseError> {
        let lease = self.leases.remove(&id).ok_or(LeaseError::NotFound)?;
        for key in &lease.keys {
            self.owners.remove(key);
        }
        Ok(lease)
    }

    /// Restarts lease `id`'s clock; returns its TTL. Only on the primary.
    pub fn renew(&mut self, id: i64, now: Instant) -> Result<i64, LeaseError> {
        if !self.primary {
            return Err(LeaseError::NotPrimary);
        }
        let lease = self.leases.get_mut(&id).ok_or(LeaseError::NotFound)?;
        lease.expiry = Some(now + Duration::from_secs(lease.ttl as u64));
        Ok(lease.ttl)
    }

    /// Whether lease `id` exists.
    pub fn contains(&self, id: i64) -> bool {
        self.leases.contains_key(&id)
    }

    /// Lease `id`.
    pub fn get(&self, id: i64) -> Option<&Lease> {
        self.leases.get(&id)
    }

    /// Attaches `key` to lease `id` (detaching it from another lease it was on).
    pub fn attach(&mut self, id: i64, key: Bytes) -> Result<(), LeaseError> {
        let lease = self.leases.get_mut(&id).ok_or(LeaseError::NotFound)?;
        lease.keys.insert(key.clone());
        if let Some(previous) = self.owners.insert(key.clone(), id)
            && previous != id
            && let Some(lease) = self.leases.get_mut(&previous)
        {
            lease.keys.remove(&key);
        }
        Ok(())
    }

    /// Detaches `key` from whatever lease it is on.
    pub fn detach(&mut self, key: &[u8]) {
        if let Some(id) = self.owners.remove(key)
            && let Some(lease) = self.leases.get_mut(&id)
        {
            lease.keys.remove(key);
        }
    }

    /// The lease `key` is attached to.
    pub fn lease_of(&self, key: &[u8]) -> Option<i64> {
        self.owners.get(key).copied()
    }

    /// Whether any key is attached to a lease.
    pub fn has_attached_keys(&self) -> bool {
        !self.owners.is_empty()
    }

    /// The ids of all leases, soonest expiry first (as etcd lists them), then by id.
    pub fn ids(&self) -> Vec<i64> {
        let mut leases: Vec<(Option<Instant>, i64)> = self.leases.values().map(|l| (l.expiry, l.id)).collect();
        leases.sort_unstable_by(|a, b| match (a.0, b.0) {
            (Some(x), Some(y)) => x.cmp(&y).then(a.1.cmp(&b.1)),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => a.1.cmp(&b.1),
        });
        leases.into_iter().map(|(_, id)| id).collect()
    }

    /// Leases whose expiry has passed at `now` (none unless primary), oldest first.
    pub fn expired(&self, now: Instant, max: usize) -> Vec<i64> {
        let mut expired: Vec<(Instant, i64)> =
            self.leases.values().filter_map(|l| l.expiry.filter(|at| *at <= now).map(|at| (at, l.id))).collect();
        expired.sort_unstable();
        expired.into_iter().take(max).map(|(_, id)| id).collect()
    }

    /// Becomes primary: every lease's clock restarts at `now + extend + ttl`.
    pub fn promote(&mut self, now: Instant, extend: Duration) {
        self.primary = true;
        for lease in self.leases.values_mut() {
            lease.expiry = Some(now + extend + Duration::from_secs(lease.ttl as u64));
        }
    }

    /// Stops tracking expiry.
    pub fn demote(&mut self) {
        self.primary = false;
        for lease in self.leases.values_mut() {
            lease.expiry = None;
        }
    }

    /// Forgets every lease (before restoring a snapshot).
    pub fn clear(&mut self) {
        self.leases.clear();
        self.owners.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grant_renew_expire() {
        let t0 = Instant::now();
        let mut l = Lessor::new(2);
        l.promote(t0, Duration::ZERO);
        assert_eq!(l.grant(1, 1, t0).map(|l| l.ttl), Ok(2), "raised to the minimum TTL");
        assert_eq!(l.grant(1, 5, t0).err(), Some(LeaseError::Exists));
        assert_eq!(l.grant(2, MAX_LEASE_TTL + 1, t0).err(), Some(LeaseError::TtlTooLarge));
        l.grant(2, 10, t0).expect("grant");
        assert!(l.expired(t0 + Duration::from_secs(1), 10).is_empty());
        assert_eq!(l.expired(t0 + Duration::from_secs(2), 10), vec![1]);
        assert_eq!(l.renew(1, t0 + Duration::from_secs(2)), Ok(2));
        assert!(l.expired(t0 + Duration::from_secs(3), 10).is_empty());
        assert_eq!(l.renew(9, t0).err(), Some(LeaseError::NotFound));
        assert_eq!(l.get(2).map(|l| l.remaining(t0 + Duration::from_millis(2500))), Some(7));
    }

    #[test]
    fn followers_never_expire_and_promotion_extends() {
        let t0 = Instant::now();
        let mut l = Lessor::new(1);
        l.grant(7, 5, t0).expect("grant");
        assert!(l.expired(t0 + Duration::from_secs(100), 10).is_empty());
        assert_eq!(l.renew(7, t0).err(), Some(LeaseError::NotPrimary));
        l.promote(t0 + Duration::from_secs(100), Duration::from_secs(1));
        assert!(l.expired(t0 + Duration::from_secs(105), 10).is_empty());
        assert_eq!(l.expired(t0 + Duration::from_secs(106), 10), vec![7]);
        l.demote();
        assert!(l.expired(t0 + Duration::from_secs(1000), 10).is_empty());
    }

    #[test]
    fn keys_attach_and_revoke_returns_them() {
        let t0 = Instant::now();
        let mut l = Lessor::new(1);
        l.grant(1, 5, t0).expect("grant");
        l.attach(1, Bytes::from_static(b"a")).expect("attach");
        l.attach(1, Bytes::from_static(b"b")).expect("attach");
        l.detach(b"a");
        assert_eq!(l.lease_of(b"b"), Some(1));
        assert_eq!(l.lease_of(b"a"), None);
        assert_eq!(l.attach(2, Bytes::from_static(b"x")), Err(LeaseError::NotFound));
        let lease = l.revoke(1).expect("revoke");
        assert_eq!(lease.keys.into_iter().collect::<Vec<_>>(), vec![Bytes::from_static(b"b")]);
        assert_eq!(l.revoke(1).err(), Some(LeaseError::NotFound));
        assert_eq!(Lessor::min_ttl_for(Duration::from_millis(1000)), 2);
    }
}
