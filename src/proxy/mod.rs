//! Forwarding to the upstream: pooled connections, streamed bodies, upgrades.
//!
//! A plain-HTTP upstream is reached over each worker's own HTTP/1
//! connections ([`pool`]); an `https://` one through hyper's pooled client
//! with the TLS connector.
//!
//! The proxy knows nothing about sessions; the gate has already decided and
//! set identity headers by the time a request gets here.

pub mod headers;
mod pool;
pub mod raw;
mod set;

pub use set::Proxies;

use crate::connections::Slot;
use crate::error::Error;
use crate::limits::Limits;
use crate::stall::{Stalled, TimedBody};
use http::header::{HeaderName, CONNECTION, HOST, UPGRADE};
use http::uri::{Authority, Scheme};
use http::{HeaderValue, Request, Response, StatusCode, Uri, Version};
use hyper::body::Incoming;
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// What the forwarder lets through besides plain requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardingSettings {
    /// `Upgrade` protocols tunnelled to the upstream (lower case);
    /// `websocket` by default, never `h2c`.
    pub upgrades: Vec<String>,
    /// Routing or client-address headers the app needs from its clients.
    pub pass_headers: Vec<HeaderName>,
}

impl Default for ForwardingSettings {
    fn default() -> Self {
        ForwardingSettings {
            upgrades: vec!["websocket".to_owned()],
            pass_headers: Vec::new(),
        }
    }
}

/// The protected app.
#[derive(Debug, Clone)]
pub struct Upstream {
    pub scheme: Scheme,
    pub authority: Authority,
    /// Replaces the client's `Host` when set.
    pub host_header: Option<HeaderValue>,
    /// For `https://` upstreams: how their certificate is checked.
    pub tls: Option<std::sync::Arc<rustls::ClientConfig>>,
    /// `upstream_insecure_skip_verify` is on: warned about at every start.
    pub insecure_skip_verify: bool,
}

pub struct Proxy {
    /// Keep-alive connections to the upstream, shared by this worker's requests.
    client: Connections,
    upstream: Upstream,
    /// `Host` for a request that came without one (HTTP/1.0): the upstream's.
    authority_host: HeaderValue,
    /// How long the upstream may take to answer with headers.
    timeout: Duration,
    /// How long a body on its way through may deliver nothing.
    body_idle_timeout: Duration,
    /// The upgraded connections this worker is splicing.
    tunnels: Tunnels,
    /// For a plain-HTTP upstream: idle connections the HTTP/1 lane speaks on.
    raw: Option<raw::RawPool>,
}

/// How the upstream is reached.
enum Connections {
    /// `http://`: this worker's own connections, origin-form targets.
    Plain(pool::Pool<Upload>),
    /// `https://`: hyper's pooled client (TLS), absolute-form targets.
    Tls(Box<Client<HttpsConnector<HttpConnector>, Upload>>),
}

/// Open tunnels, so shutdown can close them and wait until they have.
#[derive(Default)]
pub struct Tunnels {
    tracker: TaskTracker,
    closing: CancellationToken,
}

impl Tunnels {
    /// Closes every open tunnel (and any opened from now on) and resolves
    /// once they have all ended.
    pub async fn close(&self) {
        self.closing.cancel();
        self.tracker.close();
        self.tracker.wait().await;
    }
}

impl Proxy {
    pub fn new(upstream: Upstream, limits: &Limits) -> Proxy {
        let (client, raw) = if upstream.scheme == Scheme::HTTPS {
            (
                Connections::Tls(Box::new(tls_client(&upstream, limits))),
                None,
            )
        } else {
            let port = upstream.authority.port_u16().unwrap_or(80);
            let address = format!("{}:{port}", upstream.authority.host());
            let connect = limits.upstream_connect_timeout;
            let raw = raw::RawPool::new(address.clone(), connect);
            (
                Connections::Plain(pool::Pool::new(address, connect)),
                Some(raw),
            )
        };
        let authority_host = HeaderValue::from_str(upstream.authority.as_str())
            .unwrap_or(HeaderValue::from_static("localhost"));
        Proxy {
            client,
            upstream,
            authority_host,
            timeout: limits.upstream_timeout,
            body_idle_timeout: limits.body_idle_timeout,
            tunnels: Tunnels::default(),
            raw,
        }
    }

    /// The idle connections the HTTP/1 lane speaks on (`None`: an
    /// `https://` upstream, which the lane leaves to hyper).
    pub fn raw(&self) -> Option<&raw::RawPool> {
        self.raw.as_ref()
    }

    /// How long the upstream may take to answer with headers, and a body
    /// on its way may deliver nothing.
    pub fn timeouts(&self) -> (Duration, Duration) {
        (self.timeout, self.body_idle_timeout)
    }

    pub fn tunnels(&self) -> &Tunnels {
        &self.tunnels
    }
}

