//! One-time codes: how many tries, how long they live, resends, and what
//! the webhook receives.

use crate::support::webhook::hook_signature;
use crate::support::webhook::Mode;
use crate::support::{
    parse_raw_response, signed_in_by, Browser, Env, Page, CSRF_COOKIE, SESSION_COOKIE,
};
use std::time::Duration;

const COOLDOWN: Duration = Duration::from_secs(30);

/// A browser past the password step with an SMS code on its way; returns
/// the browser and the code.
async fn waiting_for_code(env: &Env) -> (Browser, String) {
    let mut browser = env.past_password("alice").await;
    let code = browser.request_code(env, "sms").await;
    (browser, code)
}

/// The default doorman, alice waiting for an SMS code: the env, her
/// browser and the code.
async fn alice_waiting_for_code() -> (Env, Browser, String) {
    let env = Env::start().await;
    let (browser, code) = waiting_for_code(&env).await;
    (env, browser, code)
}

/// A six-digit code that is not `code`.
fn wrong(code: &str, nth: u32) -> String {
    let n: u32 = code.parse().expect("a numeric code");
    format!("{:06}", (n + 1 + nth) % 1_000_000)
}

#[tokio::test]
async fn codes_are_six_digits() {
    let (_env, _, code) = alice_waiting_for_code().await;
    assert_eq!(code.len(), 6, "{code}");
    assert!(code.bytes().all(|b| b.is_ascii_digit()), "{code}");
}

#[tokio::test]
async fn the_code_page_is_set_up_for_one_time_codes() {
    let (_env, mut browser, _) = alice_waiting_for_code().await;
    let page = browser.get("/.doorman/2fa").await;
    let input = page
        .body
        .split('<')
        .find(|tag| tag.starts_with("input") && tag.contains("name=\"code\""))
        .expect("a code input");
    assert!(input.contains("autocomplete=\"one-time-code\""), "{input}");
    assert!(input.contains("inputmode=\"numeric\""), "{input}");
}

#[tokio::test]
async fn the_page_says_how_many_attempts_are_left() {
    let (_env, mut browser, code) = alice_waiting_for_code().await;
    let page = browser.enter_code(&wrong(&code, 0)).await;
    page.assert_says(401, "4 attempts left");
    let page = browser.enter_code(&wrong(&code, 1)).await;
    page.assert_shows("3 attempts left");
}

#[tokio::test]
async fn five_wrong_codes_end_the_challenge() {
    let (_env, mut browser, code) = alice_waiting_for_code().await;
    for nth in 0..4 {
        let page = browser.enter_code(&wrong(&code, nth)).await;
        assert_eq!(page.status, 401, "{page:?}");
        assert!(!signed_in_by(&page));
    }
    let page = browser.enter_code(&wrong(&code, 4)).await;
    page.assert_says(401, "Too many wrong codes");

    let page = browser.enter_code(&code).await;
    assert!(
        !signed_in_by(&page),
        "the right code worked after five wrong ones: {page:?}"
    );
    assert_eq!(page.status, 400, "{page:?}");
    let page = browser.get("/private").await;
    assert_eq!(page.status, 302, "{page:?}");
}

#[tokio::test]
async fn the_right_code_on_the_fifth_try_still_works() {
    let (_env, mut browser, code) = alice_waiting_for_code().await;
    for nth in 0..4 {
        browser.enter_code(&wrong(&code, nth)).await;
    }
    browser.assert_signs_in_with(&code).await;
}

