//! The HTTP/1 lane (`limits.fast_lane`): a request it carries reaches the
//! app, and its answer the client, exactly as through hyper — checked by
//! running one doorman with the lane and one without against the same
//! scripted app (raw bytes, so every framing can be tried) and comparing
//! what each side saw. Answers that frame themselves ambiguously or carry
//! more than one answer never leak into another request.

use crate::support::{Env, Setup, SESSION_COOKIE};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const PATIENCE: Duration = Duration::from_secs(15);

/// What the scripted app answers to `/s/<name>`, as raw bytes; `true`:
/// it closes the connection after.
fn script(name: &str) -> (&'static str, bool) {
    match name {
        "length" => (
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: keep-alive, X-Secret\r\nX-Secret: s\r\n\
             Keep-Alive: timeout=5\r\nProxy-Authenticate: Basic\r\nX-Request-Id: from-the-app\r\n\
             Set-Cookie: app=1\r\nX-App: 1\r\n\r\nhello",
            false,
        ),
        "chunked" => (
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n\
             5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n",
            false,
        ),
        "no-content" => ("HTTP/1.1 204 No Content\r\nX-App: 2\r\n\r\n", false),
        "not-modified" => ("HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n", false),
        "early-hints" => (
            "HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
            false,
        ),
        "odd-reason" => ("HTTP/1.1 404 Nowhere To Be Found\r\nContent-Length: 1\r\n\r\nx", false),
        "until-close" => ("HTTP/1.1 200 OK\r\nX-App: 3\r\n\r\nuntil the app closes", true),
        // Two answers in one: the second must reach nobody.
        "smuggle" => (
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloHTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nSTOLEN",
            false,
        ),
        "both" => (
            "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            false,
        ),
        "two-lengths" => ("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", false),
        "bad-chunk" => ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nSTOLEN", false),
        "gzip-coding" => (
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
            false,
        ),
        _ => ("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nbody", false),
    }
}

/// A raw HTTP/1 app: answers each request head with its script and
/// records the heads it was sent.
#[derive(Clone, Default)]
struct ScriptedApp {
    heads: Arc<Mutex<Vec<String>>>,
}

impl ScriptedApp {
    async fn start() -> (ScriptedApp, SocketAddr) {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let app = ScriptedApp::default();
        let heads = app.heads.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let heads = heads.clone();
                tokio::spawn(async move {
                    let mut read = Vec::new();
                    loop {
                        let Some(end) = find(&read, b"\r\n\r\n") else {
                            let mut buf = [0u8; 4096];
                            match stream.read(&mut buf).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => read.extend_from_slice(&buf[..n]),
                            }
                            continue;
                        };
                        let head = String::from_utf8_lossy(&read[..end + 4]).into_owned();
                        read.drain(..end + 4);
                        let path = head.split(' ').nth(1).unwrap_or("/").to_owned();
                        heads.lock().unwrap().push(head);
                        let path = path.split('?').next().unwrap_or("");
                        let name = path.strip_prefix("/s/").unwrap_or("");
                        let (answer, close) = script(name);
                        if stream.write_all(answer.as_bytes()).await.is_err() || close {
                            return;
                        }
                    }
                });
            }
        });
        (app, addr)
    }

    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.heads.lock().unwrap())
    }
}

fn find(bytes: &[u8], needle: &[u8]) -> Option<usize> {
    bytes
        .windows(needle.len())
        .position(|window| window == needle)
}

/// One doorman in front of the scripted app, with the lane on or off.
async fn doorman(app: SocketAddr, lane: bool) -> (Env, String) {
    let env = Env::with(Setup {
        upstream_url: Some(format!("http://{app}")),
        extra: format!("limits:\n  fast_lane: {lane}\nmetrics_listen: \"127.0.0.1:0\"\n"),
        ..Setup::default()
    })
    .await;
    let cookie = env
        .signed_in("alice")
        .await
        .cookie(SESSION_COOKIE)
        .expect("session cookie");
    (env, cookie)
}

/// An answer as the client saw it: status line, headers (sorted, without
/// the ones either path may set its own way: `date`, framing, the id),
/// and the body decoded from whatever framing it came in.
#[derive(Debug, PartialEq, Eq)]
struct Seen {
    status_line: String,
    headers: Vec<String>,
    body: Vec<u8>,
}

