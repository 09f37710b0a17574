//! TLS on the client and peer listeners with rustls, as etcd's flags set it
//! up: a certificate and key (reloaded when their files change), optionally a
//! CA whose certificates clients must present (`--client-cert-auth`), or a
//! self-signed certificate made at start (`--auto-tls`); a minimum version
//! and cipher suites by etcd's (Go's) names. The same material makes the
//! client side used towards peers (mTLS with the peer certificate) and the
//! leader's client URL.
//!
//! Accepted connections carry the client certificate's common name, which
//! auth takes as the user when a request has no token (`--client-cert-auth`).

use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context as _, bail};
use parking_lot::Mutex;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, ServerConfig, SignatureScheme};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::{TlsAcceptor, TlsConnector};
use tonic::transport::server::Connected;

/// How often the certificate files are checked for a change.
const RELOAD_CHECK: Duration = Duration::from_secs(1);

/// One side's TLS settings (client or peer), as etcd's flags give them.
#[derive(Debug, Clone, Default)]
pub struct TlsFiles {
    /// `--cert-file` / `--peer-cert-file`.
    pub cert: Option<PathBuf>,
    /// `--key-file` / `--peer-key-file`.
    pub key: Option<PathBuf>,
    /// `--trusted-ca-file` / `--peer-trusted-ca-file`.
    pub trusted_ca: Option<PathBuf>,
    /// `--client-cert-auth` / `--peer-client-cert-auth`.
    pub client_cert_auth: bool,
    /// `--auto-tls` / `--peer-auto-tls`.
    pub auto_tls: bool,
}

/// Settings shared by both sides: `--tls-min-version`, `--cipher-suites`.
#[derive(Debug, Clone, Default)]
pub struct TlsPolicy {
    /// `TLS1.2` (default) or `TLS1.3`.
    pub min_version: String,
    /// Go names of the TLS 1.2 suites allowed (empty: rustls' modern defaults).
    pub cipher_suites: Vec<String>,
}

/// TLS for one side: the acceptor of its listeners and the connector towards
/// the same kind of listener elsewhere.
#[derive(Clone)]
pub struct Tls {
    /// Wraps accepted connections.
    pub acceptor: TlsAcceptor,
    /// Opens connections to other members' listeners of this kind.
    pub connector: TlsConnector,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tls")
    }
}

fn provider(policy: &TlsPolicy) -> anyhow::Result<Arc<rustls::crypto::CryptoProvider>> {
    let mut provider = rustls::crypto::ring::default_provider();
    if !policy.cipher_suites.is_empty() {
        let wanted: Vec<_> = policy
            .cipher_suites
            .iter()
            .map(|name| {
                let rustls_name = name.trim();
                provider
                    .cipher_suites
                    .iter()
                    .find(|s| format!("{:?}", s.suite()) == rustls_name)
                    .copied()
                    .with_context(|| format!("unsupported cipher suite {name:?}"))
            })
            .collect::<anyhow::Result<_>>()?;
        // TLS 1.3 suites are not configurable in etcd either: they stay.
        let tls13: Vec<_> = provider.cipher_suites.iter().filter(|s| s.tls13().is_some()).copied().collect();
        provider.cipher_suites = tls13.into_iter().chain(wanted).collect();
    }
    Ok(Arc::new(provider))
}

static TLS13_ONLY: &[&rustls::SupportedProtocolVersion] = &[&rustls::version::TLS13];

fn versions(policy: &TlsPolicy) -> anyhow::Result<&'static [&'static rustls::SupportedProtocolVersion]> {
    match policy.min_version.as_str() {
        "" | "TLS1.2" => Ok(rustls::ALL_VERSIONS),
        "TLS1.3" => Ok(TLS13_ONLY),
        "TLS1.0" | "TLS1.1" => bail!("--tls-min-version {} is not supported (TLS1.2 or TLS1.3)", policy.min_version),
        other => bail!("unknown --tls-min-version {other:?}"),
    }
}

fn read_certs(path: &Path) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_file_iter(path)
        .with_context(|| format!("cannot read {}", path.display()))?
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("bad certificate in {}", path.display()))?;
    if certs.is_empty() {
        bail!("no certificate in {}", path.display());
    }
    Ok(certs)
}

