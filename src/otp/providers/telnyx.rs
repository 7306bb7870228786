//! `telnyx`: Telnyx Verify v2. Telnyx generates, sends and checks the code.
//!
//! JSON both ways, `Authorization: Bearer <api key>`. A code is checked by
//! phone number (and verify profile), not by verification id; a wrong code
//! is HTTP 200 with `response_code: rejected`. The error body and the
//! request shape are shared with Telnyx Messages (`telnyx_sms`).

use super::http::{by_status, scrub, send, Answer, Endpoint};
use super::registry::http_block;
use super::Providers;
use super::{ProviderError, VerifyApi, VerifyCheck, VerifyStart};
use crate::otp::Verdict;
use crate::secret::Secret;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone)]
pub struct TelnyxSettings {
    pub api_key: Secret,
    pub verify_profile_id: String,
    pub endpoint: Endpoint,
}

pub struct Telnyx {
    settings: TelnyxSettings,
    client: reqwest::Client,
}

/// Telnyx's error body, the same for Verify and Messages:
/// `{"errors": [{"code", "title", "detail"}]}`.
#[derive(Deserialize)]
struct Failures {
    #[serde(default)]
    errors: Vec<Failure>,
}

#[derive(Deserialize)]
struct Failure {
    /// A string in Telnyx's answers ("10009"); a number is read too.
    code: Option<serde_json::Value>,
    title: Option<String>,
    detail: Option<String>,
}

/// Telnyx wraps every answer in `data`.
#[derive(Deserialize)]
pub(super) struct Data<T> {
    pub(super) data: T,
}

/// What Telnyx answers a created verification or message with.
#[derive(Deserialize)]
pub(super) struct Created {
    pub(super) id: String,
}

#[derive(Deserialize)]
struct Check {
    response_code: String,
}

#[derive(Serialize)]
struct StartBody<'a> {
    phone_number: &'a str,
    verify_profile_id: &'a str,
    timeout_secs: u64,
}

#[derive(Serialize)]
struct CheckBody<'a> {
    code: &'a str,
    verify_profile_id: &'a str,
}

impl Telnyx {
    pub fn new(settings: TelnyxSettings) -> Telnyx {
        let client = settings.endpoint.client();
        Telnyx { settings, client }
    }

    fn post(&self, path: &str, body: &impl Serialize) -> reqwest::RequestBuilder {
        post(
            &self.client,
            &self.settings.endpoint,
            &self.settings.api_key,
            path,
            body,
        )
    }
}

/// A JSON POST to Telnyx's API with the key as Bearer token.
pub(super) fn post(
    client: &reqwest::Client,
    endpoint: &Endpoint,
    api_key: &Secret,
    path: &str,
    body: &impl Serialize,
) -> reqwest::RequestBuilder {
    client
        .post(endpoint.url(path))
        .bearer_auth(api_key.expose())
        .json(body)
}

/// The first error's code and its text for the log.
fn failure(answer: &Answer) -> (Option<u32>, String) {
    let first = answer
        .json::<Failures>()
        .and_then(|failures| failures.errors.into_iter().next());
    let Some(first) = first else {
        return (None, "Telnyx error without a body".to_owned());
    };
    let code = first.code.and_then(|code| match code {
        serde_json::Value::String(text) => text.parse().ok(),
        number => number.as_u64().and_then(|n| u32::try_from(n).ok()),
    });
    let text = [first.title, first.detail]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(": ");
    let detail = format!("Telnyx error {}: {}", code.unwrap_or(0), scrub(&text));
    (code, detail)
}

/// Telnyx's documented errors, by what the person can do; Verify and
/// Messages alike. Telnyx does not document its HTTP statuses, so beyond
/// the codes: 429 throttled, 5xx worth the next provider, 4xx refused.
pub(super) fn error(answer: &Answer) -> ProviderError {
    let (code, detail) = failure(answer);
    match code {
        Some(10016) => ProviderError::InvalidNumber(detail),
        Some(10011) => ProviderError::Throttled {
            retry_after: answer.retry_after,
        },
        Some(10009) => ProviderError::Refused(detail),
        _ => by_status(answer, detail),
    }
}

/// `+14155550100` as a path segment: `%2B14155550100`. A bare `+` is legal
/// in a path (and what `reqwest::Url` leaves alone), but servers and proxies
/// that decode paths like form data read it as a space; `%2B` means `+` to
/// every decoder. Anything but `+` and digits is refused rather than
/// escaped: doorman only holds validated E.164 numbers.
fn number_segment(number: &str) -> Option<String> {
    let digits = number.strip_prefix('+')?;
    (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| format!("%2B{digits}"))
}

