//! Vonage Verify v2 (`vonage`) and v1 (`vonage_legacy`) against their
//! emulations: the exact requests, and what each documented answer means for
//! the person signing in. What every Verify provider does alike is in
//! `verify.rs`.

use crate::support::factor::{
    assert_form_post_with_keys_in_it, assert_no_own_code, assert_post_to, only_request,
};
use crate::support::fake_api::FORM;
use crate::support::fake_api::{FakeApi, Recorded};
use crate::support::signin::{
    a_second_browser, ask_for_code, call_me_instead, code_sent, enter_shown_code, resend, Told,
    Told::*,
};
use crate::support::vonage::{
    problem, Shared, Status, Verification, VonageLegacyVerify, VonageVerify, ALICE, ALICE_VONAGE,
    API_KEY, API_SECRET, BRAND,
};
use crate::support::webhook::Mode;
use crate::support::{holds_within, Browser, Env};
use serde_json::json;
use std::time::Duration;

fn both_channels(provider: &str) -> String {
    format!("  sms: {{ provider: {provider} }}\n  voice: {{ provider: {provider} }}")
}

/// doorman with `provider` (configured by `block`) on both channels.
async fn with_vonage(block: &str, provider: &str) -> Env {
    Env::with_providers(&both_channels(provider), &[block.to_owned()], "").await
}

/// doorman with `vonage` on both channels, and two browsers of alice's on
/// the code page of an SMS code each (Vonage was asked twice).
async fn two_code_pages(vonage: &Shared) -> (Env, Browser, Browser) {
    let env = with_vonage(&vonage.config(), vonage.name).await;
    let (first, second) = a_second_browser(&env, "sms").await;
    assert_eq!(vonage.api.requests().len(), 2);
    (env, first, second)
}

/// doorman with `vonage` on both channels, alice on the code page of an
/// SMS code: the env and her browser.
async fn sms_code_sent(vonage: &Shared) -> (Env, Browser) {
    let env = with_vonage(&vonage.config(), vonage.name).await;
    let browser = code_sent(&env, "sms").await;
    (env, browser)
}

fn with_fallback(provider: &str) -> String {
    format!("  sms: {{ provider: {provider}, fallback: [webhook] }}")
}

fn is_v2_cancel(request: &Recorded) -> bool {
    request.method == "DELETE"
}

fn is_v1_cancel(request: &Recorded) -> bool {
    request.form().get("cmd").map(String::as_str) == Some("cancel")
}

/// Whether `api` receives a request that `matches` within half a second:
/// doorman cancels replaced verifications in the background.
async fn received_soon(api: &FakeApi, matches: fn(&Recorded) -> bool) -> bool {
    let within = Duration::from_millis(500);
    holds_within(within, async || api.requests().iter().any(matches)).await
}

/// Asks for an SMS code with `provider` failing as scripted (the webhook
/// fallback failing too), and checks what the person is told.
async fn assert_told(env: &Env, case: &str, told: Told) {
    env.webhook.set_mode(Mode::Fail(503));
    let (_, page) = ask_for_code(env, "sms").await;
    assert_eq!(page.status, told.status(), "{case}: {}", page.body);
    assert!(page.body.contains(told.text()), "{case}: {}", page.body);
    assert_eq!(
        !env.webhook.deliveries().is_empty(),
        told.tries_next(),
        "{case}: fallback"
    );
}

// ---------------------------------------------------------------------------
// Verify v2

/// As [`sms_code_sent`]; also the one request Vonage got, the start.
async fn sms_started(vonage: &Shared) -> (Env, Browser, Recorded) {
    let (env, browser) = sms_code_sent(vonage).await;
    (env, browser, only_request(&vonage.api))
}

/// Types the code the emulation sent alice (`code`): it is taken.
async fn alices_code_taken(browser: &mut Browser, code: Option<String>) {
    let code = code.expect("a verification");
    assert_eq!(browser.enter_code(&code).await.status, 303);
}