/// hyper's pooled client with the TLS connector, for an `https://` upstream.
fn tls_client(
    upstream: &Upstream,
    limits: &Limits,
) -> Client<HttpsConnector<HttpConnector>, Upload> {
    let mut connector = HttpConnector::new();
    connector.set_connect_timeout(Some(limits.upstream_connect_timeout));
    connector.set_nodelay(true);
    // `https://` upstreams need the TLS layer to see the scheme.
    connector.enforce_http(false);
    let tls = upstream.tls.clone().unwrap_or_else(|| {
        // The config always sets one for `https://`; without it, an
        // empty trust store trusts no certificate.
        Arc::new(
            rustls::ClientConfig::builder_with_provider(crate::tls::provider())
                .with_safe_default_protocol_versions()
                .map(|builder| {
                    builder
                        .with_root_certificates(rustls::RootCertStore::empty())
                        .with_no_client_auth()
                })
                .unwrap_or_else(|_| {
                    rustls::ClientConfig::builder()
                        .with_root_certificates(rustls::RootCertStore::empty())
                        .with_no_client_auth()
                }),
        )
    });
    let connector = HttpsConnectorBuilder::new()
        .with_tls_config((*tls).clone())
        .https_or_http()
        .enable_http1()
        .wrap_connector(connector);
    Client::builder(TokioExecutor::new())
        .pool_timer(TokioTimer::new())
        .pool_idle_timeout(Duration::from_secs(90))
        .pool_max_idle_per_host(1024)
        .build(connector)
}

impl Proxy {
    /// Where this proxy sends requests (`host:port`), for the access log.
    pub fn upstream(&self) -> &http::uri::Authority {
        &self.upstream.authority
    }

    /// Sends `request` upstream and returns its response, bodies streaming.
    /// Its headers are already clean (see
    /// [`headers::ClientHeaders::clean_request`]); `upgrade` is the protocol
    /// to tunnel, already checked against the allowed ones.
    /// A request may carry its connection's [`Slot`] as an extension: a
    /// tunnel it becomes then holds that slot while it is open.
    pub async fn forward(
        &self,
        mut request: Request<Incoming>,
        peer: IpAddr,
        trusted_peer: bool,
        tls: bool,
        upgrade: Option<HeaderValue>,
        tunnel_guard: Option<TunnelGuard>,
    ) -> Result<Response<Incoming>, Error> {
        let upgrade = upgrade.filter(|_| request.version() == Version::HTTP_11);
        // Must be taken before the request moves into the client.
        let client_side = upgrade.as_ref().map(|_| hyper::upgrade::on(&mut request));

        let (mut parts, body) = request.into_parts();
        self.prepare(&mut parts, peer, trusted_peer, tls)?;
        if let Some(protocol) = &upgrade {
            parts
                .headers
                .insert(CONNECTION, HeaderValue::from_static("upgrade"));
            parts.headers.insert(UPGRADE, protocol.clone());
        }

        // Only a tunnel keeps the connection's slot; the upstream never sees it.
        let slot = parts.extensions.remove::<Slot>();
        let mut body = Upload::new(body, self.body_idle_timeout);
        let uploaded = body.on_end();
        // Pinned once and awaited by reference: one slot for the send in
        // this future's state, not one per way of waiting for it.
        let answer = self.send(Request::from_parts(parts, body));
        tokio::pin!(answer);
        // The upstream's time to answer counts from the end of the upload,
        // so a large body on a slow link is not cut off halfway.
        let early = match uploaded {
            None => None,
            Some(uploaded) => tokio::select! {
                response = &mut answer => Some(response),
                _ = uploaded => None,
            },
        };
        let answered = match early {
            Some(response) => Ok(response),
            None => tokio::time::timeout(self.timeout, &mut answer).await,
        };
        let mut response = answered.map_err(|_| Error::UpstreamTimeout)??;

        if let (Some(protocol), Some(client_side)) = (upgrade, client_side) {
            if response.status() == StatusCode::SWITCHING_PROTOCOLS {
                let agreed = response.headers().get(UPGRADE).is_some_and(|answer| {
                    answer.as_bytes().eq_ignore_ascii_case(protocol.as_bytes())
                });
                if !agreed {
                    return Err(Error::Upstream(
                        "upgraded to a protocol the client did not ask for".into(),
                    ));
                }
                let upstream_side = hyper::upgrade::on(&mut response);
                let closing = self.tunnels.closing.clone();
                let linger = self.body_idle_timeout;
                self.tunnels.tracker.spawn(async move {
                    // Held until the tunnel ends: it counts in max_connections.
                    let _slot = slot;
                    let splice = async {
                        match tokio::try_join!(client_side, upstream_side) {
                            Ok((client, upstream)) => {
                                splice(TokioIo::new(client), TokioIo::new(upstream), linger).await;
                            }
                            Err(err) => tracing::debug!(error = %err, "upgrade failed"),
                        }
                    };
                    tokio::select! {
                        () = splice => {}
                        () = session_ends(tunnel_guard) => {
                            tracing::info!("tunnel closed: the session or token it opened with no longer holds");
                        }
                        () = closing.cancelled() => {
                            tracing::info!("tunnel closed: doorman is shutting down");
                        }
                    }
                });
                return Ok(response);
            }
        }
        headers::remove_hop_by_hop(response.headers_mut());
        Ok(response)
    }