/// Reads one answer off `stream` (to a `HEAD` if `head`): `None` if the
/// connection closed before a whole one. `read` holds what was read and
/// not yet used, from one call to the next.
async fn read_answer(stream: &mut TcpStream, read: &mut Vec<u8>, head: bool) -> Option<Seen> {
    let end = loop {
        if let Some(end) = find(read, b"\r\n\r\n") {
            break end;
        }
        fill(stream, read).await?;
    };
    let text = String::from_utf8_lossy(&read[..end]).into_owned();
    read.drain(..end + 4);
    let mut lines = text.split("\r\n");
    let status_line = lines.next()?.to_owned();
    let mut fields = BTreeMap::<String, Vec<String>>::new();
    for line in lines {
        let (name, value) = line.split_once(':')?;
        fields
            .entry(name.trim().to_ascii_lowercase())
            .or_default()
            .push(value.trim().to_owned());
    }
    let code: u16 = status_line.split(' ').nth(1)?.parse().ok()?;
    let length = fields
        .get("content-length")
        .and_then(|v| v[0].parse::<usize>().ok());
    let chunked = fields
        .get("transfer-encoding")
        .is_some_and(|v| v[0] == "chunked");
    let mut body = Vec::new();
    if head || code == 204 || code == 304 {
    } else if chunked {
        loop {
            let line_end = loop {
                if let Some(at) = find(read, b"\r\n") {
                    break at;
                }
                fill(stream, read).await?;
            };
            let size_text = String::from_utf8_lossy(&read[..line_end]).into_owned();
            let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
            read.drain(..line_end + 2);
            while read.len() < size + 2 {
                fill(stream, read).await?;
            }
            body.extend_from_slice(&read[..size]);
            read.drain(..size + 2);
            if size == 0 {
                break;
            }
        }
    } else if let Some(length) = length {
        while read.len() < length {
            fill(stream, read).await?;
        }
        body.extend_from_slice(&read[..length]);
        read.drain(..length);
    } else {
        while fill(stream, read).await.is_some() {}
        body = std::mem::take(read);
    }
    for own in [
        "date",
        "transfer-encoding",
        "connection",
        "content-length",
        "x-request-id",
    ] {
        fields.remove(own);
    }
    let headers = fields
        .into_iter()
        .flat_map(|(name, values)| {
            values
                .into_iter()
                .map(move |value| format!("{name}: {value}"))
        })
        .collect();
    Some(Seen {
        status_line,
        headers,
        body,
    })
}

async fn fill(stream: &mut TcpStream, read: &mut Vec<u8>) -> Option<()> {
    let mut buf = [0u8; 16 * 1024];
    match tokio::time::timeout(PATIENCE, stream.read(&mut buf)).await {
        Ok(Ok(n)) if n > 0 => {
            read.extend_from_slice(&buf[..n]);
            Some(())
        }
        _ => None,
    }
}

/// A request head a client might send: signed in, with every kind of
/// header a client must not get past doorman.
fn request(method: &str, path: &str, cookie: &str) -> String {
    format!(
        "{method} {path} HTTP/1.1\r\nHost: app.example\r\n\
         Cookie: theirs=1; {SESSION_COOKIE}={cookie}; other=2\r\n\
         Remote-User: mallory\r\nremote_user: mallory\r\nRemote.Groups: admins\r\n\
         X-Forwarded-For: 6.6.6.6\r\nX-Forwarded-Host: evil\r\nX_Forwarded_Proto: https\r\n\
         X-Forwarded-Proto: https\r\nRemote-Email: m@evil\r\nREMOTE-NAME: Mallory\r\n\
         Forwarded: for=6.6.6.6\r\nX-Real-IP: 6.6.6.6\r\nX-Original-URL: /admin\r\n\
         X-Request-Id: client-chosen\r\nX_Request_Id: client-chosen\r\n\
         Connection: keep-alive, Remote-User, X-Forwarded-For, X-Keep\r\nX-Keep: dropped\r\n\
         Keep-Alive: timeout=1\r\nTE: trailers\r\nProxy-Authorization: Basic eA==\r\n\
         Accept: */*\r\nX-App-Header: kept\r\n\r\n"
    )
}

/// The head the app was sent, with doorman's fresh id made comparable
/// and the lines sorted (both paths keep the header map's order; the
/// sort only keeps this independent of it).
fn normalized(head: &str) -> Vec<String> {
    let mut lines: Vec<String> = head
        .split("\r\n")
        .filter(|line| !line.is_empty())
        .map(|line| {
            let lower = line.to_ascii_lowercase();
            if lower.starts_with("x-request-id:") {
                "x-request-id: <fresh>".to_owned()
            } else {
                lower
            }
        })
        .collect();
    lines.sort();
    lines
}

/// Sends `sent` twice on one new connection to doorman and adds what came
/// back to `seen` (answers to a `HEAD` if `head`); `None` where the
/// connection was over before a whole answer.
async fn twice(env: &Env, sent: &str, head: bool, seen: &mut Vec<Option<Seen>>) {
    let mut stream = TcpStream::connect(env.addr).await.expect("connect");
    let mut read = Vec::new();
    for _ in 0..2 {
        if stream.write_all(sent.as_bytes()).await.is_err() {
            seen.push(None);
            return;
        }
        let answer = read_answer(&mut stream, &mut read, head).await;
        let over = answer.is_none();
        seen.push(answer);
        if over {
            return;
        }
    }
}

/// What each doorman made of `name`, twice on one keep-alive connection
/// (the second time the lane has a kept connection to the app to reuse):
/// the answers the client saw and the heads the app was sent.
async fn through(
    env: &Env,
    app: &ScriptedApp,
    cookie: &str,
    method: &str,
    name: &str,
) -> (Vec<Option<Seen>>, Vec<Vec<String>>) {
    app.take();
    let sent = request(method, &format!("/s/{name}?q=1"), cookie);
    let mut seen = Vec::new();
    twice(env, &sent, method == "HEAD", &mut seen).await;
    let heads = app.take().iter().map(|head| normalized(head)).collect();
    (seen, heads)
}

