//! One conformance suite for every Verify provider (the provider makes,
//! sends and checks the code): Vonage Verify v2, Vonage Verify v1, Twilio
//! Verify and Telnyx Verify, each against its emulation. What one provider
//! does beyond this (its exact requests, its error codes, call-me-instead)
//! stays in its own `providers_*.rs`.

use crate::support::factor::CaseChecks;
use crate::support::fake_api::FakeApi;
use crate::support::telnyx::{self, Telnyx};
use crate::support::twilio::TwilioVerify;
use crate::support::vonage::{problem, Status, VonageLegacyVerify, VonageVerify, ALICE};
use crate::support::{Browser, Env};
use serde_json::json;

/// A Verify provider's emulation, driven the same way whichever it is.
enum Emulator {
    Vonage(VonageVerify),
    VonageLegacy(VonageLegacyVerify),
    Twilio(TwilioVerify),
    Telnyx(Telnyx),
}

impl Emulator {
    /// Every Verify emulation, freshly started.
    async fn all() -> Vec<Emulator> {
        vec![
            Emulator::Vonage(VonageVerify::start().await),
            Emulator::VonageLegacy(VonageLegacyVerify::start().await),
            Emulator::Twilio(TwilioVerify::start().await),
            Emulator::Telnyx(Telnyx::start().await),
        ]
    }

    /// Its key under `providers:`.
    fn name(&self) -> &'static str {
        match self {
            Emulator::Vonage(_) => "vonage",
            Emulator::VonageLegacy(_) => "vonage_legacy",
            Emulator::Twilio(_) => "twilio",
            Emulator::Telnyx(_) => "telnyx",
        }
    }

    fn config(&self) -> String {
        match self {
            Emulator::Vonage(api) => api.config(),
            Emulator::VonageLegacy(api) => api.config(),
            Emulator::Twilio(api) => api.config(),
            Emulator::Telnyx(api) => api.verify_config(),
        }
    }

    fn api(&self) -> &FakeApi {
        match self {
            Emulator::Vonage(api) => &api.api,
            Emulator::VonageLegacy(api) => &api.api,
            Emulator::Twilio(api) => &api.api,
            Emulator::Telnyx(api) => &api.api,
        }
    }

    /// The code the provider sent alice.
    fn code(&self) -> String {
        let code = match self {
            Emulator::Vonage(api) => api.code_for(ALICE),
            Emulator::VonageLegacy(api) => api.code_for(ALICE),
            Emulator::Twilio(api) => api.code_for(ALICE),
            Emulator::Telnyx(api) => api.code_for(ALICE),
        };
        code.unwrap_or_else(|| panic!("{}: no verification to alice", self.name()))
    }

    /// Lets every verification expire at the provider.
    fn forget_all(&self) {
        match self {
            Emulator::Vonage(api) => api.forget_all(),
            Emulator::VonageLegacy(api) => api.forget_all(),
            Emulator::Twilio(api) => api.clear_verifications(),
            Emulator::Telnyx(api) => api.clear_verifications(),
        }
    }

    /// Makes every start fail as when the provider is down.
    fn go_down(&self) {
        match self {
            Emulator::Vonage(api) => api.fail_starts(problem(
                503,
                "Service Unavailable",
                "Try again later",
                json!({}),
            )),
            Emulator::VonageLegacy(api) => api.fail_starts("5", "Internal Error"),
            Emulator::Twilio(api) => api.fail_starts(503, 0),
            Emulator::Telnyx(api) => {
                api.fail_starts(telnyx::error(503, None, "Service Unavailable"))
            }
        }
    }

    /// The wrong codes after which the challenge is over: Vonage ends its
    /// verification after three; for the others doorman's five apply.
    fn wrong_codes_allowed(&self) -> usize {
        match self {
            Emulator::Vonage(_) | Emulator::VonageLegacy(_) => 3,
            Emulator::Twilio(_) | Emulator::Telnyx(_) => 5,
        }
    }

    /// Where the provider tracks it: its verification ended too.
    fn assert_ended_at_the_provider(&self) {
        let status = match self {
            Emulator::Vonage(api) => api.verifications()[0].status,
            Emulator::VonageLegacy(api) => api.verifications()[0].status,
            Emulator::Twilio(_) | Emulator::Telnyx(_) => return,
        };
        assert_eq!(status, Status::Terminated, "{}", self.name());
    }
}

/// doorman with `provider` for SMS and voice (and the webhook as the SMS
/// fallback when `fallback`).
async fn env_for(provider: &Emulator, fallback: bool) -> Env {
    let name = provider.name();
    let channels = if fallback {
        format!("  sms: {{ provider: {name}, fallback: [webhook] }}")
    } else {
        format!("  sms: {{ provider: {name} }}\n  voice: {{ provider: {name} }}")
    };
    Env::with_providers(&channels, &[provider.config()], "").await
}

/// The provider's name, doorman on it alone, and a browser of alice's on its code
/// page, an SMS code on its way.
async fn code_sent(provider: &Emulator) -> (&'static str, Env, Browser) {
    let env = env_for(provider, false).await;
    let mut browser = env.past_password("alice").await;
    let page = browser.ask_for_code("sms").await;
    assert_eq!(page.status, 303, "{}: send step: {page:?}", provider.name());
    let page = browser.get("/.doorman/2fa").await;
    assert_eq!(page.status, 200, "{}: {page:?}", provider.name());
    (provider.name(), env, browser)
}

#[tokio::test]
async fn a_wrong_code_the_provider_rejects_leaves_attempts() {
    for provider in Emulator::all().await {
        let (name, _env, mut browser) = code_sent(&provider).await;
        let page = browser.enter_code("000000").await;
        page.says_for(name, 401, "4 attempts left");
        assert_eq!(provider.api().requests().len(), 2, "{name}: it was asked");
        let page = browser.enter_code(&provider.code()).await;
        assert_eq!(page.status, 303, "{name}: still running: {page:?}");
    }
}

#[tokio::test]
async fn wrong_codes_end_the_challenge_and_the_provider_is_not_asked_again() {
    for provider in Emulator::all().await {
        let (name, _env, mut browser) = code_sent(&provider).await;
        let code = provider.code();
        for _ in 1..provider.wrong_codes_allowed() {
            let page = browser.enter_code("000000").await;
            page.shows_for(name, "That code is not right");
        }
        let page = browser.enter_code("000000").await;
        page.says_for(name, 401, "Too many wrong codes");
        provider.assert_ended_at_the_provider();
        let asked = provider.api().requests().len();
        let page = browser.enter_code(&code).await;
        assert_ne!(page.status, 303, "{name}: the challenge is over: {page:?}");
        assert_eq!(
            provider.api().requests().len(),
            asked,
            "{name}: asked about an ended challenge"
        );
    }
}

#[tokio::test]
async fn a_verification_the_provider_no_longer_knows_is_over() {
    for provider in Emulator::all().await {
        let (name, _env, mut browser) = code_sent(&provider).await;
        let code = provider.code();
        provider.forget_all();
        let page = browser.enter_code(&code).await;
        page.says_for(name, 401, "That code has expired");
    }
}

#[tokio::test]
async fn when_the_provider_is_down_the_fallback_provider_delivers() {
    for provider in Emulator::all().await {
        let name = provider.name();
        let env = env_for(&provider, true).await;
        provider.go_down();
        let mut browser = env.past_password("alice").await;
        let code = browser.request_code(&env, "sms").await;
        assert_eq!(provider.api().requests().len(), 1, "{name} was tried once");
        assert_eq!(browser.enter_code(&code).await.status, 303, "{name}");
    }
}
