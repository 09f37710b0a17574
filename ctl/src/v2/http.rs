//! One HTTP/1.1 exchange at a time, as Go's `http.Transport.RoundTrip` does it for etcd's v2
//! client: dial (with a timeout), optional TLS, send, read the response. Failures read as Go's
//! (`dial tcp 127.0.0.1:1: connect: connection refused`) and say whether Go would count them as
//! connection errors (`isConnectionError`).

use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::net::TcpStream;

use super::gourl::Url;

/// A failed exchange, worded as Go words it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpError {
    /// The error's text.
    pub text: String,
    /// True for what Go's etcdctl counts as a connection error (a failed dial or read).
    pub connection: bool,
}

impl HttpError {
    fn other(text: impl Into<String>) -> HttpError {
        HttpError { text: text.into(), connection: false }
    }
}

/// A request: method, URL, optional body with its content type, optional basic auth.
#[derive(Clone, Debug)]
pub struct Request {
    /// `GET`, `PUT`, ...
    pub method: &'static str,
    /// Where.
    pub url: Url,
    /// The `Content-Type` header.
    pub content_type: Option<&'static str>,
    /// The body.
    pub body: Option<Vec<u8>>,
    /// User and password.
    pub basic_auth: Option<(String, String)>,
}

/// A response with its whole body.
#[derive(Clone, Debug)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The headers.
    pub headers: hyper::HeaderMap,
    /// The body.
    pub body: Vec<u8>,
}

impl Response {
    /// A header's value (`""` when absent), as Go's `Header.Get`.
    pub fn header(&self, name: &str) -> String {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned()
    }
}

/// How to reach endpoints: TLS settings and the dial timeout.
#[derive(Clone, Debug)]
pub struct Transport {
    tls: Option<Arc<rustls::ClientConfig>>,
    tls_error: Option<String>,
    server_name: Option<String>,
    dial_timeout: Duration,
}

/// The TLS files (`--ca-file`, `--cert-file`, `--key-file`).
#[derive(Clone, Debug, Default)]
pub struct TlsFiles {
    /// CA bundle.
    pub ca: String,
    /// Client certificate.
    pub cert: String,
    /// Client key.
    pub key: String,
}

impl Transport {
    /// A transport; TLS is set up from `files` (the system's roots when no CA is given).
    pub fn new(files: &TlsFiles, server_name: Option<String>, dial_timeout: Duration) -> Result<Transport, String> {
        let (tls, tls_error) = match tls_config(files) {
            Ok(config) => (Some(Arc::new(config)), None),
            // Go fails on bad files up front; a config rustls cannot build is only an error
            // for https endpoints.
            Err(TlsSetup::Files(e)) => return Err(e),
            Err(TlsSetup::Config(e)) => (None, Some(e)),
        };
        Ok(Transport { tls, tls_error, server_name, dial_timeout })
    }

    /// Sends `request` and reads the response headers; `Err` for what fails before them.
    pub async fn send(&self, request: &Request) -> Result<hyper::Response<Incoming>, HttpError> {
        let url = &request.url;
        if url.scheme != "http" && url.scheme != "https" {
            return Err(HttpError::other(format!(
                "unsupported protocol scheme {}",
                crate::print::go_quote(&url.scheme)
            )));
        }
        if url.host.is_empty() {
            return Err(HttpError::other("http: no Host in request URL"));
        }
        let (host, port) = url.host_port();
        let tcp = self.dial(&host, port).await?;
        let _ = tcp.set_nodelay(true);
        let http_request = build(request)?;
        if url.scheme == "https" {
            let Some(config) = &self.tls else {
                return Err(HttpError::other(
                    self.tls_error.clone().unwrap_or_else(|| "tls: no configuration".to_owned()),
                ));
            };
            let name = ServerName::try_from(self.server_name.clone().unwrap_or(host.clone()))
                .map_err(|e| HttpError::other(e.to_string()))?;
            let tls = tokio_rustls::TlsConnector::from(config.clone())
                .connect(name, tcp)
                .await
                .map_err(|e| HttpError::other(tls_error_text(&e)))?;
            exchange(TokioIo::new(tls), http_request).await
        } else {
            exchange(TokioIo::new(tcp), http_request).await
        }
    }

