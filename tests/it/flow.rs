//! The sign-in as a browser walks it.

use crate::support::{Env, PASSWORD};

#[tokio::test]
async fn a_browser_signs_in_with_password_and_sms_and_reaches_the_app() {
    let env = Env::start().await;
    let mut browser = env.browser();

    let page = browser.get("/reports?year=2026").await;
    assert_eq!(page.status, 302);
    assert_eq!(
        page.location(),
        Some("/.doorman/login?rd=%2Freports%3Fyear%3D2026")
    );

    let page = browser.get(page.location().unwrap()).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("name=\"username\""));
    assert_eq!(page.field("rd").as_deref(), Some("/reports?year=2026"));

    let page = browser
        .post(
            "/.doorman/login",
            &[
                ("username", "alice"),
                ("password", PASSWORD),
                ("rd", "/reports?year=2026"),
            ],
        )
        .await;
    assert_eq!(page.status, 303);
    let page = browser.get(page.location().unwrap()).await;
    page.assert_shows("Text message to ••0100");

    let page = browser
        .post(
            "/.doorman/2fa/send",
            &[("channel", "sms"), ("rd", "/reports?year=2026")],
        )
        .await;
    assert_eq!(page.status, 303);
    let delivery = env.webhook.deliveries().pop().expect("delivered");
    assert_eq!(delivery.json["channel"], "sms");
    assert_eq!(delivery.json["to"], "+14155550100");
    assert_eq!(delivery.json["user"], "alice");
    let code = delivery.json["code"].as_str().unwrap().to_owned();
    assert_eq!(code.len(), 6);

    let page = browser.get(page.location().unwrap()).await;
    assert!(page.body.contains("autocomplete=\"one-time-code\""));
    let page = browser
        .post(
            "/.doorman/2fa/verify",
            &[("code", &code), ("rd", "/reports?year=2026")],
        )
        .await;
    assert_eq!(page.status, 303);
    assert_eq!(page.location(), Some("/reports?year=2026"));

    let page = browser.get("/reports?year=2026").await;
    assert_eq!(page.status, 200);
    let echo = page.echo();
    assert_eq!(echo["headers"]["remote-user"][0], "alice");
    assert_eq!(echo["headers"]["remote-email"][0], "alice@example.com");
    assert_eq!(echo["headers"]["remote-groups"][0], "admins,ops");
    assert_eq!(echo["headers"]["remote-name"][0], "Alice Example");
    assert!(
        echo["headers"].get("cookie").is_none(),
        "doorman's cookies must not reach the app"
    );
}

#[tokio::test]
async fn a_browser_signs_in_with_a_voice_call() {
    let (env, mut browser) = Env::alice_past_password().await;
    let code = browser.request_code(&env, "voice").await;
    let delivery = env.webhook.deliveries().pop().expect("delivered");
    assert_eq!(delivery.json["channel"], "voice");
    let page = browser.get("/.doorman/2fa").await;
    page.assert_shows("We sent a code by voice call");
    let page = browser.enter_code(&code).await;
    assert_eq!(page.status, 303, "{page:?}");
    assert_eq!(page.location(), Some("/"));
    assert_eq!(
        browser.get("/").await.echo()["headers"]["remote-user"][0],
        "alice"
    );
}

#[tokio::test]
async fn the_choice_page_offers_the_channels_in_config_order() {
    let (_env, mut browser) = Env::alice_past_password().await;
    let page = browser.get("/.doorman/2fa").await;
    assert_eq!(page.status, 200);
    let sms = page
        .body
        .find("Text message to ••0100")
        .expect("an SMS choice");
    let voice = page
        .body
        .find("Voice call to ••0100")
        .expect("a voice choice");
    assert!(sms < voice, "{}", page.body);
    page.assert_shows("Hello Alice Example");
    assert!(
        !page.body.contains("+14155550100"),
        "the full number is shown"
    );
}

#[tokio::test]
async fn a_channel_that_is_not_offered_is_refused() {
    let (env, mut browser) = Env::alice_past_password().await;
    browser.get("/.doorman/2fa").await;
    let page = browser.send_code("push").await;
    page.assert_says(400, "Choose one of the methods offered");
    assert!(env.webhook.deliveries().is_empty());
}

#[tokio::test]
async fn a_wrong_password_keeps_the_username_and_rd_for_the_next_try() {
    let env = Env::start().await;
    let mut browser = env.browser();
    browser.get("/.doorman/login?rd=%2Freports").await;
    let page = browser
        .post(
            "/.doorman/login",
            &[
                ("username", "alice"),
                ("password", "wrong"),
                ("rd", "/reports"),
            ],
        )
        .await;
    page.assert_says(401, "Incorrect username or password");
    page.assert_shows("value=\"alice\"");
    assert_eq!(page.field("rd").as_deref(), Some("/reports"));
    assert_eq!(browser.session_cookie(), None);

    let page = browser
        .post(
            "/.doorman/login",
            &[
                ("username", "alice"),
                ("password", PASSWORD),
                ("rd", "/reports"),
            ],
        )
        .await;
    assert_eq!(page.status, 303, "{page:?}");
    assert_eq!(page.location(), Some("/.doorman/2fa?rd=%2Freports"));
}

