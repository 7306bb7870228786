//! Providers deliver codes; they never decide anything.

pub mod duo;
mod http;
mod log;
mod ntfy;
pub mod push;
pub mod registry;
mod telnyx;
mod telnyx_sms;
mod twilio;
mod twilio_sms;
mod vonage;
mod vonage_legacy;
mod vonage_sms;
mod webhook;

pub use self::log::LogProvider;
pub use duo::{Duo, DuoSettings};
pub use ntfy::{Ntfy, NtfyAuth, NtfySettings};
pub use push::{PushAction, PushMessage, PushSender, PushStarted, RemoteStatus};
pub use telnyx::{Telnyx, TelnyxSettings};
pub use telnyx_sms::{TelnyxSms, TelnyxSmsSettings};
pub use twilio::{Twilio, TwilioSettings};
pub use twilio_sms::{TwilioSms, TwilioSmsSettings};
pub use vonage::{Vonage, VonageSettings};
pub use vonage_legacy::VonageLegacy;
pub use vonage_sms::{VonageSms, VonageSmsSettings};
pub use webhook::{WebhookProvider, WebhookSettings};

use super::Channel;
use crate::i18n::Locale;
use crate::otp::Verdict;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
/// The configured providers' settings, in `providers:` order; only those
/// whose block is present and valid.
#[derive(Debug, Clone, Default)]
pub struct ProviderSettings {
    pub configured: Vec<(&'static str, Arc<dyn registry::Configured>)>,
    /// The webhook's, when configured: it also hears account notices.
    pub webhook: Option<WebhookSettings>,
}

impl ProviderSettings {
    pub fn is_configured(&self, name: &str) -> bool {
        self.configured.iter().any(|(known, _)| *known == name)
    }
}

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

/// Why a provider could not do what was asked, sorted by what the person
/// can do about it. Internal detail stays in the log.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ProviderError {
    /// Invalid, unroutable, barred or not permitted: no provider will do better.
    #[error("the number cannot receive codes: {0}")]
    InvalidNumber(String),
    /// Too many requests for this number or account.
    #[error("throttled by the provider")]
    Throttled { retry_after: Option<Duration> },
    /// A verification to this number is already running (its id, if given).
    #[error("a verification to this number is already in flight")]
    Concurrent { request_id: Option<String> },
    #[error("the provider account's balance is too low")]
    LowBalance,
    /// 5xx, timeout or no connection: worth trying the next provider.
    #[error("the provider is unavailable: {0}")]
    Unavailable(String),
    /// Any other refusal: credentials, parameters, a disabled channel.
    #[error("the provider refused the request: {0}")]
    Refused(String),
}

impl ProviderError {
    /// Whether the channel's next provider should be tried.
    pub fn try_next(&self) -> bool {
        !matches!(self, ProviderError::InvalidNumber(_))
    }
}

/// A code for doorman to deliver; doorman checks it itself.
pub trait Delivery: Send + Sync {
    /// The provider's key under `providers:`.
    fn name(&self) -> &'static str;
    fn deliver<'a>(&'a self, message: &'a CodeMessage) -> BoxFuture<'a, Result<(), ProviderError>>;
}

/// What starting a provider-checked verification needs.
#[derive(Debug, Clone)]
pub struct VerifyStart {
    pub channel: Channel,
    /// E.164 with `+`; providers that want it without strip it themselves.
    pub to: String,
    pub code_length: u32,
    pub lifetime: Duration,
}

/// A service that generates, sends and checks codes itself (Verify APIs).
pub trait Verifier: Send + Sync {
    fn name(&self) -> &'static str;
    /// Starts a verification; the provider's request id.
    fn start<'a>(&'a self, start: &'a VerifyStart) -> BoxFuture<'a, Result<String, ProviderError>>;
    /// Checks `code` for the verification `request_id` sent to `to`.
    fn check<'a>(
        &'a self,
        request_id: &'a str,
        to: &'a str,
        code: &'a str,
    ) -> BoxFuture<'a, Result<Verdict, ProviderError>>;
    /// Ends a verification early; best effort.
    fn cancel<'a>(&'a self, request_id: &'a str) -> BoxFuture<'a, Result<(), ProviderError>>;
    /// Moves a running SMS verification on to a voice call, for providers
    /// whose verification carries both (Vonage's workflow). `None`: start a
    /// new voice verification instead.
    fn call_instead<'a>(
        &'a self,
        _request_id: &'a str,
    ) -> Option<BoxFuture<'a, Result<(), ProviderError>>> {
        None
    }
}

impl VerifyStart {
    /// A provider's word for the channel asked for: `voice` for a call,
    /// `sms` for anything else (the code goes as a text message).
    pub fn per_channel<T>(&self, voice: T, sms: T) -> T {
        match self.channel {
            Channel::Voice => voice,
            _ => sms,
        }
    }
}

/// What checking a code needs: the verification, the number it went to
/// (some providers check by number), and the code typed.
#[derive(Debug, Clone, Copy)]
pub struct VerifyCheck<'a> {
    pub request_id: &'a str,
    pub to: &'a str,
    pub code: &'a str,
}

