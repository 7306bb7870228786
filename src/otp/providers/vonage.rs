//! `vonage`: Vonage Verify v2. Vonage generates, sends and checks the code.
//!
//! JSON both ways, Basic auth `api_key:api_secret`, errors as
//! `application/problem+json`. An SMS verification carries a voice step
//! after it, so "call me instead" moves the same verification on to a call
//! (`next_workflow`) instead of starting a second one, which Vonage would
//! refuse as concurrent.

use super::http::{by_status, scrub, send, Answer, Endpoint};
use super::registry::{one_role, raw_block, Block, Context, ProviderConfig};
use super::Providers;
use super::{BoxFuture, ProviderError, VerifyApi, VerifyCheck, VerifyStart};
use crate::otp::Verdict;
use crate::secret::Secret;
use serde::{Deserialize, Serialize};

/// `vonage` (Verify v2) and `vonage_legacy` (Verify v1).
#[derive(Debug, Clone)]
pub struct VonageSettings {
    pub api_key: String,
    pub api_secret: Secret,
    /// Names the app in Vonage's message: 1–16 characters, none of `/{}:$`.
    pub brand: String,
    pub locale: String,
    pub endpoint: Endpoint,
}

pub struct Vonage {
    settings: VonageSettings,
    client: reqwest::Client,
}

/// Vonage's problem details, with the fields Verify adds to some of them.
#[derive(Deserialize, Default)]
#[serde(default)]
struct Problem {
    title: String,
    detail: String,
    /// On a 409 at start: the verification already running to the number.
    request_id: Option<String>,
    /// On a 422: which parameters were wrong.
    invalid_parameters: Vec<InvalidParameter>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct InvalidParameter {
    name: String,
}

#[derive(Serialize)]
struct Start<'a> {
    brand: &'a str,
    code_length: u32,
    channel_timeout: u64,
    locale: &'a str,
    workflow: Vec<Step<'a>>,
}

#[derive(Serialize, Clone, Copy)]
struct Step<'a> {
    channel: &'static str,
    to: &'a str,
}

#[derive(Deserialize)]
struct Started {
    request_id: String,
}

#[derive(Deserialize)]
struct Checked {
    status: String,
}

impl Vonage {
    pub fn new(settings: VonageSettings) -> Vonage {
        let client = settings.endpoint.client();
        Vonage { settings, client }
    }

    fn request(&self, method: reqwest::Method, tail: &str) -> reqwest::RequestBuilder {
        let url = self.settings.endpoint.url(&format!("/v2/verify{tail}"));
        self.client.request(method, url).basic_auth(
            &self.settings.api_key,
            Some(self.settings.api_secret.expose()),
        )
    }
}

impl Problem {
    fn read(answer: &Answer) -> Problem {
        answer.json().unwrap_or_default()
    }

    fn detail(&self) -> String {
        scrub(&format!("Vonage: {} ({})", self.title, self.detail))
    }
}

/// Vonage's documented errors, by what the person can do.
fn error(answer: &Answer) -> ProviderError {
    let problem = Problem::read(answer);
    // The number sits in the workflow; accept `to` however deep it is named.
    let about_the_number = problem.invalid_parameters.iter().any(|parameter| {
        parameter
            .name
            .rsplit(['.', '[', ']'])
            .find(|s| !s.is_empty())
            == Some("to")
    });
    match answer.status {
        422 if about_the_number => ProviderError::InvalidNumber(problem.detail()),
        _ => by_status(answer, problem.detail()),
    }
}

/// The request id of a started verification, or why there is none.
fn started(answer: &Answer) -> Result<String, ProviderError> {
    if answer.status == 409 {
        // One verification per number at a time; doorman reuses the running one.
        let problem = Problem::read(answer);
        return Err(ProviderError::Concurrent {
            request_id: problem.request_id.filter(|id| !id.is_empty()),
        });
    }
    if !answer.is_success() {
        return Err(error(answer));
    }
    answer
        .json::<Started>()
        .map(|started| started.request_id)
        .ok_or_else(|| ProviderError::Unavailable("Vonage answered without a request_id".into()))
}

