//! `vonage_legacy`: Vonage Verify v1. Vonage generates, sends and checks the code.
//!
//! Form-encoded requests with `api_key` and `api_secret` in the body. The
//! answer is HTTP 200 whatever happened: the outcome is the string `status`
//! ("0" is success) with an `error_text`. An SMS verification uses workflow 5
//! (SMS, then a call) so that "call me instead" moves it on to the call
//! (`trigger_next_event`): a second verification to the same number would be
//! refused as concurrent (status 10).

use super::http::{by_status, scrub, send};
use super::registry::{Block, Context, ProviderConfig};
use super::vonage::VonageSettings;
use super::Providers;
use super::{BoxFuture, ProviderError, VerifyApi, VerifyCheck, VerifyStart};
use crate::otp::Verdict;
use serde::Deserialize;
use std::time::Duration;

/// `providers.vonage_legacy`: the same block as `vonage`'s.
#[derive(Debug, Clone)]
pub struct VonageLegacySettings(pub VonageSettings);

impl ProviderConfig for VonageLegacySettings {
    type Raw = super::vonage::RawVonage;

    fn read(raw: Self::Raw, block: &mut Block<'_>, context: &Context) -> Option<Self> {
        VonageSettings::read(raw, block, context).map(VonageLegacySettings)
    }

    fn build(&self, providers: &mut Providers) {
        providers.add_verify(VonageLegacy::new(self.0.clone()));
    }

    fn endpoint(&self) -> Option<&reqwest::Url> {
        Some(&self.0.endpoint.base_url)
    }
}

pub struct VonageLegacy {
    settings: VonageSettings,
    client: reqwest::Client,
}

/// Every v1 answer: `status` is a string of digits ("0" is success).
#[derive(Deserialize, Default)]
#[serde(default)]
struct Outcome {
    status: serde_json::Value,
    request_id: String,
    error_text: String,
}

impl Outcome {
    /// The status as a number; a number in JSON is read too, defensively.
    fn status(&self) -> Option<u32> {
        match &self.status {
            serde_json::Value::String(text) => text.trim().parse().ok(),
            serde_json::Value::Number(number) => number.as_u64().map(|n| n as u32),
            _ => None,
        }
    }

    fn detail(&self) -> String {
        format!(
            "Vonage status {}: {}",
            self.status()
                .map_or_else(|| "?".to_owned(), |s| s.to_string()),
            scrub(&self.error_text)
        )
    }
}

/// SMS, then a call ("call me instead" and Vonage's own follow-up).
const WORKFLOW_SMS_THEN_CALL: &str = "5";
/// A call only.
const WORKFLOW_CALL: &str = "7";

/// `pin_expiry` and `next_event_wait` for a code `lifetime`. Vonage wants
/// the first an exact multiple of the second, and makes a new code for an
/// event that comes after the code expired; so the call comes halfway,
/// reading the code the SMS carried, and both end with doorman's challenge.
fn timings(lifetime: Duration) -> (u64, u64) {
    let expiry = lifetime.as_secs().clamp(60, 3600);
    let wait = expiry.div_ceil(2).clamp(60, 900);
    // Rounded up: Vonage never drops a code doorman still accepts. At most
    // 3600, since 3600 is a multiple of 900.
    (expiry.div_ceil(wait) * wait, wait)
}

impl VonageLegacy {
    pub fn new(settings: VonageSettings) -> VonageLegacy {
        let client = settings.endpoint.client();
        VonageLegacy { settings, client }
    }

    /// POSTs `fields` with the credentials; the answer's `Outcome`.
    async fn post(&self, path: &str, fields: &[(&str, &str)]) -> Result<Outcome, ProviderError> {
        let mut form = vec![
            ("api_key", self.settings.api_key.as_str()),
            ("api_secret", self.settings.api_secret.expose()),
        ];
        form.extend_from_slice(fields);
        let answer = send(
            self.client
                .post(self.settings.endpoint.url(path))
                .form(&form),
        )
        .await?;
        // v1 answers 200 to everything it understood; anything else came
        // from in front of it.
        if !answer.is_success() {
            return Err(by_status(&answer, "Vonage Verify v1"));
        }
        answer
            .json::<Outcome>()
            .filter(|outcome| outcome.status().is_some())
            .ok_or_else(|| ProviderError::Unavailable("unreadable Vonage answer".into()))
    }
}