#[tokio::test]
async fn a_code_works_only_once() {
    let (env, mut browser) = Env::alice_past_password().await;
    let level1 = browser.session_cookie().expect("a level-1 cookie");
    let code = browser.request_code(&env, "sms").await;
    browser.assert_signs_in_with(&code).await;

    // Replayed with the session it was issued to, from a copy of the
    // browser's cookies and form token.
    // Form tokens are bound to the session, and that level-1 session ended
    // when the code signed in: the copy takes the token its own cookies get.
    let mut copy = env.browser_with_session(&level1);
    copy.set_cookie(
        CSRF_COOKIE,
        &browser.cookie(CSRF_COOKIE).expect("a CSRF cookie"),
    );
    copy.get("/.doorman/login").await;
    let page = copy.enter_code(&code).await;
    assert_ne!(
        page.status, 403,
        "the replay must get past the CSRF check: {page:?}"
    );
    assert!(!signed_in_by(&page), "a used code worked again: {page:?}");
    assert_eq!(copy.get("/private").await.status, 302);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_code_sent_twice_at_once_signs_in_only_one_of_them() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (env, mut browser) = Env::alice_past_password().await;
    let level1 = browser.session_cookie().expect("a level-1 cookie");
    let code = browser.request_code(&env, "sms").await;
    let nonce = browser.cookie(CSRF_COOKIE).expect("a CSRF cookie");
    let token = browser.csrf.clone().expect("a token");
    let body = format!("code={code}&csrf={token}");
    let head = format!(
        "POST /.doorman/2fa/verify HTTP/1.1\r\nHost: {}\r\nCookie: {SESSION_COOKIE}={level1}; {CSRF_COOKIE}={nonce}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        env.addr,
        body.len()
    );

    // Both requests are past the session check (done on the headers)
    // before either body arrives, so the two checks of the code race.
    let mut streams = Vec::new();
    for _ in 0..2 {
        let mut stream = tokio::net::TcpStream::connect(env.addr)
            .await
            .expect("connect");
        stream.write_all(head.as_bytes()).await.expect("write");
        streams.push(stream);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let answers = futures_util::future::join_all(streams.into_iter().map(|mut stream| {
        let body = body.clone();
        tokio::spawn(async move {
            stream.write_all(body.as_bytes()).await.expect("write");
            let mut bytes = Vec::new();
            stream.read_to_end(&mut bytes).await.expect("read");
            parse_raw_response(&String::from_utf8_lossy(&bytes))
        })
    }))
    .await;
    let wins = answers
        .iter()
        .map(|answer| answer.as_ref().expect("an answer"))
        .filter(|answer| {
            answer.status == 303
                && answer
                    .header_values("set-cookie")
                    .iter()
                    .any(|c| c.starts_with("doorman_session=") && !c.contains("Max-Age=0"))
        })
        .count();
    assert_eq!(wins, 1, "{answers:?}");
}

#[tokio::test]
async fn a_code_expires_after_five_minutes() {
    let (env, mut browser, code) = alice_waiting_for_code().await;
    env.advance(Duration::from_secs(5 * 60));
    let page = browser.enter_code(&code).await;
    assert!(!signed_in_by(&page), "an expired code worked: {page:?}");
    page.assert_says(401, "expired");
}

#[tokio::test]
async fn a_code_still_works_just_before_five_minutes() {
    let (env, mut browser, code) = alice_waiting_for_code().await;
    env.advance(Duration::from_secs(5 * 60 - 1));
    browser.assert_signs_in_with(&code).await;
}

#[tokio::test]
async fn an_immediate_resend_is_refused_and_the_page_says_how_long_to_wait() {
    let (env, mut browser, _) = alice_waiting_for_code().await;
    let page = browser.resend_code("sms").await;
    page.assert_says(429, "wait 30 seconds");
    env.advance(Duration::from_secs(10));
    let page = browser.resend_code("sms").await;
    page.assert_says(429, "wait 20 seconds");
    assert_eq!(
        env.webhook.deliveries().len(),
        1,
        "a refused resend was delivered"
    );
}

#[tokio::test]
async fn a_resend_after_the_cooldown_replaces_the_previous_code() {
    let (env, mut browser, first) = alice_waiting_for_code().await;
    env.advance(COOLDOWN);
    let page = browser.resend_code("sms").await;
    assert_eq!(page.status, 303, "{page:?}");
    assert_eq!(env.webhook.deliveries().len(), 2);
    let second = env.webhook.last_code().expect("a second code");
    browser.get("/.doorman/2fa").await;

    if first != second {
        let page = browser.enter_code(&first).await;
        assert!(
            !signed_in_by(&page),
            "the replaced code still worked: {page:?}"
        );
        assert_eq!(page.status, 401, "{page:?}");
    }
    browser.assert_signs_in_with(&second).await;
}

#[tokio::test]
async fn call_me_instead_delivers_the_code_by_voice() {
    let (env, mut browser, _) = alice_waiting_for_code().await;
    let page = browser.get("/.doorman/2fa").await;
    page.assert_shows("Call me instead");
    env.advance(COOLDOWN);
    let page = browser.resend_code("voice").await;
    assert_eq!(page.status, 303, "{page:?}");
    let delivery = env.webhook.deliveries().pop().expect("a delivery");
    assert_eq!(delivery.json["channel"], "voice");
    assert_eq!(delivery.json["to"], "+14155550100");
    let code = delivery.json["code"].as_str().expect("a code").to_owned();

    let page = browser.get("/.doorman/2fa").await;
    page.assert_shows("voice call");
    assert!(signed_in_by(&browser.enter_code(&code).await));
}

#[tokio::test]
async fn cancel_drops_the_challenge() {
    let (_env, mut browser, code) = alice_waiting_for_code().await;
    let page = browser.post("/.doorman/2fa/cancel", &[]).await;
    assert_eq!(page.status, 303, "{page:?}");
    assert_eq!(page.location(), Some("/.doorman/2fa"));

    let page = browser.get("/.doorman/2fa").await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("How should we send"),
        "back to the choice: {}",
        page.body
    );
    let page = browser.enter_code(&code).await;
    assert!(!signed_in_by(&page), "a cancelled code worked: {page:?}");
    assert_eq!(page.status, 400, "{page:?}");
}

