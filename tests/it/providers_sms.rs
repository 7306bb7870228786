//! The plain SMS providers (`twilio_sms`, `vonage_sms`, `telnyx_sms`)
//! against their emulations: doorman makes the code, the provider only
//! carries the text, and doorman checks the code itself.

use crate::support::factor::{
    assert_form_post_with_keys_in_it, assert_no_own_code, assert_post_to, only_request, CaseChecks,
};
use crate::support::fake_api::FORM;
use crate::support::fake_api::{FakeApi, Reply};
use crate::support::signin::{enter_shown_code, env_asking, Told, Told::*};
use crate::support::sms::{
    code_in, twilio_error, vonage_failure, TwilioMessages, VonageSms, TWILIO_ACCOUNT_SID,
    TWILIO_AUTH_TOKEN, TWILIO_FROM, TWILIO_MESSAGING_SERVICE_SID, VONAGE_API_KEY,
    VONAGE_API_SECRET, VONAGE_FROM,
};
use crate::support::telnyx::{self, Telnyx, API_KEY as TELNYX_API_KEY, FROM as TELNYX_FROM};
use crate::support::{Browser, Env, Page};
use serde_json::json;

const ALICE: &str = "+14155550100";

/// doorman whose SMS channel is `channel` (its `provider:` and `fallback:`)
/// over the provider `blocks`; alice past her password and asking for an
/// SMS code: the env, her browser and the answer.
async fn ask_for_code(channel: &str, blocks: &[String]) -> (Env, Browser, Page) {
    env_asking(&format!("  sms: {{ {channel} }}"), blocks, "", "sms").await
}

/// Types `code` in and checks that it signs alice in.
async fn sign_in_with(browser: &mut Browser, code: &str) {
    enter_shown_code(browser, code).await;
    assert_eq!(browser.get("/app").await.status, 200);
}

/// As [`sign_in_with`], and doorman checked the code itself: `api` got
/// the message only.
async fn sign_in_checking_it(browser: &mut Browser, code: &str, api: &FakeApi) {
    sign_in_with(browser, code).await;
    assert_eq!(api.requests().len(), 1, "doorman checked the code itself");
}

#[tokio::test]
async fn a_sign_in_by_twilio_sms_sends_the_documented_request_and_doorman_checks_the_code() {
    let twilio = TwilioMessages::start().await;
    let (env, mut browser, page) = ask_for_code("provider: twilio_sms", &[twilio.config()]).await;
    assert_eq!(page.status, 303, "{page:?}");

    let sent = only_request(&twilio.api);
    assert_post_to(
        &sent,
        &format!("/2010-04-01/Accounts/{TWILIO_ACCOUNT_SID}/Messages.json"),
    );
    assert_eq!(
        sent.basic_auth(),
        Some(format!("{TWILIO_ACCOUNT_SID}:{TWILIO_AUTH_TOKEN}"))
    );
    assert_eq!(sent.header("content-type"), Some(FORM));
    assert_eq!(sent.form_keys(), ["Body", "From", "To"]);
    assert_eq!(sent.form()["To"], ALICE);
    assert_eq!(sent.form()["From"], TWILIO_FROM);
    let code = code_in(&sent.form()["Body"]);
    assert_no_own_code(&env);

    sign_in_checking_it(&mut browser, &code, &twilio.api).await;
}

#[tokio::test]
async fn twilio_sms_can_send_through_a_messaging_service() {
    let twilio = TwilioMessages::start().await;
    let (_env, mut browser, page) =
        ask_for_code("provider: twilio_sms", &[twilio.config_with_service()]).await;
    assert_eq!(page.status, 303, "{page:?}");
    let sent = &twilio.api.requests()[0];
    assert_eq!(sent.form_keys(), ["Body", "MessagingServiceSid", "To"]);
    assert_eq!(
        sent.form()["MessagingServiceSid"],
        TWILIO_MESSAGING_SERVICE_SID
    );
    sign_in_with(&mut browser, &code_in(&sent.form()["Body"])).await;
}

#[tokio::test]
async fn a_sign_in_by_vonage_sms_sends_the_number_without_its_plus() {
    let vonage = VonageSms::start().await;
    let (env, mut browser, page) = ask_for_code("provider: vonage_sms", &[vonage.config()]).await;
    assert_eq!(page.status, 303, "{page:?}");

    let sent = only_request(&vonage.api);
    assert_form_post_with_keys_in_it(&sent, "/sms/json");
    assert_eq!(
        sent.form_keys(),
        ["api_key", "api_secret", "from", "text", "to"]
    );
    assert_eq!(sent.form()["api_key"], VONAGE_API_KEY);
    assert_eq!(sent.form()["api_secret"], VONAGE_API_SECRET);
    assert_eq!(sent.form()["from"], VONAGE_FROM);
    assert_eq!(sent.form()["to"], "14155550100");
    let code = code_in(&sent.form()["text"]);
    assert_no_own_code(&env);

    sign_in_checking_it(&mut browser, &code, &vonage.api).await;
}

