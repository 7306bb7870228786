//! Push approval with number matching, through the ntfy emulation and the
//! webhook: the publish, the waiting page, and every way an answer link
//! can be used or refused.

use crate::support::factor::{config_problems, to_code_page};
use crate::support::ntfy::{self, Ntfy};
/// Kept here too for the tests that import it from `push`.
pub use crate::support::signed_in_by;
use crate::support::webhook::hook_signature;
use crate::support::webhook::Mode;
use crate::support::{password_hash, Browser, Env, Page, Setup};
use std::time::Duration;

pub const TOPIC: &str = "alice-7f3b9c2e41d0";

/// Users: alice has an ntfy topic and a phone, bob a phone only.
pub fn users() -> String {
    format!(
        r#"users:
  alice:
    password: "{hash}"
    phone: "+14155550100"
    ntfy_topic: "{TOPIC}"
  bob:
    password: "{hash}"
    phone: "+14155550199"
  carol:
    password: "{hash}"
    ntfy_topic: "carol-0d5e11a7"
"#,
        hash = password_hash()
    )
}

/// doorman with these `channels` lines, the provider `blocks` and a
/// signed `webhook` provider at the env's receiver; these users, and
/// `public_url` for the answer links.
pub async fn push_env(channels: &str, blocks: &[String]) -> Env {
    let blocks: String = blocks.iter().map(|block| format!("  {block}\n")).collect();
    Env::with_delivery(|webhook| Setup {
        delivery: Some(format!(
            "channels:\n{channels}providers:\n{blocks}  webhook: {{ url: \"{webhook}\", secret: \"hook-secret\", timeout: \"2s\" }}\n"
        )),
        users: users(),
        extra: "public_url: \"https://app.example.com\"\n".into(),
        ..Setup::default()
    })
    .await
}

/// doorman with `push` on ntfy (`ntfy`) and `sms` on the env's webhook.
pub async fn with_ntfy(ntfy: &Ntfy) -> Env {
    push_env(
        "  push: { provider: ntfy }\n  sms: { provider: webhook }\n",
        &[ntfy.config()],
    )
    .await
}

/// The number the waiting page tells the person to tap.
pub fn shown_number(page: &Page) -> String {
    let marker = "id=\"push-number\">";
    let start = page.body.find(marker).expect("a number on the page") + marker.len();
    page.body[start..start + 2].to_owned()
}

/// Password, then "approve on my phone": the browser is on the waiting
/// page, whose number is returned.
pub async fn waiting_for_push(browser: &mut Browser, user: &str) -> String {
    shown_number(&to_code_page(browser, user, "push").await)
}

/// ntfy, doorman on it, and a browser on `user`'s waiting page, with the
/// number the page shows.
pub async fn ntfy_waiting(user: &str) -> (Ntfy, Env, Browser, String) {
    let ntfy = Ntfy::start().await;
    let env = with_ntfy(&ntfy).await;
    let mut browser = env.browser();
    let number = waiting_for_push(&mut browser, user).await;
    (ntfy, env, browser, number)
}

/// ntfy, doorman on it, and a browser past `user`'s password.
pub async fn ntfy_past_password(user: &str) -> (Ntfy, Env, Browser) {
    let ntfy = Ntfy::start().await;
    let env = with_ntfy(&ntfy).await;
    let browser = env.past_password(user).await;
    (ntfy, env, browser)
}

/// `GET 2fa/push/status` as the page's script asks it.
pub async fn status(browser: &Browser, wait: bool) -> serde_json::Value {
    let query = if wait { "?wait=1" } else { "" };
    let path = format!("/.doorman/2fa/push/status{query}");
    let response = browser.get_plain(&path, &[]).await;
    assert_eq!(response.status(), 200);
    response.json().await.expect("JSON")
}

