//! Cookies and forms (issue 12, item 7): `__Host-` names where a sibling
//! subdomain could otherwise plant or shadow a cookie, form tokens bound to
//! the session, sign-out by POST only, and several cookies of one name.

use crate::support::cookie_attributes as attributes;
use crate::support::{
    api_client, host_prefixed, into_page, raw_request, Env, Page, Setup, CSRF_COOKIE, PASSWORD,
    SESSION_COOKIE,
};
use std::collections::BTreeMap;
use std::time::Duration;

/// A browser that keeps `Secure` cookies over plain http, as Chromium does
/// for `localhost`: reqwest's jar would drop them, so this one keeps
/// cookies itself, by name, and sends exactly what it holds.
struct SecureBrowser {
    base: String,
    cookies: BTreeMap<String, String>,
    csrf: String,
}

impl SecureBrowser {
    fn new(env: &Env) -> SecureBrowser {
        SecureBrowser {
            base: format!("http://{}", env.addr),
            cookies: BTreeMap::new(),
            csrf: String::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn keep(&mut self, response: reqwest::Response) -> Page {
        let page = into_page(response).await;
        for set in page.set_cookies() {
            let pair = set.split(';').next().unwrap_or("");
            if let Some((name, value)) = pair.split_once('=') {
                if set.contains("Max-Age=0") {
                    self.cookies.remove(name);
                } else {
                    self.cookies.insert(name.to_owned(), value.to_owned());
                }
            }
        }
        if let Some(token) = page.field("csrf") {
            self.csrf = token;
        }
        page
    }

    async fn get(&mut self, path: &str) -> Page {
        let response = api_client()
            .get(format!("{}{path}", self.base))
            .header("accept", "text/html")
            .header("cookie", self.cookie_header())
            .send()
            .await
            .expect("GET");
        self.keep(response).await
    }

    async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let mut form: Vec<(&str, &str)> = fields.to_vec();
        let token = self.csrf.clone();
        form.push(("csrf", &token));
        let response = api_client()
            .post(format!("{}{path}", self.base))
            .header("accept", "text/html")
            .header("cookie", self.cookie_header())
            .form(&form)
            .send()
            .await
            .expect("POST");
        self.keep(response).await
    }

    /// Password and SMS code; returns every `Set-Cookie` seen on the way.
    async fn sign_in(&mut self, env: &Env, user: &str) -> Vec<String> {
        let mut seen = Vec::new();
        let page = self.get("/.doorman/login").await;
        seen.extend(page.set_cookies());
        let page = self
            .post(
                "/.doorman/login",
                &[("username", user), ("password", PASSWORD)],
            )
            .await;
        assert_eq!(page.status, 303, "password step: {page:?}");
        seen.extend(page.set_cookies());
        self.get("/.doorman/2fa").await;
        let page = self.post("/.doorman/2fa/send", &[("channel", "sms")]).await;
        assert_eq!(page.status, 303, "send step: {page:?}");
        let code = env.webhook.last_code().expect("a code was delivered");
        self.get("/.doorman/2fa").await;
        let page = self.post("/.doorman/2fa/verify", &[("code", &code)]).await;
        assert_eq!(page.status, 303, "verify step: {page:?}");
        seen.extend(page.set_cookies());
        seen
    }
}

fn secure_env_setup() -> Setup {
    Setup {
        session: "secure: true".into(),
        ..Setup::default()
    }
}

/// GETs `/private` as a script with exactly `cookie` as the Cookie header.
async fn private_with(env: &Env, cookie: &str) -> Page {
    let response = api_client()
        .get(env.url("/private"))
        .header("cookie", cookie)
        .send()
        .await
        .expect("GET");
    into_page(response).await
}

/// Who the app was told the request came from, or the status instead.
async fn seen_as(env: &Env, cookie: &str) -> Result<String, u16> {
    let page = private_with(env, cookie).await;
    if page.status != 200 {
        return Err(page.status);
    }
    Ok(page.echo()["headers"]["remote-user"][0]
        .as_str()
        .unwrap_or("")
        .to_owned())
}

#[tokio::test]
async fn secure_cookies_without_a_domain_carry_the_host_prefix_and_its_attributes() {
    let env = Env::with(secure_env_setup()).await;
    let mut browser = SecureBrowser::new(&env);
    let seen = browser.sign_in(&env, "alice").await;
    let session = host_prefixed(SESSION_COOKIE);
    let csrf = host_prefixed(CSRF_COOKIE);
    for name in [&session, &csrf] {
        let set: Vec<&String> = seen
            .iter()
            .filter(|c| c.starts_with(&format!("{name}=")))
            .collect();
        assert!(!set.is_empty(), "no {name} in {seen:?}");
        for cookie in set {
            let attributes = attributes(cookie);
            for wanted in ["secure", "path=/", "httponly"] {
                assert!(attributes.iter().any(|a| a == wanted), "{wanted}: {cookie}");
            }
            assert!(
                !attributes.iter().any(|a| a.starts_with("domain")),
                "{cookie}"
            );
        }
    }
    assert!(
        !seen
            .iter()
            .any(|c| c.starts_with(&format!("{SESSION_COOKIE}="))
                || c.starts_with(&format!("{CSRF_COOKIE}="))),
        "no unprefixed cookie: {seen:?}"
    );
    let cookie = browser.cookie_header();
    assert_eq!(seen_as(&env, &cookie).await, Ok("alice".into()));
}

#[tokio::test]
async fn with_a_session_domain_cookies_keep_their_plain_names_and_carry_the_domain() {
    let env = Env::with_session("secure: true\ndomain: \"localhost.test\"").await;
    let mut browser = SecureBrowser::new(&env);
    let seen = browser.sign_in(&env, "alice").await;
    assert!(
        seen.iter().all(|c| !c.starts_with("__Host-")),
        "the prefix forbids Domain: {seen:?}"
    );
    let session = seen
        .iter()
        .rev()
        .find(|c| c.starts_with(&format!("{SESSION_COOKIE}=")))
        .expect("a session cookie");
    assert!(
        attributes(session)
            .iter()
            .any(|a| a == "domain=localhost.test"),
        "{session}"
    );
}

#[tokio::test]
async fn where_the_prefix_is_in_use_a_plain_named_session_cookie_is_ignored() {
    let env = Env::with(secure_env_setup()).await;
    let mut attacker = SecureBrowser::new(&env);
    attacker.sign_in(&env, "bob").await;
    let bob = attacker.cookies[&host_prefixed(SESSION_COOKIE)].clone();
    // What a sibling subdomain can plant: the plain name, alone or next
    // to nothing else, in any position.
    for planted in [
        format!("{SESSION_COOKIE}={bob}"),
        format!("theme=dark; {SESSION_COOKIE}={bob}"),
        format!("{SESSION_COOKIE}={bob}; {CSRF_COOKIE}=00000000000000000000000000000000"),
    ] {
        assert_eq!(seen_as(&env, &planted).await, Err(401), "{planted}");
    }
    // The attacker's own `__Host-` cookie still works for the attacker.
    assert_eq!(
        seen_as(&env, &format!("{}={bob}", host_prefixed(SESSION_COOKIE))).await,
        Ok("bob".into())
    );
}

#[tokio::test]
async fn a_planted_session_of_another_user_never_wins_in_any_order_or_header() {
    // Plain http without a prefix: the deployment where planting works.
    let env = Env::start().await;
    let alice = env.session_of("alice").await;
    env.advance(Duration::from_secs(60));
    let bob = env.session_of("bob").await;
    for cookie in [
        format!("{SESSION_COOKIE}={alice}; {SESSION_COOKIE}={bob}"),
        format!("{SESSION_COOKIE}={bob}; {SESSION_COOKIE}={alice}"),
        format!("{SESSION_COOKIE}={alice}; other=1; {SESSION_COOKIE}={bob}"),
    ] {
        assert_eq!(seen_as(&env, &cookie).await, Err(401), "{cookie}");
    }
    // Split over two Cookie headers (as HTTP/2 may send them).
    for (first, second) in [(&alice, &bob), (&bob, &alice)] {
        let answer = raw_request(
            env.addr,
            &format!(
                "GET /private HTTP/1.1\nHost: x\nCookie: {SESSION_COOKIE}={first}\nCookie: {SESSION_COOKIE}={second}"
            ),
        )
        .await;
        assert_eq!(answer.status, 401, "{answer:?}");
    }
    // Forward-auth reads cookies the same way.
    let cookies = format!("{SESSION_COOKIE}={bob}; {SESSION_COOKIE}={alice}");
    let response = env.api_get_with_cookies("/.doorman/auth", &cookies).await;
    let page = into_page(response).await;
    assert_eq!(page.status, 401, "{page:?}");
    assert!(page.header("remote-user").is_none());
    // Each alone is still fine.
    assert_eq!(
        seen_as(&env, &format!("{SESSION_COOKIE}={alice}")).await,
        Ok("alice".into())
    );
}

#[tokio::test]
async fn of_one_users_sessions_the_older_never_wins() {
    let env = Env::start().await;
    let old = env.session_of("alice").await;
    env.advance(Duration::from_secs(120));
    // A newer session of the same person, only past the password.
    let browser = env.past_password("alice").await;
    let newer = browser.session_cookie().expect("level-1");
    // The older level-2 cookie must not carry the request, in either order.
    for cookie in [
        format!("{SESSION_COOKIE}={old}; {SESSION_COOKIE}={newer}"),
        format!("{SESSION_COOKIE}={newer}; {SESSION_COOKIE}={old}"),
    ] {
        assert_eq!(seen_as(&env, &cookie).await, Err(401), "{cookie}");
    }
}

#[tokio::test]
async fn a_signed_out_cookie_sent_alongside_never_wins_nor_hides_the_current_one() {
    let (env, mut first) = Env::alice_signed_in().await;
    let revoked = first.session_cookie().expect("first");
    assert_eq!(first.sign_out().await.status, 200);
    env.advance(Duration::from_secs(60));
    let current = env.session_of("alice").await;
    for cookie in [
        format!("{SESSION_COOKIE}={revoked}; {SESSION_COOKIE}={current}"),
        format!("{SESSION_COOKIE}={current}; {SESSION_COOKIE}={revoked}"),
    ] {
        assert_eq!(seen_as(&env, &cookie).await, Ok("alice".into()), "{cookie}");
    }
    assert_eq!(
        seen_as(&env, &format!("{SESSION_COOKIE}={revoked}")).await,
        Err(401)
    );
}

#[tokio::test]
async fn no_doorman_cookie_under_either_name_reaches_the_upstream() {
    let env = Env::with(secure_env_setup()).await;
    let mut browser = SecureBrowser::new(&env);
    browser.sign_in(&env, "alice").await;
    let cookie = format!(
        "app=1; {}; {SESSION_COOKIE}=planted; {CSRF_COOKIE}=planted; theme=dark",
        browser.cookie_header()
    );
    let page = private_with(&env, &cookie).await;
    assert_eq!(page.status, 200, "{page:?}");
    let sent = page.echo()["headers"]["cookie"][0]
        .as_str()
        .unwrap_or("")
        .to_owned();
    assert_eq!(sent, "app=1; theme=dark");
}

#[tokio::test]
async fn a_form_token_from_another_session_is_refused() {
    let (env, mut alice) = Env::alice_signed_in().await;
    let mut bob = env.signed_in("bob").await;
    alice.get("/.doorman/logout").await;
    bob.get("/.doorman/logout").await;
    let (alice_token, bob_token) = (alice.csrf_token(), bob.csrf_token());
    assert_ne!(alice_token, bob_token);
    // Each other's token, and then each other's token and CSRF cookie.
    let page = alice
        .post("/.doorman/logout", &[("csrf", &bob_token)])
        .await;
    assert_eq!(page.status, 403, "{page:?}");
    let page = bob
        .post("/.doorman/logout", &[("csrf", &alice_token)])
        .await;
    assert_eq!(page.status, 403, "{page:?}");
    let bob_nonce = bob.cookie(CSRF_COOKIE).expect("bob's CSRF cookie");
    alice.set_cookie(CSRF_COOKIE, &bob_nonce);
    let page = alice
        .post("/.doorman/logout", &[("csrf", &bob_token)])
        .await;
    assert_eq!(page.status, 403, "{page:?}");
    // Two sessions of one person do not share tokens either.
    env.advance(Duration::from_secs(60));
    let mut again = env.signed_in("alice").await;
    again.get("/.doorman/logout").await;
    let page = alice
        .post("/.doorman/logout", &[("csrf", &again.csrf_token())])
        .await;
    assert_eq!(page.status, 403, "{page:?}");
    // Nobody was signed out.
    for browser in [&mut alice, &mut bob, &mut again] {
        assert_eq!(browser.get("/private").await.status, 200);
    }
}

#[tokio::test]
async fn the_token_from_before_the_session_is_refused_once_there_is_one() {
    let env = Env::start().await;
    let mut browser = env.browser();
    let login = browser.get("/.doorman/login").await;
    let before = login.field("csrf").expect("a token");
    browser.sign_in(&env, "alice").await;
    let page = browser.post("/.doorman/logout", &[("csrf", &before)]).await;
    assert_eq!(page.status, 403, "{page:?}");
    assert_eq!(browser.get("/private").await.status, 200);
    // The page's own token does it.
    assert_eq!(browser.sign_out().await.status, 200);
    assert_eq!(browser.get("/private").await.status, 302);
}

#[tokio::test]
async fn a_cross_site_link_to_logout_signs_nobody_out() {
    let (env, mut browser) = Env::alice_signed_in().await;
    let cookie = browser.session_cookie().expect("a session");
    for path in [
        "/.doorman/logout",
        "/.doorman/logout?rd=%2F",
        "/.doorman/logout?rd=https%3A%2F%2Fevil.example%2F",
    ] {
        let page = browser
            .get_with(
                path,
                &[
                    ("referer", "https://evil.example/"),
                    ("sec-fetch-site", "cross-site"),
                ],
            )
            .await;
        assert_eq!(page.status, 200, "{path}: {page:?}");
        assert!(page.body.contains("<form"), "a confirmation form: {page:?}");
        assert!(
            page.set_cookies()
                .iter()
                .all(|c| !c.starts_with(&format!("{SESSION_COOKIE}="))),
            "{path}: {page:?}"
        );
    }
    // HEAD, and a script without a browser's headers, change nothing.
    let response = api_client()
        .head(env.url("/.doorman/logout"))
        .header("cookie", format!("{SESSION_COOKIE}={cookie}"))
        .send()
        .await
        .expect("HEAD");
    assert_eq!(response.status().as_u16(), 200);
    let page = env.api_get("/.doorman/logout", Some(&cookie)).await;
    assert!(
        page.set_cookies()
            .iter()
            .all(|c| !c.starts_with(&format!("{SESSION_COOKIE}="))),
        "{page:?}"
    );
    // A cross-site form POST has no token.
    let page = browser.post_exact("/.doorman/logout", &[]).await;
    assert_eq!(page.status, 403, "{page:?}");
    assert_eq!(
        seen_as(&env, &format!("{SESSION_COOKIE}={cookie}")).await,
        Ok("alice".into())
    );
    assert_eq!(browser.get("/private").await.status, 200);
}
