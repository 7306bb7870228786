//! Certificates made in the test with rcgen: a CA, and leaf certificates
//! it signs for `localhost` and 127.0.0.1, written as PEM files.

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A test certificate authority.
pub struct Ca {
    cert: rcgen::Certificate,
    key: KeyPair,
    /// The CA certificate as PEM, for clients to trust.
    pub pem: String,
}

/// One leaf certificate's files, and its DER to recognise it when served.
pub struct Leaf {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    pub der: Vec<u8>,
}

impl Ca {
    pub fn new(name: &str) -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let key = KeyPair::generate().expect("CA key");
        let cert = params.self_signed(&key).expect("CA certificate");
        let pem = cert.pem();
        Ca { cert, key, pem }
    }

    /// Writes `ca.pem` into `dir` and returns its path.
    pub fn write(&self, dir: &Path) -> PathBuf {
        let path = dir.join("ca.pem");
        std::fs::write(&path, &self.pem).expect("write CA");
        path
    }

    /// A certificate for localhost and 127.0.0.1 named `cn`, written as
    /// `<stem>.crt` and `<stem>.key` in `dir`.
    pub fn leaf(&self, dir: &Path, stem: &str, cn: &str) -> Leaf {
        let mut params =
            CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
                .expect("params");
        params.distinguished_name.push(DnType::CommonName, cn);
        let key = KeyPair::generate().expect("leaf key");
        let cert = params
            .signed_by(&key, &self.cert, &self.key)
            .expect("leaf certificate");
        let cert_file = dir.join(format!("{stem}.crt"));
        let key_file = dir.join(format!("{stem}.key"));
        std::fs::write(&cert_file, cert.pem()).expect("write cert");
        std::fs::write(&key_file, key.serialize_pem()).expect("write key");
        Leaf {
            cert_file,
            key_file,
            der: cert.der().to_vec(),
        }
    }

    /// A reqwest client that trusts this CA only.
    pub fn client(&self, http1_only: bool) -> reqwest::Client {
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(self.pem.as_bytes()).expect("CA"))
            .redirect(reqwest::redirect::Policy::none());
        if http1_only {
            builder = builder.http1_only();
        }
        builder.build().expect("client")
    }

    /// rustls client settings that trust this CA, for raw handshakes.
    pub fn rustls_client(&self) -> Arc<rustls::ClientConfig> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.cert.der().clone()).expect("root");
        let config = rustls::ClientConfig::builder_with_provider(doorman::tls::provider())
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        Arc::new(config)
    }
}

/// The leaf certificate `addr` presents in a new TLS handshake.
pub async fn served_certificate(ca: &Ca, addr: std::net::SocketAddr) -> Vec<u8> {
    let connector = tokio_rustls::TlsConnector::from(ca.rustls_client());
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
    let tls = connector.connect(name, stream).await.expect("handshake");
    let (_, session) = tls.get_ref();
    session
        .peer_certificates()
        .and_then(|chain| chain.first())
        .map(|cert| cert.to_vec())
        .expect("a certificate")
}