/// Doorman's answer to a send when the webhook does not take the code.
async fn send_with_webhook(mode: Mode) -> Page {
    let env = Env::start().await;
    env.webhook.set_mode(mode);
    let mut browser = env.past_password("alice").await;
    browser.get("/.doorman/2fa").await;
    let page = browser.send_code("sms").await;
    assert_eq!(
        env.webhook.deliveries().len(),
        1,
        "the webhook was not called"
    );
    page
}

fn assert_could_not_send(page: &Page) {
    page.assert_says(502, "could not send the code");
    assert!(
        !page.body.contains("We sent"),
        "a failure shown as success: {}",
        page.body
    );
    assert!(page.location().is_none(), "{page:?}");
}

#[tokio::test]
async fn a_webhook_that_answers_500_is_a_failure_shown_as_such() {
    let page = send_with_webhook(Mode::Fail(500)).await;
    assert_could_not_send(&page);
}

#[tokio::test]
async fn a_webhook_that_never_answers_is_a_failure_shown_as_such() {
    let page = send_with_webhook(Mode::Hang).await;
    assert_could_not_send(&page);
}

#[tokio::test]
async fn after_a_failed_send_no_code_is_waiting() {
    let env = Env::start().await;
    env.webhook.set_mode(Mode::Fail(503));
    let mut browser = env.past_password("alice").await;
    browser.get("/.doorman/2fa").await;
    browser.send_code("sms").await;
    let code = env
        .webhook
        .last_code()
        .expect("the code doorman tried to send");
    let page = browser.enter_code(&code).await;
    assert!(!signed_in_by(&page), "an undelivered code worked: {page:?}");

    // Nothing was sent, so there is no cooldown to wait out.
    env.webhook.set_mode(Mode::Accept);
    let page = browser.send_code("sms").await;
    assert_eq!(page.status, 303, "{page:?}");
}

#[tokio::test]
async fn the_webhook_body_has_exactly_the_contract_fields() {
    let env = Env::start().await;
    let now = env.now();
    let (_, code) = waiting_for_code(&env).await;
    let delivery = env.webhook.deliveries().pop().expect("a delivery");

    assert_eq!(delivery.content_type.as_deref(), Some("application/json"));
    let body = delivery.json.as_object().expect("a JSON object");
    let mut keys: Vec<&str> = body.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        ["channel", "code", "expires_at", "message", "to", "user"]
    );
    assert_eq!(body["channel"], "sms");
    assert_eq!(body["to"], "+14155550100");
    assert_eq!(body["user"], "alice");
    assert_eq!(body["code"], code.as_str());

    let expires_at = body["expires_at"].as_str().expect("a string");
    assert!(expires_at.ends_with('Z'), "{expires_at}");
    let expires = humantime::parse_rfc3339(expires_at).expect("RFC 3339");
    let expires = expires
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert_eq!(expires, now + 5 * 60, "{expires_at}");
}

#[tokio::test]
async fn the_webhook_body_is_signed_with_the_shared_secret() {
    let env = Env::start().await;
    waiting_for_code(&env).await;
    let delivery = env.webhook.deliveries().pop().expect("a delivery");
    let signature = delivery.signature.expect("an X-Doorman-Signature header");
    let hex = signature.strip_prefix("sha256=").expect("sha256= prefix");

    let expected = hook_signature(&delivery.body);
    assert_eq!(hex, expected);
}

#[tokio::test]
async fn a_user_without_a_phone_is_told_there_is_no_second_factor() {
    let env = Env::start().await;
    let mut browser = env.past_password("nophone").await;
    let page = browser.get("/.doorman/2fa").await;
    page.assert_says(403, "No second factor");

    let page = browser.send_code("sms").await;
    assert_eq!(page.status, 403, "{page:?}");
    assert!(env.webhook.deliveries().is_empty());
}

#[tokio::test]
async fn a_failed_resend_says_so_and_keeps_the_earlier_code() {
    let (env, mut browser, code) = alice_waiting_for_code().await;
    env.advance(COOLDOWN);
    env.webhook.set_mode(Mode::Fail(500));
    let page = browser.resend_code("voice").await;
    page.assert_says(502, "could not send the code");
    assert_eq!(
        env.webhook.deliveries().len(),
        2,
        "the resend was attempted"
    );

    browser.assert_signs_in_with(&code).await;
}
