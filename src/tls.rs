//! TLS with rustls: the listener's certificate (swappable while serving) and
//! the client settings for `https://` upstreams.

use arc_swap::ArcSwap;
use http::HeaderValue;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{ring, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::{DigitallySignedStruct, SignatureScheme};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

/// The listener's certificate and what to say about HTTPS.
#[derive(Clone)]
pub struct TlsSettings {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    /// Loaded and checked at validation, so `check-config` catches a bad pair.
    pub certified: rustls::sign::CertifiedKey,
    /// `Strict-Transport-Security` for every answer, when set.
    pub hsts: Option<HeaderValue>,
}

impl fmt::Debug for TlsSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsSettings")
            .field("cert_file", &self.cert_file)
            .field("key_file", &self.key_file)
            .field("hsts", &self.hsts)
            .finish()
    }
}

/// The one crypto provider doorman uses (ring: no C toolchain beyond cc).
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(ring::default_provider())
}

/// Reads a PEM certificate chain and its private key, and checks they match.
pub fn load_certified_key(cert_file: &Path, key_file: &Path) -> Result<CertifiedKey, String> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert_file)
        .map_err(|err| format!("cannot read {}: {err}", cert_file.display()))?
        .collect::<Result<_, _>>()
        .map_err(|err| format!("{}: not a PEM certificate: {err}", cert_file.display()))?;
    if certs.is_empty() {
        return Err(format!("{}: no certificate in it", cert_file.display()));
    }
    let key = PrivateKeyDer::from_pem_file(key_file)
        .map_err(|err| format!("{}: no usable PEM private key: {err}", key_file.display()))?;
    let certified = CertifiedKey::from_der(certs, key, &provider())
        .map_err(|err| format!("the key does not fit the certificate: {err}"))?;
    Ok(certified)
}

/// The listener's certificate: handshakes read it, a reload swaps it, and
/// connections already open keep the one they started with.
pub struct CertStore {
    current: ArcSwap<CertifiedKey>,
    /// Where it came from, and the files' modification times then.
    files: Mutex<Files>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Files {
    cert_file: PathBuf,
    key_file: PathBuf,
    seen: (Option<SystemTime>, Option<SystemTime>),
}

impl Files {
    fn new(cert_file: PathBuf, key_file: PathBuf) -> Files {
        let seen = (modified(&cert_file), modified(&key_file));
        Files {
            cert_file,
            key_file,
            seen,
        }
    }
}

impl std::fmt::Debug for CertStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertStore")
            .field("files", &self.files)
            .finish()
    }
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

impl CertStore {
    pub fn new(cert_file: PathBuf, key_file: PathBuf, certified: CertifiedKey) -> CertStore {
        CertStore {
            current: ArcSwap::from_pointee(certified),
            files: Mutex::new(Files::new(cert_file, key_file)),
        }
    }

    /// Takes a certificate loaded elsewhere (a config reload), and watches
    /// its files from now on.
    pub fn replace(&self, cert_file: PathBuf, key_file: PathBuf, certified: CertifiedKey) {
        self.current.store(Arc::new(certified));
        if let Ok(mut files) = self.files.lock() {
            *files = Files::new(cert_file, key_file);
        }
    }

    /// Reloads the files when either changed since the last look. A broken
    /// pair (say, the certificate written before its key) keeps the old one;
    /// the next change tries again.
    pub fn reload_if_changed(&self) -> Option<Result<(), String>> {
        let (cert_file, key_file) = {
            let mut files = self.files.lock().ok()?;
            let now = (modified(&files.cert_file), modified(&files.key_file));
            if files.seen == now {
                return None;
            }
            files.seen = now;
            (files.cert_file.clone(), files.key_file.clone())
        };
        let result = load_certified_key(&cert_file, &key_file);
        Some(result.map(|certified| self.current.store(Arc::new(certified))))
    }
}

/// Hands every handshake the current certificate.
#[derive(Debug)]
struct Resolver(Arc<CertStore>);

impl ResolvesServerCert for Resolver {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.current.load_full())
    }
}

/// The listener's TLS settings: HTTP/2 and HTTP/1.1 offered through ALPN.
pub fn server_config(store: Arc<CertStore>) -> Result<rustls::ServerConfig, rustls::Error> {
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(Resolver(store)));
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// How an `https://` upstream's certificate is checked.
#[derive(Debug, Clone)]
pub enum UpstreamTrust {
    /// The operating system's CA store.
    SystemRoots,
    /// Only CAs in this PEM file.
    CaFile(PathBuf),
    /// Nothing is checked (appliances with self-signed certificates).
    InsecureSkipVerify,
}

/// Client settings for the upstream connection.
pub fn client_config(trust: &UpstreamTrust) -> Result<rustls::ClientConfig, String> {
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|err| err.to_string())?;
    let config = match trust {
        UpstreamTrust::InsecureSkipVerify => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerify(provider())))
            .with_no_client_auth(),
        UpstreamTrust::SystemRoots => {
            let mut roots = rustls::RootCertStore::empty();
            let found = rustls_native_certs::load_native_certs();
            for err in &found.errors {
                tracing::debug!(error = %err, "a system CA certificate could not be read");
            }
            let (added, _ignored) = roots.add_parsable_certificates(found.certs);
            if added == 0 {
                return Err(
                    "no CA certificates found in the system store; install ca-certificates or set upstream_ca_file".into(),
                );
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        }
        UpstreamTrust::CaFile(path) => {
            let mut roots = rustls::RootCertStore::empty();
            let certs = CertificateDer::pem_file_iter(path)
                .map_err(|err| format!("cannot read {}: {err}", path.display()))?;
            for cert in certs {
                let cert = cert.map_err(|err| format!("{}: {err}", path.display()))?;
                roots
                    .add(cert)
                    .map_err(|err| format!("{}: {err}", path.display()))?;
            }
            if roots.is_empty() {
                return Err(format!("{}: no certificate in it", path.display()));
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        }
    };
    Ok(config)
}

/// `ServerCertVerifier` methods that hand the handshake signature to the
/// `rustls::crypto` function of the same name, with the provider's algorithms.
macro_rules! by_crypto_provider {
    ($($method:ident),+) => {
        $(
            fn $method(
                &self,
                message: &[u8],
                cert: &CertificateDer<'_>,
                dss: &DigitallySignedStruct,
            ) -> Result<HandshakeSignatureValid, rustls::Error> {
                let algorithms = &self.0.signature_verification_algorithms;
                rustls::crypto::$method(message, cert, dss, algorithms)
            }
        )+
    };
}

/// Accepts any upstream certificate, still checking that the handshake is
/// signed by its key. For `upstream_insecure_skip_verify` only.
#[derive(Debug)]
struct NoVerify(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerify {
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

    // The handshake signatures, checked as rustls checks them.
    by_crypto_provider!(verify_tls12_signature, verify_tls13_signature);

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
