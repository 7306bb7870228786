//! `twilio_sms`: sends doorman's code as a text message through Twilio's
//! Messages API. Form-encoded, Basic auth `AccountSid:AuthToken`; the error
//! body is Twilio Verify's (`twilio`).

use super::http::{send, Endpoint};
use super::registry::http_block;
use super::twilio::{error, Created};
use super::Providers;
use super::{BoxFuture, CodeMessage, Delivery, ProviderError};
use crate::secret::Secret;

/// Exactly one of `from` and `messaging_service_sid` is set.
#[derive(Debug, Clone)]
pub struct TwilioSmsSettings {
    pub account_sid: String,
    pub auth_token: Secret,
    pub from: Option<String>,
    pub messaging_service_sid: Option<String>,
    pub endpoint: Endpoint,
}

pub struct TwilioSms {
    settings: TwilioSmsSettings,
    client: reqwest::Client,
}

impl TwilioSms {
    pub fn new(settings: TwilioSmsSettings) -> TwilioSms {
        let client = settings.endpoint.client();
        TwilioSms { settings, client }
    }

    fn url(&self) -> String {
        let account = &self.settings.account_sid;
        self.settings
            .endpoint
            .url(&format!("/2010-04-01/Accounts/{account}/Messages.json"))
    }

    /// `From` (a Twilio number or sender id) or `MessagingServiceSid`
    /// (Twilio picks from the service's senders); the config sets exactly one.
    fn sender(&self) -> Result<(&'static str, &str), ProviderError> {
        match (&self.settings.from, &self.settings.messaging_service_sid) {
            (Some(from), _) => Ok(("From", from)),
            (None, Some(sid)) => Ok(("MessagingServiceSid", sid)),
            (None, None) => Err(ProviderError::Refused("no sender configured".into())),
        }
    }
}

impl Delivery for TwilioSms {
    fn name(&self) -> &'static str {
        "twilio_sms"
    }

    fn deliver<'a>(&'a self, message: &'a CodeMessage) -> BoxFuture<'a, Result<(), ProviderError>> {
        Box::pin(async move {
            let form = [
                ("To", message.to.as_str()),
                self.sender()?,
                ("Body", message.message.as_str()),
            ];
            let request = self
                .client
                .post(self.url())
                .basic_auth(
                    &self.settings.account_sid,
                    Some(self.settings.auth_token.expose()),
                )
                .form(&form);
            let answer = send(request).await?;
            let sent = |created: Created| created.sid;
            answer.id(error, sent, "Twilio answered without a message sid")?;
            Ok(())
        })
    }
}

http_block!(
    /// `providers.twilio_sms` as written.
    RawTwilioSms => TwilioSmsSettings, add_message(TwilioSms):
    account_sid(required), auth_token(secret), from(optional), messaging_service_sid(optional);
    one_of(from, messaging_service_sid);
    base_url Some("https://api.twilio.com"),
);

#[cfg(test)]
mod tests {
    use super::super::http::Answer;
    use super::*;

    #[test]
    fn the_error_text_never_carries_the_number() {
        let body = r#"{"code": 21211, "message": "The 'To' number +14155550100 is not a valid phone number.", "more_info": "https://www.twilio.com/docs/errors/21211", "status": 400}"#;
        let answer = Answer::canned(400, body);
        let text = error(&answer).to_string();
        assert!(!text.contains("4155550100"), "{text}");
        assert!(text.contains("Twilio error 21211"), "{text}");
    }
}
