//! Listeners and connections: HTTP/1.1 and HTTP/2 on one port (over TLS
//! when configured, HTTP/2 through ALPN), a bounded number of connections,
//! header-read, idle and stall timeouts, and graceful shutdown.

use crate::connections::{Activity, Busy, Slot, Slots};
use crate::lane::{Lane, Rewind};
use crate::limits::Limits;
use crate::proxy::Proxies;
use crate::request::handle;
use crate::stall::TimedBody;
use crate::threads::spawn_thread;
use crate::{App, Body};
use http::Request;
use hyper::body::{Frame, Incoming, SizeHint};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
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

/// Starts one worker thread per listening socket (`limits.worker_threads`
/// of them, see [`crate::listeners::bind`]), each serving its socket on its
/// own single-threaded runtime until `shutdown` turns true (or its sender
/// is dropped). Each returned receiver resolves when that worker has
/// drained.
pub fn spawn_workers(
    listeners: Vec<std::net::TcpListener>,
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
    let mut workers = Vec::with_capacity(listeners.len());
    for (index, listener) in listeners.into_iter().enumerate() {
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
    let proxy = Arc::new(Proxies::new(&app.upstreams, &limits));
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
        // Accept first, then wait for a slot with the newcomer in hand: with
        // a listening socket per worker, a worker that took the last free
        // slot before accepting could wait on its own empty queue while the
        // kernel queued the newcomer on another worker's, which waits for a
        // slot — nobody would be let in. Each worker holds at most one
        // connection waiting for a slot; the rest wait in the backlog.
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
        let permit = tokio::select! {
            permit = slots.vacancy() => permit,
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
        tokio::join!(connections.wait(), worker.proxy.close_tunnels());
    };
    tokio::select! {
        () = drained => tracing::debug!("worker drained"),
        () = tokio::time::sleep(DRAIN_TIMEOUT) => tracing::warn!("drain timed out; closing remaining connections"),
    }
}

/// What every connection of one worker shares.
struct Worker {
    app: Arc<App>,
    proxy: Arc<Proxies>,
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
        // Plain connections go through the lane first; hyper takes over
        // (with every byte read so far) at the first request not the lane's.
        let stream = if tls || !self.limits.fast_lane {
            Rewind::new(bytes::Bytes::new(), stream)
        } else {
            let lane = Lane {
                app: &self.app,
                proxies: &self.proxy,
                limits: &self.limits,
                draining: &self.draining,
            };
            match lane.serve(stream, peer).await {
                Some(stream) => stream,
                None => return,
            }
        };
        let activity = Activity::default();
        let service = {
            let (worker, activity, slot) = (self.clone(), activity.clone(), slot.clone());
            service_fn(move |mut request: Request<Incoming>| {
                let busy = activity.busy();
                request.extensions_mut().insert(slot.clone());
                let worker = worker.clone();
                async move {
                    let app = &worker.app;
                    let access = app
                        .access_log
                        .as_ref()
                        .map(|log| crate::access_log::Entry::start(log, &request, app.clock.now()));
                    let mut response = handle(app, &worker.proxy, request, peer, tls).await;
                    let access = access.map(|entry| entry.answered(&mut response));
                    let stall = worker.limits.body_idle_timeout;
                    Ok::<_, Infallible>(response.map(|body| InFlight {
                        body: TimedBody::new(body, stall),
                        access,
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
    /// Its access-log line, written when this is dropped (`None`: off).
    access: Option<Box<crate::access_log::Entry>>,
    _busy: Busy,
}

impl hyper::body::Body for InFlight {
    type Data = bytes::Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let polled = Pin::new(&mut self.body).poll_frame(cx);
        if let (Some(entry), Poll::Ready(frame)) = (&mut self.access, &polled) {
            entry.sent(frame);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
