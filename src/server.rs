//! Listeners and connections: HTTP/1.1 and HTTP/2 on one port (over TLS
//! when configured, HTTP/2 through ALPN), a bounded number of connections,
//! header-read, idle and stall timeouts, and graceful shutdown.

use crate::connections::{Activity, Busy, Slot, Slots};
use crate::gate::{self, Decision};
use crate::limits::Limits;
use crate::metrics::{self, RequestOutcome};
use crate::proxy::{headers, Proxy};
use crate::stall::TimedBody;
use crate::{pages, App, Body};
use http::header::{CACHE_CONTROL, SET_COOKIE, STRICT_TRANSPORT_SECURITY};
use http::{HeaderValue, Request, Response};
use http_body_util::Either;
use hyper::body::{Frame, Incoming, SizeHint};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use std::borrow::Cow;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How long in-flight requests get to finish after a shutdown signal.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a connection asked to close, with nothing in flight, gets to
/// finish (an HTTP/2 GOAWAY to flush) before it is dropped.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// Runs the future `task` makes on a thread of its own (`name`), with a
/// single-threaded runtime; the receiver resolves when it has ended. One
/// event loop per thread, as doorman's workers, control and Redis threads use.
pub fn spawn_thread<F>(
    name: String,
    task: impl FnOnce() -> F + Send + 'static,
) -> std::io::Result<oneshot::Receiver<()>>
where
    F: Future<Output = ()>,
{
    let (finished, stopped) = oneshot::channel();
    std::thread::Builder::new()
        .name(name.clone())
        .spawn(move || {
            match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime.block_on(task()),
                Err(err) => tracing::error!(error = %err, thread = %name, "cannot start a runtime"),
            }
            let _ = finished.send(());
        })?;
    Ok(stopped)
}

/// Starts `limits.worker_threads` threads, each serving the shared listening
/// socket on its own single-threaded runtime until `shutdown` turns true (or
/// its sender is dropped). Each returned receiver resolves when that worker
/// has drained.
pub fn spawn_workers(
    listener: std::net::TcpListener,
    app: Arc<App>,
    limits: Limits,
    tls: Option<TlsAcceptor>,
    shutdown: watch::Receiver<bool>,
) -> std::io::Result<Vec<oneshot::Receiver<()>>> {
    let connections = Slots::new(
        limits.max_connections,
        limits.max_connections_per_client,
        app.trusted_proxies.clone(),
    );
    let mut workers = Vec::with_capacity(limits.worker_threads);
    for index in 0..limits.worker_threads {
        let listener = listener.try_clone()?;
        let (app, limits, connections) = (app.clone(), limits.clone(), connections.clone());
        let tls = tls.clone();
        let mut shutdown = shutdown.clone();
        let stopped = spawn_thread(format!("doorman-worker-{index}"), move || async move {
            match TcpListener::from_std(listener) {
                Ok(listener) => {
                    let stop = async move {
                        let _ = shutdown.wait_for(|stop| *stop).await;
                    };
                    run(listener, app, limits, tls, connections, stop).await;
                }
                Err(err) => tracing::error!(error = %err, "worker cannot use the listener"),
            }
        })?;
        workers.push(stopped);
    }
    Ok(workers)
}

