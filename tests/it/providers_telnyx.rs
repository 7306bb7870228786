//! Telnyx Verify against its emulation: the exact requests, and what each
//! documented answer means for the person signing in.
//! What every Verify provider does alike is in `verify.rs`.

use crate::support::factor::{assert_no_own_code, assert_post_to};
use crate::support::signin::{call_me_instead, enter_shown_code, env_asking};
use crate::support::sms::code_in;
use crate::support::telnyx::{error, Telnyx, API_KEY, FROM, VERIFY_PROFILE_ID};
use crate::support::{Browser, Env};
use serde_json::json;

const SMS_AND_VOICE: &str = "  sms: { provider: telnyx }\n  voice: { provider: telnyx }";
const ALICE: &str = "+14155550100";

/// doorman with Telnyx Verify on both channels, alice on the code page of
/// an SMS code: the env and her browser.
async fn code_sent(telnyx: &Telnyx) -> (Env, Browser) {
    let (env, mut browser, _) =
        env_asking(SMS_AND_VOICE, &[telnyx.verify_config()], "", "sms").await;
    browser.get("/.doorman/2fa").await;
    (env, browser)
}

#[tokio::test]
async fn a_sign_in_by_telnyx_sms_sends_and_checks_the_documented_requests() {
    let telnyx = Telnyx::start().await;
    let (env, mut browser, page) =
        env_asking(SMS_AND_VOICE, &[telnyx.verify_config()], "", "sms").await;
    assert_eq!(page.status, 303, "{page:?}");

    let start = &telnyx.api.requests()[0];
    assert_post_to(start, "/v2/verifications/sms");
    assert_eq!(start.bearer(), Some(API_KEY));
    assert_eq!(start.header("content-type"), Some("application/json"));
    assert_eq!(
        start.json(),
        json!({ "phone_number": ALICE, "verify_profile_id": VERIFY_PROFILE_ID, "timeout_secs": 300 })
    );
    assert_no_own_code(&env);

    let code = telnyx.code_for(ALICE).expect("a verification");
    enter_shown_code(&mut browser, &code).await;
    let check = &telnyx.api.requests()[1];
    assert_eq!(check.method, "POST");
    // The `+` travels as `%2B`: a bare `+` can be read as a space.
    assert_eq!(
        check.path,
        "/v2/verifications/by_phone_number/%2B14155550100/actions/verify"
    );
    assert_eq!(check.bearer(), Some(API_KEY));
    assert_eq!(check.header("content-type"), Some("application/json"));
    assert_eq!(
        check.json(),
        json!({ "code": code, "verify_profile_id": VERIFY_PROFILE_ID })
    );
    assert_eq!(browser.get("/app").await.status, 200);
}

#[tokio::test]
async fn the_verification_lasts_as_long_as_doormans_codes() {
    let telnyx = Telnyx::start().await;
    let (_env, _, page) = env_asking(
        SMS_AND_VOICE,
        &[telnyx.verify_config()],
        "codes: { lifetime: \"10m\" }",
        "sms",
    )
    .await;
    assert_eq!(page.status, 303, "{page:?}");
    assert_eq!(telnyx.verifications()[0].timeout_secs, 600);
}

#[tokio::test]
async fn a_check_telnyx_cannot_answer_does_not_count_as_an_attempt() {
    let telnyx = Telnyx::start().await;
    let (_env, mut browser) = code_sent(&telnyx).await;
    telnyx.fail_checks(error(503, None, "Service Unavailable"));
    let page = browser.enter_code("000000").await;
    page.assert_says(502, "We could not check the code right now");
    telnyx.answer_normally();
    let page = browser.enter_code("000000").await;
    page.assert_shows("4 attempts left");
    let code = telnyx.code_for(ALICE).expect("still pending");
    assert_eq!(browser.enter_code(&code).await.status, 303);
}