fn read_key(path: &Path) -> anyhow::Result<PrivateKeyDer<'static>> {
    PrivateKeyDer::from_pem_file(path).with_context(|| format!("no usable private key in {}", path.display()))
}

fn certified_key(
    provider: &rustls::crypto::CryptoProvider,
    cert: &Path,
    key: &Path,
) -> anyhow::Result<Arc<CertifiedKey>> {
    let chain = read_certs(cert)?;
    let key = provider.key_provider.load_private_key(read_key(key)?).context("unsupported private key")?;
    Ok(Arc::new(CertifiedKey::new(chain, key)))
}

/// Serves the certificate of two files, loading them again when either
/// changes (a renewal is picked up without a restart).
#[derive(Debug)]
struct Reloading {
    provider: Arc<rustls::crypto::CryptoProvider>,
    cert: PathBuf,
    key: PathBuf,
    current: Mutex<(Instant, Option<SystemTime>, Arc<CertifiedKey>)>,
}

impl Reloading {
    fn stamp(&self) -> Option<SystemTime> {
        let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
        modified(&self.cert).max(modified(&self.key))
    }
}

impl ResolvesServerCert for Reloading {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let mut current = self.current.lock();
        if current.0.elapsed() >= RELOAD_CHECK {
            current.0 = Instant::now();
            let stamp = self.stamp();
            if stamp != current.1 {
                match certified_key(&self.provider, &self.cert, &self.key) {
                    Ok(key) => {
                        tracing::info!(cert = %self.cert.display(), "reloaded the TLS certificate");
                        *current = (Instant::now(), stamp, key);
                    }
                    // A half-written renewal: keep serving the old one, retry later.
                    Err(e) => tracing::warn!(error = %e, "cannot reload the TLS certificate"),
                }
            }
        }
        Some(current.2.clone())
    }
}

