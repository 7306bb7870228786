//! The access log (`log.access`), `X-Request-Id`, the audit events of
//! issue 17's operator half, and the start-up line: a real doorman on real
//! sockets, a fake upstream.

use crate::support::process::{doorman, Process};
use crate::support::{api_client, eventually, Env, Setup, SESSION_COOKIE};
use std::time::Duration;

/// doorman with its access log in `access.log` beside the config, and
/// `trusted_proxies` when given.
async fn logged(trusted: &str) -> Env {
    Env::with(Setup {
        extra: format!("log:\n  access: \"./access.log\"\n{trusted}"),
        ..Setup::default()
    })
    .await
}

/// The access log's lines so far, parsed.
fn lines(env: &Env) -> Vec<serde_json::Value> {
    std::fs::read_to_string(env.dir.path().join("access.log"))
        .unwrap_or_default()
        .lines()
        .map(|line| serde_json::from_str(line).expect("an access line is JSON"))
        .collect()
}

/// GETs `path` with alice's `session` and `request_id` (when given): the
/// status, the `X-Request-Id` answered, the body.
async fn get(
    env: &Env,
    path: &str,
    session: &str,
    request_id: Option<&str>,
) -> (u16, String, String) {
    let mut request = api_client()
        .get(env.url(path))
        .header("cookie", format!("{SESSION_COOKIE}={session}"));
    if let Some(id) = request_id {
        request = request.header("x-request-id", id);
    }
    let response = request.send().await.expect("GET");
    let status = response.status().as_u16();
    let id = response
        .headers()
        .get("x-request-id")
        .and_then(|value| value.to_str().ok())
        .unwrap_or("")
        .to_owned();
    (status, id, response.text().await.expect("body"))
}

/// The `X-Request-Id` the upstream saw, from its echo.
fn seen_id(body: &str) -> String {
    let echo: serde_json::Value = serde_json::from_str(body).expect("an echo");
    let ids = echo["headers"]["x-request-id"].as_array().expect("an id");
    assert_eq!(ids.len(), 1, "{echo}");
    ids[0].as_str().expect("text").to_owned()
}

/// The line for the request with `id`, once its body has been sent.
async fn line_of(env: &Env, id: &str) -> serde_json::Value {
    let written = async || lines(env).iter().any(|line| line["request_id"] == id);
    eventually("the access line", Duration::from_secs(5), written).await;
    let mut found = lines(env)
        .into_iter()
        .filter(|line| line["request_id"] == id);
    let line = found.next().expect("the line");
    assert!(found.next().is_none(), "two lines for {id}");
    line
}

#[tokio::test]
async fn a_signed_in_request_is_one_line_with_its_user_status_bytes_and_request_id() {
    let env = logged("").await;
    let session = env.session_of("alice").await;
    let (status, id, body) = get(&env, "/wiki/page?token=s3cr3t", &session, None).await;
    assert_eq!(status, 200);
    assert!(!id.is_empty(), "no X-Request-Id on the response");
    assert_eq!(seen_id(&body), id, "the upstream saw another id");

    let line = line_of(&env, &id).await;
    assert_eq!(line["user"], "alice", "{line}");
    assert_eq!(line["method"], "GET", "{line}");
    assert_eq!(line["host"], env.addr.to_string(), "{line}");
    assert_eq!(line["path"], "/wiki/page", "{line}");
    assert_eq!(line["status"], 200, "{line}");
    assert_eq!(line["bytes"], body.len() as u64, "{line}");
    assert_eq!(line["upstream"], env.upstream.addr.to_string(), "{line}");
    assert!(line["duration_ms"].is_u64(), "{line}");
    assert!(
        line["ts"].as_str().is_some_and(|ts| ts.ends_with('Z')),
        "{line}"
    );
    let text = std::fs::read_to_string(env.dir.path().join("access.log")).unwrap();
    assert!(
        !text.contains("s3cr3t"),
        "the query string was logged: {text}"
    );

    // Doorman's own pages are logged too, with no user.
    let page = api_client()
        .get(env.url("/.doorman/login"))
        .send()
        .await
        .unwrap();
    let id = page.headers()["x-request-id"].to_str().unwrap().to_owned();
    let body = page.bytes().await.unwrap();
    let line = line_of(&env, &id).await;
    assert_eq!(line["user"], "", "{line}");
    assert_eq!(line["bytes"], body.len() as u64, "{line}");
    assert!(line.get("upstream").is_none(), "{line}");
}