fn lane_requests(text: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix("doorman_fast_lane_requests_total "))
        .and_then(|value| value.trim().parse().ok())
        .expect("the lane's counter")
}

async fn scrape(env: &Env) -> String {
    let addr = env
        .doorman
        .as_ref()
        .and_then(|doorman| doorman.metrics_addr())
        .expect("metrics");
    reqwest::get(format!("http://{addr}/metrics"))
        .await
        .expect("scrape")
        .text()
        .await
        .expect("body")
}

#[tokio::test]
async fn the_lane_forwards_exactly_what_hyper_forwards_and_answers_alike() {
    let (app, addr) = ScriptedApp::start().await;
    let (lane, lane_cookie) = doorman(addr, true).await;
    let (hyper, hyper_cookie) = doorman(addr, false).await;
    let before = lane_requests(&scrape(&lane).await);
    let mut carried = 0.0;
    for (method, name) in [
        ("GET", "length"),
        ("GET", "chunked"),
        ("GET", "no-content"),
        ("GET", "not-modified"),
        ("GET", "early-hints"),
        ("GET", "odd-reason"),
        ("HEAD", "length"),
        ("HEAD", "chunked"),
        ("GET", "plain"),
    ] {
        let (through_lane, lane_heads) = through(&lane, &app, &lane_cookie, method, name).await;
        let (through_hyper, hyper_heads) = through(&hyper, &app, &hyper_cookie, method, name).await;
        assert_eq!(
            through_lane, through_hyper,
            "{method} {name}: the answers differ"
        );
        assert_eq!(
            lane_heads, hyper_heads,
            "{method} {name}: the app was sent different heads"
        );
        assert_eq!(lane_heads.len(), 2, "{method} {name}");
        assert!(through_lane.iter().all(Option::is_some), "{method} {name}");
        carried += 2.0;
        // What must hold whichever way it went.
        let head = lane_heads[0].join("\n");
        assert!(head.contains("remote-user: alice"), "{head}");
        assert!(
            !head.contains("mallory") && !head.contains("6.6.6.6"),
            "{head}"
        );
        assert!(!head.contains("evil") && !head.contains("/admin"), "{head}");
        assert!(
            !head.contains("client-chosen") && !head.contains("x-keep"),
            "{head}"
        );
        assert!(!head.contains(SESSION_COOKIE), "{head}");
        assert!(head.contains("cookie: theirs=1; other=2"), "{head}");
        assert!(head.contains("x-forwarded-for: 127.0.0.1"), "{head}");
        assert!(head.contains("x-app-header: kept"), "{head}");
        // doorman's own headers, each once: no client copy beside them.
        for name in [
            "host",
            "x-forwarded-for",
            "x-forwarded-proto",
            "x-forwarded-host",
            "x-request-id",
            "remote-user",
        ] {
            let lines = lane_heads[0]
                .iter()
                .filter(|line| line.split_once(':').is_some_and(|(sent, _)| sent == name));
            assert_eq!(lines.count(), 1, "{name}: {head}");
        }
        let proto = "x-forwarded-proto: http".to_owned();
        assert!(lane_heads[0].contains(&proto), "{head}");
    }
    // The lane carried them all (other tests share the counter: at least).
    let after = lane_requests(&scrape(&lane).await);
    assert!(
        after - before >= carried,
        "{before} → {after}, expected {carried} more"
    );
    let seen = through(&lane, &app, &lane_cookie, "GET", "length").await.0;
    let first = seen[0].as_ref().expect("an answer");
    let headers = first.headers.join("\n");
    assert!(
        headers.contains("x-app: 1") && headers.contains("set-cookie: app=1"),
        "{headers}"
    );
    assert!(
        !headers.contains("x-secret") && !headers.contains("keep-alive"),
        "{headers}"
    );
    assert!(!headers.contains("proxy-authenticate"), "{headers}");
}

