//! The plain SMS providers (`twilio_sms`, `vonage_sms`, `telnyx_sms`)
//! against their emulations: doorman makes the code, the provider only
//! carries the text, and doorman checks the code itself.

use crate::support::factor::{
    assert_form_fields, assert_form_post_with_keys_in_it, assert_no_own_code, assert_post_to,
    only_request, CaseChecks,
};
use crate::support::fake_api::FORM;
use crate::support::fake_api::{FakeApi, Recorded, Reply};
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

/// As [`ask_for_code`] through `provider` alone, configured by `block`:
/// the code was sent, in the one request its emulation's `api` got, which
/// is returned.
async fn sent_through(provider: &str, block: String, api: &FakeApi) -> (Env, Browser, Recorded) {
    let (env, browser, page) = ask_for_code(&format!("provider: {provider}"), &[block]).await;
    assert_eq!(page.status, 303, "{page:?}");
    (env, browser, only_request(api))
}

/// As [`sent_through`] a fresh emulation of `provider`, which is returned.
async fn sent_by(provider: &str) -> (Env, Browser, Carrier, Recorded) {
    let carrier = Carrier::start(provider).await;
    let (env, browser, sent) = sent_through(provider, carrier.config(), carrier.api()).await;
    (env, browser, carrier, sent)
}

/// Types `code` in and checks that it signs alice in.
async fn sign_in_with(browser: &mut Browser, code: &str) {
    enter_shown_code(browser, code).await;
    assert_eq!(browser.get("/app").await.status, 200);
}

/// As [`sign_in_with`] the code in `text`, and doorman made and checked
/// the code itself: it sent none of its own by the webhook, and `api` got
/// the message only.
async fn sign_in_checking_it(env: &Env, browser: &mut Browser, text: &str, api: &FakeApi) {
    assert_no_own_code(env);
    sign_in_with(browser, &code_in(text)).await;
    assert_eq!(api.requests().len(), 1, "doorman checked the code itself");
}

#[tokio::test]
async fn a_sign_in_by_twilio_sms_sends_the_documented_request_and_doorman_checks_the_code() {
    let (env, mut browser, twilio, sent) = sent_by("twilio_sms").await;
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
    assert_form_fields(&sent, &[("To", ALICE), ("From", TWILIO_FROM)]);
    sign_in_checking_it(&env, &mut browser, &sent.form()["Body"], twilio.api()).await;
}

#[tokio::test]
async fn twilio_sms_can_send_through_a_messaging_service() {
    let twilio = TwilioMessages::start().await;
    let (_env, mut browser, sent) =
        sent_through("twilio_sms", twilio.config_with_service(), &twilio.api).await;
    assert_eq!(sent.form_keys(), ["Body", "MessagingServiceSid", "To"]);
    assert_eq!(
        sent.form()["MessagingServiceSid"],
        TWILIO_MESSAGING_SERVICE_SID
    );
    sign_in_with(&mut browser, &code_in(&sent.form()["Body"])).await;
}

#[tokio::test]
async fn a_sign_in_by_vonage_sms_sends_the_number_without_its_plus() {
    let (env, mut browser, vonage, sent) = sent_by("vonage_sms").await;
    assert_form_post_with_keys_in_it(&sent, "/sms/json");
    assert_eq!(
        sent.form_keys(),
        ["api_key", "api_secret", "from", "text", "to"]
    );
    assert_form_fields(
        &sent,
        &[
            ("api_key", VONAGE_API_KEY),
            ("api_secret", VONAGE_API_SECRET),
            ("from", VONAGE_FROM),
            ("to", "14155550100"),
        ],
    );
    sign_in_checking_it(&env, &mut browser, &sent.form()["text"], vonage.api()).await;
}

#[tokio::test]
async fn a_sign_in_by_telnyx_sms_sends_the_documented_request() {
    let (env, mut browser, telnyx, sent) = sent_by("telnyx_sms").await;
    assert_post_to(&sent, "/v2/messages");
    assert_eq!(sent.bearer(), Some(TELNYX_API_KEY));
    assert_eq!(sent.header("content-type"), Some("application/json"));
    let text = sent.json()["text"].as_str().unwrap_or_default().to_owned();
    assert_eq!(
        sent.json(),
        json!({ "to": ALICE, "from": TELNYX_FROM, "text": text })
    );
    sign_in_checking_it(&env, &mut browser, &text, telnyx.api()).await;
}