#[tokio::test]
async fn a_client_request_id_is_kept_only_from_a_trusted_proxy_and_only_when_tidy() {
    // 127.0.0.1 is not trusted: the client's id is replaced.
    let env = logged("").await;
    let session = env.session_of("alice").await;
    let (_, id, body) = get(&env, "/", &session, Some("forged-id")).await;
    assert_ne!(id, "forged-id");
    assert_eq!(seen_id(&body), id);
    line_of(&env, &id).await;

    let env = logged("trusted_proxies: [\"127.0.0.1\"]\n").await;
    let session = env.session_of("alice").await;
    let (_, id, body) = get(&env, "/", &session, Some("edge-42")).await;
    assert_eq!(id, "edge-42");
    assert_eq!(seen_id(&body), "edge-42");
    line_of(&env, "edge-42").await;
    // Too long, or not visible ASCII: replaced even from a trusted proxy.
    let long = "x".repeat(129);
    for sent in [long.as_str(), "two words", "tab\tin"] {
        let (_, id, body) = get(&env, "/", &session, Some(sent)).await;
        assert_ne!(id, sent);
        assert!(
            !id.is_empty() && id.bytes().all(|b| b.is_ascii_graphic()),
            "{id:?}"
        );
        assert_eq!(seen_id(&body), id);
    }
    let (_, id, _) = get(&env, "/", &session, Some(&"y".repeat(128))).await;
    assert_eq!(id, "y".repeat(128), "128 characters are kept");
}

#[tokio::test]
async fn without_log_access_no_line_is_written() {
    let env = Env::start().await;
    let session = env.session_of("alice").await;
    let (status, id, _) = get(&env, "/", &session, None).await;
    assert_eq!(status, 200);
    assert!(
        !id.is_empty(),
        "the request id does not need the access log"
    );
    let files: Vec<_> = std::fs::read_dir(env.dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .collect();
    assert!(
        !files
            .iter()
            .any(|name| name.to_string_lossy().contains("access")),
        "{files:?}"
    );
}

#[test]
fn a_misspelt_log_access_is_refused_with_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = "listen: \"127.0.0.1:0\"\nupstream: \"http://127.0.0.1:1\"\nsession: { secret: \"0123456789abcdef0123456789abcdef\" }\nusers: {}\nlog: { access: stdot }\n";
    let problems = doorman::config::Config::from_yaml(yaml, dir.path())
        .expect_err("refused")
        .to_string();
    assert!(problems.contains("log.access"), "{problems}");
}