#[tokio::test]
async fn a_request_on_a_kept_connection_carries_none_of_the_one_before() {
    let (app, addr) = ScriptedApp::start().await;
    let (lane, cookie) = doorman(addr, true).await;
    app.take();
    let plain = format!(
        "GET /s/length HTTP/1.1\r\nHost: app.example\r\nCookie: {SESSION_COOKIE}={cookie}\r\n\r\n"
    );
    // doorman's own answers on the lane, between them: a forward-auth
    // question and a refusal (no session), each with the full set of
    // client headers; the app sees neither.
    let question = request("GET", "/.doorman/auth", &cookie);
    let refused = request("GET", "/s/length", "").replace(&format!("{SESSION_COOKIE}=;"), "");
    let mut stream = TcpStream::connect(lane.addr).await.expect("connect");
    let mut read = Vec::new();
    // The full one (with every header doorman adds or drops), then plain
    // ones: each is the lane's, reusing what the one before left.
    let sequence = [
        request("GET", "/s/length", &cookie),
        plain.clone(),
        question,
        plain.clone(),
        refused,
        plain,
    ];
    let before = lane_requests(&scrape(&lane).await);
    let mut statuses = Vec::new();
    for sent in sequence {
        stream.write_all(sent.as_bytes()).await.expect("send");
        let seen = read_answer(&mut stream, &mut read, false)
            .await
            .expect("an answer");
        statuses.push(seen.status_line);
    }
    assert!(statuses[2].contains(" 200"), "{statuses:?}");
    assert!(statuses[4].contains(" 401"), "{statuses:?}");
    let after = lane_requests(&scrape(&lane).await);
    assert!(after - before >= 6.0, "the lane carried {before} → {after}");
    let heads = app.take();
    assert_eq!(heads.len(), 4, "{heads:?}");
    assert!(heads[0].contains("X-App-Header: kept") || heads[0].contains("x-app-header: kept"));
    for head in &heads[1..] {
        let lines = normalized(head);
        let names: Vec<&str> = lines
            .iter()
            .skip(1)
            .filter_map(|line| line.split_once(':').map(|(name, _)| name))
            .collect();
        assert!(
            !head.to_ascii_lowercase().contains("x-app-header"),
            "{head}"
        );
        assert!(
            !head.contains("theirs=1") && !head.contains("accept"),
            "{head}"
        );
        assert!(head.contains("remote-user: alice"), "{head}");
        assert_eq!(
            names
                .iter()
                .filter(|name| name.eq_ignore_ascii_case("x-request-id"))
                .count(),
            1,
            "{head}"
        );
    }
}

#[tokio::test]
async fn an_answer_that_closes_ends_the_clients_connection_after_it() {
    let (app, addr) = ScriptedApp::start().await;
    let (lane, cookie) = doorman(addr, true).await;
    let (hyper, hyper_cookie) = doorman(addr, false).await;
    let (seen, _) = through(&lane, &app, &cookie, "GET", "until-close").await;
    let (by_hyper, _) = through(&hyper, &app, &hyper_cookie, "GET", "until-close").await;
    let first = seen[0].as_ref().expect("the answer");
    assert_eq!(first.body, b"until the app closes");
    assert_eq!(Some(first), by_hyper[0].as_ref());
}

#[tokio::test]
async fn answers_framed_two_ways_or_carrying_more_reach_no_other_request() {
    let (app, addr) = ScriptedApp::start().await;
    let (lane, cookie) = doorman(addr, true).await;
    for name in ["smuggle", "both", "two-lengths", "bad-chunk", "gzip-coding"] {
        let (seen, _) = through(&lane, &app, &cookie, "GET", name).await;
        for answer in seen.iter().flatten() {
            assert!(
                !String::from_utf8_lossy(&answer.body).contains("STOLEN"),
                "{name}: {answer:?}"
            );
            assert!(
                matches!(
                    answer.status_line.as_str(),
                    "HTTP/1.1 200 OK" | "HTTP/1.1 502 Bad Gateway"
                ),
                "{name}: {answer:?}"
            );
        }
        // Whatever that connection to the app held is gone: the next
        // requests, from other clients too, get their own answers.
        for _ in 0..3 {
            let (next, _) = through(&lane, &app, &cookie, "GET", "plain").await;
            let answer = next[0].as_ref().expect("an answer");
            assert_eq!(answer.body, b"body", "after {name}: {answer:?}");
        }
    }
    let (seen, _) = through(&lane, &app, &cookie, "GET", "both").await;
    assert_eq!(
        seen[0].as_ref().map(|a| a.status_line.as_str()),
        Some("HTTP/1.1 502 Bad Gateway")
    );
}

#[tokio::test]
async fn what_is_not_the_lanes_is_served_by_hyper_on_the_same_connection() {
    let (app, addr) = ScriptedApp::start().await;
    let (lane, cookie) = doorman(addr, true).await;
    let mut stream = TcpStream::connect(lane.addr).await.expect("connect");
    // The lane's, then a page, then a POST, then the lane's again: all
    // answered in order on one connection.
    let get = request("GET", "/s/length", &cookie);
    let page = "GET /.doorman/health HTTP/1.1\r\nHost: app.example\r\n\r\n".to_owned();
    let post = format!(
        "POST /s/plain HTTP/1.1\r\nHost: app.example\r\nCookie: {SESSION_COOKIE}={cookie}\r\nContent-Length: 3\r\n\r\nabc"
    );
    // Pipelined: all in one write.
    stream
        .write_all(format!("{get}{page}{post}{get}").as_bytes())
        .await
        .expect("write");
    let mut bodies = Vec::new();
    let mut read = Vec::new();
    for _ in 0..4 {
        let answer = read_answer(&mut stream, &mut read, false)
            .await
            .expect("an answer");
        bodies.push(String::from_utf8_lossy(&answer.body).into_owned());
    }
    assert_eq!(bodies[0], "hello");
    assert!(bodies[1].contains("ok"), "{bodies:?}");
    assert_eq!(bodies[2], "body");
    assert_eq!(bodies[3], "hello");
    // Unauthenticated: the lane leaves it to hyper, which asks to sign in.
    let mut stream = TcpStream::connect(lane.addr).await.expect("connect");
    stream
        .write_all(b"GET /s/length HTTP/1.1\r\nHost: app.example\r\nAccept: text/html\r\n\r\n")
        .await
        .expect("write");
    let answer = read_answer(&mut stream, &mut Vec::new(), false)
        .await
        .expect("an answer");
    assert!(
        answer.status_line.contains(" 302 ") || answer.status_line.contains(" 303 "),
        "{answer:?}"
    );
    assert!(app
        .take()
        .iter()
        .all(|head| !head.contains("POST /s/length")));
}

