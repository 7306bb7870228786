//! `vonage_sms`: sends doorman's code as a text message through Vonage's
//! SMS API.
//!
//! Form-encoded, credentials in the body, the number without its `+`. The
//! answer is HTTP 200 whatever happened: each message part carries its own
//! `status`, and only `"0"` means sent.

use super::http::{by_status, scrub, send, Answer, Endpoint};
use super::registry::http_block;
use super::Providers;
use super::{BoxFuture, CodeMessage, Delivery, ProviderError};
use crate::secret::Secret;
use serde::Deserialize;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct VonageSmsSettings {
    pub api_key: String,
    pub api_secret: Secret,
    pub from: String,
    pub endpoint: Endpoint,
}

pub struct VonageSms {
    settings: VonageSmsSettings,
    client: reqwest::Client,
}

#[derive(Deserialize)]
struct Sent {
    #[serde(default)]
    messages: Vec<Part>,
}

/// One part of the text (a long text is split, each part with its status).
#[derive(Deserialize)]
struct Part {
    status: String,
    #[serde(rename = "error-text")]
    error_text: Option<String>,
}

impl VonageSms {
    pub fn new(settings: VonageSmsSettings) -> VonageSms {
        let client = settings.endpoint.client();
        VonageSms { settings, client }
    }
}

/// Vonage's documented statuses, by what the person can do.
fn error(status: &str, text: &str) -> ProviderError {
    let detail = format!("Vonage SMS status {status}: {}", scrub(text));
    match status {
        // Vonage's limit is messages per second: a moment's wait will do.
        "1" => ProviderError::Throttled {
            retry_after: Some(Duration::from_secs(1)),
        },
        // Barred, or not on a trial account's whitelist.
        "7" | "29" => ProviderError::InvalidNumber(detail),
        "9" => ProviderError::LowBalance,
        "5" => ProviderError::Unavailable(detail),
        // 2/3 bad parameters, 4 bad credentials, 6 invalid message,
        // 15 invalid sender, and whatever else Vonage may answer.
        _ => ProviderError::Refused(detail),
    }
}

impl Delivery for VonageSms {
    fn name(&self) -> &'static str {
        "vonage_sms"
    }

    fn deliver<'a>(&'a self, message: &'a CodeMessage) -> BoxFuture<'a, Result<(), ProviderError>> {
        Box::pin(async move {
            // Vonage writes numbers without the `+`, a sender number too.
            let to = message.to.strip_prefix('+').unwrap_or(&message.to);
            let from = &self.settings.from;
            let from = from.strip_prefix('+').unwrap_or(from);
            let form = [
                ("api_key", self.settings.api_key.as_str()),
                ("api_secret", self.settings.api_secret.expose()),
                ("from", from),
                ("to", to),
                ("text", message.message.as_str()),
            ];
            let url = self.settings.endpoint.url("/sms/json");
            let request = self.client.post(url).form(&form);
            outcome(&send(request).await?)
        })
    }
}

/// Reads Vonage's answer: sent only when every part says `"0"`, or the
/// code may be cut off.
fn outcome(answer: &Answer) -> Result<(), ProviderError> {
    if !answer.is_success() {
        return Err(by_status(answer, "Vonage SMS"));
    }
    let sent: Sent = answer
        .json()
        .ok_or_else(|| ProviderError::Unavailable("unreadable Vonage SMS answer".into()))?;
    if sent.messages.is_empty() {
        return Err(ProviderError::Unavailable(
            "Vonage SMS answered without messages".into(),
        ));
    }
    match sent.messages.iter().find(|part| part.status != "0") {
        Some(part) => Err(error(
            &part.status,
            part.error_text.as_deref().unwrap_or_default(),
        )),
        None => Ok(()),
    }
}

http_block!(
    /// `providers.vonage_sms` as written.
    RawVonageSms => VonageSmsSettings, add_message(VonageSms):
    api_key(required), api_secret(secret), from(required);
    base_url Some("https://rest.nexmo.com"),
);

#[cfg(test)]
mod tests {
    use super::super::http::assert_errors;
    use super::*;

    #[test]
    fn documented_statuses_in_an_http_200_map_to_what_the_person_can_do() {
        let cases = [
            ("1", "Throttled"),
            ("2", "Refused"),
            ("3", "Refused"),
            ("4", "Refused"),
            ("5", "Unavailable"),
            ("6", "Refused"),
            ("7", "InvalidNumber"),
            ("9", "LowBalance"),
            ("15", "Refused"),
            ("29", "InvalidNumber"),
            ("99", "Refused"),
        ];
        let in_200 = |(status, expected)| {
            let body = format!(
                r#"{{"message-count": "1", "messages": [{{"status": "{status}", "error-text": "e"}}]}}"#
            );
            (200, body, expected)
        };
        let outcome = |answer: &Answer| outcome(answer).expect_err("not sent");
        assert_errors(outcome, cases.map(in_200));
    }

    #[test]
    fn only_every_part_sent_is_success() {
        let sent = r#"{"message-count": "2", "messages": [{"status": "0", "message-id": "a"}, {"status": "0", "message-id": "b"}]}"#;
        assert!(outcome(&Answer::canned(200, sent)).is_ok());
        let half = r#"{"message-count": "2", "messages": [{"status": "0", "message-id": "a"}, {"status": "5", "error-text": "Internal Error"}]}"#;
        assert!(matches!(
            outcome(&Answer::canned(200, half)),
            Err(ProviderError::Unavailable(_))
        ));
        let none = r#"{"message-count": "0", "messages": []}"#;
        assert!(matches!(
            outcome(&Answer::canned(200, none)),
            Err(ProviderError::Unavailable(_))
        ));
        assert!(matches!(
            outcome(&Answer::canned(200, "<html>")),
            Err(ProviderError::Unavailable(_))
        ));
    }

    #[test]
    fn http_errors_are_read_by_status() {
        assert!(matches!(
            outcome(&Answer::canned(503, "")),
            Err(ProviderError::Unavailable(_))
        ));
        assert!(matches!(
            outcome(&Answer::canned(401, "")),
            Err(ProviderError::Refused(_))
        ));
    }
}
