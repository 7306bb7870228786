//! A worker's own keep-alive connections to a plain-HTTP upstream, on
//! `hyper::client::conn::http1`: no shared pool, no connector stack, no
//! per-request checkout future — a short scan of this worker's connections
//! for one that is ready, or a new one. Each connection's task runs on the
//! worker that opened it.
//!
//! A connection is reused only once hyper says it is ready (its last
//! response has been read whole), so one slow download never holds up
//! another request. A request that finds its connection closed before any
//! of it was written is sent once more on a new connection, as hyper's
//! pooled client does. Connections that the upstream closed are dropped, and
//! so are those unused for [`IDLE_TIMEOUT`].

use bytes::Bytes;
use http::{Request, Response};
use hyper::body::{Body, Incoming};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;

/// Connections a worker keeps to the upstream, busy and idle together;
/// past this a request still gets a connection of its own, closed after it.
const MAX_CONNECTIONS: usize = 1024;

/// A connection unused this long is closed.
const IDLE_TIMEOUT: Duration = Duration::from_secs(90);

/// How often the connections are swept for closed and idle ones, at most.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// Why a request got no response.
#[derive(Debug)]
pub enum Failed {
    /// No connection to the upstream could be opened.
    Connect(std::io::Error),
    /// Opening one took longer than `limits.upstream_connect_timeout`.
    ConnectTimeout,
    /// The exchange failed (the source chain says why).
    Http(hyper::Error),
}

pub struct Pool<B> {
    /// `host:port` to dial.
    address: String,
    connect_timeout: Duration,
    connections: Mutex<Connections<B>>,
}

struct Connections<B> {
    /// Most recently used last.
    open: Vec<Pooled<B>>,
    swept: Instant,
}

struct Pooled<B> {
    sender: SendRequest<B>,
    used: Instant,
}

impl<B> Pool<B>
where
    B: Body<Data = Bytes> + Send + Unpin + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    pub fn new(address: String, connect_timeout: Duration) -> Pool<B> {
        let connections = Connections {
            open: Vec::new(),
            swept: Instant::now(),
        };
        Pool {
            address,
            connect_timeout,
            connections: Mutex::new(connections),
        }
    }

    fn connections(&self) -> MutexGuard<'_, Connections<B>> {
        // Nothing panics while holding it; a poisoned lock is still whole.
        self.connections
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Sends `request` (origin-form target, `Host` set) on a ready
    /// connection, or a new one.
    ///
    /// A new connection (connect and handshake) is the cold path: it is
    /// boxed, so the hot path's future stays small.
    pub async fn send(&self, request: Request<B>) -> Result<Response<Incoming>, Failed> {
        let sent = match self.send_on_ready(request) {
            Ok(sent) => sent,
            Err(request) => return Box::pin(self.send_on_new(request)).await,
        };
        match sent.await {
            Ok(response) => Ok(response),
            Err(mut err) => match err.take_message() {
                // Not a byte was written: the connection closed as it was picked.
                Some(request) => Box::pin(self.send_on_new(request)).await,
                None => Err(Failed::Http(err.into_error())),
            },
        }
    }

    /// Hands `request` to a ready connection, or gives it back when none is.
    // The future's type can only be spelled out here (no `impl` in aliases).
    #[allow(clippy::result_large_err, clippy::type_complexity)]
    fn send_on_ready(
        &self,
        request: Request<B>,
    ) -> Result<
        impl std::future::Future<
            Output = Result<Response<Incoming>, hyper::client::conn::TrySendError<Request<B>>>,
        >,
        Request<B>,
    > {
        let now = Instant::now();
        let mut connections = self.connections();
        connections.sweep(now);
        match connections.ready(now) {
            Some(sender) => Ok(sender.try_send_request(request)),
            None => Err(request),
        }
    }

    async fn send_on_new(&self, request: Request<B>) -> Result<Response<Incoming>, Failed> {
        let mut sender = self.connect().await?;
        let sent = sender.send_request(request);
        {
            let mut connections = self.connections();
            if connections.open.len() < MAX_CONNECTIONS {
                let used = Instant::now();
                connections.open.push(Pooled { sender, used });
            }
        }
        sent.await.map_err(Failed::Http)
    }

    async fn connect(&self) -> Result<SendRequest<B>, Failed> {
        let connecting = TcpStream::connect(self.address.as_str());
        let stream = tokio::time::timeout(self.connect_timeout, connecting)
            .await
            .map_err(|_| Failed::ConnectTimeout)?
            .map_err(Failed::Connect)?;
        let _ = stream.set_nodelay(true);
        let (sender, connection) = http1::Builder::new()
            .handshake(TokioIo::new(stream))
            .await
            .map_err(Failed::Http)?;
        // Ends when the upstream closes it, or once this pool has let go
        // of its sender and the last response is through (or, upgraded,
        // handed to its tunnel).
        tokio::spawn(async move {
            if let Err(err) = connection.with_upgrades().await {
                tracing::debug!(error = %err, "upstream connection ended with an error");
            }
        });
        Ok(sender)
    }

    /// Connections held now (busy or idle), for tests.
    #[cfg(test)]
    fn held(&self) -> usize {
        self.connections().open.len()
    }
}