/// A doorman for forward-auth questions, with the lane on or off, that
/// believes 127.0.0.1 (or not) and has rules to refuse by; and Alice's
/// and Bob's cookies.
async fn asked(lane: bool, trusting: bool) -> (Env, String, String) {
    let trust = if trusting {
        "trusted_proxies: [\"127.0.0.1\"]\n"
    } else {
        ""
    };
    let env = Env::with(Setup {
        extra: format!(
            "{trust}limits:\n  fast_lane: {lane}\nmetrics_listen: \"127.0.0.1:0\"\nrules:\n  \
             - {{ path_prefix: \"/admin/\", groups: [\"admins\"], policy: two_factor, max_age: \"10m\" }}\n  \
             - {{ path_prefix: \"/admin/\", policy: deny }}\n  \
             - {{ path_regex: \"^/internal/\", policy: deny }}\n  \
             - {{ path_prefix: \"/assets/\", policy: bypass }}\n"
        ),
        ..Setup::default()
    })
    .await;
    let alice = env.session_of("alice").await;
    let bob = env.session_of("bob").await;
    (env, alice, bob)
}

/// Who asks: nobody signed in, Alice, Bob, or a cookie that is no session.
#[derive(Clone, Copy, Debug)]
enum Asker {
    Nobody,
    Alice,
    Bob,
    Forged,
}

impl Asker {
    /// The session cookie the asker sends, given Alice's and Bob's.
    fn cookie<'a>(self, alice: &'a str, bob: &'a str) -> Option<&'a str> {
        match self {
            Asker::Nobody => None,
            Asker::Alice => Some(alice),
            Asker::Bob => Some(bob),
            Asker::Forged => Some("forged"),
        }
    }
}

/// Forward-auth questions as nginx, Traefik and Caddy ask them, and as a
/// client who reaches doorman directly, or a front proxy that appends
/// instead of overwriting, might: (target, extra header lines).
fn questions() -> Vec<(&'static str, String)> {
    let nginx = |method: &str, url: &str| {
        format!("X-Original-Method: {method}\r\nX-Original-URL: {url}\r\n")
    };
    let traefik = |method: &str, uri: &str| {
        format!(
            "X-Forwarded-Method: {method}\r\nX-Forwarded-Proto: https\r\n\
             X-Forwarded-Host: app.example.com\r\nX-Forwarded-Uri: {uri}\r\n"
        )
    };
    let browser = "Accept: text/html,application/xhtml+xml\r\n";
    let mut asked = vec![
        ("/.doorman/auth", String::new()),
        ("/.doorman/auth", browser.to_owned()),
        ("/.doorman/auth?x=1", String::new()),
        ("/.doorman/%61uth", String::new()),
        ("/.doorman/./auth", String::new()),
        ("/x/../.doorman/auth", String::new()),
        ("/.doorman//auth", String::new()),
        ("/.doorman/auth/", String::new()),
        ("/.DOORMAN/auth", String::new()),
    ];
    for (method, path) in [
        ("GET", "/app/page?q=1"),
        ("POST", "/app/form"),
        ("DELETE", "/admin/users"),
        ("GET", "/internal/metrics"),
        ("GET", "/assets/a.css"),
        ("GET", "/app/../internal/x"),
        ("GET", "/app/%2e%2e/internal/x"),
        ("GET", "/x/..%2F.doorman/login"),
        ("GET", "/.doorman/login"),
        ("GET", "/assets/%00"),
        ("GET", "*"),
        ("get", "/admin/x"),
        ("NOT A METHOD", "/app"),
    ] {
        asked.push(("/.doorman/auth", traefik(method, path)));
        asked.push((
            "/.doorman/auth",
            format!("{}{browser}", traefik(method, path)),
        ));
        let url = format!("http://app.example.com{path}");
        asked.push(("/.doorman/auth", nginx(method, &url)));
        asked.push(("/.doorman/auth", nginx(method, path)));
    }
    let overridden = [
        "X-HTTP-Method-Override: DELETE\r\n",
        "X-HTTP-Method: not a method\r\n",
        "X-Rewrite-URL: /internal/x\r\n",
        "X-Rewrite-URL: /assets/x\r\n",
    ];
    for extra in overridden {
        let question = format!("{}{extra}", traefik("GET", "/assets/x"));
        asked.push(("/.doorman/auth", question));
    }
    // Both sets, half a set, a set sent twice: a client wrote some of it.
    asked.extend([
        (
            "/.doorman/auth",
            format!(
                "{}{}",
                nginx("GET", "/assets/x"),
                traefik("GET", "/admin/x")
            ),
        ),
        (
            "/.doorman/auth",
            "X-Forwarded-Uri: /assets/x\r\n".to_owned(),
        ),
        ("/.doorman/auth", "X-Original-Method: GET\r\n".to_owned()),
        (
            "/.doorman/auth",
            format!(
                "{}X-Forwarded-Uri: /admin/x\r\n",
                traefik("GET", "/assets/x")
            ),
        ),
        (
            "/.doorman/auth",
            format!(
                "{}Remote-User: mallory\r\nX-Request-Id: client-chosen\r\n",
                traefik("GET", "/app")
            ),
        ),
        // Connection tokens aimed at what doorman reads or answers.
        (
            "/.doorman/auth",
            format!(
                "{}Connection: keep-alive, Remote-User, X-Forwarded-Uri, Cookie\r\n\
                 Remote-User: mallory\r\n",
                traefik("GET", "/admin/x")
            ),
        ),
    ]);
    asked
}

