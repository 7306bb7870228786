//! Listeners and connections: HTTP/1.1 and HTTP/2 on one port (over TLS
//! when configured, HTTP/2 through ALPN), a bounded number of connections,
//! header-read timeouts and graceful shutdown.

use crate::config::Limits;
use crate::gate::{self, Decision};
use crate::metrics::{self, RequestOutcome};
use crate::proxy::{headers, Proxy};
use crate::{pages, App, Body};
use http::header::{CACHE_CONTROL, SET_COOKIE, STRICT_TRANSPORT_SECURITY};
use http::{HeaderValue, Request, Response};
use http_body_util::Either;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use std::borrow::Cow;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch, Semaphore};
use tokio_rustls::TlsAcceptor;

/// How long in-flight requests get to finish after a shutdown signal.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

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
    let connections = Arc::new(Semaphore::new(limits.max_connections));
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
/// then drains its connections.
async fn run(
    listener: TcpListener,
    app: Arc<App>,
    limits: Limits,
    tls: Option<TlsAcceptor>,
    connections: Arc<Semaphore>,
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
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(limits.max_header_bytes).unwrap_or(u32::MAX));
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);

    loop {
        let permit = tokio::select! {
            permit = connections.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
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
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let proxy = proxy.clone();
        let Some(acceptor) = &tls else {
            let service = service_fn(move |request| {
                let app = app.clone();
                let proxy = proxy.clone();
                async move { Ok::<_, Infallible>(handle(&app, &proxy, request, peer, false).await) }
            });
            let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
            let connection = graceful.watch(connection.into_owned());
            tokio::spawn(async move {
                if let Err(err) = connection.await {
                    tracing::debug!(error = %err, %peer, "connection ended with an error");
                }
                drop(permit);
            });
            continue;
        };
        // The handshake runs in the connection's task, so a slow client
        // holds up nobody else; it gets the header-read timeout to finish.
        let (acceptor, builder, watcher) = (acceptor.clone(), builder.clone(), graceful.watcher());
        let handshake_timeout = limits.header_read_timeout;
        tokio::spawn(async move {
            let stream =
                match tokio::time::timeout(handshake_timeout, acceptor.accept(stream)).await {
                    Ok(Ok(stream)) => stream,
                    Ok(Err(err)) => {
                        tracing::debug!(error = %err, %peer, "TLS handshake failed");
                        return;
                    }
                    Err(_) => {
                        tracing::debug!(%peer, "TLS handshake timed out");
                        return;
                    }
                };
            let service = service_fn(move |request| {
                let app = app.clone();
                let proxy = proxy.clone();
                async move { Ok::<_, Infallible>(handle(&app, &proxy, request, peer, true).await) }
            });
            let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
            if let Err(err) = watcher.watch(connection.into_owned()).await {
                tracing::debug!(error = %err, %peer, "connection ended with an error");
            }
            drop(permit);
        });
    }

    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => tracing::debug!("worker drained"),
        () = tokio::time::sleep(DRAIN_TIMEOUT) => tracing::warn!("drain timed out; closing remaining connections"),
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
/// its user still exists.
fn tunnel_guard(app: Arc<App>, session: crate::session::Session) -> crate::proxy::TunnelGuard {
    Box::new(move || {
        session.expires_at > app.clock.now()
            && !app.store.is_revoked(&session.id)
            && app.users.load().get(&session.user).is_some()
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
    let device_cookie = crate::pages::device_cookie_name(app);
    let request_headers = request.headers_mut();
    app.client_headers.clean_request(request_headers);
    headers::strip_cookies(
        request_headers,
        &[
            app.sessions.cookie_name(),
            app.csrf.cookie_name(),
            &device_cookie,
        ],
    );
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
