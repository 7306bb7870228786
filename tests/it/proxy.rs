//! Forwarding as the app and the browser see it: streamed bodies both ways,
//! WebSockets, header rewrites, HTTP/2, a down upstream, public routes and
//! draining on shutdown.

use crate::support::websocket::{self, Socket};
use crate::support::{api_client, upstream::pattern, Browser, Env};
use futures_util::{SinkExt, StreamExt};
use sha2::{Digest, Sha256};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

const EIGHT_MIB: usize = 8 * 1024 * 1024;

/// Long enough for a slow CI machine, short enough that a hang fails the test.
const PATIENCE: Duration = Duration::from_secs(10);

/// Sends one HTTP/1.1 request exactly as written (no URL normalisation, which
/// would turn `/assets/../x` and `/assets/%2e%2e/x` into `/x`), returns its status.
async fn raw_status(addr: SocketAddr, method: &str, target: &str) -> u16 {
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        let request =
            format!("{method} {target} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.expect("write");
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await.expect("read");
        response
    };
    let response = tokio::time::timeout(PATIENCE, exchange)
        .await
        .expect("an answer");
    let head = String::from_utf8_lossy(&response);
    head.split(' ')
        .nth(1)
        .and_then(|status| status.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {head}"))
}

/// Every value the upstream received for header `name`, or `None` if it got none.
fn echoed<'a>(echo: &'a serde_json::Value, name: &str) -> Option<Vec<&'a str>> {
    echo["headers"][name]
        .as_array()
        .map(|values| values.iter().filter_map(|v| v.as_str()).collect())
}