/// The answers, with the fresh request id the fake upstream echoes (for
/// a path that is not `{prefix}/auth`, proxied to it) and a re-issued
/// session cookie made comparable.
fn without_ids(seen: Vec<Option<Seen>>) -> Vec<Option<Seen>> {
    const ID: &[u8] = b"\"x-request-id\":[\"";
    let masked = |mut body: Vec<u8>| {
        if let Some(start) = find(&body, ID).map(|at| at + ID.len()) {
            if let Some(length) = find(&body[start..], b"\"") {
                body.splice(start..start + length, b"<fresh>".iter().copied());
            }
        }
        body
    };
    // A re-issued session cookie is sealed afresh each time.
    let sealed = |header: String| match header.split_once(&format!("{SESSION_COOKIE}=")) {
        Some((name, rest)) => {
            let attributes = rest.find(';').map_or("", |at| &rest[at..]);
            format!("{name}{SESSION_COOKIE}=<sealed>{attributes}")
        }
        None => header,
    };
    seen.into_iter()
        .map(|answer| {
            answer.map(|answer| Seen {
                body: masked(answer.body),
                headers: answer.headers.into_iter().map(sealed).collect(),
                ..answer
            })
        })
        .collect()
}

/// One forward-auth question, asked twice on one connection: what came back.
async fn ask_twice(
    env: &Env,
    target: &str,
    extra: &str,
    cookie: Option<&str>,
) -> Vec<Option<Seen>> {
    let cookie = cookie.map_or(String::new(), |value| {
        format!("Cookie: {SESSION_COOKIE}={value}\r\n")
    });
    let mut seen = Vec::new();
    for method in ["GET", "HEAD"] {
        let sent =
            format!("{method} {target} HTTP/1.1\r\nHost: auth.example\r\n{cookie}{extra}\r\n");
        twice(env, &sent, method == "HEAD", &mut seen).await;
    }
    seen
}

#[tokio::test]
async fn forward_auth_questions_get_the_same_answer_from_the_lane_as_from_hyper() {
    for trusting in [true, false] {
        let (lane, lane_alice, lane_bob) = asked(true, trusting).await;
        let (hyper, hyper_alice, hyper_bob) = asked(false, trusting).await;
        let before = lane_requests(&scrape(&lane).await);
        let mut answered = 0.0;
        for (target, extra) in questions() {
            for asker in [Asker::Nobody, Asker::Alice, Asker::Bob, Asker::Forged] {
                let on_lane = asker.cookie(&lane_alice, &lane_bob);
                let by_hyper = asker.cookie(&hyper_alice, &hyper_bob);
                let lane_saw = ask_twice(&lane, target, &extra, on_lane).await;
                let hyper_saw = ask_twice(&hyper, target, &extra, by_hyper).await;
                let (lane_saw, hyper_saw) = (without_ids(lane_saw), without_ids(hyper_saw));
                let what = format!("trusting {trusting}, {asker:?}: {target} with {extra:?}");
                assert_eq!(lane_saw, hyper_saw, "{what}: the answers differ");
                assert_eq!(lane_saw.len(), 4, "{what}");
                assert!(lane_saw.iter().all(Option::is_some), "{what}");
                for answer in lane_saw.iter().flatten() {
                    let headers = answer.headers.join("\n");
                    assert!(!headers.contains("mallory"), "{what}: {headers}");
                    if !answer.status_line.starts_with("HTTP/1.1 200") {
                        assert!(!headers.contains("remote-user: a"), "{what}: {headers}");
                    }
                }
                // Without the original request, rules that could refuse a
                // signed-in user cannot be applied: refused, whoever asks.
                if target == "/.doorman/auth" && extra.is_empty() {
                    let status = &lane_saw[0].as_ref().map(|a| a.status_line.clone());
                    assert_eq!(status.as_deref(), Some("HTTP/1.1 403 Forbidden"), "{what}");
                }
                answered += 4.0;
            }
        }
        // Most of them went by the lane (the rest are not `{prefix}/auth`).
        let carried = lane_requests(&scrape(&lane).await) - before;
        assert!(
            carried >= answered * 0.8,
            "the lane answered {carried} of {answered}"
        );
    }
}