/// Vonage's documented statuses, by what the person can do.
fn error(outcome: &Outcome) -> ProviderError {
    let detail = outcome.detail();
    match outcome.status() {
        Some(1) => ProviderError::Throttled { retry_after: None },
        // "Invalid value for param: number"; other invalid values are doorman's.
        Some(3) if outcome.error_text.contains("number") => ProviderError::InvalidNumber(detail),
        // Unroutable, blacklisted, unsupported network, non-permitted destination.
        Some(6 | 7 | 15 | 29) => ProviderError::InvalidNumber(detail),
        Some(9) => ProviderError::LowBalance,
        Some(10) => ProviderError::Concurrent {
            request_id: Some(outcome.request_id.clone()).filter(|id| !id.is_empty()),
        },
        Some(5) => ProviderError::Unavailable(detail),
        _ => ProviderError::Refused(detail),
    }
}

/// Vonage's verdict on a code.
fn verdict(outcome: &Outcome) -> Result<Verdict, ProviderError> {
    match outcome.status() {
        Some(0) => Ok(Verdict::Accepted),
        Some(16) => Ok(Verdict::Wrong),
        Some(17) => Ok(Verdict::Exhausted),
        // Not found, no longer active, or expired.
        Some(6) => Ok(Verdict::Expired),
        _ => Err(error(outcome)),
    }
}

impl VerifyApi for VonageLegacy {
    const NAME: &'static str = "vonage_legacy";

    async fn start(&self, start: &VerifyStart) -> Result<String, ProviderError> {
        let workflow = start.per_channel(WORKFLOW_CALL, WORKFLOW_SMS_THEN_CALL);
        // v1 makes codes of 4 or 6 digits only.
        let code_length = if start.code_length == 4 { "4" } else { "6" };
        let (pin_expiry, next_event_wait) = timings(start.lifetime);
        let (pin_expiry, next_event_wait) = (pin_expiry.to_string(), next_event_wait.to_string());
        let fields = [
            // E.164 without the `+`.
            ("number", start.to.trim_start_matches('+')),
            ("brand", self.settings.brand.as_str()),
            ("code_length", code_length),
            ("workflow_id", workflow),
            ("pin_expiry", pin_expiry.as_str()),
            ("next_event_wait", next_event_wait.as_str()),
        ];
        let outcome = self.post("/verify/json", &fields).await?;
        match outcome.status() {
            Some(0) if !outcome.request_id.is_empty() => Ok(outcome.request_id),
            Some(0) => Err(ProviderError::Unavailable(
                "Vonage answered without a request_id".into(),
            )),
            _ => Err(error(&outcome)),
        }
    }

    async fn check(&self, check: VerifyCheck<'_>) -> Result<Verdict, ProviderError> {
        let fields = [("request_id", check.request_id), ("code", check.code)];
        verdict(&self.post("/verify/check/json", &fields).await?)
    }

    async fn cancel(&self, request_id: &str) -> Result<(), ProviderError> {
        let fields = [("request_id", request_id), ("cmd", "cancel")];
        let outcome = self.post("/verify/control/json", &fields).await?;
        match outcome.status() {
            // 6: no longer active, so nothing to cancel.
            Some(0 | 6) => Ok(()),
            _ => Err(error(&outcome)),
        }
    }

