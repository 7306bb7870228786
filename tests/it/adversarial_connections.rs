//! Issue 11, item 9: nobody holds a connection slot forever — not an idle
//! connection (HTTP/1, HTTP/2, or nothing at all), not a body that stops
//! or drips, not a client that stops reading, not a tunnel, and not one
//! address taking every slot. Timeouts are configured small (1s); tests
//! wait for outcomes with a generous bound, never for a speed.

use crate::support::websocket;
use crate::support::{logs, raw_request, Env, SESSION_COOKIE};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// How long an outcome may take before the test calls it missing.
const PATIENCE: Duration = Duration::from_secs(15);

const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// An empty SETTINGS frame.
const H2_SETTINGS: &[u8] = &[0, 0, 0, 4, 0, 0, 0, 0, 0];

/// doorman with `limits` (lines under `limits:`) and `more` top-level YAML.
async fn doorman(limits: &str, more: &str) -> Env {
    let limits: String = limits
        .lines()
        .map(|l| format!("  {}\n", l.trim()))
        .collect();
    Env::with_extra(&format!("limits:\n{limits}{more}")).await
}

/// Short idle and stall timeouts; header reads get far longer, so what
/// closes a connection here is the new mechanism, not hyper's.
const SHORT: &str = "idle_timeout: 1s\nbody_idle_timeout: 1s\nheader_read_timeout: 10m";

async fn connect(addr: SocketAddr) -> TcpStream {
    TcpStream::connect(addr).await.expect("connect")
}

/// A connection from `source` (another loopback address) to `addr`.
async fn connect_from(source: &str, addr: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("socket");
    socket
        .bind(format!("{source}:0").parse().expect("address"))
        .expect("bind");
    socket.connect(addr).await.expect("connect")
}

