//! The session cookie: what it takes to be let in, and for how long.

use crate::support::cookie_attributes as attributes;
use crate::support::{
    decrypt_session, host_prefixed, Browser, Env, Setup, CSRF_COOKIE, SECRET, SESSION_COOKIE,
};
use doorman::session::FactorLevel;
use std::time::Duration;

const MINUTE: Duration = Duration::from_secs(60);

/// `value` under the session cookie name gets nobody in: a browser is sent
/// to sign in, a script gets 401, and the app never hears of either.
async fn assert_refused(env: &Env, value: &str) {
    let hits = env.upstream.hits();

    let page = env.browser_with_session(value).get("/private").await;
    assert_eq!(page.status, 302, "browser with {value:?}: {page:?}");
    assert_eq!(page.location(), Some("/.doorman/login?rd=%2Fprivate"));

    let page = env.api_get("/private", Some(value)).await;
    assert_eq!(page.status, 401, "script with {value:?}: {page:?}");
    let body: serde_json::Value = serde_json::from_str(&page.body).expect("a JSON body");
    assert_eq!(body["error"], "unauthorized");

    assert_eq!(
        env.upstream.hits(),
        hits,
        "a refused request reached the app"
    );
}

/// alice, signed in: her browser and its session cookie.
async fn alice_and_her_cookie(env: &Env) -> (Browser, String) {
    let browser = env.signed_in("alice").await;
    let cookie = browser.session_cookie().expect("a session cookie");
    (browser, cookie)
}

/// As [`assert_refused`], and forward auth refuses it too.
async fn assert_refused_everywhere(env: &Env, value: &str) {
    assert_refused(env, value).await;
    let page = env.api_get("/.doorman/auth", Some(value)).await;
    assert_eq!(page.status, 401, "{page:?}");
}

/// Whether `value` as the session cookie reaches the app as `user`.
async fn assert_accepted(env: &Env, value: &str, user: &str) {
    let page = env.api_get("/private", Some(value)).await;
    assert_eq!(page.status, 200, "{page:?}");
    assert_eq!(page.echo()["headers"]["remote-user"][0], user);
}

async fn signed_in_cookie(env: &Env) -> String {
    env.session_of("alice").await
}

#[tokio::test]
async fn the_signed_in_cookie_is_accepted_from_any_client() {
    let env = Env::start().await;
    let cookie = signed_in_cookie(&env).await;
    assert_accepted(&env, &cookie, "alice").await;
    let page = env.browser_with_session(&cookie).get("/private").await;
    assert_eq!(page.status, 200, "{page:?}");
}

#[tokio::test]
async fn a_tampered_cookie_is_refused() {
    let env = Env::start().await;
    let cookie = signed_in_cookie(&env).await;
    let middle = cookie.len() / 2;
    let flipped = if &cookie[middle..=middle] == "A" {
        "B"
    } else {
        "A"
    };
    let tampered = format!("{}{flipped}{}", &cookie[..middle], &cookie[middle + 1..]);
    assert_ne!(tampered, cookie);
    assert_refused(&env, &tampered).await;
}

#[tokio::test]
async fn a_truncated_cookie_is_refused() {
    let env = Env::start().await;
    let cookie = signed_in_cookie(&env).await;
    assert_refused(&env, &cookie[..cookie.len() - 4]).await;
    assert_refused(&env, &cookie[..cookie.len() / 2]).await;
}

#[tokio::test]
async fn a_random_cookie_is_refused() {
    let env = Env::start().await;
    let cookie = signed_in_cookie(&env).await;
    let random: String = (0..cookie.len())
        .map(|i| {
            char::from(
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
                    [(i * 7 + 3) % 64],
            )
        })
        .collect();
    assert_refused(&env, &random).await;
    assert_refused(&env, "").await;
    assert_refused(&env, "null").await;
}

#[tokio::test]
async fn the_csrf_cookie_value_under_the_session_name_is_refused() {
    let (env, browser) = Env::alice_signed_in().await;
    let csrf = browser.cookie(CSRF_COOKIE).expect("a CSRF cookie");
    assert_refused(&env, &csrf).await;
}

#[tokio::test]
async fn a_password_only_session_is_refused_on_proxied_routes() {
    let (env, mut browser) = Env::alice_past_password().await;
    let level1 = browser.session_cookie().expect("a level-1 cookie");

    let page = browser.get("/private").await;
    assert_eq!(page.status, 302, "{page:?}");
    assert_eq!(page.location(), Some("/.doorman/login?rd=%2Fprivate"));
    assert_refused(&env, &level1).await;
}

