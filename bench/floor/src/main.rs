//! The floor: a bare reverse proxy on the stack doorman is built on, laid
//! out as doorman is — one thread per core, each with a single-threaded
//! runtime, its own accept loop on a shared listener and its own pooled
//! upstream client — and doing nothing else: no auth, no header rewrites.
//! What doorman costs above this is doorman's own work; what this costs
//! above nginx belongs to the stack.
//!
//! usage: doorman-bench-floor LISTEN UPSTREAM   (e.g. 127.0.0.1:8081 127.0.0.1:8080)

use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response, Uri};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use std::convert::Infallible;
use std::time::Duration;

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(listen), Some(upstream)) = (args.next(), args.next()) else {
        eprintln!("usage: doorman-bench-floor LISTEN UPSTREAM");
        std::process::exit(2);
    };
    let listener = std::net::TcpListener::bind(&listen).unwrap_or_else(|err| {
        eprintln!("cannot listen on {listen}: {err}");
        std::process::exit(1);
    });
    listener.set_nonblocking(true).expect("nonblocking");
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads: Vec<_> = (0..workers)
        .map(|_| {
            let listener = listener.try_clone().expect("listener");
            let upstream = upstream.clone();
            std::thread::spawn(move || {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime")
                    .block_on(serve(listener, upstream));
            })
        })
        .collect();
    for thread in threads {
        let _ = thread.join();
    }
}

async fn serve(listener: std::net::TcpListener, upstream: String) {
    let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let client: Client<HttpConnector, Incoming> = Client::builder(TokioExecutor::new())
        .pool_timer(TokioTimer::new())
        .pool_idle_timeout(Duration::from_secs(90))
        .pool_max_idle_per_host(1024)
        .build(connector);
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let (client, upstream) = (client.clone(), upstream.clone());
        tokio::spawn(async move {
            let service = service_fn(move |mut request: Request<Incoming>| {
                let (client, upstream) = (client.clone(), upstream.clone());
                async move {
                    let path = request.uri().path_and_query().map_or("/", |p| p.as_str());
                    let uri: Uri = format!("http://{upstream}{path}").parse().expect("uri");
                    *request.uri_mut() = uri;
                    let response = match client.request(request).await {
                        Ok(response) => response.map(http_body_util::Either::Left),
                        Err(_) => Response::builder()
                            .status(502)
                            .body(http_body_util::Either::Right(http_body_util::Empty::new()))
                            .expect("502"),
                    };
                    Ok::<_, Infallible>(response)
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
