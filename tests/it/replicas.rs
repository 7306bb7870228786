//! Two doorman replicas on one real `redis-server`: a sign-in started on
//! one finishes on the other, a logout holds everywhere, limits count
//! across both, and an outage fails closed and heals by itself.

use crate::support::redis::redis_or_skip;
use crate::support::redis::{self, RedisServer};
use crate::support::{eventually, Env, Setup, SESSION_COOKIE};
use std::time::Duration;

/// How long a change may take to reach the other replica.
const WAIT: Duration = Duration::from_secs(5);

/// Replica A (the env's own doorman) and replica B, both on `server`.
async fn replicas(server: &RedisServer, extra: &str) -> (Env, doorman::Gateway) {
    let env = Env::with_extra(&format!(
            "store: {{ kind: redis, url: \"{}\", key_prefix: \"it:\", command_timeout: \"500ms\" }}\n{extra}",
            server.url()
        )).await;
    let b = env.replica().await;
    (env, b)
}

/// Replicas with no delay after failures; `client` adds to `client_failures`.
async fn undelayed(server: &RedisServer, client: &str) -> (Env, doorman::Gateway) {
    let limits = format!(
        "limits: {{ failures: {{ delay: \"0s\" }}, client_failures: {{ delay: \"0s\"{client} }} }}"
    );
    replicas(server, &limits).await
}

/// The replica for the `n`th attempt: the first, then the other, in turn.
fn alternate(n: usize, a: &Env, b: &doorman::Gateway) -> std::net::SocketAddr {
    if n.is_multiple_of(2) {
        a.addr
    } else {
        b.addr()
    }
}

#[tokio::test]
async fn a_sign_in_started_on_one_replica_finishes_on_the_other() {
    let server = redis_or_skip!();
    let (env, b) = replicas(&server, "").await;
    let mut browser = env.past_password("alice").await;
    let code = browser.request_code(&env, "sms").await;

    browser.switch_to(b.addr());
    let page = browser.enter_code(&code).await;
    assert_eq!(page.status, 303, "{page:?}");
    assert_eq!(browser.get("/app").await.status, 200, "through B");
    browser.switch_to(env.addr);
    assert_eq!(browser.get("/app").await.status, 200, "through A");
}

#[tokio::test]
async fn a_logout_on_one_replica_is_refused_by_the_other() {
    let server = redis_or_skip!();
    let (env, b) = replicas(&server, "").await;
    let mut browser = env.signed_in("alice").await;
    let cookie = browser.session_cookie().expect("session");
    assert_eq!(env.api_get("/app", Some(&cookie)).await.status, 200);

    browser.switch_to(b.addr());
    assert_eq!(browser.sign_out().await.status, 200);
    // Replica A learns of it through Redis, within moments.
    eventually("A refuses the signed-out cookie", WAIT, || async {
        env.api_get("/app", Some(&cookie)).await.status == 401
    })
    .await;
}

#[tokio::test]
async fn five_wrong_codes_spread_over_both_replicas_end_the_challenge() {
    let server = redis_or_skip!();
    let (env, b) = undelayed(&server, "").await;
    let mut browser = env.past_password("alice").await;
    let code = browser.request_code(&env, "sms").await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for n in 0..5 {
        browser.switch_to(alternate(n, &env, &b));
        let page = browser.enter_code(wrong).await;
        assert_eq!(page.status, 401, "wrong code {n}: {page:?}");
    }
    // The right code now finds no challenge, on either replica.
    for addr in [env.addr, b.addr()] {
        browser.switch_to(addr);
        let page = browser.enter_code(&code).await;
        assert_ne!(page.status, 303, "{page:?}");
        assert!(browser.session_cookie().is_some());
        let session = env
            .session(&browser.session_cookie().expect("cookie"))
            .expect("session");
        assert_eq!(session.level, doorman::session::FactorLevel::Password);
    }
}