#[tokio::test]
async fn the_notification_carries_three_distinct_numbers_and_the_page_shows_one_of_them() {
    let (ntfy, _env, _browser, number) = ntfy_waiting("alice").await;

    let publishes = ntfy.publishes();
    assert_eq!(publishes.len(), 1);
    let publish = &publishes[0];
    assert_eq!(publish["topic"], TOPIC);
    assert_eq!(publish["title"], "Sign-in to Example");
    assert!(
        publish["message"]
            .as_str()
            .unwrap()
            .starts_with("Sign-in to Example from 127.0.0.1"),
        "{publish}"
    );
    let labels: Vec<String> = ntfy.actions().into_iter().map(|(label, _)| label).collect();
    assert_eq!(labels.len(), 3, "{labels:?}");
    assert!(labels
        .iter()
        .all(|l| l.len() == 2 && l.bytes().all(|b| b.is_ascii_digit())));
    assert!(labels[0] != labels[1] && labels[1] != labels[2] && labels[0] != labels[2]);
    assert!(labels.contains(&number), "{number} not in {labels:?}");
    for (_, url) in ntfy.actions() {
        assert!(
            url.starts_with("https://app.example.com/.doorman/2fa/push/answer/"),
            "{url}"
        );
    }
    for action in publish["actions"].as_array().unwrap() {
        assert_eq!(action["action"], "http");
        assert_eq!(action["method"], "POST");
    }
}

#[tokio::test]
async fn tapping_the_shown_number_signs_the_waiting_browser_in() {
    let (ntfy, env, mut browser, number) = ntfy_waiting("alice").await;
    assert_eq!(status(&browser, false).await["state"], "waiting");

    let answer = ntfy::press(&env, &ntfy.action_url(&number)).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert!(answer.body.contains("approved"), "{answer:?}");

    assert_eq!(status(&browser, false).await["state"], "approved");
    let page = browser.get("/.doorman/2fa").await;
    assert!(signed_in_by(&page), "{page:?}");
    let page = browser.get("/private").await;
    assert_eq!(page.status, 200, "{page:?}");
    assert_eq!(
        page.echo()["headers"]["remote-user"],
        serde_json::json!(["alice"])
    );
}

#[tokio::test]
async fn the_status_long_poll_answers_as_soon_as_the_push_is_approved() {
    let (ntfy, env, browser, number) = ntfy_waiting("alice").await;
    let url = ntfy.action_url(&number);
    let started = std::time::Instant::now();
    let (state, _) = tokio::join!(status(&browser, true), async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        ntfy::press(&env, &url).await
    });
    assert_eq!(state["state"], "approved");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the long poll waited its full time"
    );
}

#[tokio::test]
async fn a_wrong_number_ends_the_challenge_and_the_right_one_no_longer_works() {
    let (ntfy, env, mut browser, number) = ntfy_waiting("alice").await;
    let wrong = ntfy.other_label(&number);

    let answer = ntfy::press(&env, &ntfy.action_url(&wrong)).await;
    assert_eq!(answer.status, 403, "{answer:?}");
    assert_eq!(status(&browser, false).await["state"], "denied");
    let answer = ntfy::press(&env, &ntfy.action_url(&number)).await;
    assert_eq!(answer.status, 410, "{answer:?}");

    let page = browser.get("/.doorman/2fa").await;
    assert_eq!(page.status, 401, "{page:?}");
    assert!(!signed_in_by(&page));
    page.assert_shows("denied on your phone");
    assert_eq!(browser.get("/private").await.status, 302);
}

#[tokio::test]
async fn an_answer_link_works_once() {
    let (ntfy, env, _browser, number) = ntfy_waiting("alice").await;
    let url = ntfy.action_url(&number);
    assert_eq!(ntfy::press(&env, &url).await.status, 200);
    assert_eq!(ntfy::press(&env, &url).await.status, 410);
}

#[tokio::test]
async fn an_answer_link_past_the_challenge_lifetime_is_refused() {
    let (ntfy, env, mut browser, number) = ntfy_waiting("alice").await;
    env.advance(Duration::from_secs(301));
    assert_eq!(status(&browser, false).await["state"], "expired");
    let answer = ntfy::press(&env, &ntfy.action_url(&number)).await;
    assert_eq!(answer.status, 410, "{answer:?}");
    let page = browser.get("/.doorman/2fa").await;
    assert!(!signed_in_by(&page), "{page:?}");
    page.assert_shows("expired");
}