impl VerifyApi for Telnyx {
    const NAME: &'static str = "telnyx";

    async fn start(&self, start: &VerifyStart) -> Result<String, ProviderError> {
        let path = start.per_channel("/v2/verifications/call", "/v2/verifications/sms");
        let body = StartBody {
            phone_number: &start.to,
            verify_profile_id: &self.settings.verify_profile_id,
            timeout_secs: start.lifetime.as_secs(),
        };
        let answer = send(self.post(path, &body)).await?;
        let id = |created: Data<Created>| created.data.id;
        answer.id(error, id, "Telnyx answered without an id")
    }

    /// By number: Telnyx checks the code sent to `to` last.
    async fn check(&self, check: VerifyCheck<'_>) -> Result<Verdict, ProviderError> {
        let number = number_segment(check.to)
            .ok_or_else(|| ProviderError::InvalidNumber("not +E.164".into()))?;
        let body = CheckBody {
            code: check.code,
            verify_profile_id: &self.settings.verify_profile_id,
        };
        let path = format!("/v2/verifications/by_phone_number/{number}/actions/verify");
        let answer = send(self.post(&path, &body)).await?;
        if answer.is_success() {
            let check: Data<Check> = answer.body("unreadable Telnyx verify answer")?;
            return Ok(match check.data.response_code.as_str() {
                "accepted" => Verdict::Accepted,
                "rejected" => Verdict::Wrong,
                // Undocumented: never a sign-in.
                _ => Verdict::Expired,
            });
        }
        match (answer.status, failure(&answer).0) {
            (404, _) | (_, Some(10005)) => Ok(Verdict::Expired),
            _ => Err(error(&answer)),
        }
    }

    /// Telnyx documents no way to end a verification early; it lapses after
    /// `timeout_secs`. Nothing to do, and nothing failed.
    async fn cancel(&self, _request_id: &str) -> Result<(), ProviderError> {
        Ok(())
    }
}

http_block!(
    /// `providers.telnyx` as written.
    RawTelnyx => TelnyxSettings, add_verify(Telnyx):
    api_key(secret), verify_profile_id(required);
    base_url Some("https://api.telnyx.com"),
);

#[cfg(test)]
mod tests {
    use super::super::http::assert_errors;
    use super::*;

    #[test]
    fn documented_errors_map_to_what_the_person_can_do() {
        let coded = |status, code: &str, expected| {
            let body =
                format!(r#"{{"errors": [{{"code": "{code}", "title": "t", "detail": "d"}}]}}"#);
            (status, body, expected)
        };
        let bare = |status, expected| (status, String::new(), expected);
        assert_errors(
            error,
            [
                coded(401, "10009", "Refused"),
                coded(403, "10009", "Refused"),
                coded(429, "10011", "Throttled"),
                coded(400, "10011", "Throttled"),
                coded(422, "10016", "InvalidNumber"),
                coded(400, "10016", "InvalidNumber"),
                coded(404, "10005", "Refused"),
                bare(429, "Throttled"),
                bare(422, "Refused"),
                coded(500, "10007", "Unavailable"),
                bare(503, "Unavailable"),
            ],
        );
    }

    #[test]
    fn a_numeric_error_code_is_read_too() {
        let body = r#"{"errors": [{"code": 10016, "title": "Invalid phone number"}]}"#;
        assert!(matches!(
            error(&Answer::canned(400, body)),
            ProviderError::InvalidNumber(_)
        ));
    }

    #[test]
    fn the_error_text_never_carries_the_number() {
        let body = r#"{"errors": [{"code": "10016", "title": "Invalid phone number", "detail": "+14155550100 is not E.164"}]}"#;
        let text = error(&Answer::canned(400, body)).to_string();
        assert!(!text.contains("4155550100"), "{text}");
        assert!(text.contains("Telnyx error 10016"), "{text}");
    }

    #[test]
    fn the_number_goes_into_the_path_with_its_plus_escaped() {
        assert_eq!(
            number_segment("+14155550100").as_deref(),
            Some("%2B14155550100")
        );
        assert_eq!(number_segment("14155550100"), None);
        assert_eq!(number_segment("+1415/../x"), None);
        assert_eq!(number_segment("+"), None);
    }
}