#[tokio::test]
async fn a_sign_in_by_vonage_sms_sends_and_checks_the_documented_requests() {
    let vonage = VonageVerify::start().await;
    let (env, mut browser, start) = sms_started(&vonage).await;
    assert_post_to(&start, "/v2/verify");
    assert_eq!(start.basic_auth(), Some(format!("{API_KEY}:{API_SECRET}")));
    assert_eq!(start.header("content-type"), Some("application/json"));
    assert_eq!(
        start.json(),
        json!({
            "brand": BRAND,
            "code_length": 6,
            "channel_timeout": 300,
            "locale": "en-us",
            "workflow": [
                { "channel": "sms", "to": ALICE_VONAGE },
                { "channel": "voice", "to": ALICE_VONAGE },
            ],
        })
    );
    assert_no_own_code(&env);
    let verification = &vonage.verifications()[0];
    assert_eq!(verification.sent, ["sms"], "only the SMS went out");

    let code = vonage.code_for(ALICE).expect("a verification");
    enter_shown_code(&mut browser, &code).await;
    let check = &vonage.api.requests()[1];
    assert_post_to(check, &format!("/v2/verify/{}", verification.request_id));
    assert_eq!(check.basic_auth(), Some(format!("{API_KEY}:{API_SECRET}")));
    assert_eq!(check.header("content-type"), Some("application/json"));
    assert_eq!(check.json(), json!({ "code": code }));
    assert_eq!(vonage.verifications()[0].status, Status::Completed);
    assert_eq!(browser.get("/app").await.status, 200);
}

#[tokio::test]
async fn a_vonage_call_is_a_voice_only_workflow_shaped_by_the_code_settings() {
    let cases = [
        ("codes:\n  length: 8\n  lifetime: \"30m\"\n", 8, 900),
        ("codes:\n  length: 4\n  lifetime: \"10s\"\n", 4, 15),
    ];
    for (codes, code_length, channel_timeout) in cases {
        let vonage = VonageVerify::start().await;
        let env = Env::with_providers(&both_channels("vonage"), &[vonage.config()], codes).await;
        let mut browser = code_sent(&env, "voice").await;
        let start = &vonage.api.requests()[0];
        assert_eq!(
            start.json(),
            json!({
                "brand": BRAND,
                "code_length": code_length,
                "channel_timeout": channel_timeout,
                "locale": "en-us",
                "workflow": [{ "channel": "voice", "to": ALICE_VONAGE }],
            }),
            "{codes}"
        );
        let code = vonage.code_for(ALICE).expect("a verification");
        assert_eq!(code.len(), code_length as usize);
        assert_eq!(browser.enter_code(&code).await.status, 303, "{codes}");
    }
}

#[tokio::test]
async fn a_code_past_its_lifetime_is_not_sent_to_vonage() {
    let vonage = VonageVerify::start().await;
    let (env, mut browser) = sms_code_sent(&vonage).await;
    let code = vonage.code_for(ALICE).expect("a verification");
    env.advance(Duration::from_secs(300));
    let page = browser.enter_code(&code).await;
    page.assert_says(401, "expired");
    assert_eq!(vonage.api.requests().len(), 1, "no check was asked for");
}

/// Past the SMS step, the call went out by itself (no step is left at
/// Vonage), and alice asks for a call: the env, her browser and the
/// requests Vonage got.
async fn called_after_vonage_did(vonage: &Shared) -> (Env, Browser, Vec<Recorded>) {
    let (env, mut browser) = sms_code_sent(vonage).await;
    vonage.run_next_steps();
    resend(&env, &mut browser, "voice").await;
    let requests = vonage.api.requests();
    (env, browser, requests)
}

/// Both steps went out, and the code typed is taken: the call read the
/// same code as the SMS.
async fn the_call_read_the_same_code(browser: &mut Browser, verification: &Verification) {
    assert_eq!(verification.sent, ["sms", "voice"]);
    let page = browser.enter_code(&verification.code).await;
    assert_eq!(page.status, 303, "the call read the same code: {page:?}");
}