#[tokio::test]
async fn after_send_again_the_first_notifications_links_are_dead() {
    let (ntfy, env, mut browser, number) = ntfy_waiting("alice").await;
    let old = ntfy.action_url(&number);
    env.advance(Duration::from_secs(31));
    let page = browser.resend_code("push").await;
    assert_eq!(page.status, 303, "{page:?}");
    assert_eq!(ntfy.publishes().len(), 2);
    assert_eq!(ntfy::press(&env, &old).await.status, 410);
    let page = browser.get("/.doorman/2fa").await;
    let number = shown_number(&page);
    assert_eq!(
        ntfy::press(&env, &ntfy.action_url(&number)).await.status,
        200
    );
    assert!(signed_in_by(&browser.get("/.doorman/2fa").await));
}

#[tokio::test]
async fn a_link_answers_only_its_own_sessions_push() {
    let (ntfy, env, victim, number) = ntfy_waiting("alice").await;
    let victims_link = ntfy.action_url(&number);
    env.advance(Duration::from_secs(31));
    let mut other = env.browser();
    waiting_for_push(&mut other, "alice").await;
    assert_eq!(ntfy::press(&env, &victims_link).await.status, 200);
    assert_eq!(status(&victim, false).await["state"], "approved");
    assert_eq!(status(&other, false).await["state"], "waiting");
}

#[tokio::test]
async fn forged_or_garbled_links_are_refused_and_get_is_not_an_answer() {
    let (ntfy, env, _browser, number) = ntfy_waiting("alice").await;
    let url = ntfy.action_url(&number);
    let path = ntfy::path_of(&url);
    let mut forged = path.clone();
    let last = forged.pop().unwrap();
    forged.push(if last == '0' { '1' } else { '0' });
    let client = crate::support::api_client();
    let answer =
        crate::support::into_page(client.post(env.url(&forged)).send().await.unwrap()).await;
    assert_eq!(answer.status, 404, "{answer:?}");
    let answer = crate::support::into_page(client.get(env.url(&path)).send().await.unwrap()).await;
    assert_eq!(answer.status, 405, "{answer:?}");
    // Neither used the real link up.
    assert_eq!(ntfy::press(&env, &url).await.status, 200);
}

#[tokio::test]
async fn only_the_answer_links_skip_the_csrf_check() {
    let (_ntfy, _env, mut browser, _) = ntfy_waiting("alice").await;
    for path in [
        "/.doorman/2fa/send",
        "/.doorman/2fa/resend",
        "/.doorman/2fa/verify",
        "/.doorman/2fa/cancel",
        "/.doorman/totp/enroll",
        "/.doorman/2fa/push/status",
    ] {
        let page = browser.post_exact(path, &[("channel", "push")]).await;
        assert_eq!(page.status, 403, "{path}: {page:?}");
    }
}

#[tokio::test]
async fn the_waiting_page_works_without_javascript_and_offers_other_ways() {
    let (_ntfy, _env, mut browser, _) = ntfy_waiting("alice").await;
    let page = browser.get("/.doorman/2fa").await;
    page.assert_shows("<noscript><meta http-equiv=\"refresh\"");
    page.assert_shows(">5:00</span> left");
    page.assert_shows("Send again");
    page.assert_shows("value=\"sms\"");
    let script = browser.get("/.doorman/static/push.js").await;
    assert_eq!(script.status, 200);
    assert!(script.body.contains("wait=1"));
    let csp = page.header("content-security-policy").unwrap_or_default();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
}

#[tokio::test]
async fn a_failed_publish_is_never_shown_as_sent() {
    let ntfy = Ntfy::start().await;
    let env = with_ntfy(&ntfy).await;
    for status in [500, 401, 429] {
        ntfy.fail_with(status);
        let mut browser = env.past_password("alice").await;
        let page = browser.ask_for_code("push").await;
        assert_ne!(page.status, 303, "{status}: {page:?}");
        assert!(!page.body.contains("push-number"), "{}", page.body);
        env.advance(Duration::from_secs(31));
    }
}

