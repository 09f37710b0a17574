//! Leases: the lessor (which leases exist, their keys, when they expire) and
//! etcd's id generator.

mod id_gen;
mod lessor;

pub use id_gen::IdGenerator;
pub use lessor::{Lease, LeaseError, Lessor, MAX_LEASE_TTL};
