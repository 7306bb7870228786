//! `twilio`: Twilio Verify v2. Twilio generates, sends and checks the code.
//!
//! Form-encoded requests with PascalCase fields, JSON answers, Basic auth
//! `AccountSid:AuthToken`. A wrong code is HTTP 200 with `status: pending`;
//! an approved, expired or exhausted verification is deleted, so checking
//! it again is a 404 (error 20404).

use super::http::{by_status, scrub, send, Answer, Endpoint};
use super::registry::http_block;
use super::Providers;
use super::{ProviderError, VerifyApi, VerifyCheck, VerifyStart};
use crate::otp::Verdict;
use crate::secret::Secret;
use serde::Deserialize;

#[derive(Debug, Clone)]
pub struct TwilioSettings {
    pub account_sid: String,
    pub auth_token: Secret,
    pub service_sid: String,
    pub locale: String,
    pub endpoint: Endpoint,
}

pub struct Twilio {
    settings: TwilioSettings,
    client: reqwest::Client,
}

/// Twilio's error body, the same for Verify and Messages.
#[derive(Deserialize)]
struct Failure {
    code: Option<u32>,
    message: Option<String>,
}

/// What Twilio answers a created verification or message with.
#[derive(Deserialize)]
pub(super) struct Created {
    pub(super) sid: String,
}

#[derive(Deserialize)]
struct Check {
    status: String,
    #[serde(default)]
    valid: bool,
}

impl Twilio {
    pub fn new(settings: TwilioSettings) -> Twilio {
        let client = settings.endpoint.client();
        Twilio { settings, client }
    }

    fn url(&self, tail: &str) -> String {
        let service = &self.settings.service_sid;
        self.settings
            .endpoint
            .url(&format!("/v2/Services/{service}/{tail}"))
    }

    fn post(&self, tail: &str, form: &[(&str, &str)]) -> reqwest::RequestBuilder {
        self.client
            .post(self.url(tail))
            .basic_auth(
                &self.settings.account_sid,
                Some(self.settings.auth_token.expose()),
            )
            .form(form)
    }
}

/// Twilio's documented errors, by what the person can do. Verify and
/// Messages (`twilio_sms`) share one body and one code space, so one table
/// serves both.
pub(super) fn error(answer: &Answer) -> ProviderError {
    let failure: Option<Failure> = answer.json();
    let code = failure.as_ref().and_then(|f| f.code).unwrap_or(0);
    let detail = format!(
        "Twilio error {code}: {}",
        scrub(&failure.and_then(|f| f.message).unwrap_or_default())
    );
    match code {
        // Verify: invalid parameter (the number, in practice), geo permissions.
        // Messages: invalid `To`, region not enabled, opted out (STOP).
        60200 | 60605 | 21211 | 21408 | 21610 => ProviderError::InvalidNumber(detail),
        60203 | 60212 | 20429 => ProviderError::Throttled {
            retry_after: answer.retry_after,
        },
        _ => by_status(answer, detail),
    }
}

impl VerifyApi for Twilio {
    const NAME: &'static str = "twilio";

    async fn start(&self, start: &VerifyStart) -> Result<String, ProviderError> {
        let channel = start.per_channel("call", "sms");
        let form = [
            ("To", start.to.as_str()),
            ("Channel", channel),
            ("Locale", self.settings.locale.as_str()),
        ];
        let answer = send(self.post("Verifications", &form)).await?;
        answer.id(
            error,
            |created: Created| created.sid,
            "Twilio answered without a sid",
        )
    }

    async fn check(&self, check: VerifyCheck<'_>) -> Result<Verdict, ProviderError> {
        let form = [("VerificationSid", check.request_id), ("Code", check.code)];
        let answer = send(self.post("VerificationCheck", &form)).await?;
        if answer.is_success() {
            let check: Check = answer.body("unreadable VerificationCheck answer")?;
            return Ok(match (check.status.as_str(), check.valid) {
                ("approved", true) => Verdict::Accepted,
                ("pending", _) => Verdict::Wrong,
                _ => Verdict::Expired,
            });
        }
        let failure: Option<Failure> = answer.json();
        match (answer.status, failure.and_then(|f| f.code)) {
            (404, _) | (_, Some(20404)) => Ok(Verdict::Expired),
            (_, Some(60202)) => Ok(Verdict::Exhausted),
            _ => Err(error(&answer)),
        }
    }

    async fn cancel(&self, request_id: &str) -> Result<(), ProviderError> {
        let tail = format!("Verifications/{request_id}");
        let answer = send(self.post(&tail, &[("Status", "canceled")])).await?;
        answer.cancelled(error)
    }
}

http_block!(
    /// `providers.twilio` as written.
    RawTwilio => TwilioSettings, add_verify(Twilio):
    account_sid(required), auth_token(secret), service_sid(required), locale(or "en");
    base_url Some("https://verify.twilio.com"),
);

#[cfg(test)]
mod tests {
    use super::*;

    use super::super::http::assert_errors;

    /// Twilio's error body for `code` with HTTP `status`, Verify's and
    /// Messages' alike.
    fn failure(status: u16, code: u32, expected: &'static str) -> (u16, String, &'static str) {
        let body =
            format!(r#"{{"code": {code}, "message": "m", "more_info": "", "status": {status}}}"#);
        (status, body, expected)
    }

    /// Verify's codes, then those of Messages (`twilio_sms`): one table.
    #[test]
    fn documented_errors_map_to_what_the_person_can_do() {
        assert_errors(
            error,
            [
                failure(400, 60200, "InvalidNumber"),
                failure(403, 60605, "InvalidNumber"),
                failure(429, 60203, "Throttled"),
                failure(429, 60212, "Throttled"),
                failure(429, 20429, "Throttled"),
                failure(400, 60223, "Refused"),
                failure(401, 20003, "Refused"),
                failure(503, 0, "Unavailable"),
                failure(400, 21211, "InvalidNumber"),
                failure(400, 21408, "InvalidNumber"),
                failure(400, 21610, "InvalidNumber"),
                failure(429, 20429, "Throttled"),
                failure(429, 0, "Throttled"),
                failure(401, 20003, "Refused"),
                failure(400, 21606, "Refused"),
                failure(500, 0, "Unavailable"),
                failure(503, 0, "Unavailable"),
            ],
        );
    }
}