#[tokio::test]
async fn a_password_only_session_is_refused_by_forward_auth() {
    let (env, mut browser) = Env::alice_past_password().await;
    let level1 = browser.session_cookie().expect("a level-1 cookie");

    let page = env.api_get("/.doorman/auth", Some(&level1)).await;
    assert_eq!(page.status, 401, "{page:?}");
    assert!(page.header("remote-user").is_none());
    let page = browser.get("/.doorman/auth").await;
    assert_eq!(page.status, 302, "{page:?}");
    assert!(
        page.location().unwrap().starts_with("/.doorman/login"),
        "{page:?}"
    );
    assert!(page.header("remote-user").is_none());
}

#[tokio::test]
async fn after_confirming_the_logout_page_the_old_cookie_is_refused_everywhere() {
    let env = Env::start().await;
    let (mut browser, cookie) = alice_and_her_cookie(&env).await;

    let page = browser.sign_out().await;
    page.assert_says(200, "signed out");
    let cleared = page
        .set_cookie_starting("doorman_session=")
        .expect("the session cookie is cleared");
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    assert_eq!(browser.session_cookie(), None);

    assert_refused_everywhere(&env, &cookie).await;
}

#[tokio::test]
async fn after_post_logout_the_old_cookie_is_refused_everywhere() {
    let env = Env::start().await;
    let (mut browser, cookie) = alice_and_her_cookie(&env).await;

    // The confirmation page gives the form token of this session.
    browser.get("/.doorman/logout").await;
    let page = browser.post("/.doorman/logout", &[]).await;
    assert_eq!(page.status, 200, "{page:?}");
    assert_eq!(browser.session_cookie(), None);

    assert_refused_everywhere(&env, &cookie).await;
}

#[tokio::test]
async fn logout_ends_only_its_own_session() {
    let (env, mut first) = Env::alice_signed_in().await;
    env.advance(MINUTE);
    let second = env.signed_in("alice").await;

    first.sign_out().await;
    let cookie = second.session_cookie().expect("a session cookie");
    assert_accepted(&env, &cookie, "alice").await;
}

#[tokio::test]
async fn a_session_is_refused_past_its_absolute_lifetime_even_with_activity() {
    let (env, mut browser) = Env::alice_signed_in().await;
    // Busy all day: a request every 20 minutes keeps the idle timer happy
    // but cannot stretch the 12 hours counted from the password step.
    for step in 1..36 {
        env.advance(20 * MINUTE);
        let page = browser.get("/private").await;
        assert_eq!(page.status, 200, "after {} minutes: {page:?}", step * 20);
    }
    env.advance(20 * MINUTE);
    let page = browser.get("/private").await;
    assert_eq!(page.status, 302, "after 12 hours: {page:?}");
    let cookie = browser.session_cookie().expect("the last cookie");
    assert_refused(&env, &cookie).await;
}

#[tokio::test]
async fn a_session_is_refused_after_12_hours_when_idle_time_is_not_the_limit() {
    let env = Env::with_session("idle_timeout: \"24h\"").await;
    let cookie = signed_in_cookie(&env).await;
    env.advance(Duration::from_secs(12 * 3600 - 1));
    assert_accepted(&env, &cookie, "alice").await;
    env.advance(Duration::from_secs(1));
    assert_refused(&env, &cookie).await;
}

#[tokio::test]
async fn a_session_is_refused_after_31_idle_minutes() {
    let (env, mut browser) = Env::alice_signed_in().await;
    env.advance(31 * MINUTE);
    let page = browser.get("/private").await;
    assert_eq!(page.status, 302, "{page:?}");
    let cookie = browser.session_cookie().expect("a session cookie");
    assert_refused(&env, &cookie).await;
}

#[tokio::test]
async fn a_session_idle_for_exactly_30_minutes_is_still_accepted() {
    let env = Env::start().await;
    let cookie = signed_in_cookie(&env).await;
    env.advance(30 * MINUTE);
    assert_accepted(&env, &cookie, "alice").await;
}

#[tokio::test]
async fn activity_every_20_minutes_keeps_a_session_alive_past_30_minutes() {
    let (env, mut browser) = Env::alice_signed_in().await;
    for step in 1..=6 {
        env.advance(20 * MINUTE);
        let page = browser.get("/private").await;
        assert_eq!(page.status, 200, "after {} minutes: {page:?}", step * 20);
        assert!(
            page.set_cookies()
                .iter()
                .any(|c| c.starts_with("doorman_session=")),
            "activity re-issues the cookie: {page:?}"
        );
    }
    // Sliding, not extended for good: silence still ends it.
    env.advance(31 * MINUTE);
    let page = browser.get("/private").await;
    assert_eq!(page.status, 302, "{page:?}");
}

