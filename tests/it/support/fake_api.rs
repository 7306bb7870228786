//! A scriptable HTTP API on 127.0.0.1:0 for emulating providers: it records
//! every request and answers through a handler the emulation supplies.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

/// One request as the provider received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body as an urlencoded form (last value wins).
    pub fn form(&self) -> HashMap<String, String> {
        form_urlencoded::parse(&self.body).into_owned().collect()
    }

    /// The form's field names, sorted: to assert nothing unexpected was sent.
    pub fn form_keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self.form().into_keys().collect();
        keys.sort();
        keys
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// `user:password` from a Basic `Authorization` header.
    pub fn basic_auth(&self) -> Option<String> {
        use base64::Engine;
        let encoded = self.header("authorization")?.strip_prefix("Basic ")?;
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .ok()?;
        String::from_utf8(decoded).ok()
    }

    pub fn bearer(&self) -> Option<&str> {
        self.header("authorization")?.strip_prefix("Bearer ")
    }
}

/// The content type of an HTML form's body.
pub const FORM: &str = "application/x-www-form-urlencoded";

/// What the emulation answers.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn json(status: u16, body: serde_json::Value) -> Reply {
        Reply {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.to_string(),
        }
    }

    pub fn problem(status: u16, body: serde_json::Value) -> Reply {
        Reply {
            status,
            headers: vec![("content-type".into(), "application/problem+json".into())],
            body: body.to_string(),
        }
    }

    pub fn empty(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: String::new(),
        }
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.into(), value.into()));
        self
    }
}

/// An emulated API and the state its handler keeps, which the test
/// scripts and reads through the emulation's own methods.
pub struct Emulation<S> {
    pub api: FakeApi,
    state: Arc<Mutex<S>>,
}

impl<S> Clone for Emulation<S> {
    fn clone(&self) -> Self {
        Emulation {
            api: self.api.clone(),
            state: self.state.clone(),
        }
    }
}

impl<S: Default + Send + 'static> Emulation<S> {
    /// Serves `handler` over a fresh state.
    pub async fn serve(handler: fn(&Mutex<S>, &Recorded) -> Reply) -> Self {
        let (api, state) = FakeApi::with_state(handler).await;
        Emulation { api, state }
    }
}

impl<S> Emulation<S> {
    /// The handler's state, locked.
    pub fn state(&self) -> std::sync::MutexGuard<'_, S> {
        self.state.lock().unwrap()
    }
}

type Handler = Arc<dyn Fn(&Recorded) -> Reply + Send + Sync>;

#[derive(Clone)]
pub struct FakeApi {
    pub addr: SocketAddr,
    requests: Arc<Mutex<Vec<Recorded>>>,
}

impl FakeApi {
    /// Serves `handler` until the test ends.
    pub async fn start(handler: impl Fn(&Recorded) -> Reply + Send + Sync + 'static) -> FakeApi {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let requests = Arc::new(Mutex::new(Vec::new()));
        let handler: Handler = Arc::new(handler);
        let shared = requests.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let requests = shared.clone();
                let handler = handler.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request| {
                        answer(requests.clone(), handler.clone(), request)
                    });
                    let _ = auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        FakeApi { addr, requests }
    }

    /// Serves `handler` over a fresh `S` that it shares with the caller:
    /// the API, and that state.
    pub async fn with_state<S: Default + Send + 'static>(
        handler: fn(&Mutex<S>, &Recorded) -> Reply,
    ) -> (FakeApi, Arc<Mutex<S>>) {
        let state = Arc::new(Mutex::new(S::default()));
        let shared = state.clone();
        (
            FakeApi::start(move |request| handler(&shared, request)).await,
            state,
        )
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }
}

async fn answer(
    requests: Arc<Mutex<Vec<Recorded>>>,
    handler: Handler,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = request.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let recorded = Recorded {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().unwrap_or_default().to_owned(),
        headers: parts.headers,
        body,
    };
    let reply = handler(&recorded);
    requests.lock().unwrap().push(recorded);
    let mut response = Response::new(Full::new(Bytes::from(reply.body)));
    *response.status_mut() = hyper::StatusCode::from_u16(reply.status).unwrap();
    for (name, value) in reply.headers {
        response.headers_mut().append(
            http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            http::HeaderValue::from_str(&value).unwrap(),
        );
    }
    Ok(response)
}
