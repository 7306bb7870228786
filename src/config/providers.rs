//! `providers:`: each provider's block, read into its own settings.

use super::raw::{self, RawProviders};
use super::{duration, Problems};
use crate::otp::providers::{
    DuoSettings, NtfyAuth, NtfySettings, ProviderSettings, TelnyxSettings, TelnyxSmsSettings,
    TwilioSettings, TwilioSmsSettings, VonageSettings, VonageSmsSettings, WebhookSettings,
};
use crate::secret::Secret;
use std::time::Duration;

pub(super) fn providers(
    raw: &RawProviders,
    app_name: &str,
    problems: &mut Problems,
) -> ProviderSettings {
    let webhook = raw.webhook.as_ref().and_then(|hook| {
        let mut block = Block::new("providers.webhook", problems);
        let url = block.url("url", &hook.url, None)?;
        let timeout = block.timeout(&hook.timeout, "5s");
        Some(WebhookSettings {
            url,
            secret: hook.secret.clone().filter(|secret| !secret.is_empty()),
            timeout,
        })
    });
    let vonage = |raw: &raw::RawVonage, path: &str, problems: &mut Problems| {
        let mut block = Block::new(path, problems);
        let brand = raw
            .brand
            .clone()
            .unwrap_or_else(|| app_name.chars().take(16).collect());
        if brand.is_empty()
            || brand.chars().count() > 16
            || brand.contains(['/', '{', '}', ':', '$'])
        {
            block.problem("brand", "1 to 16 characters, none of / { } : $");
        }
        Some(VonageSettings {
            api_key: block.required("api_key", &raw.api_key)?,
            api_secret: Secret::new(block.required("api_secret", &raw.api_secret)?),
            brand,
            locale: raw.locale.clone().unwrap_or_else(|| "en-us".to_owned()),
            base_url: block.url("base_url", &raw.base_url, Some("https://api.nexmo.com"))?,
            timeout: block.timeout(&raw.timeout, "10s"),
        })
    };
    ProviderSettings {
        log: raw.log.is_some(),
        webhook,
        vonage: raw
            .vonage
            .as_ref()
            .and_then(|raw| vonage(raw, "providers.vonage", problems)),
        vonage_legacy: raw
            .vonage_legacy
            .as_ref()
            .and_then(|raw| vonage(raw, "providers.vonage_legacy", problems)),
        twilio: raw.twilio.as_ref().and_then(|raw| {
            let mut block = Block::new("providers.twilio", problems);
            Some(TwilioSettings {
                account_sid: block.required("account_sid", &raw.account_sid)?,
                auth_token: Secret::new(block.required("auth_token", &raw.auth_token)?),
                service_sid: block.required("service_sid", &raw.service_sid)?,
                locale: raw.locale.clone().unwrap_or_else(|| "en".to_owned()),
                base_url: block.url(
                    "base_url",
                    &raw.base_url,
                    Some("https://verify.twilio.com"),
                )?,
                timeout: block.timeout(&raw.timeout, "10s"),
            })
        }),
        telnyx: raw.telnyx.as_ref().and_then(|raw| {
            let mut block = Block::new("providers.telnyx", problems);
            Some(TelnyxSettings {
                api_key: Secret::new(block.required("api_key", &raw.api_key)?),
                verify_profile_id: block.required("verify_profile_id", &raw.verify_profile_id)?,
                base_url: block.url("base_url", &raw.base_url, Some("https://api.telnyx.com"))?,
                timeout: block.timeout(&raw.timeout, "10s"),
            })
        }),
        twilio_sms: raw.twilio_sms.as_ref().and_then(|raw| {
            let mut block = Block::new("providers.twilio_sms", problems);
            block.one_of(
                ("from", &raw.from),
                ("messaging_service_sid", &raw.messaging_service_sid),
            )?;
            Some(TwilioSmsSettings {
                account_sid: block.required("account_sid", &raw.account_sid)?,
                auth_token: Secret::new(block.required("auth_token", &raw.auth_token)?),
                from: raw.from.clone(),
                messaging_service_sid: raw.messaging_service_sid.clone(),
                base_url: block.url("base_url", &raw.base_url, Some("https://api.twilio.com"))?,
                timeout: block.timeout(&raw.timeout, "10s"),
            })
        }),
        vonage_sms: raw.vonage_sms.as_ref().and_then(|raw| {
            let mut block = Block::new("providers.vonage_sms", problems);
            Some(VonageSmsSettings {
                api_key: block.required("api_key", &raw.api_key)?,
                api_secret: Secret::new(block.required("api_secret", &raw.api_secret)?),
                from: block.required("from", &raw.from)?,
                base_url: block.url("base_url", &raw.base_url, Some("https://rest.nexmo.com"))?,
                timeout: block.timeout(&raw.timeout, "10s"),
            })
        }),
        ntfy: raw.ntfy.as_ref().and_then(|raw| {
            let mut block = Block::new("providers.ntfy", problems);
            let auth = match (&raw.token, &raw.username, &raw.password) {
                (None, None, None) => NtfyAuth::None,
                (Some(token), None, None) => NtfyAuth::Token(Secret::new(token.trim().to_owned())),
                (None, Some(username), Some(password)) => NtfyAuth::Basic {
                    username: username.clone(),
                    password: Secret::new(password.clone()),
                },
                (Some(_), _, _) => {
                    block.problem(
                        "token",
                        "set `token` or `username` and `password`, not both",
                    );
                    return None;
                }
                (None, _, _) => {
                    block.problem("username", "`username` and `password` go together");
                    return None;
                }
            };
            let priority = raw.priority.unwrap_or(4);
            if !(1..=5).contains(&priority) {
                block.problem("priority", "expected 1 (min) to 5 (max)");
            }
            Some(NtfySettings {
                base_url: block.url("base_url", &raw.base_url, Some("https://ntfy.sh"))?,
                auth,
                priority: priority.clamp(1, 5),
                timeout: block.timeout(&raw.timeout, "10s"),
            })
        }),
        duo: raw.duo.as_ref().and_then(|raw| {
            let mut block = Block::new("providers.duo", problems);
            Some(DuoSettings {
                base_url: block.url("base_url", &raw.base_url, None)?,
                integration_key: block.required("integration_key", &raw.integration_key)?,
                secret_key: Secret::new(block.required("secret_key", &raw.secret_key)?),
                timeout: block.timeout(&raw.timeout, "10s"),
            })
        }),
        telnyx_sms: raw.telnyx_sms.as_ref().and_then(|raw| {
            let mut block = Block::new("providers.telnyx_sms", problems);
            block.one_of(
                ("from", &raw.from),
                ("messaging_profile_id", &raw.messaging_profile_id),
            )?;
            Some(TelnyxSmsSettings {
                api_key: Secret::new(block.required("api_key", &raw.api_key)?),
                from: raw.from.clone(),
                messaging_profile_id: raw.messaging_profile_id.clone(),
                base_url: block.url("base_url", &raw.base_url, Some("https://api.telnyx.com"))?,
                timeout: block.timeout(&raw.timeout, "10s"),
            })
        }),
    }
}