#[tokio::test]
async fn call_me_instead_starts_a_telnyx_call_verification() {
    let telnyx = Telnyx::start().await;
    let (env, mut browser) = code_sent(&telnyx).await;
    call_me_instead(&env, &mut browser).await;

    let call = &telnyx.api.requests()[1];
    assert_eq!(call.path, "/v2/verifications/call");
    assert_eq!(
        call.json(),
        json!({ "phone_number": ALICE, "verify_profile_id": VERIFY_PROFILE_ID, "timeout_secs": 300 })
    );
    let kinds: Vec<String> = telnyx.verifications().into_iter().map(|v| v.kind).collect();
    assert_eq!(kinds, ["sms", "call"]);
    let code = telnyx.code_for(ALICE).expect("the call's code");
    assert_eq!(browser.enter_code(&code).await.status, 303);
    // Telnyx has no cancel: the SMS verification just lapses.
    let paths: Vec<String> = telnyx.api.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(
        paths,
        [
            "/v2/verifications/sms",
            "/v2/verifications/call",
            "/v2/verifications/by_phone_number/%2B14155550100/actions/verify"
        ]
    );
}

#[tokio::test]
async fn when_telnyx_verify_is_down_telnyx_messages_delivers_and_doorman_checks() {
    let telnyx = Telnyx::start().await;
    telnyx.fail_starts(error(503, None, "Service Unavailable"));
    let (_env, mut browser, page) = env_asking(
        "  sms: { provider: telnyx, fallback: [telnyx_sms] }",
        &[telnyx.verify_config(), telnyx.sms_config()],
        "",
        "sms",
    )
    .await;
    assert_eq!(page.status, 303, "{page:?}");
    let messages = telnyx.messages();
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert_eq!(messages[0].to, ALICE);
    assert_eq!(messages[0].from.as_deref(), Some(FROM));
    let code = code_in(&messages[0].text);
    browser.get("/.doorman/2fa").await;
    assert_eq!(browser.enter_code(&code).await.status, 303);
    let paths: Vec<String> = telnyx.api.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/v2/verifications/sms", "/v2/messages"]);
}

#[tokio::test]
async fn telnyx_errors_are_told_as_what_the_person_can_do() {
    // (HTTP status, Telnyx code, Retry-After, page status, page text, next provider tried)
    let cases = [
        (
            401,
            Some("10009"),
            None,
            502,
            "We could not send the code",
            true,
        ),
        (
            429,
            Some("10011"),
            None,
            429,
            "Try again in 10 minutes",
            true,
        ),
        (429, None, Some("120"), 429, "Try again in 2 minutes", true),
        (
            422,
            Some("10016"),
            None,
            422,
            "This number cannot receive codes",
            false,
        ),
        (
            400,
            Some("10016"),
            None,
            422,
            "This number cannot receive codes",
            false,
        ),
        (403, None, None, 502, "We could not send the code", true),
        (500, None, None, 502, "We could not send the code", true),
        (503, None, None, 502, "We could not send the code", true),
    ];
    for (status, code, retry_after, page_status, text, tries_next) in cases {
        let case = format!("{status}/{code:?}");
        let telnyx = Telnyx::start().await;
        let mut failure = error(status, code, "scripted failure");
        if let Some(seconds) = retry_after {
            failure = failure.with_header("retry-after", seconds);
        }
        telnyx.fail_starts(failure);
        // SMS has Telnyx alone, so the page tells Telnyx's error; voice
        // falls back to the webhook, to see whether a next provider is tried.
        let (env, mut browser, page) = env_asking(
            "  sms: { provider: telnyx }\n  voice: { provider: telnyx, fallback: [webhook] }",
            &[telnyx.verify_config()],
            "",
            "sms",
        )
        .await;
        assert_eq!(page.status, page_status, "{case}: {}", page.body);
        assert!(page.body.contains(text), "{case}: {}", page.body);
        assert!(!page.body.contains("We sent"), "{case}");

        let page = browser.send_code("voice").await;
        let delivered = !env.webhook.deliveries().is_empty();
        assert_eq!(delivered, tries_next, "{case}: fallback");
        assert_eq!(page.status == 303, tries_next, "{case}: {}", page.body);
    }
}