/// Vonage's verdict on a code.
fn checked(answer: &Answer) -> Result<Verdict, ProviderError> {
    match answer.status {
        200..=299 => {
            let checked: Checked = answer
                .json()
                .ok_or_else(|| ProviderError::Unavailable("unreadable check answer".into()))?;
            Ok(match checked.status.as_str() {
                "completed" => Verdict::Accepted,
                _ => Verdict::Expired,
            })
        }
        400 => Ok(Verdict::Wrong),
        410 => Ok(Verdict::Exhausted),
        // Unknown, already verified or expired.
        404 => Ok(Verdict::Expired),
        // The current step takes no code, so the code was not judged.
        // Calling it wrong would cost the person an attempt for nothing;
        // calling it expired would end a verification that may yet take it.
        // "We could not check the code, try again" is the true answer.
        409 => Err(ProviderError::Unavailable(Problem::read(answer).detail())),
        _ => Err(error(answer)),
    }
}

impl VerifyApi for Vonage {
    const NAME: &'static str = "vonage";

    async fn start(&self, start: &VerifyStart) -> Result<String, ProviderError> {
        // Vonage wants E.164 without the `+`.
        let to = start.to.trim_start_matches('+');
        let sms = Step { channel: "sms", to };
        let voice = Step {
            channel: "voice",
            to,
        };
        // SMS carries a voice step, for "call me instead".
        let workflow = start.per_channel(vec![voice], vec![sms, voice]);
        let body = Start {
            brand: &self.settings.brand,
            code_length: start.code_length.clamp(4, 10),
            // How long a step waits before Vonage moves on to the next:
            // the code's lifetime, so nobody is called unasked while
            // the SMS code is still good.
            channel_timeout: start.lifetime.as_secs().clamp(15, 900),
            locale: &self.settings.locale,
            workflow,
        };
        let answer = send(self.request(reqwest::Method::POST, "").json(&body)).await?;
        started(&answer)
    }

    async fn check(&self, check: VerifyCheck<'_>) -> Result<Verdict, ProviderError> {
        let body = serde_json::json!({ "code": check.code });
        let tail = format!("/{}", check.request_id);
        let request = self.request(reqwest::Method::POST, &tail);
        checked(&send(request.json(&body)).await?)
    }

    async fn cancel(&self, request_id: &str) -> Result<(), ProviderError> {
        let request = self.request(reqwest::Method::DELETE, &format!("/{request_id}"));
        send(request).await?.cancelled(error)
    }

    fn call_instead<'a>(
        &'a self,
        request_id: &'a str,
    ) -> Option<BoxFuture<'a, Result<(), ProviderError>>> {
        Some(Box::pin(async move {
            let tail = format!("/{request_id}/next_workflow");
            let answer = send(self.request(reqwest::Method::POST, &tail)).await?;
            match answer.status {
                200..=299 => Ok(()),
                // No step left: doorman then starts a voice verification.
                409 => Err(ProviderError::Refused(Problem::read(&answer).detail())),
                _ => Err(error(&answer)),
            }
        }))
    }
}

raw_block!(
    /// `providers.vonage` as written.
    /// `vonage` (Verify v2) and `vonage_legacy` (Verify v1).
    RawVonage: api_key, api_secret, brand, locale, base_url, timeout,
);

impl ProviderConfig for VonageSettings {
    type Raw = RawVonage;

    fn read(raw: Self::Raw, block: &mut Block<'_>, context: &Context) -> Option<Self> {
        let brand = raw
            .brand
            .clone()
            .unwrap_or_else(|| context.app_name.chars().take(16).collect());
        if brand.is_empty()
            || brand.chars().count() > 16
            || brand.contains(['/', '{', '}', ':', '$'])
        {
            block.problem("brand", "1 to 16 characters, none of / { } : $");
        }
        Some(VonageSettings {
            api_key: block.required("api_key", &raw.api_key)?,
            api_secret: block.secret("api_secret", &raw.api_secret)?,
            brand,
            locale: raw.locale.clone().unwrap_or_else(|| "en-us".to_owned()),
            endpoint: block.endpoint(&raw.base_url, &raw.timeout, Some("https://api.nexmo.com"))?,
        })
    }

