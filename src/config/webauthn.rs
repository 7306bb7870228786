//! `webauthn:`: the relying party passkeys and security keys are bound to,
//! checked against `channels.webauthn`.

use super::raw::RawWebauthn;
use super::Problems;
use crate::otp::{Channel, ChannelSettings};
use crate::webauthn::WebauthnSettings;
use webauthn_rs::prelude::Url;

pub(super) fn webauthn(
    raw: Option<&RawWebauthn>,
    channels: &[ChannelSettings],
    app_name: &str,
    problems: &mut Problems,
) -> Option<WebauthnSettings> {
    let offered = channels.iter().any(|c| c.channel == Channel::Webauthn);
    let Some(raw) = raw else {
        if offered {
            problems.push(
                "webauthn",
                "required by channels.webauthn: set webauthn.rp_id and webauthn.origins",
            );
        }
        return None;
    };
    if !offered {
        problems.push(
            "channels.webauthn",
            "required by webauthn: add `webauthn: {}` under channels to offer passkeys",
        );
    }
    let rp_id = raw
        .rp_id
        .as_deref()
        .map(|id| id.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let plausible = !rp_id.is_empty()
        && !rp_id.contains(['/', ':', ' '])
        && rp_id.split('.').all(|label| !label.is_empty());
    if !plausible {
        problems.push(
            "webauthn.rp_id",
            "required: the site's domain, like app.example.com or example.com (no scheme, no port)",
        );
    }
    if raw.origins.is_empty() {
        problems.push(
            "webauthn.origins",
            "required: the origins the pages are served from, like https://app.example.com",
        );
    }
    let mut origins = Vec::new();
    for (index, text) in raw.origins.iter().enumerate() {
        let key = format!("webauthn.origins[{index}]");
        let origin = match Url::parse(text) {
            Ok(url)
                if matches!(url.scheme(), "https" | "http")
                    && url.host_str().is_some()
                    && url.path() == "/"
                    && url.query().is_none() =>
            {
                url
            }
            _ => {
                problems.push(&key, "expected an origin like https://app.example.com");
                continue;
            }
        };
        let host = origin.host_str().unwrap_or("").to_ascii_lowercase();
        if plausible && host != rp_id && !host.ends_with(&format!(".{rp_id}")) {
            problems.push(
                &key,
                format!("`{host}` is not `{rp_id}` or a subdomain of it (webauthn.rp_id)"),
            );
        }
        if origin.scheme() == "http" && host != "localhost" {
            problems.push(
                &key,
                "browsers offer passkeys only over https (or on http://localhost)",
            );
        }
        origins.push(origin);
    }
    Some(WebauthnSettings {
        rp_id,
        rp_name: raw.rp_name.clone().unwrap_or_else(|| app_name.to_owned()),
        origins,
        passwordless: raw.passwordless,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(raw: Option<RawWebauthn>, offered: bool) -> Vec<(String, String)> {
        let channels: Vec<ChannelSettings> = offered
            .then(|| ChannelSettings {
                channel: Channel::Webauthn,
                providers: Vec::new(),
                max_per_day: None,
            })
            .into_iter()
            .collect();
        let mut problems = Problems::default();
        webauthn(raw.as_ref(), &channels, "Example", &mut problems);
        problems.iter().cloned().collect()
    }

    fn raw(rp_id: &str, origins: &[&str]) -> Option<RawWebauthn> {
        Some(RawWebauthn {
            rp_id: Some(rp_id.into()),
            rp_name: None,
            origins: origins.iter().map(|o| (*o).to_owned()).collect(),
            passwordless: false,
        })
    }

    #[test]
    fn a_site_and_its_origins_pass() {
        assert!(problems(raw("example.com", &["https://app.example.com"]), true).is_empty());
        assert!(problems(raw("localhost", &["http://localhost:8080"]), true).is_empty());
    }

    #[test]
    fn the_channel_and_the_section_need_each_other() {
        assert_eq!(problems(None, true)[0].0, "webauthn");
        let keys: Vec<String> = problems(raw("example.com", &["https://example.com"]), false)
            .into_iter()
            .map(|(key, _)| key)
            .collect();
        assert_eq!(keys, ["channels.webauthn"]);
    }

    #[test]
    fn an_origin_outside_the_rp_id_or_over_plain_http_is_named() {
        let found = problems(
            raw(
                "example.com",
                &["https://evil.test", "http://app.example.com"],
            ),
            true,
        );
        assert_eq!(found[0].0, "webauthn.origins[0]");
        assert!(found[0].1.contains("is not `example.com` or a subdomain"));
        assert_eq!(found[1].0, "webauthn.origins[1]");
        assert!(found[1].1.contains("only over https"));
        let found = problems(raw("https://example.com/", &[]), true);
        let keys: Vec<&str> = found.iter().map(|(key, _)| key.as_str()).collect();
        assert_eq!(keys, ["webauthn.rp_id", "webauthn.origins"]);
    }
}