/// As [`sms_code_sent`], then "call me instead": the env, alice's browser
/// and the one request doorman sent Vonage after the start (no second
/// verification).
async fn called_instead(vonage: &Shared) -> (Env, Browser, Recorded) {
    let (env, mut browser) = sms_code_sent(vonage).await;
    call_me_instead(&env, &mut browser).await;
    let requests = vonage.api.requests();
    assert_eq!(requests.len(), 2, "no second verification: {requests:?}");
    (env, browser, requests[1].clone())
}

#[tokio::test]
async fn call_me_instead_moves_the_same_vonage_verification_to_a_call() {
    let vonage = VonageVerify::start().await;
    let (_env, mut browser, next) = called_instead(&vonage).await;
    let verification = &vonage.verifications()[0];
    assert_post_to(
        &next,
        &format!("/v2/verify/{}/next_workflow", verification.request_id),
    );
    assert_eq!(next.basic_auth(), Some(format!("{API_KEY}:{API_SECRET}")));
    the_call_read_the_same_code(&mut browser, verification).await;
    assert!(!vonage.api.requests().iter().any(is_v2_cancel));
}

#[tokio::test]
async fn call_me_instead_after_vonage_already_called_keeps_the_verification() {
    let vonage = VonageVerify::start().await;
    // The SMS step's wait ran out: Vonage called by itself, no step is left.
    let (_env, mut browser, requests) = called_after_vonage_did(&vonage).await;
    let paths: Vec<(&str, &str)> = requests
        .iter()
        .map(|r| (r.method.as_str(), r.path.as_str()))
        .collect();
    let id = vonage.verifications()[0].request_id.clone();
    let next = format!("/v2/verify/{id}/next_workflow");
    assert_eq!(
        paths,
        [
            ("POST", "/v2/verify"),
            ("POST", next.as_str()),
            ("POST", "/v2/verify")
        ],
        "next_workflow answered 409, so doorman asked for a call, which is the running one"
    );
    assert_eq!(
        requests[2].json()["workflow"],
        json!([{ "channel": "voice", "to": ALICE_VONAGE }])
    );
    assert!(
        !received_soon(&vonage.api, is_v2_cancel).await,
        "the reused verification was cancelled"
    );
    browser
        .get("/.doorman/2fa")
        .await
        .assert_shows("voice call");
    alices_code_taken(&mut browser, vonage.code_for(ALICE)).await;
    assert_eq!(vonage.verifications().len(), 1);
}

#[tokio::test]
async fn sending_again_keeps_the_running_vonage_verification() {
    let vonage = VonageVerify::start().await;
    let (env, mut browser) = sms_code_sent(&vonage).await;
    resend(&env, &mut browser, "sms").await;
    assert_eq!(
        vonage.api.requests().len(),
        2,
        "a second start, answered 409"
    );
    assert!(
        !received_soon(&vonage.api, is_v2_cancel).await,
        "doorman cancelled the verification it just reused"
    );
    browser.get("/.doorman/2fa").await;
    alices_code_taken(&mut browser, vonage.code_for(ALICE)).await;
}

#[tokio::test]
async fn a_concurrent_vonage_verification_is_reused_and_its_code_signs_in() {
    let vonage = VonageVerify::start().await;
    let (_env, _first, mut second) = two_code_pages(&vonage).await;
    assert_eq!(
        vonage.verifications().len(),
        1,
        "Vonage refused a second one"
    );
    alices_code_taken(&mut second, vonage.code_for(ALICE)).await;
    let check = &vonage.api.requests()[2];
    assert_eq!(
        check.path,
        format!("/v2/verify/{}", vonage.verifications()[0].request_id)
    );
}

#[tokio::test]
async fn a_check_vonage_cannot_take_now_costs_no_attempt() {
    let vonage = VonageVerify::start().await;
    let (_env, mut browser) = sms_code_sent(&vonage).await;
    let code = vonage.code_for(ALICE).expect("a verification");
    let failures = [
        problem(
            409,
            "Conflict",
            "The current Verify workflow step does not support a code.",
            json!({}),
        ),
        problem(429, "Rate Limit Hit", "Please wait, then retry", json!({})),
    ];
    for failure in failures {
        vonage.fail_next_check(failure);
        let page = browser.enter_code(&code).await;
        page.assert_says(
            502,
            "We could not check the code right now. Try again in a moment.",
        );
    }
    let page = browser.enter_code("000000").await;
    page.assert_shows("4 attempts left");
    assert_eq!(browser.enter_code(&code).await.status, 303);
}