#[tokio::test]
async fn an_accepted_token_is_audited_with_its_request_id() {
    let env = Env::with(Setup {
        extra: "tokens_file: tokens.yaml\nrules:\n  - { path_prefix: \"/api/\", tokens: true }\n"
            .into(),
        ..Setup::default()
    })
    .await;
    let path = env.dir.path().join("tokens.yaml");
    let token = doorman::tokens::create(&path, "alice", "ci", None, env.now()).expect("token");
    let response = api_client()
        .get(env.url("/api/x"))
        .header("authorization", format!("Bearer {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let used = env.audited("token_used");
    assert_eq!(used.len(), 1, "{used:?}");
    assert_eq!(used[0]["user"], "alice");
    assert_eq!(used[0]["token"], "ci");
    assert_eq!(used[0]["request_id"], id.as_str());
    let all = serde_json::to_string(&env.audit_events()).unwrap();
    assert!(!all.contains(&token), "the token's secret was audited");
}

#[tokio::test]
async fn a_push_sent_is_audited_with_its_provider_and_id() {
    let env = crate::push::push_env("  push: { provider: webhook }\n", &[]).await;
    let mut browser = env.browser();
    crate::push::waiting_for_push(&mut browser, "bob").await;
    let sent = env.audited("push_sent");
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0]["provider"], "webhook");
    assert_eq!(sent[0]["user"], "bob");
    let challenge = sent[0]["challenge"].as_str().expect("the push's id");
    assert_eq!(challenge.len(), 32, "{challenge}");
    assert!(sent[0]["request_id"].is_string(), "{:?}", sent[0]);
    // One event per push: not `challenge_sent` beside it.
    assert!(
        env.audited("challenge_sent").is_empty(),
        "{:?}",
        env.audit_events()
    );
    // The answer links (capabilities) are never audited.
    let delivery = env.webhook.deliveries().pop().expect("a delivery");
    let all = serde_json::to_string(&env.audit_events()).unwrap();
    let deny = delivery.json["deny_url"].as_str().unwrap_or("");
    let token = deny.rsplit('/').next().unwrap_or("");
    assert!(!token.is_empty() && !all.contains(token), "{all}");
}

#[tokio::test]
async fn enrolling_an_authenticator_and_replaying_its_code_are_audited() {
    let env = Env::with_delivery(|webhook| Setup {
        delivery: Some(format!(
            "channels:\n  sms: {{ provider: webhook }}\n  totp: {{}}\nproviders:\n  webhook: {{ url: \"{webhook}\", timeout: \"2s\" }}\n"
        )),
        ..Setup::default()
    })
    .await;
    let mut browser = env.signed_in("alice").await;
    let page = browser.get("/.doorman/totp/enroll").await;
    let base32 = page.field("secret").expect("secret");
    let signature = page.field("signature").expect("signature");
    let secret = doorman::otp::totp::TotpSecret::from_base32(&base32).unwrap();
    let code = secret.code_at(env.now());
    let fields = [
        ("secret", base32.as_str()),
        ("signature", signature.as_str()),
        ("code", code.as_str()),
    ];
    browser
        .post("/.doorman/totp/enroll", &fields)
        .await
        .assert_says(200, "Authenticator added");
    let enrolled = env.audited("totp_enrolled");
    assert_eq!(enrolled.len(), 1, "{enrolled:?}");

    // The enrolment's code again, at sign-in: refused, and audited as replayed.
    let mut next = env.past_password("alice").await;
    assert_eq!(next.ask_for_code("totp").await.status, 303);
    assert_eq!(next.enter_code(&code).await.status, 401);
    let replayed = env.audited("totp_replayed");
    assert_eq!(replayed.len(), 1, "{replayed:?}");
    assert_eq!(replayed[0]["user"], "alice");
    assert_eq!(replayed[0]["channel"], "totp");
    let all = serde_json::to_string(&env.audit_events()).unwrap();
    assert!(!all.contains(&base32) && !all.contains(&code), "{all}");
}

#[tokio::test]
async fn the_start_up_line_has_the_version_and_json_fields_are_flat() {
    let env = Env::start().await;
    let mut serve = Process::spawn(
        doorman()
            .args(["serve", "--config"])
            .arg(env.config_path())
            .env("DOORMAN_LOG_FORMAT", "json"),
    );
    let line = serve.wait_for("doorman is listening");
    let line: serde_json::Value = serde_json::from_str(&line).expect("a JSON line");
    assert_eq!(line["version"], env!("CARGO_PKG_VERSION"), "{line}");
    assert_eq!(line["message"], "doorman is listening", "{line}");
    assert!(line.get("fields").is_none(), "{line}");
}
