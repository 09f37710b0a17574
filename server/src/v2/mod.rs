//! etcd's v2 API: the v2 store ([`store`]), replicated through raft like
//! every other request, and its errors ([`error`]). The HTTP handlers are in
//! `crate::http::v2`.

pub mod error;
pub mod store;

pub use error::{Code, V2Error};
pub use store::{Event, Store};

/// The wall clock in Unix nanoseconds.
pub fn unix_nanos() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