#[tokio::test]
async fn an_8_mib_upload_reaches_the_upstream_whole() {
    let (env, browser) = Env::alice_signed_in().await;
    let data: Vec<u8> = (0..EIGHT_MIB).map(|i| (i * 7 % 256) as u8).collect();
    let expected: String = Sha256::digest(&data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        data.chunks(100_000).map(|c| Ok(c.to_vec())).collect();

    let response = browser
        .client
        .post(env.url("/upload"))
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await
        .expect("upload");

    assert_eq!(response.status(), 200);
    let echo: serde_json::Value = response.json().await.expect("json");
    assert_eq!(echo["bytes"], EIGHT_MIB);
    assert_eq!(echo["sha256"], expected);
}

#[tokio::test]
async fn an_upload_slower_than_the_upstream_timeout_is_not_cut_off() {
    // The upstream's time to answer counts from the end of the upload.
    let env = Env::with_extra("limits:\n  upstream_timeout: \"1s\"").await;
    let browser = env.signed_in("alice").await;
    let chunks = futures_util::stream::unfold(0u8, |sent| async move {
        if sent == 5 {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        Some((Ok::<_, std::io::Error>(vec![sent; 1000]), sent + 1))
    });
    let response = browser
        .client
        .post(env.url("/upload"))
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .expect("upload");
    assert_eq!(response.status(), 200);
    let echo: serde_json::Value = response.json().await.expect("json");
    assert_eq!(echo["bytes"], 5000);
}

#[tokio::test]
async fn an_8_mib_download_arrives_whole_and_correct() {
    let (_env, browser) = Env::alice_signed_in().await;

    let response = browser
        .get_plain(&format!("/download?bytes={EIGHT_MIB}"), &[])
        .await;
    assert_eq!(response.status(), 200);

    let mut stream = response.bytes_stream();
    let mut offset = 0usize;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.expect("chunk");
        for (i, byte) in chunk.iter().enumerate() {
            assert_eq!(*byte, pattern(offset + i), "byte {}", offset + i);
        }
        offset += chunk.len();
    }
    assert_eq!(offset, EIGHT_MIB);
}

#[tokio::test]
async fn a_slow_response_streams_its_first_chunk_before_the_upstream_sends_the_second() {
    let (env, browser) = Env::alice_signed_in().await;

    let mut response = tokio::time::timeout(PATIENCE, browser.client.get(env.url("/slow")).send())
        .await
        .expect("the headers arrive while the upstream holds its second chunk")
        .expect("slow");
    assert_eq!(response.status(), 200);
    // The upstream holds its second chunk until released: if doorman buffered
    // the body, this read would never finish.
    let first = tokio::time::timeout(PATIENCE, response.chunk())
        .await
        .expect("the first chunk arrives while the upstream still holds the second")
        .expect("read")
        .expect("a chunk");
    assert_eq!(&first[..], b"first\n");

    env.upstream.release.notify_one();
    let rest = tokio::time::timeout(PATIENCE, response.bytes())
        .await
        .expect("the rest arrives once released")
        .expect("read");
    assert_eq!(&rest[..], b"second\n");
}

#[tokio::test]
async fn a_websocket_echoes_messages_after_sign_in() {
    let (env, browser) = Env::alice_signed_in().await;
    let session = browser.cookie("doorman_session").expect("session cookie");
    let mut socket = websocket::open(env.addr, &session, PATIENCE).await;
    for text in ["hello", "second message"] {
        websocket::assert_echoes(&mut socket, text, PATIENCE).await;
    }
    socket
        .send(Message::Binary(vec![0, 1, 2, 255]))
        .await
        .expect("send");
    let echoed = tokio::time::timeout(PATIENCE, socket.next())
        .await
        .expect("in time");
    assert_eq!(
        echoed.expect("open").expect("message"),
        Message::Binary(vec![0, 1, 2, 255])
    );
    socket.close(None).await.expect("close");
}

/// Waits (bounded) until the socket is closed by the other side.
async fn assert_closed_soon(socket: &mut Socket) {
    assert!(
        websocket::closes_within(socket, PATIENCE).await,
        "the tunnel should close within a few seconds"
    );
}

#[tokio::test]
async fn a_websocket_is_closed_when_its_session_is_revoked() {
    let (env, mut browser) = Env::alice_signed_in().await;
    let session = browser.cookie("doorman_session").expect("session cookie");
    let mut socket = websocket::open(env.addr, &session, PATIENCE).await;
    websocket::assert_echoes(&mut socket, "before", PATIENCE).await;

    // Another session of the same user stays open.
    env.advance(Duration::from_secs(31));
    let other = env.signed_in("alice").await;
    let mut other_socket = websocket::open(
        env.addr,
        &other.cookie("doorman_session").expect("cookie"),
        PATIENCE,
    )
    .await;

    let page = browser.sign_out().await;
    assert_eq!(page.status, 200);
    assert_closed_soon(&mut socket).await;

    websocket::assert_echoes(&mut other_socket, "still", PATIENCE).await;
}

#[tokio::test]
async fn a_websocket_is_closed_when_its_session_expires() {
    let (env, browser) = Env::alice_signed_in().await;
    let session = browser.cookie("doorman_session").expect("session cookie");
    let mut socket = websocket::open(env.addr, &session, PATIENCE).await;
    env.advance(Duration::from_secs(12 * 3600 + 1));
    assert_closed_soon(&mut socket).await;
}

#[tokio::test]
async fn a_websocket_upgrade_without_a_session_is_refused_and_never_reaches_the_upstream() {
    let env = Env::start().await;
    let request = format!("ws://{}/ws", env.addr)
        .into_client_request()
        .expect("request");

    let outcome = tokio::time::timeout(PATIENCE, tokio_tungstenite::connect_async(request))
        .await
        .expect("an answer in time");

    match outcome {
        Err(WsError::Http(response)) => {
            assert!(
                [401, 302].contains(&response.status().as_u16()),
                "refused with {}",
                response.status()
            );
        }
        Err(other) => panic!("expected an HTTP refusal, got {other}"),
        Ok((_, response)) => panic!("upgraded without a session: {}", response.status()),
    }
    assert_eq!(env.upstream.hits(), 0);
}

#[tokio::test]
async fn the_upstreams_set_cookie_headers_and_redirect_reach_the_browser_untouched() {
    let (_env, mut browser) = Env::alice_signed_in().await;

    let page = browser.get("/set-cookie").await;

    assert_eq!(page.status, 302);
    assert_eq!(page.location(), Some("/elsewhere?x=1"));
    assert_eq!(
        page.set_cookies(),
        ["app_session=xyz; Path=/; HttpOnly", "theme=dark; Path=/"]
    );
}

/// `browser` GETs `/echo` with `headers` (and no `Accept`): the upstream's
/// echo of what it received.
async fn echo_with(browser: &Browser, headers: &[(&str, &str)]) -> serde_json::Value {
    let response = browser.get_plain("/echo", headers).await;
    assert_eq!(response.status(), 200);
    response.json().await.expect("echo")
}

#[tokio::test]
async fn hop_by_hop_request_headers_do_not_reach_the_upstream() {
    let (_env, browser) = Env::alice_signed_in().await;

    let echo = echo_with(
        &browser,
        &[
            ("connection", "x-client-hop"),
            ("x-client-hop", "1"),
            ("keep-alive", "timeout=5"),
            ("te", "trailers"),
            ("trailer", "x-checksum"),
            ("proxy-connection", "keep-alive"),
            ("proxy-authorization", "Basic Zm9vOmJhcg=="),
            ("x-client-kept", "1"),
        ],
    )
    .await;
    for name in [
        "connection",
        "x-client-hop",
        "keep-alive",
        "te",
        "trailer",
        "proxy-connection",
        "proxy-authorization",
    ] {
        assert_eq!(echoed(&echo, name), None, "{name} reached the upstream");
    }
    assert_eq!(echoed(&echo, "x-client-kept"), Some(vec!["1"]));
}

#[tokio::test]
async fn hop_by_hop_response_headers_do_not_reach_the_client() {
    let (_env, mut browser) = Env::alice_signed_in().await;

    let page = browser.get("/hop").await;

    assert_eq!(page.status, 200);
    assert_eq!(page.body, "hop");
    assert_eq!(page.header("x-upstream-hop"), None);
    assert_eq!(page.header("keep-alive"), None);
    assert_eq!(page.header("x-upstream-kept"), Some("1"));
}

#[tokio::test]
async fn forwarding_headers_are_set_and_the_host_is_kept() {
    let (env, browser) = Env::alice_signed_in().await;

    let echo = echo_with(
        &browser,
        &[
            ("x-forwarded-for", "203.0.113.9"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "spoofed.example"),
        ],
    )
    .await;
    let doorman = env.addr.to_string();
    // The peer is not a trusted proxy: its claimed chain is dropped.
    assert_eq!(echoed(&echo, "x-forwarded-for"), Some(vec!["127.0.0.1"]));
    assert_eq!(echoed(&echo, "x-forwarded-proto"), Some(vec!["http"]));
    assert_eq!(
        echoed(&echo, "x-forwarded-host"),
        Some(vec![doorman.as_str()])
    );
    assert_eq!(echoed(&echo, "host"), Some(vec![doorman.as_str()]));
    assert_ne!(doorman, env.upstream.addr.to_string());
}

#[tokio::test]
async fn a_trusted_proxys_forwarded_chain_is_kept() {
    let env = Env::with_extra("trusted_proxies: [\"127.0.0.0/8\"]").await;
    let browser = env.signed_in("alice").await;
    let echo = echo_with(&browser, &[("x-forwarded-for", "203.0.113.9")]).await;
    assert_eq!(
        echoed(&echo, "x-forwarded-for"),
        Some(vec!["203.0.113.9, 127.0.0.1"])
    );
}

#[tokio::test]
async fn doormans_cookies_are_removed_from_the_cookie_header_and_the_apps_stay() {
    let (env, browser) = Env::alice_signed_in().await;
    let session = browser.cookie("doorman_session").expect("session cookie");

    let cookies = format!("app=1; doorman_session={session}; doorman_session_csrf=abc; theme=dark");
    let response = env.api_get_with_cookies("/echo", &cookies).await;

    assert_eq!(response.status(), 200);
    let echo: serde_json::Value = response.json().await.expect("echo");
    assert_eq!(
        echo["headers"]["remote-user"][0], "alice",
        "the session was used"
    );
    assert_eq!(echoed(&echo, "cookie"), Some(vec!["app=1; theme=dark"]));
}

#[tokio::test]
async fn http2_with_prior_knowledge_works_end_to_end() {
    let (env, browser) = Env::alice_signed_in().await;
    let session = browser.cookie("doorman_session").expect("session cookie");
    let client = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .expect("client");

    let response = client
        .post(env.url("/echo?over=h2"))
        .header("cookie", format!("doorman_session={session}"))
        .body(vec![7u8; 100_000])
        .send()
        .await
        .expect("request");

    assert_eq!(response.version(), reqwest::Version::HTTP_2);
    assert_eq!(response.status(), 200);
    let echo: serde_json::Value = response.json().await.expect("echo");
    assert_eq!(echo["method"], "POST");
    assert_eq!(echo["uri"], "/echo?over=h2");
    assert_eq!(echo["body_len"], 100_000);
    assert_eq!(echo["headers"]["remote-user"][0], "alice");
    assert_eq!(
        echoed(&echo, "host"),
        Some(vec![env.addr.to_string().as_str()])
    );
}

#[tokio::test]
async fn http2_cookie_fields_reach_the_upstream_as_one_cookie_header() {
    let (env, browser) = Env::alice_signed_in().await;
    let session = browser.cookie("doorman_session").expect("session cookie");
    let client = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .expect("client");

    // HTTP/2 clients may send each cookie as its own field; HTTP/1.1 allows one line.
    for (path, middle) in [
        ("/echo", format!("doorman_session={session}")),
        ("/assets/x", "c=3".to_owned()),
    ] {
        let response = client
            .get(env.url(path))
            .header("cookie", "app=1")
            .header("cookie", middle.as_str())
            .header("cookie", "theme=dark")
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 200, "{path}");
        let echo: serde_json::Value = response.json().await.expect("echo");
        let expected = if path == "/echo" {
            "app=1; theme=dark"
        } else {
            "app=1; c=3; theme=dark"
        };
        assert_eq!(echoed(&echo, "cookie"), Some(vec![expected]), "{path}");
    }
}

