//! What a client writes into a request — its `X-Request-Id`, path, host,
//! user agent, a typed user name, `rd` — never reaches the app or a log
//! line as sent: real sockets, raw bytes, the fake upstream, the access
//! log file and the audit trail, each line parsed as JSON.

use crate::support::{parse_raw_response, Env, RawResponse, Setup, SESSION_COOKIE};
use std::net::SocketAddr;

/// Sends `request` (whole: request line, headers and the blank line) as
/// raw bytes and reads the answer to its end.
async fn raw_bytes(addr: SocketAddr, request: &[u8]) -> RawResponse {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream.write_all(request).await.expect("write");
    let mut bytes = Vec::new();
    // A refused head may be answered and the connection reset.
    let _ = stream.read_to_end(&mut bytes).await;
    if bytes.is_empty() {
        return RawResponse {
            status: 0,
            headers: Vec::new(),
            body: String::new(),
        };
    }
    parse_raw_response(&String::from_utf8_lossy(&bytes))
}

/// A GET of `target` with alice's `session` and the header lines `extra`
/// (each ending in CRLF), as bytes.
fn get_with(target: &[u8], session: &str, extra: &[u8]) -> Vec<u8> {
    let mut request = b"GET ".to_vec();
    request.extend_from_slice(target);
    request.extend_from_slice(b" HTTP/1.1\r\nHost: app.test\r\n");
    request.extend_from_slice(format!("Cookie: {SESSION_COOKIE}={session}\r\n").as_bytes());
    request.extend_from_slice(extra);
    request.extend_from_slice(b"Connection: close\r\n\r\n");
    request
}

/// Failed sign-ins neither slowed nor locked: the test types many names.
const LENIENT: &str = "limits:\n  failures: { delay_after: 1000, lock_after: 1000 }\n  client_failures: { delay_after: 1000, lock_after: 1000 }\n";

/// doorman with its access log beside the config, a deny rule, and
/// `trusted` (a `trusted_proxies` line, or nothing).
async fn logged(trusted: &str) -> Env {
    Env::with(Setup {
        extra: format!(
            "log:\n  access: \"./access.log\"\n{trusted}{LENIENT}rules:\n  - {{ path_prefix: \"/deny/\", policy: deny }}\n"
        ),
        ..Setup::default()
    })
    .await
}

/// The access log as written: every line one JSON object with exactly
/// the access line's fields.
fn access_lines(env: &Env) -> (String, Vec<serde_json::Value>) {
    let text = std::fs::read_to_string(env.dir.path().join("access.log")).unwrap_or_default();
    let fields = [
        "ts",
        "request_id",
        "user",
        "method",
        "host",
        "path",
        "status",
        "bytes",
        "duration_ms",
        "upstream",
    ];
    let lines = text
        .lines()
        .map(|line| {
            let value: serde_json::Value =
                serde_json::from_str(line).unwrap_or_else(|err| panic!("{err}: {line:?}"));
            let object = value.as_object().expect("an object");
            for key in object.keys() {
                assert!(fields.contains(&key.as_str()), "forged field {key}: {line}");
            }
            value
        })
        .collect();
    (text, lines)
}

/// Every `X-Request-Id` the app received, from its echo.
fn ids_seen(answer: &RawResponse) -> Vec<String> {
    let echo: serde_json::Value = serde_json::from_str(&answer.body).expect("an echo");
    let headers = echo["headers"].as_object().expect("headers");
    let mut ids = Vec::new();
    for (name, values) in headers {
        let folded: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                }
            })
            .collect();
        if folded == "x_request_id" {
            for value in values.as_array().into_iter().flatten() {
                ids.push(format!("{name}: {}", value.as_str().unwrap_or("?")));
            }
        }
    }
    ids
}

