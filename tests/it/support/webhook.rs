//! A fake webhook receiver that records what doorman delivers.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

/// How the receiver answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Accept,
    /// Answer with this HTTP status.
    Fail(u16),
    /// Never answer (doorman's timeout must fire).
    Hang,
}

#[derive(Debug, Clone)]
pub struct Delivery {
    pub body: Vec<u8>,
    pub json: serde_json::Value,
    pub signature: Option<String>,
    pub content_type: Option<String>,
}

#[derive(Clone)]
pub struct Webhook {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
}

struct State {
    mode: Mode,
    deliveries: Vec<Delivery>,
}

impl Webhook {
    pub async fn start() -> Webhook {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let state = Arc::new(Mutex::new(State {
            mode: Mode::Accept,
            deliveries: Vec::new(),
        }));
        let shared = state.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let state = shared.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request| handle(state.clone(), request));
                    let _ = auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Webhook { addr, state }
    }

    pub fn set_mode(&self, mode: Mode) {
        self.state.lock().unwrap().mode = mode;
    }

    pub fn deliveries(&self) -> Vec<Delivery> {
        self.state.lock().unwrap().deliveries.clone()
    }

    /// The code in the most recent delivery.
    /// The code of the last code delivery (account notices carry none).
    pub fn last_code(&self) -> Option<String> {
        let deliveries = self.deliveries();
        let last = deliveries
            .iter()
            .rev()
            .find(|delivery| delivery.json.get("event").is_none())?;
        last.json["code"].as_str().map(str::to_owned)
    }

    /// The account notices received: deliveries with an `event` field.
    pub fn notices(&self) -> Vec<Delivery> {
        self.deliveries()
            .into_iter()
            .filter(|delivery| delivery.json.get("event").is_some())
            .collect()
    }
}

async fn handle(
    state: Arc<Mutex<State>>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let signature = header("x-doorman-signature");
    let content_type = header("content-type");
    let body = request
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let mode = {
        let mut state = state.lock().unwrap();
        state.deliveries.push(Delivery {
            json: serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
            body: body.to_vec(),
            signature,
            content_type,
        });
        state.mode
    };
    match mode {
        Mode::Accept => Ok(Response::new(Full::new(Bytes::from_static(b"ok")))),
        Mode::Fail(status) => {
            let mut response = Response::new(Full::new(Bytes::from_static(b"no")));
            *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
            Ok(response)
        }
        Mode::Hang => {
            std::future::pending::<()>().await;
            unreachable!()
        }
    }
}

/// The hex HMAC-SHA256 of `body` under the test webhook's secret
/// (`hook-secret`): what `X-Doorman-Signature` carries after `sha256=`.
pub fn hook_signature(body: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"hook-secret").expect("any key length");
    mac.update(body);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
