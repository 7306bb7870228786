//! A fake upstream app: echoes requests as JSON, and has routes for
//! uploads, downloads, slow streams, WebSockets, cookies and redirects.

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use sha2::{Digest, Sha256};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;
use tokio::task::{JoinHandle, JoinSet};

type Body = BoxBody<Bytes, Infallible>;

#[derive(Clone)]
pub struct Upstream {
    pub addr: SocketAddr,
    /// Requests that reached the app.
    pub hits: Arc<AtomicUsize>,
    /// Lets `/slow` send its second chunk.
    pub release: Arc<Notify>,
    /// The accept loop, which owns every connection; [`Upstream::stop`] ends it.
    accepting: Arc<Mutex<Option<JoinHandle<()>>>>,
}

impl Upstream {
    pub async fn start() -> Upstream {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .expect("bind");
        let upstream = Upstream {
            addr: listener.local_addr().expect("addr"),
            hits: Arc::new(AtomicUsize::new(0)),
            release: Arc::new(Notify::new()),
            accepting: Arc::new(Mutex::new(None)),
        };
        let shared = upstream.clone();
        let accepting = tokio::spawn(async move {
            // Connections live in this set so that aborting the loop closes them too.
            let mut connections = JoinSet::new();
            while let Ok((stream, _)) = listener.accept().await {
                while connections.try_join_next().is_some() {}
                let upstream = shared.clone();
                connections.spawn(async move {
                    let service = service_fn(move |request| handle(upstream.clone(), request));
                    let _ = auto::Builder::new(TokioExecutor::new())
                        .serve_connection_with_upgrades(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        *upstream.accepting.lock().unwrap() = Some(accepting);
        upstream
    }

    /// Takes the app down: its port is closed (connecting is refused) and its
    /// open connections are dropped, once this returns.
    pub async fn stop(&self) {
        let accepting = self.accepting.lock().unwrap().take();
        if let Some(accepting) = accepting {
            accepting.abort();
            let _ = accepting.await;
        }
    }

    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

fn full(body: impl Into<Bytes>) -> Body {
    Full::new(body.into()).boxed()
}

/// The byte at `index` of a download: a pattern a test can check.
pub fn pattern(index: usize) -> u8 {
    (index % 251) as u8
}

async fn handle(
    upstream: Upstream,
    mut request: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    upstream.hits.fetch_add(1, Ordering::SeqCst);
    let path = request.uri().path().to_owned();
    let response = match path.as_str() {
        "/upload" => {
            let mut body = request.into_body();
            let mut hasher = Sha256::new();
            let mut bytes = 0usize;
            while let Some(frame) = body.frame().await {
                let Ok(frame) = frame else { break };
                if let Some(data) = frame.data_ref() {
                    bytes += data.len();
                    hasher.update(data);
                }
            }
            let digest: String = hasher
                .finalize()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            json(serde_json::json!({ "bytes": bytes, "sha256": digest }))
        }
        "/download" => {
            let total: usize = request
                .uri()
                .query()
                .and_then(|q| q.strip_prefix("bytes="))
                .and_then(|n| n.parse().ok())
                .unwrap_or(1024);
            let chunks =
                futures_util::stream::iter((0..total).step_by(64 * 1024).map(move |start| {
                    let end = (start + 64 * 1024).min(total);
                    let chunk: Vec<u8> = (start..end).map(pattern).collect();
                    Ok::<_, Infallible>(Frame::data(Bytes::from(chunk)))
                }));
            Response::new(BodyExt::boxed(StreamBody::new(chunks)))
        }
        "/slow" => {
            let release = upstream.release.clone();
            let chunks = futures_util::stream::unfold(0u8, move |step| {
                let release = release.clone();
                async move {
                    match step {
                        0 => Some((
                            Ok::<_, Infallible>(Frame::data(Bytes::from_static(b"first\n"))),
                            1,
                        )),
                        1 => {
                            release.notified().await;
                            Some((Ok(Frame::data(Bytes::from_static(b"second\n"))), 2))
                        }
                        _ => None,
                    }
                }
            });
            Response::new(BodyExt::boxed(StreamBody::new(chunks)))
        }
        "/ws" => websocket(&mut request),
        "/set-cookie" => {
            let mut response = Response::new(full(""));
            *response.status_mut() = StatusCode::FOUND;
            let headers = response.headers_mut();
            headers.insert("location", "/elsewhere?x=1".parse().unwrap());
            headers.append(
                "set-cookie",
                "app_session=xyz; Path=/; HttpOnly".parse().unwrap(),
            );
            headers.append("set-cookie", "theme=dark; Path=/".parse().unwrap());
            response
        }
        "/hop" => {
            let mut response = Response::new(full("hop"));
            let headers = response.headers_mut();
            headers.insert("connection", "x-upstream-hop".parse().unwrap());
            headers.insert("x-upstream-hop", "1".parse().unwrap());
            headers.insert("keep-alive", "timeout=5".parse().unwrap());
            headers.insert("x-upstream-kept", "1".parse().unwrap());
            response
        }
        _ => {
            let mut headers = serde_json::Map::new();
            for (name, value) in request.headers() {
                let entry = headers
                    .entry(name.as_str().to_owned())
                    .or_insert_with(|| serde_json::Value::Array(Vec::new()));
                if let serde_json::Value::Array(values) = entry {
                    values.push(
                        String::from_utf8_lossy(value.as_bytes())
                            .into_owned()
                            .into(),
                    );
                }
            }
            let method = request.method().to_string();
            let uri = request.uri().to_string();
            let body_len = request
                .into_body()
                .collect()
                .await
                .map(|b| b.to_bytes().len())
                .unwrap_or(0);
            json(serde_json::json!({
                "method": method,
                "path": path,
                "uri": uri,
                "headers": headers,
                "body_len": body_len,
            }))
        }
    };
    Ok(response)
}

fn json(value: serde_json::Value) -> Response<Body> {
    let mut response = Response::new(full(value.to_string()));
    response
        .headers_mut()
        .insert("content-type", "application/json".parse().unwrap());
    response
}

/// Accepts a WebSocket and echoes every message back.
fn websocket(request: &mut Request<Incoming>) -> Response<Body> {
    let Some(key) = request.headers().get("sec-websocket-key").cloned() else {
        let mut response = Response::new(full("not a websocket"));
        *response.status_mut() = StatusCode::BAD_REQUEST;
        return response;
    };
    // What identity the app was told, for tests to read off the 101.
    let identity: Vec<String> = request
        .headers()
        .iter()
        .filter(|(name, _)| name.as_str().starts_with("remote"))
        .map(|(name, value)| format!("{name}={}", String::from_utf8_lossy(value.as_bytes())))
        .collect();
    let upgrade = hyper::upgrade::on(request);
    tokio::spawn(async move {
        let Ok(upgraded) = upgrade.await else { return };
        let mut socket = tokio_tungstenite::WebSocketStream::from_raw_socket(
            TokioIo::new(upgraded),
            tokio_tungstenite::tungstenite::protocol::Role::Server,
            None,
        )
        .await;
        while let Some(Ok(message)) = socket.next().await {
            if message.is_close() {
                break;
            }
            if socket.send(message).await.is_err() {
                break;
            }
        }
    });
    let mut response = Response::new(full(""));
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert("connection", "upgrade".parse().unwrap());
    headers.insert("upgrade", "websocket".parse().unwrap());
    let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
    headers.insert("sec-websocket-accept", accept.parse().unwrap());
    headers.insert("x-seen-identity", identity.join("; ").parse().unwrap());
    response
}
