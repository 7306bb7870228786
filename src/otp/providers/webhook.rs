//! The `webhook` provider: POSTs the code as signed JSON to a URL of yours.

use super::push::{PushMessage, PushSender, PushStarted, Pushing};
use super::registry::{raw_block, Block, Context, ProviderConfig};
use super::{BoxFuture, CodeMessage, Delivery, ProviderError};
use super::{Provider, Providers};
use serde::Serialize;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

#[derive(Clone)]
pub struct WebhookSettings {
    pub url: reqwest::Url,
    pub secret: Option<String>,
    pub timeout: Duration,
}

impl fmt::Debug for WebhookSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookSettings")
            .field("url", &self.url.as_str())
            .field("secret", &self.secret.as_ref().map(|_| "redacted"))
            .field("timeout", &self.timeout)
            .finish()
    }
}

pub struct WebhookProvider {
    settings: WebhookSettings,
    client: reqwest::Client,
}

/// The body documented in DESIGN.md; field order is the contract's.
#[derive(Serialize)]
struct Body<'a> {
    channel: &'static str,
    to: &'a str,
    user: &'a str,
    code: &'a str,
    message: &'a str,
    expires_at: String,
}

impl WebhookProvider {
    pub fn new(settings: WebhookSettings) -> WebhookProvider {
        let client = super::http::client(settings.timeout);
        WebhookProvider { settings, client }
    }
}

/// `sha256=<hex HMAC-SHA256 of the raw body>`.
pub fn signature(secret: &str, body: &[u8]) -> String {
    format!(
        "sha256={}",
        crate::crypto::hex(&crate::crypto::hmac(secret.as_bytes(), body))
    )
}

/// The push body, documented in the README: numbered answer URLs and a
/// deny URL, in the random order the numbers were drawn.
#[derive(Serialize)]
struct PushBody<'a> {
    channel: &'static str,
    user: &'a str,
    title: &'a str,
    message: &'a str,
    actions: Vec<PushActionBody<'a>>,
    deny_url: &'a str,
    expires_at: String,
}

#[derive(Serialize)]
struct PushActionBody<'a> {
    number: u8,
    label: String,
    url: &'a str,
}

fn rfc3339(unix: u64) -> String {
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(unix)).to_string()
}

impl Delivery for WebhookProvider {
    fn name(&self) -> &'static str {
        "webhook"
    }

    fn deliver<'a>(&'a self, message: &'a CodeMessage) -> BoxFuture<'a, Result<(), ProviderError>> {
        Box::pin(async move {
            let body = serde_json::to_vec(&Body {
                channel: message.channel.name(),
                to: &message.to,
                user: &message.user,
                code: &message.code,
                message: &message.message,
                expires_at: rfc3339(message.expires_at),
            })
            .map_err(|err| ProviderError::Refused(err.to_string()))?;
            self.post(body).await
        })
    }
}

impl PushSender for WebhookProvider {
    fn name(&self) -> &'static str {
        "webhook"
    }

    fn send<'a>(&'a self, push: &'a PushMessage) -> Pushing<'a> {
        Box::pin(async move {
            let body = serde_json::to_vec(&PushBody {
                channel: "push",
                user: &push.user,
                title: &push.title,
                message: &push.message,
                actions: push
                    .actions
                    .iter()
                    .map(|action| PushActionBody {
                        number: action.number,
                        label: format!("{:02}", action.number),
                        url: &action.url,
                    })
                    .collect(),
                deny_url: &push.deny_url,
                expires_at: rfc3339(push.expires_at),
            })
            .map_err(|err| ProviderError::Refused(err.to_string()))?;
            self.post(body).await.map(|()| PushStarted::Callback)
        })
    }
}

impl WebhookProvider {
    /// POSTs an account notice (README: "Account notices"): a JSON object
    /// with an `event` field and no code, signed like a code delivery.
    pub async fn notify(&self, notice: &impl Serialize) -> Result<(), ProviderError> {
        let body =
            serde_json::to_vec(notice).map_err(|err| ProviderError::Refused(err.to_string()))?;
        self.post(body).await
    }

    /// POSTs a JSON body, signed when a secret is set; any 2xx is success.
    async fn post(&self, body: Vec<u8>) -> Result<(), ProviderError> {
        let mut request = self
            .client
            .post(self.settings.url.clone())
            .header(http::header::CONTENT_TYPE, "application/json");
        if let Some(secret) = &self.settings.secret {
            request = request.header("X-Doorman-Signature", signature(secret, &body));
        }
        let response = request.body(body).send().await.map_err(|err| {
            if err.is_timeout() {
                ProviderError::Unavailable("no answer in time".into())
            } else {
                ProviderError::Unavailable(without_url(err).to_string())
            }
        })?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(ProviderError::Unavailable(format!(
                "HTTP {}",
                response.status().as_u16()
            )))
        }
    }
}

/// reqwest errors print their URL, which may carry a token in its query.
fn without_url(err: reqwest::Error) -> reqwest::Error {
    err.without_url()
}

raw_block!(
    /// `providers.webhook` as written.
    RawWebhook: url, secret, timeout,
);

impl ProviderConfig for WebhookSettings {
    type Raw = RawWebhook;

    fn read(raw: Self::Raw, block: &mut Block<'_>, _context: &Context) -> Option<Self> {
        let url = block.url("url", &raw.url, None)?;
        let timeout = block.timeout(&raw.timeout, "5s");
        Some(WebhookSettings {
            url,
            secret: raw.secret.filter(|secret| !secret.is_empty()),
            timeout,
        })
    }

    fn build(&self, providers: &mut Providers) {
        let webhook = Arc::new(WebhookProvider::new(self.clone()));
        providers.all.push(Provider::Message(webhook.clone()));
        providers.push.push(webhook.clone());
        providers.webhook = Some(webhook);
    }

    fn endpoint(&self) -> Option<&reqwest::Url> {
        Some(&self.url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_hex_hmac_sha256_of_the_body() {
        assert_eq!(
            signature("key", b"The quick brown fox jumps over the lazy dog"),
            "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
        );
    }
}