/// One worker's accept loop: serves `listener` until `shutdown` resolves,
/// then drains its connections and tunnels.
async fn run(
    listener: TcpListener,
    app: Arc<App>,
    limits: Limits,
    tls: Option<TlsAcceptor>,
    slots: Arc<Slots>,
    shutdown: impl Future<Output = ()>,
) {
    let proxy = Arc::new(Proxy::new(app.upstream.clone(), &limits));
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(limits.max_header_bytes)
        .max_headers(limits.max_headers);
    // A peer silent for the idle timeout is pinged, and dropped when the
    // ping goes unanswered as long: a dead client does not keep its
    // streams (and their upstream requests) open.
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(limits.idle_timeout)
        .keep_alive_timeout(limits.idle_timeout)
        .max_header_list_size(u32::try_from(limits.max_header_bytes).unwrap_or(u32::MAX));
    let worker = Arc::new(Worker {
        app,
        proxy,
        builder,
        limits,
        draining: CancellationToken::new(),
    });
    let connections = TaskTracker::new();
    tokio::pin!(shutdown);

    loop {
        let permit = tokio::select! {
            permit = slots.vacancy() => permit,
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Usually EMFILE: back off instead of spinning.
                    tracing::warn!(error = %err, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let slot = match slots.admit(permit, peer.ip()) {
            Ok(slot) => slot,
            Err(refused) => {
                slots.note(&refused);
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        // A client that stops reading fails its writes instead of holding
        // the connection (and the response behind it) forever.
        let stream = crate::stall::TimedSocket::new(stream, worker.limits.body_idle_timeout);
        let worker = worker.clone();
        let Some(acceptor) = &tls else {
            connections.spawn(worker.serve(stream, peer, slot, false));
            continue;
        };
        // The handshake runs in the connection's task, so a slow client
        // holds up nobody else; it gets the header-read timeout to finish.
        let acceptor = acceptor.clone();
        connections.spawn(async move {
            let handshake_timeout = worker.limits.header_read_timeout;
            match tokio::time::timeout(handshake_timeout, acceptor.accept(stream)).await {
                Ok(Ok(stream)) => worker.serve(stream, peer, slot, true).await,
                Ok(Err(err)) => tracing::debug!(error = %err, %peer, "TLS handshake failed"),
                Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
            }
        });
    }

    drop(listener);
    worker.draining.cancel();
    connections.close();
    let drained = async {
        tokio::join!(connections.wait(), worker.proxy.tunnels().close());
    };
    tokio::select! {
        () = drained => tracing::debug!("worker drained"),
        () = tokio::time::sleep(DRAIN_TIMEOUT) => tracing::warn!("drain timed out; closing remaining connections"),
    }
}

/// What every connection of one worker shares.
struct Worker {
    app: Arc<App>,
    proxy: Arc<Proxy>,
    builder: auto::Builder<TokioExecutor>,
    limits: Limits,
    /// Cancelled when shutdown begins: connections finish what is in
    /// flight and close.
    draining: CancellationToken,
}

impl Worker {
    /// Serves one connection until the client closes it, it has had
    /// nothing in flight for `limits.idle_timeout` (hyper closes neither an
    /// HTTP/2 connection with no streams nor one still choosing between
    /// HTTP/1 and HTTP/2), or the worker drains. `slot` is held throughout
    /// and lent to each request, for a tunnel to keep.
    async fn serve<S>(self: Arc<Self>, stream: S, peer: SocketAddr, slot: Slot, tls: bool)
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let activity = Activity::default();
        let service = {
            let (worker, activity, slot) = (self.clone(), activity.clone(), slot.clone());
            service_fn(move |mut request: Request<Incoming>| {
                let busy = activity.busy();
                request.extensions_mut().insert(slot.clone());
                let worker = worker.clone();
                async move {
                    let response = handle(&worker.app, &worker.proxy, request, peer, tls).await;
                    let stall = worker.limits.body_idle_timeout;
                    Ok::<_, Infallible>(response.map(|body| InFlight {
                        body: TimedBody::new(body, stall),
                        _busy: busy,
                    }))
                }
            })
        };
        let connection = self
            .builder
            .serve_connection_with_upgrades(TokioIo::new(stream), service);
        tokio::pin!(connection);
        let ended = tokio::select! {
            ended = connection.as_mut() => Some(ended),
            () = activity.idle(self.limits.idle_timeout) => {
                tracing::debug!(%peer, "closing an idle connection");
                None
            }
            () = self.draining.cancelled() => None,
        };
        // Requests in flight finish under their own timeouts (the worker's
        // drain bounds them at shutdown). hyper closes an HTTP/1 connection
        // halfway through a request head only at `header_read_timeout`, so
        // one that stays open with nothing in flight is dropped after a grace.
        let ended = match ended {
            Some(ended) => ended,
            None => {
                connection.as_mut().graceful_shutdown();
                tokio::select! {
                    ended = connection.as_mut() => ended,
                    () = activity.idle(CLOSE_GRACE) => Ok(()),
                }
            }
        };
        if let Err(err) = ended {
            tracing::debug!(error = %err, %peer, "connection ended with an error");
        }
        drop(slot);
    }
}

/// A response body that keeps its request counted as in flight until it
/// has been sent (or dropped), and fails when its source — the upstream —
/// delivers nothing for `limits.body_idle_timeout`.
struct InFlight {
    body: TimedBody<Body>,
    _busy: Busy,
}

impl hyper::body::Body for InFlight {
    type Data = bytes::Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// One request, from the gate's decision to a response.
pub async fn handle(
    app: &Arc<App>,
    proxy: &Proxy,
    request: Request<Incoming>,
    peer: SocketAddr,
    tls: bool,
) -> Response<Body> {
    let mut response = answer(app, proxy, request, peer, tls).await;
    if let (true, Some(hsts)) = (tls, &app.hsts) {
        response
            .headers_mut()
            .insert(STRICT_TRANSPORT_SECURITY, hsts.clone());
    }
    response
}

async fn answer(
    app: &Arc<App>,
    proxy: &Proxy,
    mut request: Request<Incoming>,
    peer: SocketAddr,
    tls: bool,
) -> Response<Body> {
    let now = app.clock.now();
    // Rules, pages and the upstream all see the one canonical path.
    match crate::path::normalize(request.uri().path()) {
        Err(malformed) => {
            metrics::request(RequestOutcome::BadRequest);
            return pages::bad_request(malformed.reason());
        }
        Ok(Cow::Owned(canonical)) => {
            if let Err(err) = replace_path(&mut request, &canonical) {
                tracing::debug!(error = %err, "cannot rewrite the request path");
                metrics::request(RequestOutcome::BadRequest);
                return pages::bad_request("the request target is not valid");
            }
        }
        Ok(Cow::Borrowed(_)) => {}
    }
    let client = app.client_ip(peer.ip(), request.headers());
    // Behind a TLS-terminating proxy that doorman trusts, the client's
    // connection is HTTPS even though this one is not: cookies follow it.
    let secure =
        tls || (app.trusts_proxy(peer.ip()) && headers::forwarded_https(request.headers()));
    let decision = gate::decide(
        app,
        &gate::Request {
            method: request.method(),
            path: request.uri().path(),
            headers: request.headers(),
            client,
            own_pages: true,
        },
        now,
        secure,
    );
    match decision {
        Decision::Pages => {
            metrics::request(RequestOutcome::Pages);
            pages::handle(app, request, peer, now, secure).await
        }
        Decision::Public => {
            forward(app, proxy, request, peer, tls, None, RequestOutcome::Public).await
        }
        Decision::Pass {
            user,
            session,
            refreshed_cookie,
        } => {
            let mut response = forward(
                app,
                proxy,
                request,
                peer,
                tls,
                Some((user, session)),
                RequestOutcome::Proxied,
            )
            .await;
            if let Some(cookie) = refreshed_cookie {
                let headers = response.headers_mut();
                headers.append(SET_COOKIE, cookie);
                // A shared cache must never keep one person's session cookie
                // for the next; this is at most one response a minute.
                headers.insert(CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
            }
            response
        }
        Decision::Denied { rule, user } => {
            metrics::request(RequestOutcome::Denied);
            let user = user.as_ref().map(|u| u.name.as_str());
            tracing::warn!(event = "rule_denied", rule, user, %client, path = request.uri().path(), "request denied by rule");
            audit(app, now, "rule_denied", &request, client, user, &rule);
            pages::forbidden(app, &request)
        }
        Decision::StepUp { rule, user } => {
            metrics::request(RequestOutcome::StepUp);
            tracing::info!(event = "step_up_required", rule, user = %user.name, %client, "a recent second factor is required");
            audit(
                app,
                now,
                "step_up_required",
                &request,
                client,
                Some(&user.name),
                &rule,
            );
            pages::step_up(app, &request)
        }
        Decision::Login => {
            metrics::request(RequestOutcome::Login);
            pages::login_redirect(app, &request)
        }
        Decision::Unauthorized => {
            metrics::request(RequestOutcome::Unauthorized);
            pages::unauthorized(app)
        }
    }
}

/// An audit event about a proxied request that a rule stopped.
fn audit(
    app: &App,
    now: u64,
    event: &str,
    request: &Request<Incoming>,
    client: std::net::IpAddr,
    user: Option<&str>,
    rule: &str,
) {
    let user_agent = request
        .headers()
        .get(http::header::USER_AGENT)
        .and_then(|value| value.to_str().ok());
    app.audit.event(
        now,
        event,
        crate::audit::Record {
            user,
            client: Some(client),
            user_agent,
            rule: Some(rule),
            path: Some(request.uri().path()),
            ..Default::default()
        },
    );
}

/// Puts the canonical `path` (with the original query) into the request.
fn replace_path(request: &mut Request<Incoming>, path: &str) -> Result<(), http::Error> {
    let uri = request.uri();
    let path_and_query = match uri.query() {
        Some(query) => format!("{path}?{query}"),
        None => path.to_owned(),
    };
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = Some(path_and_query.parse()?);
    *request.uri_mut() = http::Uri::from_parts(parts)?;
    Ok(())
}

/// Whether `session` still holds: not revoked, not past its lifetime, and
/// its user still exists with the same credentials.
fn tunnel_guard(app: Arc<App>, session: crate::session::Session) -> crate::proxy::TunnelGuard {
    Box::new(move || {
        app.sessions.current(&session, app.clock.now()) && app.session_holds(&session).is_some()
    })
}

/// Forwards a request the gate let through; `signed_in` is who it was
/// let through as (`None` for a public route). The one place that readies
/// headers for the app, in this order: hop-by-hop headers and every client
/// copy of a header doorman owns or apps route by are removed, then
/// doorman's own values are set — so nothing a client sends, `Connection`
/// tokens included, can remove or replace them.
async fn forward(
    app: &Arc<App>,
    proxy: &Proxy,
    mut request: Request<Incoming>,
    peer: SocketAddr,
    tls: bool,
    signed_in: Option<(Arc<crate::users::User>, crate::session::Session)>,
    outcome: RequestOutcome,
) -> Response<Body> {
    let upgrade = headers::allowed_upgrade(request.headers(), &app.forwarding.upgrades);
    let request_headers = request.headers_mut();
    app.client_headers.clean_request(request_headers);
    headers::strip_cookies(request_headers, &app.sessions.own_cookie_names());
    // A WebSocket (or other upgrade) lives only as long as its session.
    let tunnel_guard = match signed_in {
        Some((user, session)) => {
            user.headers.insert_into(&app.identity, request_headers);
            upgrade
                .is_some()
                .then(|| tunnel_guard(app.clone(), session))
        }
        None => None,
    };
    let browser = gate::is_browser_navigation(request.method(), request.headers());
    let trusted = app.trusts_proxy(peer.ip());
    let started = Instant::now();
    let forwarded = proxy
        .forward(request, peer.ip(), trusted, tls, upgrade, tunnel_guard)
        .await;
    metrics::upstream_latency(started.elapsed());
    match forwarded {
        Ok(response) => {
            metrics::request(outcome);
            response.map(Either::Left)
        }
        Err(err) => {
            metrics::request(RequestOutcome::UpstreamError);
            tracing::warn!(error = %err, %peer, "upstream request failed");
            pages::error_response(app, &err, browser)
        }
    }
}