/// Reads until doorman closes the connection (or resets it), and returns
/// what arrived; fails the test if it stays open.
async fn read_until_closed(stream: &mut TcpStream, what: &str) -> Vec<u8> {
    let mut received = Vec::new();
    let closed = tokio::time::timeout(PATIENCE, async {
        let mut buf = [0u8; 16 * 1024];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => received.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(
        closed.is_ok(),
        "{what}: the connection should have been closed"
    );
    received
}

/// The HTTP status at the start of `bytes`, if an answer arrived.
fn status(bytes: &[u8]) -> Option<u16> {
    let text = String::from_utf8_lossy(bytes);
    text.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()
}

/// A signed-in session cookie value.
async fn session(env: &Env) -> String {
    let browser = env.signed_in("alice").await;
    browser.cookie(SESSION_COOKIE).expect("session cookie")
}

#[tokio::test]
async fn a_connection_that_sends_nothing_is_closed_after_the_idle_timeout() {
    let env = doorman(SHORT, "").await;
    // Nothing at all; a byte short of telling HTTP/1 from HTTP/2; the
    // first 23 bytes of the HTTP/2 preface.
    for (what, sent) in [
        ("nothing", &b""[..]),
        ("one byte", b"P"),
        ("most of the h2 preface", &H2_PREFACE[..23]),
    ] {
        let mut stream = connect(env.addr).await;
        stream.write_all(sent).await.expect("write");
        let received = read_until_closed(&mut stream, what).await;
        assert!(status(&received).is_none(), "{what}: no answer expected");
    }
}

#[tokio::test]
async fn an_http2_connection_with_no_open_stream_is_closed_after_the_idle_timeout() {
    let env = doorman(SHORT, "").await;

    // Only the preface.
    let mut stream = connect(env.addr).await;
    stream.write_all(H2_PREFACE).await.expect("write");
    read_until_closed(&mut stream, "preface only").await;

    // Preface and settings, then a steady stream of PINGs: bytes keep
    // coming, but no request is ever in flight.
    let mut stream = connect(env.addr).await;
    stream.write_all(H2_PREFACE).await.expect("write");
    stream.write_all(H2_SETTINGS).await.expect("write");
    let (mut reader, mut writer) = stream.into_split();
    let pinger = tokio::spawn(async move {
        let ping = [0, 0, 8, 6, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8];
        while writer.write_all(&ping).await.is_ok() {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    let closed = tokio::time::timeout(PATIENCE, async {
        let mut buf = [0u8; 4096];
        while let Ok(n) = reader.read(&mut buf).await {
            if n == 0 {
                break;
            }
        }
    })
    .await;
    assert!(
        closed.is_ok(),
        "a pinging h2 client with no streams should be closed"
    );
    pinger.abort();

    // A real HTTP/2 client, after one request has been answered.
    let stream = connect(env.addr).await;
    let (mut sender, connection) =
        hyper::client::conn::http2::handshake::<_, _, http_body_util::Empty<bytes::Bytes>>(
            hyper_util::rt::TokioExecutor::new(),
            hyper_util::rt::TokioIo::new(stream),
        )
        .await
        .expect("h2 handshake");
    let connection = tokio::spawn(connection);
    let request = http::Request::get(format!("http://{}/.doorman/health", env.addr))
        .body(http_body_util::Empty::new())
        .expect("request");
    let response = sender.send_request(request).await.expect("answer");
    assert_eq!(response.status(), 200);
    drop(response);
    tokio::time::timeout(PATIENCE, connection)
        .await
        .expect("the idle h2 connection should be closed by doorman")
        .expect("join")
        .ok();
}

#[tokio::test]
async fn an_idle_http1_keep_alive_connection_is_closed_after_the_idle_timeout() {
    let env = doorman(SHORT, "").await;

    // After a complete keep-alive exchange.
    let mut stream = connect(env.addr).await;
    stream
        .write_all(b"GET /.doorman/health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    let received = read_until_closed(&mut stream, "after one request").await;
    assert_eq!(status(&received), Some(200));

    // Half a request head, with header_read_timeout far away.
    let mut stream = connect(env.addr).await;
    stream
        .write_all(b"GET /.doorman/health HTTP/1.1\r\nHo")
        .await
        .expect("write");
    let received = read_until_closed(&mut stream, "half a head").await;
    assert!(status(&received).is_none_or(|code| code >= 400));

    // Two exchanges on one connection, then silence.
    let mut stream = connect(env.addr).await;
    for _ in 0..2 {
        stream
            .write_all(b"GET /.doorman/health HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .expect("write");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let received = read_until_closed(&mut stream, "after two requests").await;
    let text = String::from_utf8_lossy(&received);
    assert_eq!(text.matches("HTTP/1.1 200").count(), 2, "{text}");
}

#[tokio::test]
async fn idle_connections_free_their_slots_so_a_new_client_gets_in() {
    let env = doorman(
        &format!("max_connections: 3\nmax_connections_per_client: 10\n{SHORT}"),
        "",
    )
    .await;
    // Every slot taken by connections that do nothing: two preface-only
    // HTTP/2 clients and one that never speaks.
    let mut idle = Vec::new();
    for sent in [H2_PREFACE, H2_PREFACE, b""] {
        let mut stream = connect(env.addr).await;
        stream.write_all(sent).await.expect("write");
        idle.push(stream);
    }
    // The newcomer waits in the backlog until the idle ones are closed.
    let answer = tokio::time::timeout(
        PATIENCE,
        raw_request(env.addr, "GET /.doorman/health HTTP/1.1\nHost: x"),
    )
    .await
    .expect("a new client should get in once idle connections are closed");
    assert_eq!(answer.status, 200);
    for (index, stream) in idle.iter_mut().enumerate() {
        read_until_closed(stream, &format!("idle connection {index}")).await;
    }
}

/// Sends a POST head with `Content-Length: length`, then `body` one byte
/// at a time with `gap` between bytes, and reads what comes back.
async fn dripping_post(
    addr: SocketAddr,
    path: &str,
    cookie: Option<&str>,
    length: usize,
    body: &[u8],
    gap: Duration,
) -> Vec<u8> {
    let mut stream = connect(addr).await;
    let cookie = cookie.map_or(String::new(), |c| {
        format!("Cookie: {SESSION_COOKIE}={c}\r\n")
    });
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n{cookie}Content-Length: {length}\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.expect("write");
    let (mut reader, mut writer) = stream.into_split();
    let body = body.to_vec();
    let drip = tokio::spawn(async move {
        for byte in body {
            if writer.write_all(&[byte]).await.is_err() {
                return;
            }
            tokio::time::sleep(gap).await;
        }
        // Then silence, with the write side still open.
        std::future::pending::<()>().await;
    });
    let mut received = Vec::new();
    let closed = tokio::time::timeout(PATIENCE, reader.read_to_end(&mut received)).await;
    drip.abort();
    assert!(
        closed.is_ok(),
        "POST {path}: the connection should have been closed"
    );
    received
}

#[tokio::test]
async fn a_form_body_that_stalls_or_drips_is_refused_with_408() {
    let env = doorman(SHORT, "").await;
    for (what, body, gap) in [
        ("stops halfway", &b"username=alice&pa"[..], Duration::ZERO),
        ("sends nothing", b"", Duration::ZERO),
        // Never quiet for the idle timeout, yet the small form takes far
        // longer than it may in all.
        (
            "drips a byte every 300ms",
            b"username=alice&password=x&csrf=y",
            Duration::from_millis(300),
        ),
    ] {
        let received = dripping_post(env.addr, "/.doorman/login", None, 200, body, gap).await;
        assert_eq!(status(&received), Some(408), "{what}");
    }
}

#[tokio::test]
async fn a_request_body_that_stops_on_its_way_upstream_fails_with_408_and_frees_the_connection() {
    let env = doorman(
        SHORT,
        "rules:\n  - { path_prefix: \"/open/\", policy: bypass }\n",
    )
    .await;
    let cookie = session(&env).await;
    for (what, path, cookie) in [
        ("public route", "/open/form", None),
        ("signed in", "/upload", Some(cookie.as_str())),
    ] {
        for body in [&b""[..], b"partial upload"] {
            let received = dripping_post(env.addr, path, cookie, 4096, body, Duration::ZERO).await;
            assert_eq!(
                status(&received),
                Some(408),
                "{what}, {} bytes sent",
                body.len()
            );
        }
    }

    // Chunked, signed in: a chunk, then nothing.
    let mut stream = connect(env.addr).await;
    let head = format!(
        "POST /upload HTTP/1.1\r\nHost: x\r\nCookie: {SESSION_COOKIE}={cookie}\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"
    );
    stream.write_all(head.as_bytes()).await.expect("write");
    let received = read_until_closed(&mut stream, "chunked upload").await;
    assert_eq!(status(&received), Some(408));
}

#[tokio::test]
async fn an_upload_that_keeps_moving_slowly_reaches_the_upstream_whole() {
    let env = doorman(SHORT, "").await;
    let cookie = session(&env).await;
    let body = b"slow but steady";
    let mut stream = connect(env.addr).await;
    let head = format!(
        "POST /upload HTTP/1.1\r\nHost: x\r\nCookie: {SESSION_COOKIE}={cookie}\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.expect("write");
    // Three times the idle timeout in all, never idle for one.
    for byte in body {
        stream.write_all(&[*byte]).await.expect("write");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let received = read_until_closed(&mut stream, "slow upload").await;
    let text = String::from_utf8_lossy(&received);
    assert_eq!(status(&received), Some(200), "{text}");
    assert!(
        text.contains(&format!("\"bytes\":{}", body.len())),
        "{text}"
    );
}

#[tokio::test]
async fn a_response_that_stalls_or_is_not_read_is_cut_off() {
    logs::capture();
    let env = doorman(SHORT, "").await;
    let cookie = session(&env).await;

    // The upstream sends a first chunk, then nothing (until released).
    let mut stream = connect(env.addr).await;
    let head =
        format!("GET /slow HTTP/1.1\r\nHost: x\r\nCookie: {SESSION_COOKIE}={cookie}\r\n\r\n");
    stream.write_all(head.as_bytes()).await.expect("write");
    let received = read_until_closed(&mut stream, "stalled upstream").await;
    let text = String::from_utf8_lossy(&received);
    assert!(text.contains("first"), "{text}");
    assert!(!text.contains("second"), "{text}");
    assert!(
        !text.ends_with("0\r\n\r\n"),
        "the body must not look complete: {text}"
    );

    // The client asks for far more than socket buffers hold, and never reads.
    let mut stream = connect(env.addr).await;
    let port = stream.local_addr().expect("addr").port();
    let total = 512 * 1024 * 1024;
    let head = format!(
        "GET /download?bytes={total} HTTP/1.1\r\nHost: x\r\nCookie: {SESSION_COOKIE}={cookie}\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.expect("write");
    let peer = format!("peer=127.0.0.1:{port}");
    let gave_up = tokio::time::timeout(PATIENCE, async {
        loop {
            let text = logs::text();
            if text
                .lines()
                .any(|line| line.contains(&peer) && line.contains("ended with an error"))
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    assert!(
        gave_up.is_ok(),
        "doorman should drop a client that stops reading"
    );
    let received = read_until_closed(&mut stream, "unread download").await;
    assert!(received.len() < total, "got all {} bytes", received.len());
}

#[tokio::test]
async fn a_silent_http2_peer_with_a_request_in_flight_is_dropped_when_it_ignores_pings() {
    // Stalls and idleness far away: only the pings can end this.
    let env = doorman(
        "idle_timeout: 1s\nbody_idle_timeout: 10m\nheader_read_timeout: 10m",
        "",
    )
    .await;
    let mut stream = connect(env.addr).await;
    stream.write_all(H2_PREFACE).await.expect("write");
    stream.write_all(H2_SETTINGS).await.expect("write");
    // HEADERS for `POST /.doorman/login` without END_STREAM: doorman waits
    // for a body that never comes. HPACK: :method POST, :scheme http,
    // :path (literal, indexed name), :authority (literal, indexed name).
    let mut block = vec![0x83, 0x86, 0x04, 15];
    block.extend_from_slice(b"/.doorman/login");
    block.extend_from_slice(&[0x01, 1, b'x']);
    let mut frame = vec![0, 0, block.len() as u8, 1, 0x4, 0, 0, 0, 1];
    frame.extend_from_slice(&block);
    stream.write_all(&frame).await.expect("write");

    let received = read_until_closed(&mut stream, "a peer ignoring pings").await;
    // Frames: 9-byte headers; type 6 with flags 0 is a PING asked of us.
    let mut rest = &received[..];
    let mut pinged = false;
    while rest.len() >= 9 {
        let length = usize::from(rest[0]) << 16 | usize::from(rest[1]) << 8 | usize::from(rest[2]);
        pinged |= rest[3] == 6 && rest[4] & 1 == 0;
        rest = &rest[(9 + length).min(rest.len())..];
    }
    assert!(pinged, "doorman should have pinged the silent peer");
}

#[tokio::test]
async fn one_client_address_cannot_take_every_connection_slot() {
    logs::capture();
    let env = doorman(
        "max_connections: 10\nmax_connections_per_client: 2\nidle_timeout: 10m",
        "",
    )
    .await;
    let mut held = vec![connect(env.addr).await, connect(env.addr).await];
    // Both held connections are in (a request on one is answered)...
    held[0]
        .write_all(b"GET /.doorman/health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    let mut buf = [0u8; 1024];
    let n = tokio::time::timeout(PATIENCE, held[0].read(&mut buf))
        .await
        .expect("answer in time")
        .expect("read");
    assert_eq!(status(&buf[..n]), Some(200));

    // ...so the third, fourth and fifth from the same address are closed unanswered.
    for attempt in 3..=5 {
        let mut stream = connect(env.addr).await;
        let _ = stream
            .write_all(b"GET /.doorman/health HTTP/1.1\r\nHost: x\r\n\r\n")
            .await;
        let received = read_until_closed(&mut stream, &format!("connection {attempt}")).await;
        assert!(received.is_empty(), "connection {attempt} was answered");
    }

    // Another address still gets in, and gets answers.
    for _ in 0..2 {
        let mut other = connect_from("127.0.0.2", env.addr).await;
        other
            .write_all(b"GET /.doorman/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .expect("write");
        let received = read_until_closed(&mut other, "another address").await;
        assert_eq!(status(&received), Some(200));
    }

    // Closing one held connection lets the first address back in.
    drop(held.pop());
    let back_in = tokio::time::timeout(PATIENCE, async {
        loop {
            let mut stream = connect(env.addr).await;
            let _ = stream
                .write_all(b"GET /.doorman/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .await;
            let mut received = Vec::new();
            let _ = stream.read_to_end(&mut received).await;
            if status(&received) == Some(200) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(
        back_in.is_ok(),
        "a freed slot should let the address back in"
    );

    let metrics = doorman::metrics::render(0);
    assert!(
        metrics.contains("doorman_limit_hits_total{limit=\"connections_per_client\"}"),
        "{metrics}"
    );
    assert!(logs::text().contains("max_connections_per_client"));
}

#[tokio::test]
async fn an_open_tunnel_holds_its_connection_slot_until_it_closes() {
    let env = doorman(
        "max_connections: 1\nmax_connections_per_client: 1\nidle_timeout: 1s\nbody_idle_timeout: 1s",
        "",
    ).await;
    // Signing in used the one slot; the browser's pooled connection goes
    // idle and is closed.
    let cookie = session(&env).await;
    let mut socket = websocket::open(env.addr, &cookie, PATIENCE).await;
    websocket::assert_echoes(&mut socket, "in the only slot", PATIENCE).await;

    // The tunnel is far past the idle timeout and still holds the slot: a
    // newcomer is not let in.
    let addr = env.addr;
    let mut newcomer =
        tokio::spawn(
            async move { raw_request(addr, "GET /.doorman/health HTTP/1.1\nHost: x").await },
        );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        !newcomer.is_finished(),
        "a newcomer got in while the tunnel held the only slot"
    );
    websocket::assert_echoes(&mut socket, "still open after the idle timeout", PATIENCE).await;

    // The client says goodbye but keeps its TCP half open (this client
    // waits to be closed): once the app's side has closed, the tunnel
    // lingers at most `body_idle_timeout`.
    socket.close(None).await.expect("close");
    let answer = tokio::time::timeout(PATIENCE, &mut newcomer)
        .await
        .expect("the newcomer gets in once the tunnel closes")
        .expect("join");
    assert_eq!(answer.status, 200);
}

#[tokio::test]
async fn open_tunnels_are_closed_when_doorman_shuts_down() {
    logs::capture();
    let mut env = doorman("", "").await;
    let cookie = session(&env).await;
    let mut sockets = vec![
        websocket::open(env.addr, &cookie, PATIENCE).await,
        websocket::open(env.addr, &cookie, PATIENCE).await,
    ];
    for socket in &mut sockets {
        websocket::assert_echoes(socket, "before shutdown", PATIENCE).await;
    }
    let doorman = env.doorman.take().expect("running");
    tokio::time::timeout(PATIENCE, doorman.shutdown())
        .await
        .expect("shutdown in time");
    for socket in &mut sockets {
        assert!(
            websocket::closes_within(socket, PATIENCE).await,
            "the tunnel should be closed at shutdown"
        );
    }
    assert!(logs::text().contains("tunnel closed: doorman is shutting down"));
}

#[test]
fn connection_limit_settings_name_their_keys_and_default_sensibly() {
    use doorman::config::Config;
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("users.yaml"),
        crate::support::default_users(),
    )
    .expect("users file");
    let base = format!(
        "listen: \"127.0.0.1:0\"\nupstream: \"http://127.0.0.1:3000\"\nusers_file: \"users.yaml\"\nsession:\n  secret: \"{}\"\nchannels:\n  sms: {{ provider: log }}\nproviders:\n  log: {{}}\n",
        crate::support::SECRET
    );
    let problems = Config::from_yaml(
        &format!("{base}limits: {{ idle_timeout: \"0s\", body_idle_timeout: soon, max_connections_per_client: 0 }}\n"),
        dir.path(),
    )
    .expect_err("three problems")
    .to_string();
    for key in [
        "limits.idle_timeout: must be longer than zero",
        "limits.body_idle_timeout: `soon` is not a duration",
        "limits.max_connections_per_client: must be at least 1",
    ] {
        assert!(problems.contains(key), "{key} missing from:\n{problems}");
    }

    let defaults = Config::from_yaml(&base, dir.path()).expect("valid").limits;
    assert_eq!(defaults.idle_timeout, Duration::from_secs(30));
    assert_eq!(defaults.body_idle_timeout, Duration::from_secs(60));
    assert_eq!(defaults.max_connections_per_client, 256);
    // A small instance: one address never gets more than half of it.
    let small = Config::from_yaml(
        &format!("{base}limits: {{ max_connections: 30 }}\n"),
        dir.path(),
    )
    .expect("valid")
    .limits;
    assert_eq!(small.max_connections_per_client, 15);
}
