//! `channels:`, `allowed_countries:` and `codes:`: how second factors reach people.

use super::raw::{self, RawCodes};
use super::{duration, Problems};
use crate::otp::providers::registry::{self, Kind, CATALOG};
use crate::otp::providers::ProviderSettings;
use crate::otp::{Channel, ChannelSettings, CodeSettings};

pub(super) fn channels(
    raw: &raw::OrderedMap<raw::RawChannel>,
    providers: &ProviderSettings,
    problems: &mut Problems,
) -> Vec<ChannelSettings> {
    let mut channels = Vec::new();
    for (name, channel) in &raw.0 {
        let path = format!("channels.{name}");
        let Some(kind) = Channel::from_name(name) else {
            problems.push(
                &path,
                "unknown channel; doorman offers `sms`, `voice`, `push`, `totp` and `webauthn`",
            );
            continue;
        };
        if kind == Channel::Totp || kind == Channel::Webauthn {
            // The user's authenticator app (or passkey) is the only "provider".
            if channel.provider.is_some() || !channel.fallback.is_empty() {
                problems.push(
                    &format!("{path}.provider"),
                    if kind == Channel::Totp {
                        "an authenticator app needs no provider; write `totp: {}`"
                    } else {
                        "a passkey needs no provider; write `webauthn: {}`"
                    },
                );
            }
            if channel.max_per_day.is_some() {
                problems.push(
                    &format!("{path}.max_per_day"),
                    "an authenticator app sends nothing to cap",
                );
            }
            channels.push(ChannelSettings {
                channel: kind,
                providers: Vec::new(),
                max_per_day: None,
            });
            continue;
        }
        let Some(first) = &channel.provider else {
            problems.push(&format!("{path}.provider"), "required");
            continue;
        };
        let mut names: Vec<String> = Vec::new();
        for (index, provider) in std::iter::once(first).chain(&channel.fallback).enumerate() {
            let key = if index == 0 {
                format!("{path}.provider")
            } else {
                format!("{path}.fallback[{}]", index - 1)
            };
            let Some(entry) = registry::find(provider) else {
                let known: Vec<&str> = CATALOG.iter().map(|entry| entry.name).collect();
                problems.push(
                    &key,
                    format!("unknown provider `{provider}`; known: {}", known.join(", ")),
                );
                continue;
            };
            if kind == Channel::Push && !entry.pushes {
                problems.push(
                    &key,
                    format!(
                        "`{provider}` cannot send push approvals; use {}",
                        registry::suggest(|entry| entry.pushes)
                    ),
                );
            } else if kind != Channel::Push && entry.kind == Kind::Push {
                problems.push(
                    &key,
                    format!("`{provider}` sends push approvals only; use it under channels.push"),
                );
            } else if kind == Channel::Voice && !entry.calls {
                problems.push(
                    &key,
                    format!(
                        "`{provider}` sends text messages only; for voice use {}",
                        registry::suggest(|entry| entry.calls)
                    ),
                );
            } else if !providers.is_configured(provider) {
                problems.push(
                    &key,
                    format!("provider `{provider}` is not configured under providers.{provider}"),
                );
            } else if names.contains(provider) {
                problems.push(&key, format!("provider `{provider}` is listed twice"));
            } else {
                names.push(provider.clone());
            }
        }
        if channel.max_per_day == Some(0) {
            problems.push(&format!("{path}.max_per_day"), "must be at least 1");
        }
        channels.push(ChannelSettings {
            channel: kind,
            providers: names,
            max_per_day: channel.max_per_day,
        });
    }
    if channels.is_empty() {
        problems.push(
            "channels",
            "configure at least one second-factor channel, e.g. `sms: { provider: webhook }`",
        );
    }
    channels
}

/// Push answers come back to doorman through links in the notification,
/// which need the address the phone can reach doorman at.
pub(super) fn push_needs_public_url(
    channels: &[ChannelSettings],
    have_public_url: bool,
    problems: &mut Problems,
) {
    let Some(push) = channels.iter().find(|c| c.channel == Channel::Push) else {
        return;
    };
    if have_public_url {
        return;
    }
    if let Some(provider) = push.providers.iter().find(|name| *name != "duo") {
        problems.push(
            "public_url",
            format!("required for channels.push with `{provider}`: the notification's links point there"),
        );
    }
}

pub(super) fn countries(raw: &[String], problems: &mut Problems) -> Vec<String> {
    raw.iter()
        .enumerate()
        .filter_map(|(index, code)| {
            let upper = code.trim().to_ascii_uppercase();
            match upper.parse::<phonenumber::country::Id>() {
                Ok(_) => Some(upper),
                Err(_) => {
                    problems.push(
                        &format!("allowed_countries[{index}]"),
                        format!("`{code}` is not an ISO 3166 country code like US or GB"),
                    );
                    None
                }
            }
        })
        .collect()
}

pub(super) fn codes(raw: &RawCodes, problems: &mut Problems) -> CodeSettings {
    let length = raw.length.unwrap_or(6);
    if !(4..=10).contains(&length) {
        problems.push("codes.length", "expected 4 to 10 digits");
    }
    let max_attempts = raw.max_attempts.unwrap_or(5);
    if max_attempts == 0 {
        problems.push("codes.max_attempts", "must be at least 1");
    }
    CodeSettings {
        length: length.clamp(4, 10),
        lifetime: duration(raw.lifetime.as_deref(), "codes.lifetime", "5m", problems),
        max_attempts: max_attempts.max(1),
        resend_cooldown: duration(
            raw.resend_cooldown.as_deref(),
            "codes.resend_cooldown",
            "30s",
            problems,
        ),
    }
}