#[tokio::test]
async fn vonage_errors_are_told_as_what_the_person_can_do() {
    let invalid = |name: &str| {
        problem(
            422,
            "Invalid params",
            "The value of one or more parameters is invalid",
            json!({ "invalid_parameters": [{ "name": name, "reason": "Invalid" }] }),
        )
    };
    let cases = [
        (
            problem(
                401,
                "Unauthorized",
                "You did not provide correct credentials.",
                json!({}),
            ),
            NotSent,
        ),
        (
            problem(
                402,
                "Low balance",
                "This request could not be performed due to your account balance being low.",
                json!({}),
            ),
            NotSent,
        ),
        (
            problem(
                409,
                "Conflict",
                "Concurrent verifications to the same number are not allowed.",
                json!({}),
            ),
            NotSent,
        ),
        (invalid("to"), Unreachable),
        (invalid("brand"), NotSent),
        (
            problem(429, "Rate Limit Hit", "Please wait, then retry", json!({})),
            NotSent,
        ),
        (
            problem(500, "Internal Error", "Something went wrong", json!({})),
            NotSent,
        ),
    ];
    for (failure, told) in cases {
        let case = format!("{} {}", failure.status, failure.body);
        let vonage = VonageVerify::start().await;
        let env = Env::with_providers(&with_fallback("vonage"), &[vonage.config()], "").await;
        vonage.fail_starts(failure);
        assert_told(&env, &case, told).await;
        assert_eq!(vonage.api.requests().len(), 1, "{case}");
    }
}

#[tokio::test]
async fn vonage_throttling_says_when_to_try_again() {
    let vonage = VonageVerify::start().await;
    let env = with_vonage(&vonage.config(), "vonage").await;
    vonage.fail_starts(
        problem(429, "Rate Limit Hit", "Please wait, then retry", json!({}))
            .with_header("retry-after", "120"),
    );
    let (_, page) = ask_for_code(&env, "sms").await;
    page.assert_says(429, "Too many codes requested. Try again in 2 minutes.");
}

// ---------------------------------------------------------------------------
// Verify v1 (legacy)

#[tokio::test]
async fn a_sign_in_by_vonage_legacy_sms_sends_and_checks_the_documented_requests() {
    let vonage = VonageLegacyVerify::start().await;
    let (env, mut browser, start) = sms_started(&vonage).await;
    assert_form_post_with_keys_in_it(&start, "/verify/json");
    assert_eq!(
        start.form_keys(),
        [
            "api_key",
            "api_secret",
            "brand",
            "code_length",
            "next_event_wait",
            "number",
            "pin_expiry",
            "workflow_id"
        ]
    );
    let form = start.form();
    assert_eq!(form["api_key"], API_KEY);
    assert_eq!(form["api_secret"], API_SECRET);
    assert_eq!(form["number"], ALICE_VONAGE);
    assert_eq!(form["brand"], BRAND);
    assert_eq!(form["code_length"], "6");
    assert_eq!(form["workflow_id"], "5", "SMS, then a call");
    assert_eq!(form["pin_expiry"], "300", "the code's lifetime");
    assert_eq!(
        form["next_event_wait"], "150",
        "the call comes halfway, with the same code"
    );
    assert_no_own_code(&env);
    let verification = &vonage.verifications()[0];
    assert_eq!(verification.sent, ["sms"]);

    let code = vonage.code_for(ALICE).expect("a verification");
    let page = browser.enter_code(&code).await;
    assert_eq!(page.status, 303, "{page:?}");
    let check = &vonage.api.requests()[1];
    assert_post_to(check, "/verify/check/json");
    assert_eq!(check.header("content-type"), Some(FORM));
    assert_eq!(
        check.form_keys(),
        ["api_key", "api_secret", "code", "request_id"]
    );
    assert_eq!(check.form()["request_id"], verification.request_id);
    assert_eq!(check.form()["code"], code);
    assert_eq!(vonage.verifications()[0].status, Status::Completed);
    assert_eq!(browser.get("/app").await.status, 200);
}

