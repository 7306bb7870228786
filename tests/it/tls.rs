//! TLS: the listener with certificates made here (HTTP/1.1 and HTTP/2 via
//! ALPN, reloads that keep open connections, HSTS, Secure cookies), and
//! `https://` upstreams checked against a CA file.

use crate::support::certs::{served_certificate, Ca, Leaf};
use crate::support::{holds_within, Browser, Env, Setup};
use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

fn tls_block(leaf: &Leaf, hsts: bool) -> String {
    let hsts = if hsts {
        "\n  hsts: \"max-age=31536000; includeSubDomains\""
    } else {
        ""
    };
    format!(
        "tls:\n  cert_file: \"{}\"\n  key_file: \"{}\"{hsts}\n",
        leaf.cert_file.display(),
        leaf.key_file.display()
    )
}

async fn tls_env(dir: &std::path::Path, ca: &Ca, hsts: bool) -> (Env, Leaf) {
    let leaf = ca.leaf(dir, "server", "first");
    let env = Env::with_extra(&tls_block(&leaf, hsts)).await;
    (env, leaf)
}

fn https(addr: SocketAddr, path: &str) -> String {
    format!("https://localhost:{}{path}", addr.port())
}

/// `/.doorman/health` over TLS through `ca`'s client (HTTP/1.1 only when
/// `http1`): a 200 in `version`.
async fn health(ca: &Ca, env: &Env, http1: bool, version: reqwest::Version) -> reqwest::Response {
    let response = ca
        .client(http1)
        .get(https(env.addr, "/.doorman/health"))
        .send()
        .await
        .expect("health over TLS");
    assert_eq!(response.status(), 200);
    assert_eq!(response.version(), version);
    response
}

#[tokio::test]
async fn tls_serves_http1_and_http2_through_alpn_with_hsts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = Ca::new("doorman test CA");
    let (env, _) = tls_env(dir.path(), &ca, true).await;

    let response = health(&ca, &env, true, reqwest::Version::HTTP_11).await;
    assert_eq!(
        response
            .headers()
            .get("strict-transport-security")
            .and_then(|v| v.to_str().ok()),
        Some("max-age=31536000; includeSubDomains")
    );

    health(&ca, &env, false, reqwest::Version::HTTP_2).await;

    // Plain HTTP on the TLS port is no way in.
    let plain = reqwest::get(format!("http://{}/.doorman/health", env.addr)).await;
    assert!(plain.is_err() || plain.is_ok_and(|r| r.status() != 200));
}

#[tokio::test]
async fn over_tls_the_session_cookie_is_secure_and_a_browser_signs_in() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = Ca::new("doorman test CA");
    let (env, _) = tls_env(dir.path(), &ca, false).await;
    let jar = Arc::new(reqwest::cookie::Jar::default());
    let client = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(ca.pem.as_bytes()).expect("CA"))
        .cookie_provider(jar.clone())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let mut browser = Browser {
        client,
        jar,
        base: format!("https://localhost:{}", env.addr.port()),
        csrf: None,
    };
    let page = browser.get("/.doorman/login").await;
    assert_eq!(page.status, 200);
    let page = browser
        .post_password("alice", crate::support::PASSWORD)
        .await;
    assert_eq!(page.status, 303, "{page:?}");
    let session = page
        .set_cookie_starting("__Host-doorman_session=")
        .expect("a session cookie");
    assert!(session.contains("; Secure"), "{session}");

    let code = browser.request_code(&env, "sms").await;
    assert_eq!(browser.enter_code(&code).await.status, 303);
    let page = browser.get("/hello").await;
    assert_eq!(page.status, 200, "{page:?}");
    assert_eq!(page.echo()["headers"]["remote-user"][0], "alice");
    assert_eq!(page.echo()["headers"]["x-forwarded-proto"][0], "https");
}

/// Polls until a new handshake presents `expected`, or fails.
async fn wait_for_certificate(ca: &Ca, addr: SocketAddr, expected: &[u8]) {
    let within = Duration::from_secs(15);
    let served = holds_within(within, async || {
        served_certificate(ca, addr).await == expected
    });
    assert!(served.await, "the new certificate was not served in time");
}

#[tokio::test]
async fn a_changed_certificate_file_is_served_to_new_connections_while_open_ones_carry_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = Ca::new("doorman test CA");
    let (env, first) = tls_env(dir.path(), &ca, false).await;
    assert_eq!(served_certificate(&ca, env.addr).await, first.der);

    // One HTTP/2 connection, open across the change.
    let client = ca.client(false);
    let before = client
        .get(https(env.addr, "/.doorman/health"))
        .send()
        .await
        .expect("before");
    assert_eq!(before.version(), reqwest::Version::HTTP_2);

    // Renewed in place, as certbot or cert-manager would (new files moved over the old).
    let renewed = ca.leaf(dir.path(), "renewed", "second");
    std::fs::rename(&renewed.key_file, &first.key_file).expect("move key");
    std::fs::rename(&renewed.cert_file, &first.cert_file).expect("move cert");
    wait_for_certificate(&ca, env.addr, &renewed.der).await;

    let after = client
        .get(https(env.addr, "/.doorman/health"))
        .send()
        .await
        .expect("the open connection still works");
    assert_eq!(after.status(), 200);
}

