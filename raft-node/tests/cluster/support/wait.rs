//! Bounded waiting: every wait ends, in success or in a panic naming what it waited for.

use std::time::Duration;

/// How long any condition may take. Tests run on paused (virtual) time, so this
/// costs nothing unless a condition never comes true.
pub const DEADLINE: Duration = Duration::from_secs(60);

/// Polls `check` every 5 ms of (virtual) time until it holds; panics after [`DEADLINE`].
pub async fn until(what: &str, mut check: impl FnMut() -> bool) {
    let poll = async {
        while !check() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    if tokio::time::timeout(DEADLINE, poll).await.is_err() {
        panic!("timed out waiting for {what}");
    }
}

/// Awaits `future`; panics after [`DEADLINE`].
pub async fn bounded<T>(what: &str, future: impl Future<Output = T>) -> T {
    match tokio::time::timeout(DEADLINE, future).await {
        Ok(value) => value,
        Err(_) => panic!("timed out waiting for {what}"),
    }
}