#[tokio::test]
async fn an_empty_username_or_password_is_asked_for_again() {
    let env = Env::start().await;
    let mut browser = env.browser();
    browser.get("/.doorman/login").await;
    for (username, password) in [("", PASSWORD), ("alice", ""), ("  ", PASSWORD)] {
        let page = browser.post_password(username, password).await;
        page.assert_says(400, "Enter your username and password");
    }
    assert_eq!(browser.session_cookie(), None);
}

#[tokio::test]
async fn the_login_page_sends_a_half_signed_in_browser_to_the_second_factor() {
    let (_env, mut browser) = Env::alice_past_password().await;
    let page = browser.get("/.doorman/login?rd=%2Freports").await;
    assert_eq!(page.status, 302, "{page:?}");
    assert_eq!(page.location(), Some("/.doorman/2fa?rd=%2Freports"));
}

#[tokio::test]
async fn the_login_page_sends_a_signed_in_browser_on_to_rd() {
    let (_env, mut browser) = Env::alice_signed_in().await;
    let page = browser.get("/.doorman/login?rd=%2Freports").await;
    assert_eq!(page.status, 302, "{page:?}");
    assert_eq!(page.location(), Some("/reports"));
}

#[tokio::test]
async fn the_second_factor_pages_send_a_browser_without_a_session_to_sign_in() {
    let env = Env::start().await;
    let mut browser = env.browser();
    let page = browser.get("/.doorman/2fa?rd=%2Freports").await;
    assert_eq!(page.status, 303, "{page:?}");
    assert_eq!(page.location(), Some("/.doorman/login?rd=%2Freports"));
    browser.get("/.doorman/login").await;
    let page = browser.send_code("sms").await;
    assert_eq!(page.status, 303, "{page:?}");
    assert_eq!(page.location(), Some("/.doorman/login"));
    assert!(env.webhook.deliveries().is_empty());
}

#[tokio::test]
async fn signing_in_as_someone_else_ends_the_previous_session_in_that_browser() {
    let (env, mut browser) = Env::alice_signed_in().await;
    let alice = browser.session_cookie().expect("alice's cookie");
    // Form tokens are bound to the session: any page of alice's session
    // gives the browser one (the sign-out confirmation is such a page).
    browser.get("/.doorman/logout").await;
    let page = browser.post_password("bob", PASSWORD).await;
    assert_eq!(page.status, 303, "{page:?}");

    let page = env.api_get("/private", Some(&alice)).await;
    assert_eq!(
        page.status, 401,
        "alice's session outlived the switch: {page:?}"
    );
    let page = browser.get("/private").await;
    assert_eq!(page.status, 302, "bob has no second factor yet: {page:?}");
}

#[tokio::test]
async fn signing_out_and_in_again_works() {
    let (env, mut browser) = Env::alice_signed_in().await;
    let page = browser.sign_out().await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("Sign in again"),
        "a way back in: {}",
        page.body
    );
    assert_eq!(browser.get("/private").await.status, 302);

    env.advance(std::time::Duration::from_secs(30));
    browser.sign_in(&env, "alice").await;
    assert_eq!(browser.get("/private").await.status, 200);
}

#[tokio::test]
async fn an_api_client_is_told_to_sign_in_and_where() {
    let env = Env::start().await;
    let page = env.api_get("/api/items", None).await;
    assert_eq!(page.status, 401, "{page:?}");
    assert!(page.location().is_none());
    let body: serde_json::Value = serde_json::from_str(&page.body).expect("JSON");
    assert_eq!(body["error"], "unauthorized");
    assert_eq!(body["login"], "/.doorman/login");
    assert_eq!(env.upstream.hits(), 0);
}

#[tokio::test]
async fn a_head_navigation_is_sent_to_sign_in() {
    let env = Env::start().await;
    let response = env
        .browser()
        .client
        .head(env.url("/reports"))
        .header("accept", "text/html")
        .send()
        .await
        .expect("HEAD");
    assert_eq!(response.status().as_u16(), 302);
    assert_eq!(
        response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok()),
        Some("/.doorman/login?rd=%2Freports")
    );
    assert_eq!(env.upstream.hits(), 0);
}

#[tokio::test]
async fn a_forward_auth_sign_in_returns_to_the_original_url() {
    // X-Forwarded-* is believed from trusted proxies only.
    let env = Env::with_extra("trusted_proxies: [\"127.0.0.1\"]").await;
    let mut browser = env.browser();
    let host = env.addr.to_string();
    let forwarded = [
        ("x-forwarded-method", "GET"),
        ("x-forwarded-proto", "http"),
        ("x-forwarded-host", host.as_str()),
        ("x-forwarded-uri", "/reports?year=2026"),
    ];
    let page = browser.get_with("/.doorman/auth", &forwarded).await;
    assert_eq!(page.status, 302, "{page:?}");
    let original = format!("http://{host}/reports?year=2026");
    let login = page.location().expect("to sign in").to_owned();
    let rd: String = form_urlencoded::byte_serialize(original.as_bytes()).collect();
    assert_eq!(login, format!("/.doorman/login?rd={rd}"));

    let page = browser.sign_in_from(&env, "alice", &login).await;
    assert_eq!(page.status, 303, "{page:?}");
    assert_eq!(page.location(), Some(original.as_str()));
    let page = browser.get_with("/.doorman/auth", &forwarded).await;
    assert_eq!(page.status, 200, "{page:?}");
    assert_eq!(page.header("remote-user"), Some("alice"));
}