#[tokio::test]
async fn a_down_upstream_gives_502_as_a_page_or_json_and_doorman_keeps_serving() {
    let (env, mut browser) = Env::alice_signed_in().await;
    env.upstream.stop().await;

    let page = browser.get("/reports").await;
    assert_eq!(page.status, 502);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    page.assert_shows("The application is not reachable right now.");

    let response = browser
        .client
        .get(env.url("/api/reports"))
        .header("accept", "application/json")
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 502);
    assert_eq!(response.headers()["content-type"], "application/json");
    let body: serde_json::Value = response.json().await.expect("json");
    assert_eq!(body["error"], "upstream_unavailable");

    let health = api_client()
        .get(env.url("/.doorman/health"))
        .send()
        .await
        .expect("health");
    assert_eq!(health.status(), 200);
    let login = env.browser().get("/.doorman/login").await;
    assert_eq!(login.status, 200);
}

#[tokio::test]
async fn a_public_path_reaches_the_upstream_without_a_session_or_identity() {
    let env = Env::start().await;

    let response = api_client()
        .get(env.url("/assets/x"))
        .header("remote-user", "mallory")
        .send()
        .await
        .expect("request");

    assert_eq!(response.status(), 200);
    let echo: serde_json::Value = response.json().await.expect("echo");
    assert_eq!(echo["path"], "/assets/x");
    let headers = echo["headers"].as_object().expect("headers");
    assert!(
        headers.keys().all(|name| !name.starts_with("remote-")),
        "identity headers on a public route: {headers:?}"
    );
    assert_eq!(env.upstream.hits(), 1);
}