    fn call_instead<'a>(
        &'a self,
        request_id: &'a str,
    ) -> Option<BoxFuture<'a, Result<(), ProviderError>>> {
        Some(Box::pin(async move {
            let fields = [("request_id", request_id), ("cmd", "trigger_next_event")];
            let outcome = self.post("/verify/control/json", &fields).await?;
            match outcome.status() {
                Some(0) => Ok(()),
                // 19: no event left (or too early). doorman then starts a
                // voice verification. 6: this one is over; same.
                Some(6 | 19) => Err(ProviderError::Refused(outcome.detail())),
                _ => Err(error(&outcome)),
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(status: &str, error_text: &str) -> Outcome {
        Outcome {
            status: serde_json::Value::String(status.to_owned()),
            request_id: String::new(),
            error_text: error_text.to_owned(),
        }
    }

    #[test]
    fn documented_statuses_map_to_what_the_person_can_do() {
        let cases = [
            ("1", "Throttled", "Throttled"),
            (
                "2",
                "Your request is incomplete and missing the mandatory parameter `brand`",
                "Refused",
            ),
            ("3", "Invalid value for param: number", "InvalidNumber"),
            ("3", "Invalid value for param: brand", "Refused"),
            ("4", "Bad Credentials", "Refused"),
            ("5", "Internal Error", "Unavailable"),
            ("6", "The message could not be routed", "InvalidNumber"),
            (
                "7",
                "The number you are trying to verify is blacklisted for verification",
                "InvalidNumber",
            ),
            (
                "8",
                "The api_key you supplied is for an account that has been barred",
                "Refused",
            ),
            ("9", "Partner quota exceeded", "LowBalance"),
            (
                "15",
                "The destination number is not in a supported network",
                "InvalidNumber",
            ),
            ("29", "Non-Permitted Destination", "InvalidNumber"),
        ];
        for (status, text, expected) in cases {
            let got = format!("{:?}", error(&outcome(status, text)));
            assert!(got.starts_with(expected), "{status} {text}: {got}");
        }
    }

    #[test]
    fn a_concurrent_verification_names_the_running_one() {
        let mut concurrent = outcome(
            "10",
            "Concurrent verifications to the same number are not allowed",
        );
        concurrent.request_id = "abcdef0123456789abcdef0123456789".into();
        assert!(matches!(
            error(&concurrent),
            ProviderError::Concurrent { request_id: Some(id) } if id == "abcdef0123456789abcdef0123456789"
        ));
        concurrent.request_id.clear();
        assert!(matches!(
            error(&concurrent),
            ProviderError::Concurrent { request_id: None }
        ));
    }

    #[test]
    fn documented_check_statuses_are_verdicts() {
        let cases = [
            ("0", Some(Verdict::Accepted)),
            ("16", Some(Verdict::Wrong)),
            ("17", Some(Verdict::Exhausted)),
            ("6", Some(Verdict::Expired)),
            ("5", None),
            ("1", None),
        ];
        for (status, expected) in cases {
            assert_eq!(verdict(&outcome(status, "")).ok(), expected, "{status}");
        }
    }

    #[test]
    fn a_numeric_status_is_read_too() {
        let body = br#"{"status": 16, "error_text": "The code provided does not match the expected value"}"#;
        let outcome: Outcome = serde_json::from_slice(body).unwrap_or_default();
        assert_eq!(verdict(&outcome).ok(), Some(Verdict::Wrong));
    }

    #[test]
    fn the_code_expires_on_a_multiple_of_the_wait_and_the_call_comes_halfway() {
        let cases = [
            (300, (300, 150)),
            (60, (60, 60)),
            (10, (60, 60)),
            (100, (120, 60)),
            (301, (302, 151)),
            (1800, (1800, 900)),
            (3500, (3600, 900)),
            (86400, (3600, 900)),
        ];
        for (lifetime, expected) in cases {
            let (expiry, wait) = timings(Duration::from_secs(lifetime));
            assert_eq!((expiry, wait), expected, "{lifetime}");
            assert_eq!(expiry % wait, 0, "{lifetime}");
            assert!((60..=3600).contains(&expiry) && (60..=900).contains(&wait));
        }
    }
}