#[tokio::test]
async fn a_sign_in_by_telnyx_sms_sends_the_documented_request() {
    let telnyx = Telnyx::start().await;
    let (env, mut browser, page) =
        ask_for_code("provider: telnyx_sms", &[telnyx.sms_config()]).await;
    assert_eq!(page.status, 303, "{page:?}");

    let sent = only_request(&telnyx.api);
    assert_post_to(&sent, "/v2/messages");
    assert_eq!(sent.bearer(), Some(TELNYX_API_KEY));
    assert_eq!(sent.header("content-type"), Some("application/json"));
    let text = sent.json()["text"].as_str().unwrap_or_default().to_owned();
    assert_eq!(
        sent.json(),
        json!({ "to": ALICE, "from": TELNYX_FROM, "text": text })
    );
    let code = code_in(&text);
    assert_no_own_code(&env);

    sign_in_checking_it(&mut browser, &code, &telnyx.api).await;
}

#[tokio::test]
async fn telnyx_sms_can_send_through_a_messaging_profile() {
    let telnyx = Telnyx::start().await;
    let (_env, mut browser, page) =
        ask_for_code("provider: telnyx_sms", &[telnyx.sms_config_with_profile()]).await;
    assert_eq!(page.status, 303, "{page:?}");
    let sent = &telnyx.api.requests()[0];
    let text = sent.json()["text"].as_str().unwrap_or_default().to_owned();
    assert_eq!(
        sent.json(),
        json!({ "to": ALICE, "messaging_profile_id": telnyx::MESSAGING_PROFILE_ID, "text": text })
    );
    sign_in_with(&mut browser, &code_in(&text)).await;
}

#[tokio::test]
async fn a_wrong_code_from_an_sms_provider_is_counted_by_doorman() {
    let vonage = VonageSms::start().await;
    let (_env, mut browser, _) = ask_for_code("provider: vonage_sms", &[vonage.config()]).await;
    let code = code_in(&vonage.messages()[0].text);
    browser.get("/.doorman/2fa").await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let page = browser.enter_code(wrong).await;
    page.assert_says(401, "4 attempts left");
    assert_eq!(browser.enter_code(&code).await.status, 303);
    assert_eq!(vonage.api.requests().len(), 1);
}

#[tokio::test]
async fn when_vonage_sms_answers_status_5_in_an_http_200_twilio_sms_delivers() {
    let vonage = VonageSms::start().await;
    let twilio = TwilioMessages::start().await;
    vonage.fail(vonage_failure("5", "Internal Error"));
    let (env, mut browser, page) = ask_for_code(
        "provider: vonage_sms, fallback: [twilio_sms]",
        &[vonage.config(), twilio.config()],
    )
    .await;
    assert_eq!(page.status, 303, "{page:?}");
    assert_eq!(vonage.api.requests().len(), 1, "vonage_sms was tried once");
    assert!(vonage.messages().is_empty());
    let messages = twilio.messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].to, ALICE);
    assert_no_own_code(&env);
    sign_in_with(&mut browser, &code_in(&messages[0].text)).await;
}

#[tokio::test]
async fn when_twilio_sms_is_down_telnyx_sms_delivers() {
    let twilio = TwilioMessages::start().await;
    let telnyx = Telnyx::start().await;
    twilio.fail(twilio_error(503, 0, "Service Unavailable"));
    let (_env, mut browser, page) = ask_for_code(
        "provider: twilio_sms, fallback: [telnyx_sms]",
        &[twilio.config(), telnyx.sms_config()],
    )
    .await;
    assert_eq!(page.status, 303, "{page:?}");
    assert_eq!(twilio.api.requests().len(), 1, "twilio_sms was tried once");
    let messages = telnyx.messages();
    assert_eq!(messages.len(), 1);
    sign_in_with(&mut browser, &code_in(&messages[0].text)).await;
}