/// Every way a client may send an id (`forged` in each that carries one).
fn forged_ids() -> Vec<Vec<u8>> {
    let long = format!("X-Request-Id: forged{}\r\n", "x".repeat(200));
    vec![
        b"X-Request-Id: forged\r\n".to_vec(),
        b"x-request-id: forged\r\n".to_vec(),
        b"X-REQUEST-ID: forged\r\n".to_vec(),
        b"X-Request-Id: forged-1\r\nX-Request-Id: forged-2\r\n".to_vec(),
        b"X-Request-Id: forged\r\nx-request-id: forged-too\r\n".to_vec(),
        b"X_Request_Id: forged\r\n".to_vec(),
        b"x_request_id: forged\r\n".to_vec(),
        b"X.Request.Id: forged\r\n".to_vec(),
        b"X-Request_Id: forged\r\n".to_vec(),
        long.into_bytes(),
        "X-Request-Id: forged-caf\u{e9}\r\n".as_bytes().to_vec(),
        b"X-Request-Id: forged\xff\xfe\r\n".to_vec(),
        b"X-Request-Id: forged\x01\r\n".to_vec(),
        b"X-Request-Id: forged\tid\r\n".to_vec(),
        b"X-Request-Id: forged id\r\n".to_vec(),
        b"X-Request-Id: forged\"\\{}\r\n".to_vec(),
        b"X-Request-Id:\r\n".to_vec(),
        b"X-Request-Id: \r\nX-Request-Id: forged\r\n".to_vec(),
        b"X-Request-Id: first\r\n forged\r\n".to_vec(),
        b"X-Request-Id : forged\r\n".to_vec(),
        b"X-Request-Id: forged\rX-Other: 1\r\n".to_vec(),
    ]
}

#[tokio::test]
async fn a_clients_request_id_never_reaches_the_app_or_the_access_log() {
    let env = logged("").await;
    let session = env.session_of("alice").await;
    for extra in forged_ids() {
        let label = String::from_utf8_lossy(&extra).into_owned();
        let answer = raw_bytes(env.addr, &get_with(b"/page", &session, &extra)).await;
        if answer.status == 200 {
            let seen = ids_seen(&answer);
            assert_eq!(seen.len(), 1, "{label:?}: {seen:?}");
            assert!(!seen[0].contains("forged"), "{label:?}: {seen:?}");
            assert!(seen[0].starts_with("x-request-id: "), "{label:?}: {seen:?}");
            let sent = answer.header_values("x-request-id");
            assert_eq!(sent.len(), 1, "{label:?}: {answer:?}");
            assert_eq!(seen[0], format!("x-request-id: {}", sent[0]), "{label:?}");
        } else {
            // Refused by the parser: never the app's to see.
            assert!(
                answer.status == 400 || answer.status == 0,
                "{label:?}: {answer:?}"
            );
        }
        assert!(!answer.body.contains("forged"), "{label:?}: {answer:?}");
    }
    // The app saw only what it was sent; the log holds one line each, none
    // with a client's id.
    crate::support::eventually(
        "the access lines",
        std::time::Duration::from_secs(5),
        async || access_lines(&env).1.len() >= env.upstream.hits(),
    )
    .await;
    let (text, _) = access_lines(&env);
    assert!(!text.contains("forged"), "{text}");
}

#[tokio::test]
async fn a_trusted_proxys_id_is_kept_only_when_it_sent_exactly_one_tidy_one() {
    let env = logged("trusted_proxies: [\"127.0.0.1\"]\n").await;
    let session = env.session_of("alice").await;
    // The tidy one, under any letter case, is the proxy's.
    for extra in [
        &b"X-Request-Id: edge-1\r\n"[..],
        b"x-REQUEST-id: edge-1\r\n",
    ] {
        let answer = raw_bytes(env.addr, &get_with(b"/page", &session, extra)).await;
        assert_eq!(answer.status, 200, "{answer:?}");
        assert_eq!(ids_seen(&answer), ["x-request-id: edge-1"]);
    }
    // Everything else: doorman's own, and only that.
    for extra in forged_ids() {
        let label = String::from_utf8_lossy(&extra).into_owned();
        let answer = raw_bytes(env.addr, &get_with(b"/page", &session, &extra)).await;
        if answer.status == 200 {
            let seen = ids_seen(&answer);
            let kept = extra == b"X-Request-Id: forged\r\n"
                || extra == b"x-request-id: forged\r\n"
                || extra == b"X-REQUEST-ID: forged\r\n";
            assert_eq!(seen.len(), 1, "{label:?}: {seen:?}");
            assert_eq!(
                seen[0] == "x-request-id: forged",
                kept,
                "{label:?}: {seen:?}"
            );
            assert_eq!(seen[0].contains("forged"), kept, "{label:?}: {seen:?}");
        } else {
            assert!(
                answer.status == 400 || answer.status == 0,
                "{label:?}: {answer:?}"
            );
        }
    }
    access_lines(&env);
}