#[tokio::test]
async fn the_cookie_is_reissued_at_most_once_a_minute() {
    let (env, mut browser) = Env::alice_signed_in().await;
    let page = browser.get("/private").await;
    assert!(
        page.set_cookies().is_empty(),
        "fresh cookie re-issued: {page:?}"
    );
    env.advance(Duration::from_secs(59));
    let page = browser.get("/private").await;
    assert!(
        page.set_cookies().is_empty(),
        "re-issued within a minute: {page:?}"
    );
    env.advance(Duration::from_secs(1));
    let page = browser.get("/private").await;
    assert_eq!(page.set_cookies().len(), 1, "{page:?}");
    let page = browser.get("/private").await;
    assert!(
        page.set_cookies().is_empty(),
        "re-issued twice in a minute: {page:?}"
    );
}

#[tokio::test]
async fn each_sign_in_step_issues_a_new_session_id() {
    let (env, mut browser) = Env::alice_past_password().await;
    let level1 = browser.session_cookie().expect("a level-1 cookie");
    let code = browser.request_code(&env, "sms").await;
    let page = browser.enter_code(&code).await;
    assert_eq!(page.status, 303, "{page:?}");
    let level2 = browser.session_cookie().expect("a level-2 cookie");

    assert_ne!(level1, level2);
    let before = env.session(&level1).expect("the level-1 cookie decrypts");
    let after = env.session(&level2).expect("the level-2 cookie decrypts");
    assert_eq!(before.level, FactorLevel::Password);
    assert_eq!(after.level, FactorLevel::TwoFactor);
    assert_ne!(
        before.id, after.id,
        "the session id must change at the second factor"
    );
}

#[tokio::test]
async fn the_level_1_cookie_is_dead_after_the_upgrade() {
    let (env, mut browser) = Env::alice_past_password().await;
    let level1 = browser.session_cookie().expect("a level-1 cookie");
    let code = browser.request_code(&env, "sms").await;
    assert_eq!(browser.enter_code(&code).await.status, 303);

    // Someone who copied the level-1 cookie cannot go on from there.
    let mut copy = env.browser_with_session(&level1);
    let page = copy.get("/.doorman/2fa").await;
    assert_eq!(page.status, 303, "{page:?}");
    assert_eq!(page.location(), Some("/.doorman/login"));
    let page = copy.get("/.doorman/login").await;
    assert_eq!(page.status, 200, "a dead session is no session: {page:?}");
    env.advance(MINUTE);
    let page = copy.send_code("sms").await;
    assert_eq!(page.status, 303, "{page:?}");
    assert_eq!(page.location(), Some("/.doorman/login"));
    assert_eq!(
        env.webhook.deliveries().len(),
        1,
        "a dead session got a code sent"
    );
    assert_refused(&env, &level1).await;
}

fn cookie_named<'a>(cookies: &'a [String], name: &str) -> &'a str {
    cookies
        .iter()
        .find(|c| c.starts_with(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} cookie in {cookies:?}"))
}

/// Sign in with `browser`, collecting every cookie doorman sets on the way.
async fn cookies_set_while_signing_in(env: &Env, browser: &mut Browser) -> Vec<Vec<String>> {
    let login = browser.get("/.doorman/login").await;
    let password = browser
        .post_password("alice", crate::support::PASSWORD)
        .await;
    let code = browser.request_code(env, "sms").await;
    let verify = browser.enter_code(&code).await;
    assert_eq!(verify.status, 303, "{verify:?}");
    vec![
        attributes(cookie_named(&login.set_cookies(), CSRF_COOKIE)),
        attributes(cookie_named(&password.set_cookies(), "doorman_session")),
        attributes(cookie_named(&verify.set_cookies(), "doorman_session")),
    ]
}

#[tokio::test]
async fn cookies_are_http_only_same_site_lax_path_root_and_not_secure_by_default() {
    let env = Env::start().await;
    let mut browser = env.browser();
    for attributes in cookies_set_while_signing_in(&env, &mut browser).await {
        for wanted in ["httponly", "samesite=lax", "path=/"] {
            assert!(
                attributes.iter().any(|a| a == wanted),
                "{wanted} missing in {attributes:?}"
            );
        }
        assert!(!attributes.iter().any(|a| a == "secure"), "{attributes:?}");
        assert!(
            !attributes.iter().any(|a| a.starts_with("domain")),
            "{attributes:?}"
        );
    }
}