#[tokio::test]
async fn when_telnyx_sms_is_down_vonage_sms_delivers() {
    let telnyx = Telnyx::start().await;
    let vonage = VonageSms::start().await;
    telnyx.fail_messages(telnyx::error(503, None, "Service Unavailable"));
    let (_env, mut browser, page) = ask_for_code(
        "provider: telnyx_sms, fallback: [vonage_sms]",
        &[telnyx.sms_config(), vonage.config()],
    )
    .await;
    assert_eq!(page.status, 303, "{page:?}");
    assert_eq!(telnyx.api.requests().len(), 1, "telnyx_sms was tried once");
    let messages = vonage.messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].to, "14155550100");
    sign_in_with(&mut browser, &code_in(&messages[0].text)).await;
}

/// Asks for a code through `provider` (configured by `block`, already
/// scripted to fail) alone, where the page tells its error, then with the
/// webhook as its fallback, to see whether a next provider is tried.
async fn check_case(provider: &str, block: &str, told: Told, name: &str) {
    let blocks = [block.to_owned()];
    let (_env, _, page) = ask_for_code(&format!("provider: {provider}"), &blocks).await;
    assert_eq!(page.status, told.status(), "{name}: {}", page.body);
    page.shows_for(&name, told.text());
    assert!(!page.body.contains("We sent"), "{name}");

    let channel = format!("provider: {provider}, fallback: [webhook]");
    let (env, _, page) = ask_for_code(&channel, &blocks).await;
    let delivered = !env.webhook.deliveries().is_empty();
    assert_eq!(delivered, told.tries_next(), "{name}: fallback");
    assert_eq!(
        page.status == 303,
        told.tries_next(),
        "{name}: {}",
        page.body
    );
}

#[tokio::test]
async fn twilio_sms_errors_are_told_as_what_the_person_can_do() {
    let cases = [
        (
            twilio_error(400, 21211, "The 'To' number +14155550100 is not valid."),
            Unreachable,
        ),
        (twilio_error(400, 21408, "Region not enabled"), Unreachable),
        (
            twilio_error(400, 21610, "Unsubscribed recipient"),
            Unreachable,
        ),
        (
            twilio_error(429, 20429, "Too Many Requests"),
            Wait("Try again in 10 minutes"),
        ),
        (
            twilio_error(429, 20429, "Too Many Requests").with_header("retry-after", "60"),
            Wait("Try again in 1 minute."),
        ),
        (twilio_error(401, 20003, "Authenticate"), NotSent),
        (twilio_error(500, 20500, "Internal Server Error"), NotSent),
        (Reply::empty(503), NotSent),
    ];
    for (failure, told) in cases {
        let name = format!("{failure:?}");
        let twilio = TwilioMessages::start().await;
        twilio.fail(failure);
        check_case("twilio_sms", &twilio.config(), told, &name).await;
    }
}

#[tokio::test]
async fn vonage_sms_errors_in_an_http_200_are_told_as_what_the_person_can_do() {
    let cases = [
        (
            vonage_failure("1", "Throttled"),
            Wait("Try again in 1 minute."),
        ),
        (vonage_failure("2", "Missing to param"), NotSent),
        (vonage_failure("3", "Invalid to param"), NotSent),
        (vonage_failure("4", "Bad Credentials"), NotSent),
        (vonage_failure("5", "Internal Error"), NotSent),
        (vonage_failure("6", "Invalid Message"), NotSent),
        (vonage_failure("7", "Number barred"), Unreachable),
        (vonage_failure("9", "Partner quota violation"), NotSent),
        (vonage_failure("15", "Illegal Sender Address"), NotSent),
        (
            vonage_failure("29", "Non White-listed Destination"),
            Unreachable,
        ),
        (Reply::empty(500), NotSent),
    ];
    for (failure, told) in cases {
        let name = format!("{failure:?}");
        let vonage = VonageSms::start().await;
        vonage.fail(failure);
        check_case("vonage_sms", &vonage.config(), told, &name).await;
    }
}

#[tokio::test]
async fn telnyx_sms_errors_are_told_as_what_the_person_can_do() {
    let cases = [
        (
            telnyx::error(401, Some("10009"), "Authentication failed"),
            NotSent,
        ),
        (
            telnyx::error(429, Some("10011"), "Too many requests"),
            Wait("Try again in 10 minutes"),
        ),
        (telnyx::error(422, Some("10016"), "Not +E.164"), Unreachable),
        (telnyx::error(400, None, "Bad Request"), NotSent),
        (telnyx::error(503, None, "Service Unavailable"), NotSent),
    ];
    for (failure, told) in cases {
        let name = format!("{failure:?}");
        let telnyx = Telnyx::start().await;
        telnyx.fail_messages(failure);
        check_case("telnyx_sms", &telnyx.sms_config(), told, &name).await;
    }
}
