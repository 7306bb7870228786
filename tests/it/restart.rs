//! Restarts of a real `doorman serve` process on the file store: sign-outs,
//! lock counters, used authenticator codes and page-enrolled authenticators
//! survive it (a kill as well as a clean stop); an unusable `store.path`
//! stops the start with a reason. Env provides the users file, the fake
//! upstream and the webhook that receives codes; the child is the gateway.

use crate::support::process::{doorman, Process};
use crate::support::{default_users, password_hash, Browser, Env, Setup, PASSWORD, SESSION_COOKIE};
use doorman::otp::totp::TotpSecret;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

const TOTP: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";

/// Env's config on a file store in its directory, for the child process.
pub fn file_config(env: &Env) -> PathBuf {
    let text = std::fs::read_to_string(env.config_path()).expect("config");
    assert!(text.contains("store: { kind: memory }"), "{text}");
    let text = text.replace(
        "store: { kind: memory }",
        "store: { kind: file, path: \"state/doorman.redb\" }",
    );
    let path = env.dir.path().join("file-store.yaml");
    std::fs::write(&path, text).expect("config");
    path
}

pub fn start(config: &Path) -> (Process, SocketAddr) {
    let mut serve = Process::spawn(doorman().args(["serve", "--config"]).arg(config));
    let addr = serve.listening_addr();
    (serve, addr)
}

fn stop(mut serve: Process) {
    serve.signal(libc::SIGTERM);
    assert_eq!(serve.wait().code(), Some(0));
}

/// No clean shutdown: what was answered must already be on disk.
fn crash(mut serve: Process) {
    serve.child.kill().expect("kill");
    serve.child.wait().expect("wait");
}

/// A browser at `addr` holding just the session cookie `value`.
pub fn with_cookie(addr: SocketAddr, value: &str) -> Browser {
    let browser = Browser::new(addr);
    browser.set_cookie(SESSION_COOKIE, value);
    browser
}

pub async fn accepted(addr: SocketAddr, cookie: &str) -> bool {
    let page = with_cookie(addr, cookie).get("/private").await;
    match page.status {
        200 => true,
        302 => false,
        other => panic!("neither accepted nor refused: {other} {page:?}"),
    }
}

/// Alice and Bob, each signed in with both factors in a browser of their own.
async fn alice_and_bob(env: &Env, addr: SocketAddr) -> (Browser, Browser) {
    let mut alice = Browser::new(addr);
    alice.sign_in(env, "alice").await;
    let mut bob = Browser::new(addr);
    bob.sign_in(env, "bob").await;
    (alice, bob)
}

async fn password_step(addr: SocketAddr, user: &str, password: &str) -> u16 {
    let mut browser = Browser::new(addr);
    browser.get("/.doorman/login").await;
    browser.post_password(user, password).await.status
}

#[tokio::test]
async fn a_sign_out_survives_a_restart_and_a_crash() {
    let env = Env::start().await;
    let config = file_config(&env);
    let (serve, addr) = start(&config);
    let (mut alice, bob) = alice_and_bob(&env, addr).await;
    let signed_out = alice.session_cookie().expect("alice's cookie");
    let kept = bob.session_cookie().expect("bob's cookie");
    assert!(accepted(addr, &signed_out).await);
    assert_eq!(alice.sign_out().await.status, 200);
    assert!(!accepted(addr, &signed_out).await);

    stop(serve);
    let (serve, addr) = start(&config);
    assert!(!accepted(addr, &signed_out).await, "after a restart");
    assert!(
        accepted(addr, &kept).await,
        "a session not signed out stays"
    );

    // Signed out just before a kill: the answer came after the write.
    let mut bob = with_cookie(addr, &kept);
    assert_eq!(bob.sign_out().await.status, 200);
    crash(serve);
    let (_serve, addr) = start(&config);
    assert!(!accepted(addr, &signed_out).await, "after a crash");
    assert!(!accepted(addr, &kept).await, "the last sign-out too");
}