/// Accepts any server certificate (etcd's `--peer-auto-tls` peers, whose
/// certificates are self-signed, are not verified either).
#[derive(Debug)]
struct AcceptAny(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// A self-signed certificate for `hosts`, written under `dir` (as etcd's
/// `--auto-tls` does under the data dir), reused if already there.
fn self_signed(dir: &Path, hosts: &[String]) -> anyhow::Result<(PathBuf, PathBuf)> {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    if cert.exists() && key.exists() {
        return Ok((cert, key));
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let made = rcgen::generate_simple_self_signed(hosts.to_vec()).context("cannot make a self-signed certificate")?;
    std::fs::write(&cert, made.cert.pem())?;
    std::fs::write(&key, made.key_pair.serialize_pem())?;
    Ok((cert, key))
}

/// TLS for one side from its files, or `None` when it has neither files nor
/// auto TLS. `hosts` name this member (for `--auto-tls`); `fixtures` is where
/// auto TLS keeps its certificate.
pub fn build(files: &TlsFiles, policy: &TlsPolicy, hosts: &[String], fixtures: &Path) -> anyhow::Result<Option<Tls>> {
    let (cert, key) = match (&files.cert, &files.key) {
        (Some(cert), Some(key)) => (cert.clone(), key.clone()),
        (None, None) if files.auto_tls => self_signed(fixtures, hosts)?,
        (None, None) => return Ok(None),
        _ => bail!("a certificate needs both its cert file and its key file"),
    };
    let provider = provider(policy)?;
    let versions = versions(policy)?;
    let roots = match &files.trusted_ca {
        Some(ca) => {
            let mut roots = RootCertStore::empty();
            for cert in read_certs(ca)? {
                roots.add(cert).with_context(|| format!("bad CA certificate in {}", ca.display()))?;
            }
            Some(Arc::new(roots))
        }
        None => None,
    };
    let loaded = certified_key(&provider, &cert, &key)?;
    let mut resolver = Reloading {
        provider: provider.clone(),
        current: Mutex::new((Instant::now(), None, loaded)),
        cert: cert.clone(),
        key: key.clone(),
    };
    let stamp = resolver.stamp();
    resolver.current.get_mut().1 = stamp;
    let resolver = Arc::new(resolver);

    let builder = ServerConfig::builder_with_provider(provider.clone()).with_protocol_versions(versions)?;
    let builder = match (&roots, files.client_cert_auth) {
        (Some(roots), true) => builder.with_client_cert_verifier(
            WebPkiClientVerifier::builder_with_provider(roots.clone(), provider.clone()).build()?,
        ),
        (None, true) => bail!("client certificate auth needs a trusted CA file"),
        (Some(roots), false) => builder.with_client_cert_verifier(
            WebPkiClientVerifier::builder_with_provider(roots.clone(), provider.clone())
                .allow_unauthenticated()
                .build()?,
        ),
        (None, false) => builder.with_no_client_auth(),
    };
    let mut server = builder.with_cert_resolver(resolver);
    server.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];

    let client = ClientConfig::builder_with_provider(provider.clone()).with_protocol_versions(versions)?;
    let client = match &roots {
        Some(roots) if !files.auto_tls => client.with_root_certificates(roots.clone()),
        _ => client.dangerous().with_custom_certificate_verifier(Arc::new(AcceptAny(provider.clone()))),
    };
    // This member's certificate is its client certificate too (etcd's peers do so).
    let mut client = client.with_client_auth_cert(read_certs(&cert)?, read_key(&key)?)?;
    client.alpn_protocols = vec![b"h2".to_vec()];
    Ok(Some(Tls { acceptor: TlsAcceptor::from(Arc::new(server)), connector: TlsConnector::from(Arc::new(client)) }))
}

/// Who is on the other end of an accepted connection.
#[derive(Debug, Clone, Default)]
pub struct PeerIdentity {
    /// The common name of the client certificate, if one was presented.
    pub common_name: Option<String>,
}

/// An accepted connection, plain or TLS.
pub enum Conn {
    /// Plain TCP.
    Plain(TcpStream),
    /// TLS over TCP.
    Tls(Box<tokio_rustls::server::TlsStream<TcpStream>>),
}

impl Connected for Conn {
    type ConnectInfo = PeerIdentity;

    fn connect_info(&self) -> PeerIdentity {
        match self {
            Conn::Plain(_) => PeerIdentity::default(),
            Conn::Tls(tls) => PeerIdentity {
                common_name: tls
                    .get_ref()
                    .1
                    .peer_certificates()
                    .and_then(|certs| certs.first())
                    .and_then(|cert| common_name(cert.as_ref())),
            },
        }
    }
}

impl AsyncRead for Conn {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_flush(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// The connections of `listener`, through a TLS handshake when `tls` is set.
/// Handshakes run in their own tasks (bounded by 10 s), so a slow or
/// plain-text client holds up nobody; failed ones are dropped.
pub fn incoming(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
) -> tokio_stream::wrappers::ReceiverStream<io::Result<Conn>> {
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    tokio::spawn(async move {
        loop {
            let (stream, addr) = match listener.accept().await {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            match &tls {
                None => {
                    if tx.send(Ok(Conn::Plain(stream))).await.is_err() {
                        return;
                    }
                }
                Some(acceptor) => {
                    let (acceptor, tx) = (acceptor.clone(), tx.clone());
                    tokio::spawn(async move {
                        match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream)).await {
                            Ok(Ok(tls)) => {
                                let _ = tx.send(Ok(Conn::Tls(Box::new(tls)))).await;
                            }
                            Ok(Err(e)) => tracing::debug!(%addr, error = %e, "TLS handshake failed"),
                            Err(_) => tracing::debug!(%addr, "TLS handshake timed out"),
                        }
                    });
                }
            }
            if tx.is_closed() {
                return;
            }
        }
    });
    tokio_stream::wrappers::ReceiverStream::new(rx)
}

/// Connects `endpoint`: through `tls` when its URL is `https://`.
pub async fn connect(
    endpoint: tonic::transport::Endpoint,
    tls: Option<&TlsConnector>,
) -> Result<tonic::transport::Channel, String> {
    let url = endpoint.uri().to_string();
    let https = endpoint.uri().scheme_str() == Some("https");
    match (https, tls) {
        (false, _) => endpoint.connect().await.map_err(|e| error_chain(&e)),
        (true, None) => Err(format!("{url}: https, but this member has no TLS settings for it")),
        (true, Some(connector)) => {
            let connector = connector.clone();
            let service = tower::service_fn(move |uri: tonic::transport::Uri| {
                let connector = connector.clone();
                async move {
                    let host = uri.host().unwrap_or("localhost").trim_matches(|c| c == '[' || c == ']').to_owned();
                    let port = uri.port_u16().unwrap_or(443);
                    let tcp = TcpStream::connect((host.as_str(), port)).await?;
                    tcp.set_nodelay(true)?;
                    let name =
                        ServerName::try_from(host).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
                    let tls = connector.connect(name, tcp).await?;
                    Ok::<_, io::Error>(hyper_util::rt::TokioIo::new(tls))
                }
            });
            endpoint.connect_with_connector(service).await.map_err(|e| error_chain(&e))
        }
    }
}

/// A gRPC channel to `url` (`http://` or `https://` through `tls`), within `timeout`.
pub async fn channel(
    url: &str,
    tls: Option<&TlsConnector>,
    timeout: Duration,
) -> Result<tonic::transport::Channel, String> {
    let endpoint = tonic::transport::Endpoint::from_shared(url.to_owned())
        .map_err(|e| format!("{url}: {e}"))?
        .connect_timeout(timeout);
    tokio::time::timeout(timeout * 2, connect(endpoint, tls)).await.map_err(|_| format!("{url}: timed out"))?
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut line = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        line.push_str(": ");
        line.push_str(&cause.to_string());
        source = cause.source();
    }
    line
}

/// The subject common name of a DER certificate.
pub fn common_name(der: &[u8]) -> Option<String> {
    // Certificate ::= SEQUENCE { tbsCertificate SEQUENCE { [0] version?, serial,
    // signature, issuer, validity, subject, ... }, ... }
    let (_, cert, _) = der_tlv(der)?;
    let (_, tbs, _) = der_tlv(cert)?;
    let mut rest = tbs;
    let mut fields = Vec::new();
    while !rest.is_empty() && fields.len() < 6 {
        let (tag, value, after) = der_tlv(rest)?;
        if fields.is_empty() && tag == 0xa0 {
            rest = after;
            continue;
        }
        fields.push(value);
        rest = after;
    }
    // serial, signature, issuer, validity, subject
    let subject = *fields.get(4)?;
    let mut rdns = subject;
    while !rdns.is_empty() {
        let (_, set, after) = der_tlv(rdns)?;
        let (_, attr, _) = der_tlv(set)?;
        let (oid_tag, oid, value) = der_tlv(attr)?;
        if oid_tag == 0x06 && oid == [0x55, 0x04, 0x03] {
            let (_, name, _) = der_tlv(value)?;
            return String::from_utf8(name.to_vec()).ok();
        }
        rdns = after;
    }
    None
}

/// One DER TLV: (tag, value, rest).
pub fn der_tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let tag = *input.first()?;
    let first = *input.get(1)?;
    let (len, header) = if first < 0x80 {
        (usize::from(first), 2)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for i in 0..n {
            len = (len << 8) | usize::from(*input.get(2 + i)?);
        }
        (len, 2 + n)
    };
    let end = header.checked_add(len)?;
    Some((tag, input.get(header..end)?, input.get(end..)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_common_name_is_read_from_a_certificate() {
        let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).expect("params");
        params.distinguished_name.push(rcgen::DnType::OrganizationName, "cairn");
        params.distinguished_name.push(rcgen::DnType::CommonName, "alice");
        let key = rcgen::KeyPair::generate().expect("key");
        let cert = params.self_signed(&key).expect("cert");
        assert_eq!(common_name(cert.der()).as_deref(), Some("alice"));
        assert_eq!(common_name(&[0x30, 0x03, 0x02]), None);
        assert_eq!(common_name(&[]), None);
    }

    #[test]
    fn unknown_versions_and_suites_are_refused() {
        assert!(versions(&TlsPolicy { min_version: "TLS1.1".into(), ..Default::default() }).is_err());
        assert!(versions(&TlsPolicy { min_version: "TLS1.3".into(), ..Default::default() }).is_ok());
        let bad = TlsPolicy { cipher_suites: vec!["TLS_RSA_WITH_RC4_128_SHA".into()], ..Default::default() };
        assert!(provider(&bad).is_err());
        let good =
            TlsPolicy { cipher_suites: vec!["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256".into()], ..Default::default() };
        assert!(provider(&good).is_ok());
    }
}