/// Reads one config block, reporting problems under its path.
struct Block<'p> {
    path: String,
    problems: &'p mut Problems,
}

impl<'p> Block<'p> {
    fn new(path: &str, problems: &'p mut Problems) -> Block<'p> {
        Block {
            path: path.to_owned(),
            problems,
        }
    }

    fn problem(&mut self, key: &str, message: impl Into<String>) {
        self.problems.push(&format!("{}.{key}", self.path), message);
    }

    fn required(&mut self, key: &str, value: &Option<String>) -> Option<String> {
        match value.as_deref().map(str::trim) {
            Some(value) if !value.is_empty() => Some(value.to_owned()),
            _ => {
                self.problem(key, "required");
                None
            }
        }
    }

    /// An http(s) URL; `default` when the key is absent.
    fn url(
        &mut self,
        key: &str,
        value: &Option<String>,
        default: Option<&str>,
    ) -> Option<reqwest::Url> {
        let Some(text) = value.as_deref().or(default) else {
            self.problem(key, "required");
            return None;
        };
        match reqwest::Url::parse(text) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {
                Some(url)
            }
            _ => {
                self.problem(key, format!("`{text}` is not an http:// or https:// URL"));
                None
            }
        }
    }

    fn timeout(&mut self, value: &Option<String>, default: &str) -> Duration {
        duration(
            value.as_deref(),
            &format!("{}.timeout", self.path),
            default,
            self.problems,
        )
    }

    /// Exactly one of two alternative keys.
    fn one_of(&mut self, a: (&str, &Option<String>), b: (&str, &Option<String>)) -> Option<()> {
        match (a.1, b.1) {
            (Some(_), None) | (None, Some(_)) => Some(()),
            (Some(_), Some(_)) => {
                self.problem(b.0, format!("set `{}` or `{}`, not both", a.0, b.0));
                None
            }
            (None, None) => {
                self.problem(a.0, format!("required (or `{}`)", b.0));
                None
            }
        }
    }
}
