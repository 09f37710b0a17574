//! The `cairn` binary: one member of a cairn cluster, configured like etcd.

use cairn_server::config::Config;

/// mimalloc: the request path allocates many small buffers; glibc's allocator
/// spent ~14% of a put's CPU in profiles.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // Failpoints from `FAILPOINTS=name=actions;...`, like the `fail` crate's tests;
    // `/debug/failpoints` changes them at run time.
    #[cfg(feature = "failpoints")]
    let _failpoints = cairn_server::http::failpoints::setup();
    let config = Config::load(std::env::args_os(), |name| std::env::var(name).ok())?;
    let level = match config.log_level.as_str() {
        "panic" | "fatal" => "error",
        other => other,
    };
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level)))
        .with_writer(std::io::stderr)
        .init();
    let shutdown = async {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            match signal(SignalKind::terminate()) {
                Ok(mut term) => {
                    tokio::select! {
                        _ = tokio::signal::ctrl_c() => {}
                        _ = term.recv() => {}
                    }
                }
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("received a shutdown signal");
    };
    cairn_server::run(config, shutdown).await
}
