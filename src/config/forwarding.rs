//! `forwarding:`: which upgrades are tunnelled and which of the client
//! headers doorman removes an app may still receive.

use super::raw::RawForwarding;
use super::Problems;
use crate::proxy::headers::{fold_name, ROUTING_HEADERS};
use crate::proxy::ForwardingSettings;
use crate::users::IdentityHeaders;
use http::header::HeaderName;

pub(super) fn forwarding(
    raw: &RawForwarding,
    identity: &IdentityHeaders,
    problems: &mut Problems,
) -> ForwardingSettings {
    let mut settings = ForwardingSettings::default();
    if let Some(upgrades) = &raw.upgrades {
        settings.upgrades = Vec::new();
        for (index, protocol) in upgrades.iter().enumerate() {
            let key = format!("forwarding.upgrades[{index}]");
            let protocol = protocol.trim().to_ascii_lowercase();
            if protocol.starts_with("h2c") {
                // An h2c tunnel would carry any number of requests past the
                // gate, each unseen.
                problems.push(
                    &key,
                    "h2c is never tunnelled: every request must pass the gate",
                );
            } else if protocol.is_empty() || !protocol.bytes().all(is_token_byte) {
                problems.push(
                    &key,
                    format!("`{protocol}` is not a protocol name like websocket"),
                );
            } else {
                settings.upgrades.push(protocol);
            }
        }
    }
    let identity_names = identity
        .all()
        .map(|name| fold_name(name.as_str().as_bytes()));
    for (index, text) in raw.pass_headers.iter().enumerate() {
        let key = format!("forwarding.pass_headers[{index}]");
        let Ok(name) = HeaderName::from_bytes(text.trim().as_bytes()) else {
            problems.push(&key, format!("`{text}` is not a valid header name"));
            continue;
        };
        let folded = fold_name(name.as_str().as_bytes());
        let owned = identity_names.contains(&folded)
            || matches!(
                name.as_str(),
                "x-forwarded-for" | "x-forwarded-proto" | "x-forwarded-host" | "host" | "cookie"
            );
        let removable = ROUTING_HEADERS.contains(&name.as_str())
            || name.as_str() == "forwarded"
            || name.as_str().starts_with("x-forwarded-");
        if owned {
            problems.push(
                &key,
                format!("`{text}` is set by doorman; a client's copy never reaches the app"),
            );
        } else if !removable {
            problems.push(
                &key,
                format!(
                    "`{text}` is not a header doorman removes, so there is nothing to pass; \
                     the ones it removes are Forwarded, X-Forwarded-* and {}",
                    ROUTING_HEADERS.join(", ")
                ),
            );
        } else {
            settings.pass_headers.push(name);
        }
    }
    settings
}

fn is_token_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~/".contains(&byte)
}