#[tokio::test]
async fn telnyx_sms_can_send_through_a_messaging_profile() {
    let telnyx = Telnyx::start().await;
    let (_env, mut browser, sent) =
        sent_through("telnyx_sms", telnyx.sms_config_with_profile(), &telnyx.api).await;
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

/// A plain SMS provider's emulation, driven the same way whichever it is.
enum Carrier {
    Twilio(TwilioMessages),
    Vonage(VonageSms),
    Telnyx(Telnyx),
}

impl Carrier {
    /// The emulation of the provider whose key is `name`, freshly started.
    async fn start(name: &str) -> Carrier {
        match name {
            "twilio_sms" => Carrier::Twilio(TwilioMessages::start().await),
            "vonage_sms" => Carrier::Vonage(VonageSms::start().await),
            "telnyx_sms" => Carrier::Telnyx(Telnyx::start().await),
            other => panic!("no emulation of {other}"),
        }
    }

    /// Its block under `providers:`.
    fn config(&self) -> String {
        match self {
            Carrier::Twilio(api) => api.config(),
            Carrier::Vonage(api) => api.config(),
            Carrier::Telnyx(api) => api.sms_config(),
        }
    }

    /// Makes every message answer `failure`.
    fn fail(&self, failure: Reply) {
        match self {
            Carrier::Twilio(api) => api.fail(failure),
            Carrier::Vonage(api) => api.fail(failure),
            Carrier::Telnyx(api) => api.fail_messages(failure),
        }
    }

    fn api(&self) -> &FakeApi {
        match self {
            Carrier::Twilio(api) => &api.api,
            Carrier::Vonage(api) => &api.api,
            Carrier::Telnyx(api) => &api.api,
        }
    }

    /// The messages it carried: to whom, and the text.
    fn messages(&self) -> Vec<(String, String)> {
        match self {
            Carrier::Twilio(api) => api.messages().into_iter().map(|m| (m.to, m.text)).collect(),
            Carrier::Vonage(api) => api.messages().into_iter().map(|m| (m.to, m.text)).collect(),
            Carrier::Telnyx(api) => api.messages().into_iter().map(|m| (m.to, m.text)).collect(),
        }
    }
}

/// `first` answers every message with `failure` and has `next` as its
/// fallback; alice asks for a code. Checks that `first` was tried once and
/// `next` carried one message; the env, alice's browser, `first`'s
/// emulation and that message (to whom, the text).
async fn fell_back(
    first: &str,
    failure: Reply,
    next: &str,
) -> (Env, Browser, Carrier, (String, String)) {
    let (failing, delivering) = (Carrier::start(first).await, Carrier::start(next).await);
    failing.fail(failure);
    let blocks = [failing.config(), delivering.config()];
    let channel = format!("provider: {first}, fallback: [{next}]");
    let (env, browser, page) = ask_for_code(&channel, &blocks).await;
    assert_eq!(page.status, 303, "{page:?}");
    assert_eq!(failing.api().requests().len(), 1, "{first} was tried once");
    let mut messages = delivering.messages();
    assert_eq!(messages.len(), 1);
    (env, browser, failing, messages.remove(0))
}

#[tokio::test]
async fn when_vonage_sms_answers_status_5_in_an_http_200_twilio_sms_delivers() {
    let failure = vonage_failure("5", "Internal Error");
    let (env, mut browser, vonage, (to, text)) =
        fell_back("vonage_sms", failure, "twilio_sms").await;
    assert!(vonage.messages().is_empty());
    assert_eq!(to, ALICE);
    assert_no_own_code(&env);
    sign_in_with(&mut browser, &code_in(&text)).await;
}

#[tokio::test]
async fn when_twilio_sms_is_down_telnyx_sms_delivers() {
    let failure = twilio_error(503, 0, "Service Unavailable");
    let (_env, mut browser, _, (_, text)) = fell_back("twilio_sms", failure, "telnyx_sms").await;
    sign_in_with(&mut browser, &code_in(&text)).await;
}

#[tokio::test]
async fn when_telnyx_sms_is_down_vonage_sms_delivers() {
    let failure = telnyx::error(503, None, "Service Unavailable");
    let (_env, mut browser, _, (to, text)) = fell_back("telnyx_sms", failure, "vonage_sms").await;
    assert_eq!(to, "14155550100");
    sign_in_with(&mut browser, &code_in(&text)).await;
}

/// Asks for a code through `provider` (configured by `block`, already
/// scripted to fail) alone, where the page tells its error, then with the
/// webhook as its fallback, to see whether a next provider is tried.
async fn check_case(provider: &str, block: &str, told: Told, name: &str) {
    let blocks = [block.to_owned()];
    let (_env, _, page) = ask_for_code(&format!("provider: {provider}"), &blocks).await;
    assert_eq!(page.status, told.status(), "{name}: {}", page.body);
    page.shows_for(name, told.text());
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

/// [`check_case`] for each of the `cases` (a failure and what the person is
/// told), each on a fresh emulation of `provider` scripted to fail so.
async fn check_cases(provider: &str, cases: impl IntoIterator<Item = (Reply, Told)>) {
    for (failure, told) in cases {
        let name = format!("{failure:?}");
        let carrier = Carrier::start(provider).await;
        carrier.fail(failure);
        check_case(provider, &carrier.config(), told, &name).await;
    }
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
    check_cases("twilio_sms", cases).await;
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
    check_cases("vonage_sms", cases).await;
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
    check_cases("telnyx_sms", cases).await;
}