    one_role!(add_verify, Vonage);
}

#[cfg(test)]
mod tests {
    use super::super::http::assert_errors;
    use super::*;
    use serde_json::{json, Value};

    fn answer(status: u16, body: Value) -> Answer {
        Answer::canned(status, &body.to_string())
    }

    /// A problem document as Vonage writes it, plus `extra` fields.
    fn problem(title: &str, extra: Value) -> Value {
        let mut body = json!({
            "type": "https://developer.vonage.com/api-errors",
            "title": title,
            "detail": "d",
            "instance": "bf0ca0bf927b3b52e3cb03217e1a1ddf",
        });
        if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
            body.extend(extra.clone());
        }
        body
    }

    fn invalid(name: &str) -> Value {
        problem(
            "Invalid params",
            json!({"invalid_parameters": [{"name": name, "reason": "Invalid"}]}),
        )
    }

    #[test]
    fn documented_start_errors_map_to_what_the_person_can_do() {
        let cases = [
            (
                401,
                problem("Invalid credentials supplied", json!({})),
                "Refused",
            ),
            (402, problem("Low balance", json!({})), "LowBalance"),
            (422, invalid("to"), "InvalidNumber"),
            (422, invalid("workflow[0].to"), "InvalidNumber"),
            (422, invalid("brand"), "Refused"),
            (422, invalid("channel_timeout"), "Refused"),
            (429, problem("Rate Limit Hit", json!({})), "Throttled"),
            (500, problem("Internal Error", json!({})), "Unavailable"),
            (503, json!("not a problem document"), "Unavailable"),
        ];
        let started = |answer: &Answer| started(answer).expect_err("not started");
        assert_errors(
            started,
            cases.map(|(status, body, expected)| (status, body.to_string(), expected)),
        );
    }

    #[test]
    fn a_concurrent_verification_names_the_running_one() {
        let body = problem(
            "Conflict",
            json!({"request_id": "c11236f4-00bf-4b89-84ba-88b25df97315"}),
        );
        let got = started(&answer(409, body)).unwrap_err();
        assert!(
            matches!(&got, ProviderError::Concurrent { request_id: Some(id) } if id == "c11236f4-00bf-4b89-84ba-88b25df97315"),
            "{got:?}"
        );
        let got = started(&answer(409, problem("Conflict", json!({})))).unwrap_err();
        assert!(
            matches!(got, ProviderError::Concurrent { request_id: None }),
            "{got:?}"
        );
    }

    #[test]
    fn throttling_keeps_retry_after() {
        let mut throttled = answer(429, problem("Rate Limit Hit", json!({})));
        throttled.retry_after = Some(std::time::Duration::from_secs(120));
        let got = started(&throttled).unwrap_err();
        assert!(
            matches!(got, ProviderError::Throttled { retry_after: Some(d) } if d.as_secs() == 120),
            "{got:?}"
        );
    }

    #[test]
    fn documented_check_answers_are_verdicts() {
        let completed = json!({"request_id": "r", "status": "completed"});
        assert_eq!(
            checked(&answer(200, completed)).ok(),
            Some(Verdict::Accepted)
        );
        let cases = [
            (400, "Invalid Code", Verdict::Wrong),
            (410, "Invalid Code", Verdict::Exhausted),
            (404, "Not Found", Verdict::Expired),
        ];
        for (status, title, expected) in cases {
            let got = checked(&answer(status, problem(title, json!({}))));
            assert_eq!(got.ok(), Some(expected), "{status}");
        }
        let pending = json!({"request_id": "r", "status": "in_progress"});
        assert_eq!(
            checked(&answer(200, pending)).ok(),
            Some(Verdict::Expired),
            "only `completed` approves"
        );
    }

    #[test]
    fn a_step_without_a_code_or_throttling_is_no_verdict() {
        let got = checked(&answer(409, problem("Conflict", json!({}))));
        assert!(matches!(got, Err(ProviderError::Unavailable(_))), "{got:?}");
        let got = checked(&answer(429, problem("Rate Limit Hit", json!({}))));
        assert!(
            matches!(got, Err(ProviderError::Throttled { .. })),
            "{got:?}"
        );
    }
}
