//! Connecting to a peer: the first of its URLs that answers.

use tonic::transport::{Channel, Endpoint};

use super::error::GrpcError;
use super::options::GrpcOptions;

/// Checks that `url` can be connected to (`http://host:port`).
pub(super) fn endpoint(url: &str, options: &GrpcOptions) -> Result<Endpoint, GrpcError> {
    let invalid = |reason: String| GrpcError::InvalidUrl { url: url.to_owned(), reason };
    let endpoint = Endpoint::from_shared(url.to_owned()).map_err(|e| invalid(e.to_string()))?;
    if endpoint.uri().host().is_none() {
        return Err(invalid("no host".into()));
    }
    Ok(endpoint
        .connect_timeout(options.connect_timeout)
        .tcp_nodelay(true)
        .http2_keep_alive_interval(options.keepalive_interval)
        .keep_alive_timeout(options.keepalive_timeout)
        .keep_alive_while_idle(true))
}

/// Opens an HTTP/2 connection to the first of `urls` that accepts one, within the
/// connect timeout each; the error names the last failure.
pub(super) async fn connect(urls: &[String], options: &GrpcOptions) -> Result<Channel, String> {
    let mut failure = String::from("no URL");
    for url in urls {
        let endpoint = match endpoint(url, options) {
            Ok(endpoint) => endpoint,
            Err(error) => {
                failure = error.to_string();
                continue;
            }
        };
        // `connect_timeout` covers TCP only; bound the HTTP/2 (and TLS) handshake too.
        let connecting = async {
            match &options.connector {
                Some(connector) => (connector.0)(endpoint).await,
                None => endpoint.connect().await.map_err(|e| error_chain(&e)),
            }
        };
        match tokio::time::timeout(options.connect_timeout * 2, connecting).await {
            Ok(Ok(channel)) => return Ok(channel),
            Ok(Err(error)) => failure = format!("{url}: {error}"),
            Err(_) => failure = format!("{url}: timed out"),
        }
    }
    Err(failure)
}

/// An error and its sources on one line (tonic's own message is often just
/// "transport error").
pub(super) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut line = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        line.push_str(": ");
        line.push_str(&cause.to_string());
        source = cause.source();
    }
    line
}