#[tokio::test]
async fn a_lock_survives_a_restart() {
    let env = Env::with_extra("limits:\n  failures: { delay_after: 100, lock_after: 3, window: \"15m\", lock_for: \"15m\" }\n").await;
    let config = file_config(&env);
    let (serve, addr) = start(&config);
    for _ in 0..3 {
        assert_eq!(password_step(addr, "alice", "wrong").await, 401);
    }
    assert_eq!(password_step(addr, "alice", PASSWORD).await, 401, "locked");
    crash(serve);
    let (_serve, addr) = start(&config);
    assert_eq!(
        password_step(addr, "alice", PASSWORD).await,
        401,
        "still locked after a restart"
    );
    assert_eq!(password_step(addr, "bob", PASSWORD).await, 303);
}

/// The default users and carol, who has an authenticator app.
fn with_authenticator() -> String {
    format!(
        "{}  carol:\n    password: \"{}\"\n    totp_secret: \"{TOTP}\"\n",
        default_users(),
        password_hash()
    )
}

/// SMS (to sign in for enrolment) and the authenticator app.
async fn env_with_totp(users: String) -> Env {
    Env::with_delivery(move |webhook| Setup {
        delivery: Some(format!(
            "channels:\n  sms: {{ provider: webhook }}\n  totp: {{}}\nproviders:\n  webhook: {{ url: \"{webhook}\", timeout: \"2s\" }}\n"
        )),
        users,
        ..Setup::default()
    })
    .await
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("time")
        .as_secs()
}

/// Password, then the authenticator app, then `code`: whether signed in.
async fn sign_in_with_app(addr: SocketAddr, user: &str, code: &str) -> bool {
    let mut browser = Browser::new(addr);
    browser.sign_in_password(user).await;
    let page = browser.ask_for_code("totp").await;
    assert_eq!(page.status, 303, "{page:?}");
    browser.get("/.doorman/2fa").await;
    let page = browser.enter_code(code).await;
    match page.status {
        303 => true,
        401 => false,
        other => panic!("{other}: {page:?}"),
    }
}

#[tokio::test]
async fn a_used_authenticator_code_stays_used_after_a_restart() {
    let env = env_with_totp(with_authenticator()).await;
    let config = file_config(&env);
    let (serve, addr) = start(&config);
    let secret = TotpSecret::from_base32(TOTP).expect("secret");
    let code = secret.code_at(now());
    assert!(sign_in_with_app(addr, "carol", &code).await);
    assert!(!sign_in_with_app(addr, "carol", &code).await, "replayed");

    stop(serve);
    let (_serve, addr) = start(&config);
    assert!(
        !sign_in_with_app(addr, "carol", &code).await,
        "replayed after a restart"
    );
    // The next step's code is in the window: only the used one is refused.
    let next = secret.code_at(now() + 30);
    assert!(sign_in_with_app(addr, "carol", &next).await);
}

#[tokio::test]
async fn an_authenticator_enrolled_on_the_page_survives_a_restart() {
    let env = env_with_totp(default_users()).await;
    let config = file_config(&env);
    let (serve, addr) = start(&config);
    let mut alice = Browser::new(addr);
    alice.sign_in(&env, "alice").await;
    let page = alice.get("/.doorman/totp/enroll").await;
    assert_eq!(page.status, 200, "{page:?}");
    let base32 = page.field("secret").expect("secret field");
    let signature = page.field("signature").expect("signature field");
    let secret = TotpSecret::from_base32(&base32).expect("secret");
    let code = secret.code_at(now());
    let page = alice
        .post(
            "/.doorman/totp/enroll",
            &[
                ("secret", &base32),
                ("signature", &signature),
                ("code", &code),
            ],
        )
        .await;
    assert!(page.body.contains("Authenticator added"), "{page:?}");
    assert_eq!(alice.get("/private").await.status, 200, "still signed in");

    crash(serve);
    let (_serve, addr) = start(&config);
    assert!(
        !sign_in_with_app(addr, "alice", &code).await,
        "the enrolment code stays used"
    );
    assert!(
        sign_in_with_app(addr, "alice", &secret.code_at(now() + 30)).await,
        "the enrolled authenticator works after the restart"
    );
}