#[tokio::test]
async fn a_forward_auth_answer_on_the_lane_is_dated_counted_and_identified() {
    let (lane, alice, _) = asked(true, true).await;
    let mut stream = TcpStream::connect(lane.addr).await.expect("connect");
    let sent = format!(
        "GET /.doorman/auth HTTP/1.1\r\nHost: auth.example\r\nCookie: {SESSION_COOKIE}={alice}\r\n\
         X-Forwarded-Method: GET\r\nX-Forwarded-Uri: /app\r\nX-Request-Id: from-the-proxy\r\n\r\n"
    );
    stream.write_all(sent.as_bytes()).await.expect("write");
    let mut read = Vec::new();
    let end = loop {
        if let Some(end) = find(&read, b"\r\n\r\n") {
            break end;
        }
        fill(&mut stream, &mut read).await.expect("an answer");
    };
    let head = String::from_utf8_lossy(&read[..end]).to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 200 ok\r\n"), "{head}");
    assert!(head.contains("\r\ncontent-length: 0"), "{head}");
    assert!(head.contains("\r\nremote-user: alice"), "{head}");
    assert!(head.contains("\r\ncache-control: no-store"), "{head}");
    // A trusted proxy's id is kept.
    assert!(head.contains("\r\nx-request-id: from-the-proxy"), "{head}");
    let date = head
        .split("\r\n")
        .find_map(|line| line.strip_prefix("date: "))
        .expect("a date");
    assert!(date.ends_with(" gmt") && date.len() == 29, "{date}");
    assert_eq!(end + 4, read.len(), "no body after a 200: {head}");
    let text = scrape(&lane).await;
    assert!(lane_requests(&text) >= 1.0, "{text}");
}

/// A doorman with its access log in `access.log`, the lane on or off, and
/// Alice's cookie.
async fn logging(lane: bool, upstream_url: Option<String>) -> (Env, String) {
    let env = Env::with(Setup {
        extra: format!(
            "log:\n  access: \"./access.log\"\nlimits:\n  fast_lane: {lane}\n\
             metrics_listen: \"127.0.0.1:0\"\ntrusted_proxies: [\"127.0.0.1\"]\n"
        ),
        upstream_url,
        ..Setup::default()
    })
    .await;
    let alice = env.session_of("alice").await;
    (env, alice)
}

/// The access lines of the requests answered with `ids` (not the
/// sign-in's), each without what differs from run to run (`ts`,
/// `duration_ms`, `request_id`) and with this doorman's own address and
/// upstream's named alike.
fn access_lines(env: &Env, ids: &[String]) -> Vec<String> {
    let text = std::fs::read_to_string(env.dir.path().join("access.log")).unwrap_or_default();
    let mut lines: Vec<String> = text
        .lines()
        .filter_map(|line| {
            let mut line: serde_json::Value = serde_json::from_str(line).expect("JSON");
            let fields = line.as_object_mut().expect("an object");
            let id = fields.remove("request_id").expect("an id");
            if !ids.iter().any(|known| *known == id) {
                return None;
            }
            for varying in ["ts", "duration_ms"] {
                assert!(fields.remove(varying).is_some(), "{varying}");
            }
            let text = line.to_string();
            let text = text.replace(&env.addr.to_string(), "<doorman>");
            Some(text.replace(&env.upstream.addr.to_string(), "<upstream>"))
        })
        .collect();
    lines.sort();
    lines
}

