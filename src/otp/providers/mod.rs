//! Providers deliver codes; they never decide anything.

mod log;
mod webhook;

pub use self::log::LogProvider;
pub use webhook::WebhookProvider;

use super::Channel;
use crate::config::ProviderSettings;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A code on its way to a person.
#[derive(Debug, Clone)]
pub struct CodeMessage {
    pub channel: Channel,
    /// E.164 with `+`.
    pub to: String,
    pub user: String,
    pub code: String,
    /// The full text for SMS (ending in the WebOTP line), or what a voice says.
    pub message: String,
    /// Unix seconds.
    pub expires_at: u64,
}

/// Why a code did not go out. Shown to people only as "could not send".
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error("the provider answered HTTP {0}")]
    Status(u16),
    #[error("the provider did not answer in time")]
    Timeout,
    #[error("could not reach the provider: {0}")]
    Transport(String),
}

/// Something that takes a code to a person.
pub trait Delivery: Send + Sync {
    /// The provider's key under `providers:`.
    fn name(&self) -> &'static str;
    fn deliver<'a>(&'a self, message: &'a CodeMessage) -> BoxFuture<'a, Result<(), DeliveryError>>;
}

/// The configured providers, by name.
#[derive(Clone, Default)]
pub struct Providers {
    all: Vec<Arc<dyn Delivery>>,
}

impl Providers {
    pub fn from_settings(settings: &ProviderSettings) -> Providers {
        let mut all: Vec<Arc<dyn Delivery>> = Vec::new();
        if settings.log {
            tracing::warn!(
                "the `log` provider is configured: one-time codes are written to this log. \
                 Use it only for trials, never in production"
            );
            all.push(Arc::new(LogProvider));
        }
        if let Some(webhook) = &settings.webhook {
            all.push(Arc::new(WebhookProvider::new(webhook.clone())));
        }
        Providers { all }
    }

    pub fn get(&self, name: &str) -> Option<&Arc<dyn Delivery>> {
        self.all.iter().find(|provider| provider.name() == name)
    }
}

/// Text for a code: for SMS the last line lets browsers fill it in (WebOTP).
pub fn message_text(channel: Channel, app: &str, code: &str, host: &str) -> String {
    match channel {
        Channel::Sms => format!("Your {app} code is {code}\n\n@{host} #{code}"),
        Channel::Voice => {
            let spoken: Vec<String> = code.chars().map(String::from).collect();
            format!(
                "Your {app} code is {}. Again: {}.",
                spoken.join(" "),
                spoken.join(" ")
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sms_text_ends_with_the_webotp_line() {
        let text = message_text(Channel::Sms, "Example", "123456", "app.example.com");
        assert_eq!(
            text,
            "Your Example code is 123456\n\n@app.example.com #123456"
        );
        assert_eq!(text.lines().last(), Some("@app.example.com #123456"));
    }
}
