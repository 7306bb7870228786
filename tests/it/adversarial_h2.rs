//! The health route in every spelling of its path, over HTTP/1.1 (raw
//! request targets, absolute-form included) and HTTP/2 (`:path` as sent),
//! and client copies of the headers doorman owns over HTTP/2, on a
//! session, a token and a public rule: a real doorman, the fake upstream.

use crate::support::{raw_request, Env, Setup, SESSION_COOKIE};
use http_body_util::{BodyExt, Empty};

const RULES: &str = "tokens_file: tokens.yaml\nrules:\n  - { path_prefix: \"/open/\", policy: bypass }\n  - { path_prefix: \"/api/\", tokens: true }\n";

async fn env() -> Env {
    Env::with(Setup {
        extra: RULES.into(),
        ..Setup::default()
    })
    .await
}

/// One HTTP/2 request (prior knowledge) for `path` exactly as written,
/// with `headers`: the status and the body.
async fn h2(env: &Env, path: &str, headers: &[(&str, String)]) -> (u16, String) {
    let stream = tokio::net::TcpStream::connect(env.addr)
        .await
        .expect("connect");
    let (mut sender, connection) =
        hyper::client::conn::http2::handshake::<_, _, Empty<bytes::Bytes>>(
            hyper_util::rt::TokioExecutor::new(),
            hyper_util::rt::TokioIo::new(stream),
        )
        .await
        .expect("h2 handshake");
    let connection = tokio::spawn(connection);
    let uri: http::Uri = format!("http://{}{path}", env.addr).parse().expect("uri");
    assert_eq!(
        uri.path(),
        path.split('?').next().unwrap_or(path),
        "the client kept {path}"
    );
    let mut request = http::Request::get(uri);
    for (name, value) in headers {
        request = request.header(*name, value.as_str());
    }
    let request = request.body(Empty::new()).expect("request");
    let response = sender.send_request(request).await.expect("answer");
    let status = response.status().as_u16();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    connection.abort();
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// The paths that are the health route: canonical readings of it.
pub(crate) const HEALTH: &[&str] = &[
    "/.doorman/health",
    "/.doorman/%68ealth",
    "/.doorman/./health",
    "/.doorman/x/../health",
    "/%2Edoorman/health",
];

/// Look-alikes of the health route that are not it: none may be served as
/// health, nor reach the app without a session.
pub(crate) const NOT_HEALTH: &[&str] = &[
    "//.doorman/health",
    "/.doorman//health",
    "/.doorman/health/",
    "/.doorman/health//",
    "/.doorman/health;jsessionid=0123",
    "/.doorman/health;",
    "/.doorman;x/health",
    "/.doorman%2Fhealth",
    "/.doorman%2fhealth",
    "/.doorman/health%2F",
    "/.doorman/health%2f..%2f..%2fprivate",
    "/.doorman/health/..%2F..%2Fprivate",
    "/.doorman/health/../../private",
    "/.doorman/health/..",
    "/.doorman/health.",
    "/.doorman/health%20",
    "/.doorman/health%00",
    "/.doorman/health\\",
    "/.doorman/HEALTH",
    "/.DOORMAN/health",
    "/.Doorman/Health",
    "/.doorman/healthz",
    "/health",
    "/private/.doorman/health",
];

fn is_health(status: u16, body: &str) -> bool {
    status == 200 && body.starts_with("{\"status\":")
}

#[tokio::test]
async fn only_the_health_route_is_health_and_no_spelling_of_it_reaches_the_app() {
    let env = env().await;
    for path in HEALTH.iter().chain(NOT_HEALTH) {
        let health = HEALTH.contains(path);
        // HTTP/1.1, origin-form and absolute-form.
        for target in [path.to_string(), format!("http://app.test{path}")] {
            let answer =
                raw_request(env.addr, &format!("GET {target} HTTP/1.1\nHost: app.test")).await;
            assert_eq!(
                is_health(answer.status, &answer.body),
                health,
                "{target}: {answer:?}"
            );
        }
        // HTTP/2, `:path` as written (where the URI type takes it).
        if path.contains('\\') {
            continue;
        }
        let (status, body) = h2(&env, path, &[]).await;
        assert_eq!(
            is_health(status, &body),
            health,
            "h2 {path}: {status} {body}"
        );
    }
    assert_eq!(
        env.upstream.hits(),
        0,
        "a spelling of health reached the app"
    );
}

/// Client copies of every header doorman owns, in spellings HTTP/2 allows
/// (lower case; `_` and `.` are token characters).
fn spoofed() -> Vec<(&'static str, String)> {
    [
        "remote-user",
        "remote_user",
        "remote.user",
        "remote-groups",
        "remote_groups",
        "remote-email",
        "remote_email",
        "remote-name",
        "remote~name",
        "x-request-id",
        "x_request_id",
        "x.request.id",
    ]
    .into_iter()
    .map(|name| (name, "mallory".to_owned()))
    .collect()
}

/// Every header of the app's echo whose value a client wrote (`mallory`,
/// `forged`, `admins`).
pub(crate) fn forged(body: &str) -> Vec<String> {
    let echo: serde_json::Value = serde_json::from_str(body).unwrap_or_else(|_| panic!("{body}"));
    let mut found = Vec::new();
    for (name, values) in echo["headers"].as_object().expect("headers") {
        for value in values.as_array().into_iter().flatten() {
            let value = value.as_str().unwrap_or("");
            if value.contains("mallory") || value.contains("forged") || value == "admins" {
                found.push(format!("{name}: {value}"));
            }
        }
    }
    found
}

#[tokio::test]
async fn over_http2_no_client_copy_of_a_header_doorman_owns_reaches_the_app() {
    let env = env().await;
    let session = env.session_of("alice").await;
    let path = env.dir.path().join("tokens.yaml");
    let token = doorman::tokens::create(&path, "alice", "ci", None, env.now()).expect("token");
    let cookie = ("cookie", format!("{SESSION_COOKIE}={session}"));
    let bearer = ("authorization", format!("Bearer {token}"));
    let basic = {
        use base64::Engine;
        let pair = base64::engine::general_purpose::STANDARD.encode(format!("alice:{token}"));
        ("authorization", format!("Basic {pair}"))
    };
    for (route, path, admit) in [
        ("session", "/private", Some(cookie)),
        ("token", "/api/x", Some(bearer)),
        ("app password", "/api/x", Some(basic)),
        ("bypass", "/open/x", None),
    ] {
        let mut headers = spoofed();
        headers.extend(admit);
        let (status, body) = h2(&env, path, &headers).await;
        assert_eq!(status, 200, "{route}: {body}");
        assert_eq!(forged(&body), Vec::<String>::new(), "{route}");
    }
}