/// Text a client chooses, with everything that could end a JSON string or
/// line, or start a field.
const HOSTILE: &[&str] = &[
    "a\"b",
    "back\\slash\\",
    "new\nline",
    "cr\rlf",
    "nul\u{0}byte",
    "\"}\n{\"event\":\"signed_in\",\"user\":\"admin\"}",
    "\",\"user\":\"admin",
    "\u{2028}\u{2029}\u{7f}",
    "caf\u{e9} \u{1f600}",
];

#[tokio::test]
async fn hostile_paths_hosts_and_user_agents_stay_inside_their_json_strings() {
    let env = logged("").await;
    let session = env.session_of("alice").await;
    let targets: &[&[u8]] = &[
        b"/deny/a%22b%5Cc%0A%0D%00",
        b"/deny/a\"b\\c",
        b"/deny/\"}{\"user\":\"admin\"}",
        b"/deny/caf\xc3\xa9",
        b"/deny/bad\xff\xfeutf8",
        b"/deny/x%ff%fe",
        b"/page\"},{\"status\":200",
    ];
    let agents: &[&[u8]] = &[b"agent\"}\\", b"agent\xff\xfe", b"caf\xc3\xa9", b"\"}\n"];
    let hosts: &[&[u8]] = &[
        b"app.test",
        b"a\"b\\c",
        b"\"},{\"user\":\"admin\"",
        b"h\xc3\xa9",
    ];
    for target in targets {
        for agent in agents {
            for host in hosts {
                let mut request = b"GET ".to_vec();
                request.extend_from_slice(target);
                request.extend_from_slice(b" HTTP/1.1\r\nHost: ");
                request.extend_from_slice(host);
                request.extend_from_slice(b"\r\nUser-Agent: ");
                request.extend_from_slice(agent);
                request.extend_from_slice(
                    format!("\r\nCookie: {SESSION_COOKIE}={session}\r\nConnection: close\r\n\r\n")
                        .as_bytes(),
                );
                raw_bytes(env.addr, &request).await;
            }
        }
    }
    // A typed user name, and `rd`, in every hostile spelling.
    for text in HOSTILE {
        let mut browser = env.browser();
        let rd: String = form_urlencoded::byte_serialize(text.as_bytes()).collect();
        browser.get(&format!("/.doorman/login?rd={rd}")).await;
        browser.post_password(text, "wrong").await;
    }
    crate::support::eventually(
        "the access lines",
        std::time::Duration::from_secs(5),
        async || access_lines(&env).1.len() >= targets.len() * agents.len() * hosts.len(),
    )
    .await;
    let (text, lines) = access_lines(&env);
    for line in &lines {
        for field in ["user", "host", "path", "method", "request_id"] {
            assert!(line[field].is_string(), "{field}: {line}");
        }
        // Nobody signs in by writing it.
        assert!(
            line["user"] == "" || line["user"] == "alice",
            "a forged user: {line}"
        );
    }
    assert!(!text.is_empty());

    // The audit trail: one JSON object a line, each event its own.
    let raw: Vec<String> = env.audit.lock().expect("audit").clone();
    for line in &raw {
        assert!(!line.contains('\n') && !line.contains('\r'), "{line:?}");
        let value: serde_json::Value = serde_json::from_str(line).expect("JSON");
        assert!(value.is_object(), "{line}");
    }
    let failed = env.audited("signin_failed");
    let names: Vec<&str> = failed.iter().filter_map(|e| e["user"].as_str()).collect();
    for text in HOSTILE {
        // As the sign-in reads it: surrounding white space is no part of a name.
        let typed = text.trim();
        assert!(
            names.contains(&typed),
            "{typed:?} not audited as typed: {names:?}"
        );
    }
    let events = env.audit_events();
    assert!(
        env.audited("signed_in").is_empty() && !events.iter().any(|e| e["user"] == "admin"),
        "a forged event or field: {raw:?}"
    );
    let denied = env.audited("rule_denied");
    assert!(!denied.is_empty(), "no denied request was audited");
    for event in denied {
        assert!(event["path"]
            .as_str()
            .is_some_and(|p| p.starts_with("/deny/")));
        assert_ne!(event["user"], "admin", "{event}");
    }
}
