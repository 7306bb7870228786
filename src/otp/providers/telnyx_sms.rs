//! `telnyx_sms`: sends doorman's code as a text message through Telnyx
//! Messages. Requests and error bodies are Telnyx Verify's (`telnyx`).

use super::http::{send, Endpoint};
use super::registry::http_block;
use super::telnyx::{error, post, Created, Data};
use super::Providers;
use super::{BoxFuture, CodeMessage, Delivery, ProviderError};
use crate::secret::Secret;
use serde::Serialize;

/// Exactly one of `from` and `messaging_profile_id` is set.
#[derive(Debug, Clone)]
pub struct TelnyxSmsSettings {
    pub api_key: Secret,
    pub from: Option<String>,
    pub messaging_profile_id: Option<String>,
    pub endpoint: Endpoint,
}

pub struct TelnyxSms {
    settings: TelnyxSmsSettings,
    client: reqwest::Client,
}

/// `from` (a Telnyx number) or `messaging_profile_id` (Telnyx picks one of
/// the profile's numbers); the config sets exactly one.
#[derive(Serialize)]
struct Body<'a> {
    to: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    from: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    messaging_profile_id: Option<&'a str>,
    text: &'a str,
}

impl TelnyxSms {
    pub fn new(settings: TelnyxSmsSettings) -> TelnyxSms {
        let client = settings.endpoint.client();
        TelnyxSms { settings, client }
    }
}

impl Delivery for TelnyxSms {
    fn name(&self) -> &'static str {
        "telnyx_sms"
    }

    fn deliver<'a>(&'a self, message: &'a CodeMessage) -> BoxFuture<'a, Result<(), ProviderError>> {
        Box::pin(async move {
            let body = Body {
                to: &message.to,
                from: self.settings.from.as_deref(),
                messaging_profile_id: self.settings.messaging_profile_id.as_deref(),
                text: &message.message,
            };
            let request = post(
                &self.client,
                &self.settings.endpoint,
                &self.settings.api_key,
                "/v2/messages",
                &body,
            );
            let answer = send(request).await?;
            let sent = |created: Data<Created>| created.data.id;
            answer.id(error, sent, "Telnyx answered without a message id")?;
            Ok(())
        })
    }
}

http_block!(
    /// `providers.telnyx_sms` as written.
    RawTelnyxSms => TelnyxSmsSettings, add_message(TelnyxSms):
    api_key(secret), from(optional), messaging_profile_id(optional);
    one_of(from, messaging_profile_id);
    base_url Some("https://api.telnyx.com"),
);

#[cfg(test)]
mod tests {
    use super::super::http::assert_errors;
    use super::*;

    #[test]
    fn documented_errors_map_to_what_the_person_can_do() {
        assert_errors(
            error,
            [
                (
                    401,
                    r#"{"errors": [{"code": "10009", "title": "Authentication failed"}]}"#,
                    "Refused",
                ),
                (
                    429,
                    r#"{"errors": [{"code": "10011", "title": "Too many requests"}]}"#,
                    "Throttled",
                ),
                (
                    400,
                    r#"{"errors": [{"code": "10016", "title": "Phone number must be in +E.164 format"}]}"#,
                    "InvalidNumber",
                ),
                (400, r#"{"errors": [{"title": "Bad Request"}]}"#, "Refused"),
                (503, "", "Unavailable"),
            ],
        );
    }

    #[test]
    fn the_body_names_the_sender_one_way_only() {
        let body = Body {
            to: "+14155550100",
            from: None,
            messaging_profile_id: Some("profile"),
            text: "t",
        };
        assert_eq!(
            serde_json::to_value(&body).ok(),
            Some(
                serde_json::json!({"to": "+14155550100", "messaging_profile_id": "profile", "text": "t"})
            )
        );
    }
}