#[tokio::test]
async fn a_vonage_legacy_call_is_workflow_7_with_the_codes_v1_can_make() {
    let cases = [
        // v1 makes 4 or 6 digits: 4 when doorman's codes are 4, else 6.
        (
            "codes:\n  length: 4\n  lifetime: \"20m\"\n",
            "4",
            "1200",
            "600",
        ),
        (
            "codes:\n  length: 8\n  lifetime: \"10s\"\n",
            "6",
            "60",
            "60",
        ),
    ];
    for (codes, code_length, pin_expiry, next_event_wait) in cases {
        let vonage = VonageLegacyVerify::start().await;
        let env =
            Env::with_providers(&both_channels("vonage_legacy"), &[vonage.config()], codes).await;
        let mut browser = code_sent(&env, "voice").await;
        let form = vonage.api.requests()[0].form();
        assert_eq!(form["workflow_id"], "7", "{codes}: a call only");
        assert_eq!(form["code_length"], code_length, "{codes}");
        assert_eq!(form["pin_expiry"], pin_expiry, "{codes}");
        assert_eq!(form["next_event_wait"], next_event_wait, "{codes}");
        assert_eq!(vonage.verifications()[0].sent, ["voice"]);
        let code = vonage.code_for(ALICE).expect("a verification");
        assert_eq!(browser.enter_code(&code).await.status, 303, "{codes}");
    }
}

#[tokio::test]
async fn call_me_instead_moves_the_same_vonage_legacy_verification_to_a_call() {
    let vonage = VonageLegacyVerify::start().await;
    let (_env, mut browser, control) = called_instead(&vonage).await;
    let verification = &vonage.verifications()[0];
    assert_post_to(&control, "/verify/control/json");
    assert_eq!(
        control.form_keys(),
        ["api_key", "api_secret", "cmd", "request_id"]
    );
    assert_eq!(control.form()["cmd"], "trigger_next_event");
    assert_eq!(control.form()["request_id"], verification.request_id);
    the_call_read_the_same_code(&mut browser, verification).await;
}

#[tokio::test]
async fn call_me_instead_after_vonage_legacy_already_called_keeps_the_verification() {
    let vonage = VonageLegacyVerify::start().await;
    // next_event_wait ran out: Vonage called by itself, no event is left.
    let (_env, mut browser, requests) = called_after_vonage_did(&vonage).await;
    let paths: Vec<&str> = requests.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(
        paths,
        ["/verify/json", "/verify/control/json", "/verify/json"],
        "status 19, so doorman asked for a call: status 10, the running one"
    );
    assert_eq!(requests[2].form()["workflow_id"], "7");
    assert!(
        !received_soon(&vonage.api, is_v1_cancel).await,
        "the reused verification was cancelled"
    );
    alices_code_taken(&mut browser, vonage.code_for(ALICE)).await;
}

#[tokio::test]
async fn a_concurrent_vonage_legacy_verification_is_reused_and_its_code_signs_in() {
    let vonage = VonageLegacyVerify::start().await;
    let (_env, _first, mut second) = two_code_pages(&vonage).await;
    assert_eq!(vonage.verifications().len(), 1, "status 10 for the second");
    alices_code_taken(&mut second, vonage.code_for(ALICE)).await;
    assert_eq!(
        vonage.api.requests()[2].form()["request_id"],
        vonage.verifications()[0].request_id
    );
}

