//! TLS towards `https://` endpoints with rustls, as etcdctl's flags set it up: a CA to trust
//! (else the system's bundle), a client certificate and key, a server name to verify, or no
//! verification at all (`--insecure-skip-tls-verify`).

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::Error;

/// Where the system's CA bundle is on Debian and its relatives, and on Red Hat's.
const SYSTEM_BUNDLES: &[&str] = &["/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt"];

/// TLS settings of a client.
#[derive(Clone, Debug, Default)]
pub struct TlsConfig {
    /// PEM file of the CA certificates to trust (`--cacert`).
    pub ca_file: Option<PathBuf>,
    /// PEM file of the client certificate (`--cert`).
    pub cert_file: Option<PathBuf>,
    /// PEM file of the client key (`--key`).
    pub key_file: Option<PathBuf>,
    /// The name to verify the server's certificate against, instead of the endpoint's host.
    pub server_name: Option<String>,
    /// Accept any server certificate (`--insecure-skip-tls-verify`).
    pub insecure_skip_verify: bool,
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, Error> {
    let certs: Result<Vec<_>, _> = CertificateDer::pem_file_iter(path)
        .map_err(|e| Error::Config(format!("open {}: {e}", path.display())))?
        .collect();
    let certs = certs.map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(Error::Config(format!("{}: no certificate found", path.display())));
    }
    Ok(certs)
}

/// A connector for `settings` (the system's CA bundle when there are none).
pub(crate) fn connector(settings: Option<&TlsConfig>) -> Result<(TlsConnector, Option<String>), Error> {
    let default = TlsConfig::default();
    let settings = settings.unwrap_or(&default);
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Config(e.to_string()))?;
    let builder = if settings.insecure_skip_verify {
        builder.dangerous().with_custom_certificate_verifier(Arc::new(AcceptAny(provider)))
    } else {
        let mut roots = RootCertStore::empty();
        let files: Vec<PathBuf> = match &settings.ca_file {
            Some(ca) => vec![ca.clone()],
            None => SYSTEM_BUNDLES.iter().map(PathBuf::from).filter(|p| p.is_file()).take(1).collect(),
        };
        for file in &files {
            for cert in read_certs(file)? {
                // The system bundle may hold certificates rustls cannot use; skip those there.
                if let Err(e) = roots.add(cert)
                    && settings.ca_file.is_some()
                {
                    return Err(Error::Config(format!("{}: {e}", file.display())));
                }
            }
        }
        builder.with_root_certificates(roots)
    };
    let mut config = match (&settings.cert_file, &settings.key_file) {
        (Some(cert), Some(key)) => {
            let key =
                PrivateKeyDer::from_pem_file(key).map_err(|e| Error::Config(format!("{}: {e}", key.display())))?;
            builder.with_client_auth_cert(read_certs(cert)?, key).map_err(|e| Error::Config(e.to_string()))?
        }
        (None, None) => builder.with_no_client_auth(),
        _ => return Err(Error::Config("a client certificate needs both --cert and --key".to_owned())),
    };
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok((TlsConnector::from(Arc::new(config)), settings.server_name.clone()))
}

/// The connecting service tonic dials `https://` endpoints through.
pub(crate) fn service(
    (connector, server_name): (TlsConnector, Option<String>),
) -> impl tower::Service<
    tonic::transport::Uri,
    Response = hyper_util::rt::TokioIo<tokio_rustls::client::TlsStream<TcpStream>>,
    Error = io::Error,
    Future = impl Send,
> + Clone
+ Send {
    tower::service_fn(move |uri: tonic::transport::Uri| {
        let connector = connector.clone();
        let server_name = server_name.clone();
        async move {
            let host = uri.host().unwrap_or("localhost").trim_matches(|c| c == '[' || c == ']').to_owned();
            let port = uri.port_u16().unwrap_or(443);
            let tcp = TcpStream::connect((host.as_str(), port)).await?;
            tcp.set_nodelay(true)?;
            let name = ServerName::try_from(server_name.unwrap_or(host))
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
            let tls = connector.connect(name, tcp).await?;
            Ok::<_, io::Error>(hyper_util::rt::TokioIo::new(tls))
        }
    })
}

/// Accepts any server certificate, checking only that its signatures are well formed.
#[derive(Debug)]
struct AcceptAny(Arc<CryptoProvider>);

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