#[tokio::test]
async fn push_is_offered_only_to_users_with_a_topic() {
    let (ntfy, _env, mut browser) = ntfy_past_password("bob").await;
    let page = browser.get("/.doorman/2fa").await;
    assert!(!page.body.contains("value=\"push\""), "{}", page.body);
    let page = browser.send_code("push").await;
    assert_eq!(page.status, 400, "{page:?}");
    assert!(ntfy.publishes().is_empty());
}

/// The URL of the action labelled `number` in a push webhook body.
fn webhook_action(body: &serde_json::Value, number: &str) -> String {
    body["actions"]
        .as_array()
        .expect("actions")
        .iter()
        .find(|action| action["label"] == number)
        .and_then(|action| action["url"].as_str())
        .expect("an action for the shown number")
        .to_owned()
}

/// doorman with `push` on the webhook provider.
async fn with_push_webhook() -> Env {
    push_env("  push: { provider: webhook }\n", &[]).await
}

#[tokio::test]
async fn the_push_webhook_gets_a_signed_body_with_numbered_links_and_a_deny_link() {
    let env = with_push_webhook().await;
    let mut browser = env.browser();
    let number = waiting_for_push(&mut browser, "bob").await;
    let delivery = env.webhook.deliveries().pop().expect("a delivery");
    let expected = hook_signature(&delivery.body);
    assert_eq!(
        delivery.signature.as_deref(),
        Some(format!("sha256={expected}").as_str())
    );
    let body = &delivery.json;
    assert_eq!(body["channel"], "push");
    assert_eq!(body["user"], "bob");
    assert_eq!(body["title"], "Sign-in to Example");
    assert!(body["expires_at"].as_str().unwrap().ends_with('Z'));
    let actions = body["actions"].as_array().unwrap();
    assert_eq!(actions.len(), 3);
    let url = actions
        .iter()
        .find(|a| a["label"] == number.as_str())
        .and_then(|a| a["url"].as_str())
        .expect("the shown number's link");
    assert!(body["deny_url"]
        .as_str()
        .unwrap()
        .starts_with("https://app.example.com/.doorman/2fa/push/answer/"));
    assert!(
        body.get("number").is_none(),
        "the body must not say which number is right"
    );
    assert_eq!(ntfy::press(&env, url).await.status, 200);
    assert!(signed_in_by(&browser.get("/.doorman/2fa").await));
}

#[tokio::test]
async fn deny_ends_the_challenge() {
    let env = with_push_webhook().await;
    let mut browser = env.browser();
    let number = waiting_for_push(&mut browser, "bob").await;
    let body = env.webhook.deliveries().pop().unwrap().json;
    let deny = body["deny_url"].as_str().unwrap().to_owned();
    let answer = ntfy::press(&env, &deny).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert!(answer.body.contains("denied"));
    assert_eq!(status(&browser, false).await["state"], "denied");
    let right = webhook_action(&body, &number);
    assert_eq!(ntfy::press(&env, &right).await.status, 410);
    assert!(!signed_in_by(&browser.get("/.doorman/2fa").await));
}

#[tokio::test]
async fn a_failing_push_webhook_is_not_shown_as_sent() {
    let env = with_push_webhook().await;
    env.webhook.set_mode(Mode::Fail(500));
    let mut browser = env.past_password("bob").await;
    let page = browser.ask_for_code("push").await;
    page.assert_says(502, "could not send");
}

#[test]
fn push_and_totp_config_problems_are_reported_with_their_keys() {
    let yaml = r#"channels:
  push: { provider: ntfy, fallback: [log] }
  sms: { provider: ntfy }
  totp: { provider: webhook }
providers:
  log: {}
  ntfy: { token: "tk_x", username: "u" }
  duo: { integration_key: "DI..." }
"#;
    let problems = config_problems(&users(), yaml);
    for expected in [
        "channels.push.fallback[0]: `log` cannot send push approvals; use ntfy, duo or webhook",
        "channels.sms.provider: `ntfy` sends push approvals only; use it under channels.push",
        "channels.totp.provider: an authenticator app needs no provider; write `totp: {}`",
        "providers.ntfy.token: set `token` or `username` and `password`, not both",
        "providers.duo.base_url: required",
    ] {
        assert!(
            problems.contains(expected),
            "{expected}\nnot in\n{problems}"
        );
    }
}

