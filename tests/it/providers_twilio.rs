//! Twilio Verify against its emulation: the exact requests, and what each
//! documented answer means for the person signing in.
//! What every Verify provider does alike is in `verify.rs`.

use crate::support::factor::{assert_no_own_code, assert_post_to};
use crate::support::fake_api::FORM;
use crate::support::signin::{ask_for_code, call_me_instead, code_sent, enter_shown_code};
use crate::support::twilio::{TwilioVerify, ACCOUNT_SID, AUTH_TOKEN, SERVICE_SID};
use crate::support::{holds_within, Env};
use std::time::Duration;

async fn env_with(twilio: &TwilioVerify, channels: &str, extra: &str) -> Env {
    Env::with_providers(channels, &[twilio.config()], extra).await
}

const SMS_AND_VOICE: &str = "  sms: { provider: twilio }\n  voice: { provider: twilio }";

#[tokio::test]
async fn a_sign_in_by_twilio_sms_sends_and_checks_the_documented_requests() {
    let twilio = TwilioVerify::start().await;
    let env = env_with(&twilio, SMS_AND_VOICE, "").await;
    let (mut browser, page) = ask_for_code(&env, "sms").await;
    assert_eq!(page.status, 303, "{page:?}");

    let start = &twilio.api.requests()[0];
    assert_post_to(start, &format!("/v2/Services/{SERVICE_SID}/Verifications"));
    assert_eq!(
        start.basic_auth(),
        Some(format!("{ACCOUNT_SID}:{AUTH_TOKEN}"))
    );
    assert_eq!(start.header("content-type"), Some(FORM));
    assert_eq!(start.form_keys(), ["Channel", "Locale", "To"]);
    assert_eq!(start.form()["To"], "+14155550100");
    assert_eq!(start.form()["Channel"], "sms");
    assert_no_own_code(&env);

    let code = twilio.code_for("+14155550100").expect("a verification");
    enter_shown_code(&mut browser, &code).await;
    let check = &twilio.api.requests()[1];
    assert_eq!(
        check.path,
        format!("/v2/Services/{SERVICE_SID}/VerificationCheck")
    );
    assert_eq!(check.form_keys(), ["Code", "VerificationSid"]);
    assert_eq!(check.form()["Code"], code);
    assert_eq!(browser.get("/app").await.status, 200);
}

#[tokio::test]
async fn call_me_instead_starts_a_twilio_call_and_cancels_the_sms_verification() {
    let twilio = TwilioVerify::start().await;
    let env = env_with(&twilio, SMS_AND_VOICE, "").await;
    let mut browser = code_sent(&env, "sms").await;
    call_me_instead(&env, &mut browser).await;
    let start = &twilio.api.requests()[1];
    assert_eq!(start.form()["Channel"], "call");
    let cancelled = holds_within(Duration::from_secs(2), async || {
        twilio
            .api
            .requests()
            .iter()
            .any(|r| r.form().get("Status").map(String::as_str) == Some("canceled"))
    })
    .await;
    assert!(cancelled, "the SMS verification was not cancelled");
    let code = twilio.code_for("+14155550100").unwrap();
    assert_eq!(browser.enter_code(&code).await.status, 303);
}

#[tokio::test]
async fn twilio_errors_are_told_as_what_the_person_can_do() {
    let cases = [
        (400, 60200, 422, "cannot receive codes", false),
        (403, 60605, 422, "cannot receive codes", false),
        (429, 60203, 429, "Try again in 10 minutes", true),
        (402, 0, 502, "could not send the code", true),
        (401, 20003, 502, "could not send the code", true),
    ];
    for (status, code, page_status, text, tries_fallback) in cases {
        let twilio = TwilioVerify::start().await;
        let env = env_with(
            &twilio,
            "  sms: { provider: twilio, fallback: [webhook] }",
            "",
        )
        .await;
        env.webhook
            .set_mode(crate::support::webhook::Mode::Fail(503));
        twilio.fail_starts(status, code);
        let (_, page) = ask_for_code(&env, "sms").await;
        let expected_status = if tries_fallback && page_status == 429 {
            502
        } else {
            page_status
        };
        assert_eq!(
            page.status, expected_status,
            "{status}/{code}: {}",
            page.body
        );
        if expected_status == page_status {
            assert!(page.body.contains(text), "{status}/{code}: {}", page.body);
        }
        assert_eq!(
            !env.webhook.deliveries().is_empty(),
            tries_fallback,
            "{status}/{code}: fallback"
        );
        assert!(!page.body.contains("We sent"), "{status}/{code}");
    }
}

#[tokio::test]
async fn throttling_everywhere_says_when_to_try_again() {
    let twilio = TwilioVerify::start().await;
    let env = env_with(&twilio, SMS_AND_VOICE, "").await;
    twilio.fail_starts(429, 60203);
    let (_, page) = ask_for_code(&env, "sms").await;
    assert_eq!(page.status, 429);
    page.assert_shows("Too many codes requested. Try again in 10 minutes.");
}

#[tokio::test]
async fn allowed_countries_refuses_other_numbers_before_any_provider_is_called() {
    let twilio = TwilioVerify::start().await;
    let env = env_with(&twilio, SMS_AND_VOICE, "allowed_countries: [\"GB\"]").await;
    let (_, page) = ask_for_code(&env, "sms").await;
    assert_eq!(page.status, 403);
    page.assert_shows("cannot receive codes");
    assert!(twilio.api.requests().is_empty());
}
