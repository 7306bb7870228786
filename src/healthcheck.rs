//! `doorman healthcheck`: asks a running doorman's health endpoint, for
//! container `HEALTHCHECK`s in images that have no curl.

use crate::config::Config;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// How long the whole probe may take.
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// Where the probe goes.
#[derive(Debug, Clone)]
pub struct Target {
    pub addr: SocketAddr,
    pub path: String,
    pub tls: bool,
}

impl Target {
    /// The health endpoint of the gateway `config` describes; a wildcard
    /// listen address is probed on loopback.
    pub fn of(config: &Config) -> Target {
        let mut addr = config.listen;
        if addr.ip().is_unspecified() {
            addr.set_ip(match addr.ip() {
                IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
                IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
            });
        }
        Target {
            addr,
            path: format!("{}/health", config.auth_prefix),
            tls: config.tls.is_some(),
        }
    }
}

/// The status code the health endpoint answers with.
pub async fn probe(target: &Target) -> Result<u16, String> {
    tokio::time::timeout(TIMEOUT, ask(target))
        .await
        .map_err(|_| format!("no answer from {} within {TIMEOUT:?}", target.addr))?
}

async fn ask(target: &Target) -> Result<u16, String> {
    let stream = tokio::net::TcpStream::connect(target.addr)
        .await
        .map_err(|err| format!("cannot connect to {}: {err}", target.addr))?;
    if !target.tls {
        return exchange(stream, target).await;
    }
    // Our own listener on loopback: its name will not match, and whether
    // the certificate is trusted is not what a health check asks.
    let mut config = crate::tls::client_config(&crate::tls::UpstreamTrust::InsecureSkipVerify)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let name = rustls::pki_types::ServerName::IpAddress(target.addr.ip().into());
    let stream = connector
        .connect(name, stream)
        .await
        .map_err(|err| format!("TLS handshake with {} failed: {err}", target.addr))?;
    exchange(stream, target).await
}

async fn exchange(
    mut stream: impl AsyncRead + AsyncWrite + Unpin,
    target: &Target,
) -> Result<u16, String> {
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: localhost\r\nUser-Agent: doorman-healthcheck\r\nConnection: close\r\n\r\n",
        target.path
    );
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|err| format!("cannot send the request: {err}"))?;
    let mut head = Vec::new();
    let mut buffer = [0u8; 512];
    while !head.windows(2).any(|w| w == b"\r\n") && head.len() < 4096 {
        let read = stream
            .read(&mut buffer)
            .await
            .map_err(|err| format!("cannot read the answer: {err}"))?;
        if read == 0 {
            break;
        }
        head.extend_from_slice(&buffer[..read]);
    }
    let line = String::from_utf8_lossy(&head);
    line.split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| {
            format!(
                "not an HTTP answer: {:?}",
                line.lines().next().unwrap_or("")
            )
        })
}