#[tokio::test]
async fn with_the_access_log_on_the_lane_writes_the_lines_hyper_writes() {
    let asked = "X-Forwarded-Method: GET\r\nX-Forwarded-Uri: /app\r\n";
    // An app that is not there: the 502 is logged alike too.
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let gone = format!("http://{}", listener.local_addr().expect("addr"));
    drop(listener);
    let mut written = Vec::new();
    for (lane, upstream) in [
        (true, None),
        (false, None),
        (true, Some(&gone)),
        (false, Some(&gone)),
    ] {
        let (env, alice) = logging(lane, upstream.cloned()).await;
        let before = lane_requests(&scrape(&env).await);
        let cookie = format!("Cookie: {SESSION_COOKIE}={alice}\r\n");
        let asks = [
            ("GET", "/wiki/page?token=s3cr3t", cookie.clone()),
            ("HEAD", "/wiki/head", cookie.clone()),
            ("GET", "/.doorman/auth", format!("{cookie}{asked}")),
            ("HEAD", "/.doorman/auth?x=1", format!("{cookie}{asked}")),
            ("GET", "/.doorman/auth", asked.to_owned()),
            ("GET", "/wiki/again", cookie.clone()),
        ];
        let mut stream = TcpStream::connect(env.addr).await.expect("connect");
        let mut read = Vec::new();
        let mut ids = Vec::new();
        for (method, target, extra) in &asks {
            let sent = format!("{method} {target} HTTP/1.1\r\nHost: app.example\r\n{extra}\r\n");
            stream.write_all(sent.as_bytes()).await.expect("write");
            let end = loop {
                if let Some(end) = find(&read, b"\r\n\r\n") {
                    break end;
                }
                let got = fill(&mut stream, &mut read).await;
                got.unwrap_or_else(|| {
                    panic!("lane {lane}, {upstream:?}, {method} {target}: no answer")
                });
            };
            let head = String::from_utf8_lossy(&read[..end]).to_ascii_lowercase();
            let field = |name: &str| {
                head.split("\r\n")
                    .find_map(|line| line.strip_prefix(name))
                    .map(str::to_owned)
            };
            ids.push(field("x-request-id: ").expect("an id"));
            // (hyper sends no length with an empty answer to a HEAD.)
            let length: usize = match *method {
                "HEAD" => 0,
                _ => field("content-length: ")
                    .and_then(|length| length.parse().ok())
                    .unwrap_or_else(|| panic!("lane {lane}, {target}: no length: {head}")),
            };
            read.drain(..end + 4);
            while read.len() < length {
                fill(&mut stream, &mut read).await.expect("the body");
            }
            read.drain(..length);
        }
        let all_written = async || access_lines(&env, &ids).len() == asks.len();
        crate::support::eventually("every access line", PATIENCE, all_written).await;
        // (A request whose app is gone is not counted as the lane's; the
        // counter is the process's, shared with other tests: at least.)
        if lane && upstream.is_none() {
            let carried = lane_requests(&scrape(&env).await) - before;
            assert!(carried >= asks.len() as f64, "the lane took {carried}");
        }
        let text = std::fs::read_to_string(env.dir.path().join("access.log")).expect("log");
        assert!(!text.contains("s3cr3t"), "the query was logged: {text}");
        written.push(access_lines(&env, &ids));
    }
    assert_eq!(written[0], written[1], "the lane's lines, then hyper's");
    let lines = written[0].join("\n");
    assert!(lines.contains(r#""user":"alice""#), "{lines}");
    assert!(lines.contains(r#""upstream":"<upstream>""#), "{lines}");
    let failed: Vec<Vec<String>> = written[2..]
        .iter()
        .map(|lines| {
            lines
                .iter()
                .map(|line| line.replace(&gone, "<gone>"))
                .collect()
        })
        .collect();
    assert_eq!(
        failed[0], failed[1],
        "with the app gone: the lane's, then hyper's"
    );
    let lines = failed[0].join("\n");
    assert!(lines.contains(r#""status":502"#), "{lines}");
}

/// The audit events of rule stops so far, without what differs from run
/// to run (`ts`, `request_id`), sorted.
fn stops(env: &Env) -> Vec<String> {
    let audit = env.audit.lock().expect("audit").clone();
    let mut events: Vec<String> = audit
        .iter()
        .filter_map(|line| {
            let mut event: serde_json::Value = serde_json::from_str(line).ok()?;
            let fields = event.as_object_mut()?;
            let name = fields.get("event")?.as_str()?;
            if name != "rule_denied" && name != "step_up_required" {
                return None;
            }
            fields.remove("ts");
            fields.remove("request_id");
            Some(event.to_string())
        })
        .collect();
    events.sort();
    events
}

#[tokio::test]
async fn refusals_get_the_same_answer_count_and_audit_from_the_lane_as_from_hyper() {
    let (lane, lane_alice, lane_bob) = asked(true, true).await;
    let (hyper, hyper_alice, hyper_bob) = asked(false, true).await;
    let before = lane_requests(&scrape(&lane).await);
    let browser = "Accept: text/html,application/xhtml+xml\r\n";
    let mut asked_for = 0.0;
    // Before and after the second factor is older than the /admin/ rule's
    // `max_age` (10m): the second time, Alice is sent to step up.
    for stale in [false, true] {
        if stale {
            for env in [&lane, &hyper] {
                env.advance(Duration::from_secs(11 * 60));
            }
        }
        for target in [
            "/app/page?q=1",
            "/internal/x",
            "/x/../internal/y",
            "/%69nternal/x",
            "/admin/users",
            "/assets/a.css",
        ] {
            for extra in ["", browser] {
                for asker in [Asker::Nobody, Asker::Alice, Asker::Bob, Asker::Forged] {
                    let on_lane = asker.cookie(&lane_alice, &lane_bob);
                    let by_hyper = asker.cookie(&hyper_alice, &hyper_bob);
                    let lane_saw = without_ids(ask_twice(&lane, target, extra, on_lane).await);
                    let hyper_saw = without_ids(ask_twice(&hyper, target, extra, by_hyper).await);
                    let what = format!("stale {stale}, {asker:?}: {target} with {extra:?}");
                    assert_eq!(lane_saw, hyper_saw, "{what}: the answers differ");
                    assert!(lane_saw.iter().all(Option::is_some), "{what}");
                    asked_for += 4.0;
                }
            }
        }
    }
    let (on_lane, by_hyper) = (stops(&lane), stops(&hyper));
    assert_eq!(on_lane, by_hyper, "the audit trails differ");
    let trail = on_lane.join("\n");
    assert!(
        trail.contains("rule_denied") && trail.contains("step_up_required"),
        "{trail}"
    );
    // All but the stale sessions' passes, whose re-issued cookie is hyper's
    // to add (16 of them). The counter is the process's, shared with other
    // tests: at least.
    let carried = lane_requests(&scrape(&lane).await) - before;
    assert!(
        carried >= asked_for - 16.0,
        "the lane answered {carried} of {asked_for}"
    );
}
