//! Failpoints at run time (feature `failpoints` only), as etcd's gofail endpoint
//! offers them, on the client port:
//!
//! - `PUT /debug/failpoints/<name>` with the actions as its body (`panic`,
//!   `sleep(100)`, `return`, `1*return(lose)`, `50%sleep(10)->panic`, ... in the
//!   `fail` crate's syntax, which takes gofail's common terms) sets one; `204`, or
//!   `400` with the reason;
//! - `GET /debug/failpoints/<name>` shows its actions (`404` if unset);
//! - `DELETE /debug/failpoints/<name>` turns it off;
//! - `GET /debug/failpoints` lists every set failpoint as `name=actions` lines.
//!
//! The names are etcd's: `raftBeforeLeaderSend`, `raftBeforeSave`, `raftAfterSave`,
//! `raftBeforeFollowerSend`, `raftBeforeSaveSnap`, `raftAfterSaveSnap`,
//! `raftBeforeApplySnap`, `raftAfterApplySnap`, `raftAfterWALRelease` (the raft loop),
//! `beforeCommit`, `afterCommit`, `compactBeforeCommitScheduledCompact`,
//! `compactAfterCommitScheduledCompact`, `compactBeforeCommitBatch`,
//! `compactAfterCommitBatch` (apply and compaction), `defragBeforeCopy`,
//! `defragBeforeRename` (the LMDB engine), and cairn's `walBeforeFsync` (see
//! `cairn-wal`: `return(lose)` and `return(tear)` simulate a power loss). A `panic`
//! at any of them ends the process, as in etcd.

use axum::body::Bytes;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;

/// Every failpoint cairn has, for the listing and for the robustness suite.
pub const NAMES: &[&str] = &[
    "raftBeforeLeaderSend",
    "raftBeforeSave",
    "raftAfterSave",
    "raftBeforeFollowerSend",
    "raftBeforeSaveSnap",
    "raftAfterSaveSnap",
    "raftBeforeApplySnap",
    "raftAfterApplySnap",
    "raftAfterWALRelease",
    "walBeforeFsync",
    "beforeCommit",
    "afterCommit",
    "compactBeforeCommitScheduledCompact",
    "compactAfterCommitScheduledCompact",
    "compactBeforeCommitBatch",
    "compactAfterCommitBatch",
    "defragBeforeCopy",
    "defragBeforeRename",
];

/// Configures the failpoints from `FAILPOINTS` (the `fail` crate's
/// `name=actions;name=actions`; a bad one is a start-up error, which the `fail`
/// crate reports by panicking), and makes a `panic` action end the process even
/// where a panic would only end a task. Keep the result for the process's life.
pub fn setup() -> fail::FailScenario<'static> {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        default(info);
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or_default();
        // `panic` panics with "failpoint NAME panic", `panic(msg)` with `msg`.
        let injected = message.contains("failpoint")
            || fail::list().iter().any(|(_, actions)| actions.contains(&format!("panic({message})")));
        if injected {
            eprintln!("a failpoint panicked: exiting, as etcd does");
            std::process::abort();
        }
    }));
    fail::FailScenario::setup()
}

/// The routes under `/debug/failpoints`.
pub fn routes<S: Clone + Send + Sync + 'static>() -> axum::Router<S> {
    axum::Router::new()
        .route("/debug/failpoints", get(list))
        .route("/debug/failpoints/", get(list))
        .route("/debug/failpoints/{name}", get(show).put(set).delete(remove))
}

async fn list() -> impl IntoResponse {
    let mut out = String::new();
    let mut set = fail::list();
    set.sort();
    for (name, actions) in set {
        out.push_str(&format!("{name}={actions}\n"));
    }
    out
}

async fn show(Path(name): Path<String>) -> impl IntoResponse {
    match fail::list().into_iter().find(|(n, _)| *n == name) {
        Some((_, actions)) => (StatusCode::OK, format!("{actions}\n")),
        None => (StatusCode::NOT_FOUND, format!("failpoint {name} is not set\n")),
    }
}

async fn set(Path(name): Path<String>, body: Bytes) -> impl IntoResponse {
    let actions = String::from_utf8_lossy(&body).trim().to_owned();
    if !NAMES.contains(&name.as_str()) {
        return (StatusCode::NOT_FOUND, format!("no failpoint {name}; known: {}\n", NAMES.join(", ")));
    }
    match fail::cfg(name.as_str(), &actions) {
        Ok(()) => {
            tracing::warn!(failpoint = %name, actions = %actions, "failpoint set");
            (StatusCode::NO_CONTENT, String::new())
        }
        Err(e) => (StatusCode::BAD_REQUEST, format!("{e}\n")),
    }
}

async fn remove(Path(name): Path<String>) -> impl IntoResponse {
    fail::remove(name.as_str());
    StatusCode::NO_CONTENT
}