#[tokio::test]
async fn vonage_legacy_errors_are_told_as_what_the_person_can_do() {
    let cases = [
        ("3", "Invalid value for param: number", Unreachable),
        ("6", "The message could not be routed", Unreachable),
        (
            "7",
            "The number you are trying to verify is blacklisted for verification",
            Unreachable,
        ),
        (
            "15",
            "The destination number is not in a supported network",
            Unreachable,
        ),
        ("29", "Non-Permitted Destination", Unreachable),
        ("3", "Invalid value for param: brand", NotSent),
        ("4", "Bad Credentials", NotSent),
        ("9", "Partner quota exceeded", NotSent),
        (
            "10",
            "Concurrent verifications to the same number are not allowed",
            NotSent,
        ),
        ("1", "Throttled", NotSent),
        ("5", "Internal Error", NotSent),
    ];
    for (status, error_text, told) in cases {
        let case = format!("status {status} {error_text}");
        let vonage = VonageLegacyVerify::start().await;
        let env =
            Env::with_providers(&with_fallback("vonage_legacy"), &[vonage.config()], "").await;
        vonage.fail_starts(status, error_text);
        assert_told(&env, &case, told).await;
    }
}

#[tokio::test]
async fn vonage_legacy_throttling_says_when_to_try_again() {
    let vonage = VonageLegacyVerify::start().await;
    let env = with_vonage(&vonage.config(), "vonage_legacy").await;
    vonage.fail_starts("1", "Throttled");
    let (_, page) = ask_for_code(&env, "sms").await;
    page.assert_says(429, "Too many codes requested. Try again in 10 minutes.");
}

#[tokio::test]
async fn the_emulations_refuse_what_vonage_would() {
    // A doorman bug must not pass unnoticed: each emulation answers a wrong
    // request with the API's own error, and starts nothing.
    let client = crate::support::api_client();
    let vonage = VonageVerify::start().await;
    let url = format!("{}/v2/verify", vonage.api.base_url());
    let body = |to: &str| {
        json!({ "brand": BRAND, "code_length": 6, "channel_timeout": 300, "locale": "en-us",
                "workflow": [{ "channel": "sms", "to": to }] })
    };
    let cases = [
        (
            client
                .post(&url)
                .basic_auth(API_KEY, Some("wrong"))
                .json(&body(ALICE_VONAGE)),
            401,
        ),
        (
            client
                .post(&url)
                .basic_auth(API_KEY, Some(API_SECRET))
                .json(&body(ALICE)),
            422,
        ),
        (
            client
                .post(&url)
                .basic_auth(API_KEY, Some(API_SECRET))
                .form(&[("brand", BRAND)]),
            422,
        ),
        (
            client
                .post(&url)
                .basic_auth(API_KEY, Some(API_SECRET))
                .json(&json!({ "brand": BRAND })),
            422,
        ),
    ];
    for (request, status) in cases {
        let answer = request.send().await.expect("POST");
        assert_eq!(answer.status().as_u16(), status);
        assert_eq!(answer.headers()["content-type"], "application/problem+json");
    }
    assert!(vonage.verifications().is_empty());

    let legacy = VonageLegacyVerify::start().await;
    let url = format!("{}/verify/json", legacy.api.base_url());
    let full = [
        ("api_key", API_KEY),
        ("api_secret", API_SECRET),
        ("number", ALICE_VONAGE),
        ("brand", BRAND),
        ("code_length", "6"),
        ("workflow_id", "5"),
        ("pin_expiry", "300"),
        ("next_event_wait", "150"),
    ];
    // The full form with `key` set to `value` (added when it is not a field).
    let with = |key: &str, value: &str| -> Vec<(String, String)> {
        let mut form: Vec<(String, String)> = full
            .iter()
            .filter(|(k, _)| *k != key)
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        form.push((key.to_owned(), value.to_owned()));
        form
    };
    let cases = [
        (with("number", ALICE), "3"),
        (with("api_secret", "wrong"), "4"),
        (with("code_length", "5"), "3"),
        (with("pin_expiry", "200"), "3"),
        (with("lg", "en-us"), "3"),
    ];
    for (form, status) in cases {
        let answer = client.post(&url).form(&form).send().await.expect("POST");
        assert_eq!(
            answer.status().as_u16(),
            200,
            "v1 answers 200 to everything"
        );
        let answer: serde_json::Value = answer.json().await.expect("JSON");
        assert_eq!(answer["status"], status, "{form:?}: {answer}");
    }
    assert!(legacy.verifications().is_empty());
}
