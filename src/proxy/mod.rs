//! Forwarding to the upstream: pooled connections, streamed bodies, upgrades.
//!
//! The proxy knows nothing about sessions; the gate has already decided and
//! set identity headers by the time a request gets here.

pub mod headers;

use crate::config::{Limits, Upstream};
use crate::error::Error;
use http::header::{CONNECTION, HOST, UPGRADE};
use http::{HeaderValue, Request, Response, StatusCode, Uri, Version};
use hyper::body::Incoming;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use std::net::IpAddr;
use std::time::Duration;

pub struct Proxy {
    /// Pooled keep-alive connections to the upstream, shared by all requests.
    client: Client<HttpConnector, Incoming>,
    upstream: Upstream,
    /// How long the upstream may take to answer with headers.
    timeout: Duration,
}

impl Proxy {
    pub fn new(upstream: Upstream, limits: &Limits) -> Proxy {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(limits.upstream_connect_timeout));
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_max_idle_per_host(1024)
            .build(connector);
        Proxy {
            client,
            upstream,
            timeout: limits.upstream_timeout,
        }
    }

    /// Sends `request` upstream and returns its response, bodies streaming.
    pub async fn forward(
        &self,
        mut request: Request<Incoming>,
        peer: IpAddr,
        tls: bool,
    ) -> Result<Response<Incoming>, Error> {
        let host = headers::request_host(&request);
        let upgrade = match request.version() {
            Version::HTTP_11 => headers::upgrade_protocol(request.headers()),
            _ => None,
        };
        // Must be taken before the request moves into the client.
        let client_side = upgrade.as_ref().map(|_| hyper::upgrade::on(&mut request));

        let (mut parts, body) = request.into_parts();
        headers::remove_hop_by_hop(&mut parts.headers);
        headers::set_forwarded(&mut parts.headers, peer, tls, host.as_ref());
        if let Some(host) = self.upstream.host_header.clone().or(host) {
            parts.headers.insert(HOST, host);
        }
        if let Some(protocol) = &upgrade {
            parts
                .headers
                .insert(CONNECTION, HeaderValue::from_static("upgrade"));
            parts.headers.insert(UPGRADE, protocol.clone());
        }
        parts.uri = self.upstream_uri(&parts.uri)?;
        parts.version = Version::HTTP_11;

        let sent = self.client.request(Request::from_parts(parts, body));
        let mut response = match tokio::time::timeout(self.timeout, sent).await {
            Err(_) => return Err(Error::UpstreamTimeout),
            Ok(Err(err)) => return Err(Error::Upstream(describe(&err))),
            Ok(Ok(response)) => response,
        };

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
                tokio::spawn(async move {
                    match tokio::try_join!(client_side, upstream_side) {
                        Ok((client, upstream)) => {
                            let (mut client, mut upstream) =
                                (TokioIo::new(client), TokioIo::new(upstream));
                            let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                        }
                        Err(err) => tracing::debug!(error = %err, "upgrade failed"),
                    }
                });
                return Ok(response);
            }
        }
        headers::remove_hop_by_hop(response.headers_mut());
        Ok(response)
    }

    fn upstream_uri(&self, original: &Uri) -> Result<Uri, Error> {
        let mut parts = http::uri::Parts::default();
        parts.scheme = Some(self.upstream.scheme.clone());
        parts.authority = Some(self.upstream.authority.clone());
        parts.path_and_query = Some(
            original
                .path_and_query()
                .cloned()
                .unwrap_or_else(|| http::uri::PathAndQuery::from_static("/")),
        );
        Uri::from_parts(parts).map_err(|_| Error::BadRequest("request target"))
    }
}

/// A one-line cause for logs, from the client error's source chain.
fn describe(err: &hyper_util::client::legacy::Error) -> String {
    let mut text = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
