//! etcd's v2 API: the v2 store ([`store`]), replicated through raft like
//! every other request, and its errors ([`error`]). The HTTP handlers are in
//! `crate::http::v2`.

pub mod error;
pub mod store;

use cairn_proto::cairnpb::V2Request;

pub use error::{Code, V2Error};
pub use store::{Event, Store};

/// Applies a replicated v2 request to `store` at `now` (Unix nanoseconds), as
/// etcd's `applierV2store` dispatches it: `None` for the leader's `SYNC` (which
/// only expires nodes), else the event or the error the caller gets.
pub fn apply(store: &mut Store, r: &V2Request, now: i64) -> Option<Result<Event, V2Error>> {
    let before = store.index();
    let expire = (r.expiration != 0).then_some(r.expiration);
    let compare = r.prev_index > 0 || !r.prev_value.is_empty();
    match r.method.as_str() {
        "POST" => Some(store.create(&r.path, r.dir, &r.val, true, expire, now)),
        "PUT" => Some(match r.prev_exist {
            1 if compare => {
                store.compare_and_swap(&r.path, &r.prev_value, r.prev_index, &r.val, expire, r.refresh, now)
            }
            1 => store.update(&r.path, &r.val, expire, r.refresh, now),
            2 => store.create(&r.path, r.dir, &r.val, false, expire, now),
            _ if compare => {
                store.compare_and_swap(&r.path, &r.prev_value, r.prev_index, &r.val, expire, r.refresh, now)
            }
            _ => store.set(&r.path, r.dir, &r.val, expire, r.refresh, now),
        }),
        "DELETE" if compare => Some(store.compare_and_delete(&r.path, &r.prev_value, r.prev_index, now)),
        "DELETE" => Some(store.delete(&r.path, r.dir, r.recursive, now)),
        "SYNC" => {
            store.delete_expired(r.time, now);
            None
        }
        other => Some(Err(V2Error::new(Code::RaftInternal, format!("etcdserver: unknown method {other:?}"), before))),
    }
}

/// The wall clock in Unix nanoseconds.
pub fn unix_nanos() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
