//! The control thread: serves Prometheus metrics on `metrics_listen` and
//! watches the TLS certificate files, away from the request workers.

use crate::tls::CertStore;
use crate::{metrics, App};
use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{oneshot, watch};

/// How often the certificate files are checked for changes.
pub const CERT_POLL: Duration = Duration::from_secs(2);

/// Starts the control thread; the receiver resolves when it has stopped.
pub fn spawn(
    app: Arc<App>,
    metrics: Option<std::net::TcpListener>,
    certs: Option<Arc<CertStore>>,
    mut shutdown: watch::Receiver<bool>,
) -> std::io::Result<oneshot::Receiver<()>> {
    crate::threads::spawn_thread("doorman-control".into(), move || async move {
        let stop = async move {
            let _ = shutdown.wait_for(|stop| *stop).await;
        };
        tokio::select! {
            () = stop => {}
            () = serve_metrics(app, metrics) => {}
            () = watch_certificates(certs) => {}
        }
    })
}

async fn serve_metrics(app: Arc<App>, listener: Option<std::net::TcpListener>) {
    let Some(listener) = listener else {
        return std::future::pending().await;
    };
    let listener = match tokio::net::TcpListener::from_std(listener) {
        Ok(listener) => listener,
        Err(err) => {
            tracing::error!(error = %err, "cannot serve metrics");
            return std::future::pending().await;
        }
    };
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let app = app.clone();
        let service = service_fn(move |request| {
            let now = app.clock.now();
            async move { Ok::<_, Infallible>(answer(&request, now)) }
        });
        tokio::spawn(async move {
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(10))
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn answer(request: &Request<Incoming>, now: u64) -> Response<Full<Bytes>> {
    let (status, content_type, body) = match (request.method(), request.uri().path()) {
        (&Method::GET | &Method::HEAD, "/metrics") => (
            StatusCode::OK,
            "text/plain; version=0.0.4; charset=utf-8",
            metrics::render(now),
        ),
        _ => (
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            "metrics are at /metrics\n".to_owned(),
        ),
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

async fn watch_certificates(certs: Option<Arc<CertStore>>) {
    let Some(certs) = certs else {
        return std::future::pending().await;
    };
    let mut every = tokio::time::interval(CERT_POLL);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        match certs.reload_if_changed() {
            None => {}
            Some(Ok(())) => {
                metrics::reload("certificate", "ok");
                tracing::info!("TLS certificate reloaded (files changed)");
            }
            Some(Err(message)) => {
                metrics::reload("certificate", "failed");
                tracing::error!(%message, "TLS certificate changed but cannot be used; keeping the old one");
            }
        }
    }
}