    async fn dial(&self, host: &str, port: u16) -> Result<TcpStream, HttpError> {
        let resolved: Vec<std::net::SocketAddr> = match tokio::net::lookup_host((host, port)).await {
            Ok(addrs) => addrs.collect(),
            Err(_) => {
                return Err(HttpError { text: format!("dial tcp: lookup {host}: no such host"), connection: true });
            }
        };
        let mut first = None;
        for addr in &resolved {
            let shown = addr.to_string();
            match tokio::time::timeout(self.dial_timeout, TcpStream::connect(addr)).await {
                Ok(Ok(stream)) => return Ok(stream),
                Ok(Err(e)) => {
                    first.get_or_insert(HttpError {
                        text: format!("dial tcp {shown}: connect: {}", errno_text(&e)),
                        connection: true,
                    });
                }
                Err(_) => {
                    first.get_or_insert(HttpError { text: format!("dial tcp {shown}: i/o timeout"), connection: true });
                }
            }
        }
        Err(first.unwrap_or(HttpError { text: format!("dial tcp: lookup {host}: no such host"), connection: true }))
    }
}

/// Reads a response's whole body.
pub async fn read_body(response: hyper::Response<Incoming>) -> Result<Response, HttpError> {
    let status = response.status().as_u16();
    let (parts, body) = response.into_parts();
    let body = body.collect().await.map_err(|e| body_error(&e))?.to_bytes().to_vec();
    Ok(Response { status, headers: parts.headers, body })
}

fn body_error(error: &hyper::Error) -> HttpError {
    if error.is_incomplete_message() { HttpError::other("unexpected EOF") } else { HttpError::other(error.to_string()) }
}

fn build(request: &Request) -> Result<hyper::Request<Full<Bytes>>, HttpError> {
    let mut builder = hyper::Request::builder()
        .method(request.method)
        .uri(request.url.request_uri())
        .header("Host", &request.url.host)
        .header("User-Agent", "Go-http-client/1.1");
    if let Some((user, password)) = &request.basic_auth {
        use base64::Engine;
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        builder = builder.header("Authorization", format!("Basic {token}"));
    }
    if let Some(content_type) = request.content_type {
        builder = builder.header("Content-Type", content_type);
    }
    let body = match &request.body {
        Some(bytes) => {
            builder = builder.header("Content-Length", bytes.len());
            Bytes::from(bytes.clone())
        }
        None => Bytes::new(),
    };
    builder.body(Full::new(body)).map_err(|e| HttpError::other(e.to_string()))
}

async fn exchange<T>(
    io: TokioIo<T>,
    request: hyper::Request<Full<Bytes>>,
) -> Result<hyper::Response<Incoming>, HttpError>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(io).await.map_err(|e| body_error(&e))?;
    tokio::spawn(async move {
        // The connection ends with the exchange; its error, if any, is the request's.
        let _ = connection.await;
    });
    sender.send_request(request).await.map_err(|e| {
        if e.is_incomplete_message() || e.is_canceled() {
            HttpError::other("EOF")
        } else {
            HttpError::other(e.to_string())
        }
    })
}

/// An OS error as Go's `syscall.Errno` prints it ("connection refused").
fn errno_text(error: &std::io::Error) -> String {
    let text = error.to_string();
    let text = match text.find(" (os error") {
        Some(i) => text[..i].to_owned(),
        None => text,
    };
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => text,
    }
}

fn tls_error_text(error: &std::io::Error) -> String {
    let text = error.to_string();
    if text.contains("UnknownIssuer") { "x509: certificate signed by unknown authority".to_owned() } else { text }
}

enum TlsSetup {
    Files(String),
    Config(String),
}

fn read_certs(path: &str) -> Result<Vec<CertificateDer<'static>>, TlsSetup> {
    let certs: Result<Vec<_>, _> = CertificateDer::pem_file_iter(path)
        .map_err(|_| TlsSetup::Files(format!("open {path}: no such file or directory")))?
        .collect();
    certs.map_err(|e| TlsSetup::Files(format!("{path}: {e}")))
}

fn tls_config(files: &TlsFiles) -> Result<rustls::ClientConfig, TlsSetup> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsSetup::Config(e.to_string()))?;
    let mut roots = rustls::RootCertStore::empty();
    if files.ca.is_empty() {
        for bundle in ["/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt"] {
            if std::path::Path::new(bundle).is_file() {
                for cert in read_certs(bundle).unwrap_or_default() {
                    let _ = roots.add(cert);
                }
                break;
            }
        }
    } else {
        for cert in read_certs(&files.ca)? {
            roots.add(cert).map_err(|e| TlsSetup::Files(format!("{}: {e}", files.ca)))?;
        }
    }
    let builder = builder.with_root_certificates(roots);
    let mut config = if !files.cert.is_empty() && !files.key.is_empty() {
        let key = PrivateKeyDer::from_pem_file(&files.key)
            .map_err(|_| TlsSetup::Files(format!("open {}: no such file or directory", files.key)))?;
        builder.with_client_auth_cert(read_certs(&files.cert)?, key).map_err(|e| TlsSetup::Files(e.to_string()))?
    } else {
        builder.with_no_client_auth()
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}