#[tokio::test]
async fn an_unusable_store_path_stops_serve_naming_store_path() {
    let env = Env::start().await;
    let config = file_config(&env);
    let (_serve, _) = start(&config);
    let mut second = Process::spawn(doorman().args(["serve", "--config"]).arg(&config));
    assert_eq!(second.wait().code(), Some(1));
    let line = second.wait_for("store.path");
    assert!(line.contains("in use by another doorman process"), "{line}");

    std::fs::write(env.dir.path().join("blocker"), "a file").expect("file");
    let text = std::fs::read_to_string(&config)
        .expect("config")
        .replace("state/doorman.redb", "blocker/state.redb");
    let blocked = env.dir.path().join("blocked.yaml");
    std::fs::write(&blocked, text).expect("config");
    let mut serve = Process::spawn(doorman().args(["serve", "--config"]).arg(&blocked));
    assert_eq!(serve.wait().code(), Some(1));
    let line = serve.wait_for("store.path");
    assert!(line.contains("make it writable for doorman"), "{line}");
}

#[tokio::test]
async fn a_gateway_shut_down_in_process_lets_the_next_one_open_the_same_file() {
    let mut env = Env::with_extra("store: { kind: file, path: \"state.redb\" }\n").await;
    let mut browser = env.signed_in("alice").await;
    let cookie = browser.session_cookie().expect("cookie");
    assert_eq!(browser.sign_out().await.status, 200);
    env.doorman.take().expect("running").shutdown().await;

    let config =
        doorman::config::Config::load_from(Some(&env.config_path()), &|_| None).expect("valid");
    let again = doorman::Gateway::start_with_clock(config, env.clock.clone())
        .await
        .expect("the store file was let go");
    assert!(!accepted(again.addr(), &cookie).await);
}

/// Many forward-auth questions at once on kept-alive connections (the
/// HTTP/1 lane answers them), with the answer each must get: 200 as
/// Alice, 401 for a signed-out session and a forged cookie.
async fn ask_all_at_once(addr: SocketAddr, alice: &str, signed_out: &str, label: &str) {
    let client = crate::support::api_client();
    let mut asked = tokio::task::JoinSet::new();
    // Under `limits.max_connections_per_client` (256): this client is one
    // address, and a connection over the cap is refused.
    for i in 0..240 {
        let (client, label) = (client.clone(), label.to_owned());
        let (cookie, expected) = match i % 3 {
            0 => (alice.to_owned(), 200),
            1 => (signed_out.to_owned(), 401),
            _ => ("forged".to_owned(), 401),
        };
        asked.spawn(async move {
            let answer = client
                .get(format!("http://{addr}/.doorman/auth"))
                .header("cookie", format!("{SESSION_COOKIE}={cookie}"))
                .send()
                .await
                .expect("an answer");
            let status = answer.status().as_u16();
            let user = answer
                .headers()
                .get("remote-user")
                .and_then(|value| value.to_str().ok())
                .unwrap_or("")
                .to_owned();
            assert_eq!(status, expected, "{label}: question {i}");
            let expected_user = if expected == 200 { "alice" } else { "" };
            assert_eq!(user, expected_user, "{label}: question {i}");
        });
    }
    while let Some(done) = asked.join_next().await {
        done.expect("a question");
    }
}

#[tokio::test]
async fn forward_auth_answers_many_at_once_each_its_own_across_a_restart() {
    let env = Env::start().await;
    let config = file_config(&env);
    let (serve, addr) = start(&config);
    let (alice, mut bob) = alice_and_bob(&env, addr).await;
    let alice = alice.session_cookie().expect("alice's cookie");
    let signed_out = bob.session_cookie().expect("bob's cookie");
    assert_eq!(bob.sign_out().await.status, 200);
    ask_all_at_once(addr, &alice, &signed_out, "before").await;
    stop(serve);
    let (serve, addr) = start(&config);
    ask_all_at_once(addr, &alice, &signed_out, "after a restart").await;
    crash(serve);
    let (_serve, addr) = start(&config);
    ask_all_at_once(addr, &alice, &signed_out, "after a crash").await;
}