/// A [`Verifier`] as its provider file writes it, in plain `async fn`s;
/// the one impl below boxes them for every Verify provider.
trait VerifyApi: Send + Sync {
    /// The provider's key under `providers:`.
    const NAME: &'static str;
    fn start(
        &self,
        start: &VerifyStart,
    ) -> impl Future<Output = Result<String, ProviderError>> + Send;
    fn check(
        &self,
        check: VerifyCheck<'_>,
    ) -> impl Future<Output = Result<Verdict, ProviderError>> + Send;
    fn cancel(&self, request_id: &str) -> impl Future<Output = Result<(), ProviderError>> + Send;
    /// As [`Verifier::call_instead`].
    fn call_instead<'a>(
        &'a self,
        _request_id: &'a str,
    ) -> Option<BoxFuture<'a, Result<(), ProviderError>>> {
        None
    }
}

impl<T: VerifyApi> Verifier for T {
    fn name(&self) -> &'static str {
        T::NAME
    }

    fn start<'a>(&'a self, start: &'a VerifyStart) -> BoxFuture<'a, Result<String, ProviderError>> {
        Box::pin(VerifyApi::start(self, start))
    }

    fn check<'a>(
        &'a self,
        request_id: &'a str,
        to: &'a str,
        code: &'a str,
    ) -> BoxFuture<'a, Result<Verdict, ProviderError>> {
        let check = VerifyCheck {
            request_id,
            to,
            code,
        };
        Box::pin(VerifyApi::check(self, check))
    }

    fn cancel<'a>(&'a self, request_id: &'a str) -> BoxFuture<'a, Result<(), ProviderError>> {
        Box::pin(VerifyApi::cancel(self, request_id))
    }

    fn call_instead<'a>(
        &'a self,
        request_id: &'a str,
    ) -> Option<BoxFuture<'a, Result<(), ProviderError>>> {
        VerifyApi::call_instead(self, request_id)
    }
}

/// A configured provider of either kind.
#[derive(Clone)]
pub enum Provider {
    Message(Arc<dyn Delivery>),
    Verify(Arc<dyn Verifier>),
}

impl Provider {
    pub fn name(&self) -> &'static str {
        match self {
            Provider::Message(provider) => provider.name(),
            Provider::Verify(provider) => provider.name(),
        }
    }
}

/// The configured providers, by name.
#[derive(Clone, Default)]
pub struct Providers {
    all: Vec<Provider>,
    /// The webhook, when configured: it also hears account notices.
    webhook: Option<Arc<WebhookProvider>>,
    /// Those that can carry a push approval.
    push: Vec<Arc<dyn PushSender>>,
}

impl Providers {
    /// The webhook provider, for account notices.
    pub fn webhook(&self) -> Option<Arc<WebhookProvider>> {
        self.webhook.clone()
    }

    pub fn from_settings(settings: &ProviderSettings) -> Providers {
        let mut providers = Providers::default();
        for (_, configured) in &settings.configured {
            configured.build(&mut providers);
        }
        providers
    }

    fn add_message(&mut self, provider: impl Delivery + 'static) {
        self.all.push(Provider::Message(Arc::new(provider)));
    }

    fn add_verify(&mut self, provider: impl Verifier + 'static) {
        self.all.push(Provider::Verify(Arc::new(provider)));
    }

    fn add_push(&mut self, provider: impl PushSender + 'static) {
        self.push.push(Arc::new(provider));
    }

    pub fn get(&self, name: &str) -> Option<&Provider> {
        self.all.iter().find(|provider| provider.name() == name)
    }

    /// The push provider called `name`, if configured.
    pub fn get_push(&self, name: &str) -> Option<&Arc<dyn PushSender>> {
        self.push.iter().find(|provider| provider.name() == name)
    }
}

/// Text for a code in `locale`: for SMS the last line lets browsers fill
/// it in (WebOTP) on `host`, when there is one the config names; it is
/// the same in every language.
pub fn message_text(
    locale: Locale,
    channel: Channel,
    app: &str,
    code: &str,
    host: Option<&str>,
) -> String {
    match channel {
        Channel::Sms | Channel::Push | Channel::Totp | Channel::Webauthn => {
            let text = locale.format("sms-code", &[("app", app.into()), ("code", code.into())]);
            match host {
                Some(host) => format!("{text}\n\n@{host} #{code}"),
                None => text,
            }
        }
        Channel::Voice => {
            let spoken: Vec<String> = code.chars().map(String::from).collect();
            let digits = spoken.join(" ");
            locale.format(
                "voice-code",
                &[("app", app.into()), ("digits", digits.into())],
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sms_text_ends_with_the_webotp_line() {
        let sms = |locale| {
            message_text(
                locale,
                Channel::Sms,
                "Example",
                "123456",
                Some("app.example.com"),
            )
        };
        let text = sms(Locale::ENGLISH);
        assert_eq!(
            text,
            "Your Example code is 123456\n\n@app.example.com #123456"
        );
        assert_eq!(text.lines().last(), Some("@app.example.com #123456"));
        let de = Locale::from_tag("de").unwrap();
        assert_eq!(
            sms(de),
            "Ihr Code für Example lautet 123456\n\n@app.example.com #123456"
        );
    }

    #[test]
    fn a_call_reads_the_digits_one_by_one_twice() {
        let fr = Locale::from_tag("fr").unwrap();
        assert_eq!(
            message_text(fr, Channel::Voice, "Example", "123", None),
            "Votre code Example est 1 2 3. Je répète\u{a0}: 1 2 3."
        );
    }
}