#[tokio::test]
async fn failed_passwords_on_both_replicas_count_toward_one_lock() {
    let server = redis_or_skip!();
    let (env, b) = undelayed(&server, ", lock_after: 100").await;
    let mut attacker = env.browser();
    for n in 0..10 {
        attacker.switch_to(alternate(n, &env, &b));
        attacker.get("/.doorman/login").await;
        let page = attacker.post_password("alice", "guess").await;
        assert_eq!(page.status, 401);
    }
    assert_eq!(
        env.audited("lock").len(),
        1,
        "ten failures over two replicas lock"
    );
    for addr in [env.addr, b.addr()] {
        let mut owner = env.browser();
        owner.switch_to(addr);
        owner.get("/.doorman/login").await;
        let page = owner.post_password("alice", crate::support::PASSWORD).await;
        assert_eq!(page.status, 401, "locked on every replica");
    }
}

#[tokio::test]
async fn when_redis_is_down_sign_ins_fail_closed_sessions_go_on_and_it_heals() {
    if !redis::available() {
        return;
    }
    let mut server = RedisServer::start().await;
    let (env, b) = replicas(&server, "").await;
    let browser = env.signed_in("alice").await;
    let cookie = browser.session_cookie().expect("session");
    let health = || async { env.api_get("/.doorman/health", None).await.body };
    eventually("healthy", WAIT, || async {
        health().await.contains("\"ok\"")
    })
    .await;

    server.stop();
    // A session keeps working from its cookie, on both replicas.
    assert_eq!(env.api_get("/app", Some(&cookie)).await.status, 200);
    let through_b = crate::support::api_client()
        .get(format!("http://{}/app", b.addr()))
        .header("cookie", format!("{SESSION_COOKIE}={cookie}"))
        .send()
        .await
        .expect("B");
    assert_eq!(through_b.status(), 200);

    // A new sign-in fails cleanly, with a page that says so.
    let mut newcomer = env.browser();
    newcomer.get("/.doorman/login").await;
    let page = newcomer
        .post_password("bob", crate::support::PASSWORD)
        .await;
    page.assert_says(503, "temporarily unavailable");
    assert_eq!(newcomer.session_cookie(), None);
    eventually("health says degraded", WAIT, || async {
        health().await.contains("degraded")
    })
    .await;

    server.resume().await;
    eventually("healthy again", WAIT, || async {
        health().await.contains("\"ok\"")
    })
    .await;
    let mut later = env.browser();
    later.sign_in(&env, "bob").await;
    assert_eq!(later.get("/app").await.status, 200);
}

#[tokio::test]
async fn a_push_answered_through_one_replica_signs_in_the_browser_waiting_on_the_other() {
    use crate::push::{shown_number, status, users};
    use crate::support::ntfy::{self, Ntfy};
    let server = redis_or_skip!();
    let ntfy = Ntfy::start().await;
    let env = Env::with_delivery(|webhook| Setup {
        delivery: Some(format!(
            "channels:\n  push: {{ provider: ntfy }}\n  sms: {{ provider: webhook }}\nproviders:\n  {}\n  webhook: {{ url: \"{webhook}\" }}\n",
            ntfy.config()
        )),
        users: users(),
        extra: format!(
            "public_url: \"https://app.example.com\"\nstore: {{ kind: redis, url: \"{}\", key_prefix: \"push:\" }}\n",
            server.url()
        ),
        ..Setup::default()
    })
    .await;
    let b = env.replica().await;
    let mut browser = env.past_password("alice").await;
    assert_eq!(browser.ask_for_code("push").await.status, 303);
    let number = shown_number(&browser.get("/.doorman/2fa").await);

    // The phone's answer reaches replica B; the browser long-polls A.
    let path = ntfy::path_of(&ntfy.action_url(&number));
    let (state, answer) = tokio::join!(status(&browser, true), async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        crate::support::api_client()
            .post(format!("http://{}{path}", b.addr()))
            .send()
            .await
            .expect("answer")
            .status()
    });
    assert_eq!(answer, 200);
    assert_eq!(state["state"], "approved");
    let page = browser.get("/.doorman/2fa").await;
    assert!(crate::support::signed_in_by(&page), "{page:?}");

    // The link was used: neither replica takes it again.
    for addr in [env.addr, b.addr()] {
        let again = crate::support::api_client()
            .post(format!("http://{addr}{path}"))
            .send()
            .await
            .expect("again");
        assert_eq!(again.status(), 410);
    }
}