impl<B> Connections<B> {
    /// A connection ready for a request, most recently used first.
    fn ready(&mut self, now: Instant) -> Option<&mut SendRequest<B>> {
        let found = self
            .open
            .iter()
            .rposition(|pooled| pooled.sender.is_ready())?;
        let last = self.open.len() - 1;
        self.open.swap(found, last);
        let pooled = &mut self.open[last];
        pooled.used = now;
        Some(&mut pooled.sender)
    }

    /// Drops the connections the upstream closed and those idle too long;
    /// at most once a [`SWEEP_EVERY`].
    fn sweep(&mut self, now: Instant) {
        if now.duration_since(self.swept) < SWEEP_EVERY {
            return;
        }
        self.swept = now;
        self.open.retain(|pooled| {
            let idle = pooled.sender.is_ready() && now.duration_since(pooled.used) > IDLE_TIMEOUT;
            !pooled.sender.is_closed() && !idle
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{BodyExt, Empty};
    use std::sync::Arc;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::sync::{mpsc, Semaphore};

    /// An upstream that answers every request with `hello`, sending each
    /// body only once `bodies` gives it a permit; it reports each
    /// connection it accepts.
    async fn upstream(bodies: Arc<Semaphore>) -> (String, mpsc::UnboundedReceiver<()>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let (accepted, connections) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let _ = accepted.send(());
                let bodies = bodies.clone();
                tokio::spawn(async move {
                    let mut buffer = Vec::new();
                    let mut chunk = [0; 1024];
                    loop {
                        while let Some(end) = find(&buffer, b"\r\n\r\n") {
                            buffer.drain(..end + 4);
                            let head = b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n";
                            if stream.write_all(head).await.is_err() {
                                return;
                            }
                            let Ok(permit) = bodies.acquire().await else {
                                return;
                            };
                            permit.forget();
                            if stream.write_all(b"hello").await.is_err() {
                                return;
                            }
                        }
                        match stream.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
                        }
                    }
                });
            }
        });
        (address, connections)
    }

    fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
        haystack.windows(needle.len()).position(|w| w == needle)
    }

    fn get(address: &str) -> Request<Empty<Bytes>> {
        Request::builder()
            .uri("/")
            .header(http::header::HOST, address)
            .body(Empty::new())
            .unwrap()
    }

    async fn body(response: Response<Incoming>) -> Bytes {
        response.into_body().collect().await.unwrap().to_bytes()
    }

    #[tokio::test]
    async fn one_connection_serves_requests_one_after_another() {
        let (address, mut connections) = upstream(Arc::new(Semaphore::new(100))).await;
        let pool = Pool::new(address.clone(), Duration::from_secs(5));
        for _ in 0..5 {
            let response = pool.send(get(&address)).await.unwrap();
            assert_eq!(&body(response).await[..], b"hello");
        }
        assert_eq!(pool.held(), 1);
        connections.recv().await.unwrap();
        assert!(
            connections.try_recv().is_err(),
            "a second connection was opened"
        );
    }

    #[tokio::test]
    async fn a_connection_with_a_response_still_arriving_is_not_reused() {
        let bodies = Arc::new(Semaphore::new(0));
        let (address, mut connections) = upstream(bodies.clone()).await;
        let pool = Pool::new(address.clone(), Duration::from_secs(5));
        // Both heads arrive while the first body is held back.
        let first = pool.send(get(&address)).await.unwrap();
        let second = pool.send(get(&address)).await.unwrap();
        connections.recv().await.unwrap();
        connections.recv().await.unwrap();
        bodies.add_permits(2);
        assert_eq!(&body(first).await[..], b"hello");
        assert_eq!(&body(second).await[..], b"hello");
        assert_eq!(pool.held(), 2);
    }

    #[tokio::test]
    async fn an_unreachable_upstream_is_a_connect_failure() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap().to_string();
        drop(listener);
        let pool = Pool::new(address.clone(), Duration::from_secs(5));
        let failed = pool.send(get(&address)).await.unwrap_err();
        assert!(matches!(failed, Failed::Connect(_)), "{failed:?}");
    }
}