#[tokio::test]
async fn a_broken_certificate_file_keeps_the_old_certificate() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = Ca::new("doorman test CA");
    let (env, first) = tls_env(dir.path(), &ca, false).await;
    std::fs::write(&first.cert_file, "not a certificate").expect("break it");
    // Two polls' worth.
    tokio::time::sleep(doorman::control::CERT_POLL * 2 + Duration::from_millis(500)).await;
    assert_eq!(served_certificate(&ca, env.addr).await, first.der);
}

#[tokio::test]
async fn a_reload_with_new_certificate_paths_serves_the_new_certificate_at_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = Ca::new("doorman test CA");
    let (env, _) = tls_env(dir.path(), &ca, false).await;
    let next = ca.leaf(dir.path(), "next", "next");
    let config = std::fs::read_to_string(env.config_path()).expect("config");
    let config = config
        .replace("server.crt", "next.crt")
        .replace("server.key", "next.key");
    std::fs::write(env.config_path(), config).expect("rewrite config");
    let reloaded = env.doorman.as_ref().expect("running").reload(
        doorman::config::Config::load_from(Some(&env.config_path()), &|_| None).expect("valid"),
    );
    assert!(reloaded.certificate);
    assert_eq!(served_certificate(&ca, env.addr).await, next.der);
}

/// An `https://` app: answers every request with its path, over TLS only.
async fn tls_upstream(leaf: &Leaf) -> SocketAddr {
    let certified = doorman::tls::load_certified_key(&leaf.cert_file, &leaf.key_file)
        .expect("upstream certificate");
    let store = Arc::new(doorman::tls::CertStore::new(
        leaf.cert_file.clone(),
        leaf.key_file.clone(),
        certified,
    ));
    let config = doorman::tls::server_config(store).expect("server config");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(stream) = acceptor.accept(stream).await else {
                    return;
                };
                let service = service_fn(
                    |request: hyper::Request<hyper::body::Incoming>| async move {
                        let body = format!("{{\"tls_path\":\"{}\"}}", request.uri().path());
                        Ok::<_, Infallible>(hyper::Response::new(Full::new(Bytes::from(body))))
                    },
                );
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

#[tokio::test]
async fn an_https_upstream_is_reached_when_its_certificate_chains_to_upstream_ca_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = Ca::new("upstream CA");
    let upstream = tls_upstream(&ca.leaf(dir.path(), "upstream", "upstream")).await;
    let ca_file = ca.write(dir.path());
    let env = Env::with(Setup {
        upstream_url: Some(format!("https://localhost:{}", upstream.port())),
        extra: format!("upstream_ca_file: \"{}\"\n", ca_file.display()),
        ..Setup::default()
    })
    .await;
    let page = env.api_get("/assets/site.css", None).await;
    assert_eq!(page.status, 200, "{page:?}");
    assert_eq!(page.body, r#"{"tls_path":"/assets/site.css"}"#);
}

#[tokio::test]
async fn an_https_upstream_with_an_unknown_ca_is_refused_unless_verification_is_skipped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = Ca::new("upstream CA");
    let upstream = tls_upstream(&ca.leaf(dir.path(), "upstream", "upstream")).await;
    let url = format!("https://localhost:{}", upstream.port());

    // The system roots do not know the test CA.
    let checked = Env::with(Setup {
        upstream_url: Some(url.clone()),
        ..Setup::default()
    })
    .await;
    let page = checked.api_get("/assets/site.css", None).await;
    assert_eq!(page.status, 502, "{page:?}");

    let skipped = Env::with(Setup {
        upstream_url: Some(url),
        extra: "upstream_insecure_skip_verify: true\n".into(),
        ..Setup::default()
    })
    .await;
    let page = skipped.api_get("/assets/site.css", None).await;
    assert_eq!(page.status, 200, "{page:?}");
}

#[test]
fn a_certificate_that_does_not_fit_its_key_is_a_config_problem() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = Ca::new("doorman test CA");
    let one = ca.leaf(dir.path(), "one", "one");
    let two = ca.leaf(dir.path(), "two", "two");
    let problems = doorman::config::Config::from_yaml(
        &format!(
            "upstream: http://127.0.0.1:1\nusers_file: users.yaml\nsession: {{secret: \"{}\"}}\nchannels: {{sms: {{provider: log}}}}\nproviders: {{log: {{}}}}\ntls: {{cert_file: \"{}\", key_file: \"{}\", hsts: \"1 year\"}}\n",
            crate::support::SECRET,
            one.cert_file.display(),
            two.key_file.display()
        ),
        dir.path(),
    )
    .expect_err("problems");
    let text = problems.to_string();
    assert!(
        text.contains("tls.cert_file: the key does not fit the certificate"),
        "{text}"
    );
    assert!(
        text.contains("tls.hsts: expected a Strict-Transport-Security value"),
        "{text}"
    );
}
