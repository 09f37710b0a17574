//! Running one phase on many concurrent clients and collecting what they
//! recorded, as etcd's benchmark runs one goroutine per client.

use std::future::Future;

use anyhow::Result;

use crate::report::Report;

/// What one phase printed: a heading (etcd prints some, e.g. `Watch creation
/// summary:`) and its report.
#[derive(Debug)]
pub struct Phase {
    /// Printed on its own line before the report, when not empty.
    pub heading: String,
    /// The numbers.
    pub report: Report,
}

impl Phase {
    /// A phase with no heading.
    pub fn plain(report: Report) -> Self {
        Phase { heading: String::new(), report }
    }

    /// A phase printed under `heading`.
    pub fn headed(heading: impl Into<String>, report: Report) -> Self {
        Phase { heading: heading.into(), report }
    }
}

/// Runs `worker(i)` for `i` in `0..n` as concurrent tasks and returns what
/// each one returned, in order.
pub async fn run<T, F, Fut>(n: usize, worker: F) -> Result<Vec<T>>
where
    T: Send + 'static,
    F: Fn(usize) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
{
    let tasks: Vec<_> = (0..n).map(|i| tokio::spawn(worker(i))).collect();
    let mut out = Vec::with_capacity(n);
    for task in tasks {
        out.push(task.await?);
    }
    Ok(out)
}

/// A failed call as etcd's Go client words it, which is how etcd's benchmark
/// groups its error distribution: the server's own errors as they are
/// (`etcdserver: too many requests`), others as gRPC prints them
/// (`rpc error: code = Unavailable desc = ...`).
pub fn rpc<T>(result: Result<T, tonic::Status>) -> Result<T, String> {
    result.map_err(|s| {
        if s.message().starts_with("etcdserver: ") {
            s.message().to_string()
        } else {
            format!("rpc error: code = {:?} desc = {}", s.code(), s.message())
        }
    })
}