#[tokio::test]
async fn paths_that_climb_out_of_a_public_prefix_need_a_session() {
    let env = Env::start().await;

    for target in [
        "/assets/../secret",
        "/assets/%2e%2e/secret",
        "/assets/%2E%2E/secret",
    ] {
        assert_eq!(raw_status(env.addr, "GET", target).await, 401, "{target}");
    }
    assert_eq!(env.upstream.hits(), 0);
    // The same request for a plain public path does pass, so the refusals
    // above are about the path.
    assert_eq!(raw_status(env.addr, "GET", "/assets/secret").await, 200);
    assert_eq!(env.upstream.hits(), 1);
}

#[tokio::test]
async fn a_public_rule_lets_only_its_methods_through() {
    let env = Env::start().await;

    assert_eq!(raw_status(env.addr, "POST", "/assets/x").await, 401);
    assert_eq!(raw_status(env.addr, "DELETE", "/assets/x").await, 401);
    assert_eq!(env.upstream.hits(), 0);
    assert_eq!(raw_status(env.addr, "HEAD", "/assets/x").await, 200);
    assert_eq!(env.upstream.hits(), 1);
}

#[tokio::test]
async fn shutdown_drains_an_in_flight_response_and_refuses_new_connections() {
    let mut env = Env::start().await;
    let browser = env.signed_in("alice").await;
    let mut response = tokio::time::timeout(PATIENCE, browser.client.get(env.url("/slow")).send())
        .await
        .expect("the headers arrive while the upstream holds its second chunk")
        .expect("slow");
    let first = tokio::time::timeout(PATIENCE, response.chunk())
        .await
        .expect("first chunk in time")
        .expect("read")
        .expect("a chunk");
    assert_eq!(&first[..], b"first\n");

    let doorman = env.doorman.take().expect("running");
    let shutdown = tokio::spawn(doorman.shutdown());
    // The listener closes while the response is still in flight.
    tokio::time::timeout(PATIENCE, async {
        loop {
            match TcpStream::connect(env.addr).await {
                Err(err) if err.kind() == std::io::ErrorKind::ConnectionRefused => break,
                _ => tokio::task::yield_now().await,
            }
        }
    })
    .await
    .expect("new connections are refused once shutdown starts");
    assert!(
        !shutdown.is_finished(),
        "shutdown waits for the in-flight response"
    );

    env.upstream.release.notify_one();
    let rest = tokio::time::timeout(PATIENCE, response.bytes())
        .await
        .expect("the rest in time")
        .expect("the in-flight response completes");
    assert_eq!(&rest[..], b"second\n");
    tokio::time::timeout(PATIENCE, shutdown)
        .await
        .expect("shutdown finishes once drained")
        .expect("shutdown task");
    let err = TcpStream::connect(env.addr).await.expect_err("refused");
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
}