    /// Addresses a request (its headers already clean) to the upstream,
    /// whichever way it goes there: `X-Forwarded-*`, `Host`, the target
    /// and HTTP/1.1.
    pub fn prepare(
        &self,
        parts: &mut http::request::Parts,
        peer: IpAddr,
        trusted_peer: bool,
        tls: bool,
    ) -> Result<(), Error> {
        let (host, forwarded) = self.addressing(parts, peer, trusted_peer, tls);
        forwarded.apply(&mut parts.headers);
        parts.headers.insert(HOST, host);
        parts.uri = self.upstream_uri(&parts.uri)?;
        parts.version = Version::HTTP_11;
        Ok(())
    }

    /// The `Host` and `X-Forwarded-*` values [`Proxy::prepare`] sets, for
    /// the HTTP/1 lane, which writes them out without putting them into
    /// the request.
    pub fn addressing(
        &self,
        parts: &http::request::Parts,
        peer: IpAddr,
        trusted_peer: bool,
        tls: bool,
    ) -> (HeaderValue, headers::Forwarded) {
        let host = headers::host_of(&parts.uri, &parts.headers);
        let forwarded = headers::forwarded(&parts.headers, peer, tls, host.as_ref(), trusted_peer);
        // Without one from the client (HTTP/1.0), the upstream's own.
        let host = self.upstream.host_header.clone().or(host);
        let host = host.unwrap_or_else(|| self.authority_host.clone());
        (host, forwarded)
    }

    /// One exchange with the upstream, on the worker's connections.
    async fn send(&self, request: Request<Upload>) -> Result<Response<Incoming>, Error> {
        let failed = |err: &(dyn std::error::Error + 'static)| {
            // The client stopped sending its body: its fault, not the upstream's.
            if Stalled::is_in(err) {
                Error::BodyTimeout
            } else {
                Error::Upstream(crate::error::chain(err))
            }
        };
        match &self.client {
            Connections::Tls(client) => client.request(request).await.map_err(|err| failed(&err)),
            Connections::Plain(pool) => pool.send(request).await.map_err(|err| match err {
                pool::Failed::Http(err) => failed(&err),
                pool::Failed::Connect(err) => {
                    Error::Upstream(format!("cannot connect to the upstream: {err}"))
                }
                pool::Failed::ConnectTimeout => {
                    Error::Upstream("connecting to the upstream timed out".into())
                }
            }),
        }
    }

    /// The target as sent upstream: origin-form on the worker's own
    /// connections, absolute-form for hyper's client (which picks its
    /// connection by it).
    fn upstream_uri(&self, original: &Uri) -> Result<Uri, Error> {
        let mut parts = http::uri::Parts::default();
        if let Connections::Tls(_) = self.client {
            parts.scheme = Some(self.upstream.scheme.clone());
            parts.authority = Some(self.upstream.authority.clone());
        }
        parts.path_and_query = Some(
            original
                .path_and_query()
                .cloned()
                .unwrap_or_else(|| http::uri::PathAndQuery::from_static("/")),
        );
        Uri::from_parts(parts).map_err(|_| Error::BadRequest("request target"))
    }
}

/// Copies both ways until both sides have finished. Once one side has
/// closed, the other gets `linger` to finish too: a peer that never closes
/// its half would otherwise keep the tunnel, and its slot, forever.
async fn splice<C, U>(client: C, upstream: U, linger: Duration)
where
    C: tokio::io::AsyncRead + tokio::io::AsyncWrite,
    U: tokio::io::AsyncRead + tokio::io::AsyncWrite,
{
    use tokio::io::AsyncWriteExt;
    let (mut client_read, mut client_write) = tokio::io::split(client);
    let (mut upstream_read, mut upstream_write) = tokio::io::split(upstream);
    let up = async {
        let _ = tokio::io::copy(&mut client_read, &mut upstream_write).await;
        let _ = upstream_write.shutdown().await;
    };
    let down = async {
        let _ = tokio::io::copy(&mut upstream_read, &mut client_write).await;
        let _ = client_write.shutdown().await;
    };
    tokio::pin!(up, down);
    tokio::select! {
        () = &mut up => { let _ = tokio::time::timeout(linger, down).await; }
        () = &mut down => { let _ = tokio::time::timeout(linger, up).await; }
    }
}

/// Says whether the session or token a tunnel was opened with still holds.
pub type TunnelGuard = Box<dyn Fn() -> bool + Send + Sync>;

/// How often an open tunnel checks its session or token.
const TUNNEL_CHECK: Duration = Duration::from_secs(1);

/// Resolves once `guard` says what let the tunnel open is over (never
/// without a guard).
async fn session_ends(guard: Option<TunnelGuard>) {
    let Some(guard) = guard else {
        return std::future::pending().await;
    };
    let mut ticks = tokio::time::interval(TUNNEL_CHECK);
    loop {
        ticks.tick().await;
        if !guard() {
            return;
        }
    }
}

/// The request body on its way upstream: fails with [`Stalled`] when the
/// client stops sending it, and says when it has been sent whole.
pub type Upload = TimedBody<Incoming>;