#[tokio::test]
async fn cookies_are_secure_when_the_config_says_so() {
    let env = Env::with_session("secure: true").await;
    // reqwest's jar would not send a Secure cookie over http, so the test
    // carries the cookies itself.
    let mut browser = env.browser();
    let login = browser.get("/.doorman/login").await;
    // Secure and host-only: both cookies carry the `__Host-` prefix.
    let csrf = cookie_named(&login.set_cookies(), &host_prefixed(CSRF_COOKIE)).to_owned();
    assert!(attributes(&csrf).iter().any(|a| a == "secure"), "{csrf}");
    let nonce = csrf.split(';').next().unwrap().to_owned();
    let token = login.field("csrf").expect("a CSRF token");
    let response = crate::support::api_client()
        .post(env.url("/.doorman/login"))
        .header("cookie", &nonce)
        .form(&[
            ("username", "alice"),
            ("password", crate::support::PASSWORD),
            ("csrf", &token),
        ])
        .send()
        .await
        .expect("POST");
    let page = crate::support::into_page(response).await;
    assert_eq!(page.status, 303, "{page:?}");
    let session = attributes(cookie_named(
        &page.set_cookies(),
        &host_prefixed(SESSION_COOKIE),
    ));
    for wanted in ["secure", "httponly", "samesite=lax", "path=/"] {
        assert!(
            session.iter().any(|a| a == wanted),
            "{wanted} missing in {session:?}"
        );
    }
}

const NEW_SECRET: &str = "rotated-secret-rotated-secret-rotated-0123456789";

/// A cookie of alice's made with the old secret, and a doorman whose secret
/// is [`NEW_SECRET`] with the old one kept as a previous secret: the env
/// before, the cookie and the env after.
async fn rotated_after_sign_in() -> (Env, String, Env) {
    let before = Env::start().await;
    let cookie = signed_in_cookie(&before).await;
    let rotated = Env::with(Setup {
        secret: NEW_SECRET.into(),
        session: format!("previous_secrets: [\"{SECRET}\"]"),
        ..Setup::default()
    })
    .await;
    (before, cookie, rotated)
}

#[tokio::test]
async fn a_cookie_made_with_a_previous_secret_is_accepted_after_rotation() {
    let (_before, cookie, rotated) = rotated_after_sign_in().await;
    assert_accepted(&rotated, &cookie, "alice").await;

    let forgotten = Env::with(Setup {
        secret: NEW_SECRET.into(),
        ..Setup::default()
    })
    .await;
    assert_refused(&forgotten, &cookie).await;
}

#[tokio::test]
async fn a_cookie_reissued_after_rotation_is_encrypted_with_the_new_secret() {
    let (_before, cookie, rotated) = rotated_after_sign_in().await;
    rotated.advance(MINUTE);
    let mut browser = rotated.browser_with_session(&cookie);
    let page = browser.get("/private").await;
    assert_eq!(page.status, 200, "{page:?}");
    let reissued = browser.session_cookie().expect("a session cookie");
    assert_ne!(reissued, cookie, "the cookie was not re-issued: {page:?}");

    let now = rotated.now();
    assert!(decrypt_session(&reissued, NEW_SECRET, now).is_some());
    assert!(decrypt_session(&reissued, SECRET, now).is_none());
}

#[tokio::test]
async fn forward_auth_keeps_an_active_session_alive_past_the_idle_timeout() {
    let (env, mut browser) = Env::alice_signed_in().await;
    for _ in 0..3 {
        env.advance(Duration::from_secs(20 * 60));
        let page = browser.get("/.doorman/auth").await;
        assert_eq!(page.status, 200, "{page:?}");
        assert_eq!(page.header("remote-user"), Some("alice"));
        assert_eq!(page.set_cookies().len(), 1, "no refreshed cookie: {page:?}");
    }
    env.advance(Duration::from_secs(31 * 60));
    let page = browser.get("/.doorman/auth").await;
    assert_eq!(page.status, 302, "idle past the timeout: {page:?}");
}

#[tokio::test]
async fn a_proxied_response_carrying_a_reissued_cookie_is_not_stored_by_shared_caches() {
    let (env, mut browser) = Env::alice_signed_in().await;
    env.advance(Duration::from_secs(61));
    let page = browser.get("/private").await;
    assert_eq!(page.set_cookies().len(), 1, "{page:?}");
    assert_eq!(page.header("cache-control"), Some("private, no-store"));
    let page = browser.get("/private").await;
    assert!(page.set_cookies().is_empty());
    assert_eq!(
        page.header("cache-control"),
        None,
        "the app's own caching is left alone"
    );
}