#[test]
fn push_through_ntfy_needs_a_public_url() {
    let yaml = "channels:\n  push: { provider: ntfy }\nproviders:\n  ntfy: { base_url: \"https://ntfy.example.com\" }\n";
    let problems = config_problems(&users(), yaml);
    assert_eq!(
        problems,
        "public_url: required for channels.push with `ntfy`: the notification's links point there"
    );
}

#[tokio::test]
async fn wrong_numbers_and_denials_are_logged_as_possible_attacks_without_secrets() {
    crate::support::logs::capture();
    let (ntfy, env, _browser, number) = ntfy_waiting("carol").await;
    let wrong_url = ntfy.action_url(&ntfy.other_label(&number));
    assert_eq!(ntfy::press(&env, &wrong_url).await.status, 403);

    let log = crate::support::logs::text();
    let warning = log
        .lines()
        .find(|line| line.contains("carol") && line.contains("possible attack"))
        .unwrap_or_else(|| panic!("no warning for carol in:\n{log}"));
    assert!(warning.contains("WARN"), "{warning}");
    assert!(warning.contains("wrong_number"), "{warning}");
    assert!(!log.contains(ntfy::TOKEN), "the ntfy token was logged");
    for (_, url) in ntfy.actions() {
        let token = url.rsplit('/').next().unwrap();
        assert!(!log.contains(token), "an answer token was logged");
    }
}

#[tokio::test]
async fn channels_are_offered_in_the_order_the_config_lists_them() {
    let (_ntfy, _env, mut browser) = ntfy_past_password("alice").await;
    let page = browser.get("/.doorman/2fa").await;
    let push = page.body.find("value=\"push\"").expect("push offered");
    let sms = page.body.find("value=\"sms\"").expect("sms offered");
    assert!(
        push < sms,
        "push is listed first in the config:\n{}",
        page.body
    );
}

#[tokio::test]
async fn when_ntfy_fails_the_push_falls_back_to_the_webhook() {
    let ntfy = Ntfy::start().await;
    ntfy.fail_with(503);
    let env = push_env(
        "  push: { provider: ntfy, fallback: [webhook] }\n",
        &[ntfy.config()],
    )
    .await;
    let mut browser = env.browser();
    let number = waiting_for_push(&mut browser, "alice").await;
    assert!(ntfy.publishes().is_empty());
    let body = env
        .webhook
        .deliveries()
        .pop()
        .expect("the webhook got the push")
        .json;
    assert_eq!(body["channel"], "push");
    let url = webhook_action(&body, &number);
    assert_eq!(ntfy::press(&env, &url).await.status, 200);
    assert!(signed_in_by(&browser.get("/.doorman/2fa").await));
}

#[tokio::test]
async fn at_most_three_push_prompts_in_ten_minutes() {
    let (ntfy, env, mut browser, _) = ntfy_waiting("alice").await;
    for _ in 0..2 {
        env.advance(Duration::from_secs(31));
        let page = browser.resend_code("push").await;
        assert_eq!(page.status, 303, "{page:?}");
    }
    env.advance(Duration::from_secs(31));
    let page = browser.resend_code("push").await;
    page.assert_says(429, "Try again in 9 minutes");
    assert_eq!(
        ntfy.publishes().len(),
        3,
        "the fourth prompt never went out"
    );
    let refused = env.audited("send_refused");
    assert_eq!(refused[0]["reason"], "push_prompts");

    // A code by SMS is another matter.
    let page = browser.send_code("sms").await;
    assert_eq!(page.status, 303, "{page:?}");
    env.advance(Duration::from_secs(9 * 60));
    let page = browser.resend_code("push").await;
    assert_eq!(page.status, 303, "{page:?}");
}
