//! `session:`: the cookie's secrets, name and lifetimes.

use super::raw::RawSession;
use super::{duration, Problems};
use crate::session::{Secure, SessionSettings};
use cookie::Key;

const MIN_SECRET_BYTES: usize = 32;

pub(super) fn session(raw: RawSession, problems: &mut Problems) -> SessionSettings {
    let mut keys = Vec::new();
    let mut csrf_key = [0u8; 32];
    match raw.secret.as_deref() {
        None => problems.push(
            "session.secret",
            "required: set session.secret or session.secret_file (at least 32 bytes, e.g. `openssl rand -hex 32`)",
        ),
        Some(secret) if secret.len() < MIN_SECRET_BYTES => problems.push(
            "session.secret",
            format!("too short: {} bytes, at least {MIN_SECRET_BYTES} needed", secret.len()),
        ),
        Some(secret) => {
            keys.push(Key::derive_from(secret.as_bytes()));
            csrf_key = crate::crypto::derive(secret.as_bytes(), b"doorman csrf");
        }
    }
    for (index, secret) in raw.previous_secrets.iter().enumerate() {
        if secret.len() < MIN_SECRET_BYTES {
            problems.push(
                &format!("session.previous_secrets[{index}]"),
                format!(
                    "too short: {} bytes, at least {MIN_SECRET_BYTES} needed",
                    secret.len()
                ),
            );
        } else {
            keys.push(Key::derive_from(secret.as_bytes()));
        }
    }
    let cookie_name = raw
        .cookie_name
        .unwrap_or_else(|| "doorman_session".to_owned());
    if cookie_name.is_empty()
        || !cookie_name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b))
    {
        problems.push(
            "session.cookie_name",
            "use letters, digits, `_`, `-` and `.` only",
        );
    }
    let secure = match &raw.secure {
        None => Secure::Auto,
        Some(serde_yaml::Value::Bool(true)) => Secure::Always,
        Some(serde_yaml::Value::Bool(false)) => Secure::Never,
        Some(serde_yaml::Value::String(text)) if text == "auto" => Secure::Auto,
        Some(serde_yaml::Value::String(text)) if text == "true" => Secure::Always,
        Some(serde_yaml::Value::String(text)) if text == "false" => Secure::Never,
        Some(_) => {
            problems.push("session.secure", "expected auto, true or false");
            Secure::Auto
        }
    };
    let lifetime = duration(raw.lifetime.as_deref(), "session.lifetime", "12h", problems);
    let idle_timeout = duration(
        raw.idle_timeout.as_deref(),
        "session.idle_timeout",
        "30m",
        problems,
    );
    let remember_device = match raw.remember_device.as_deref() {
        None | Some("0") | Some("0s") | Some("off") => None,
        text => Some(duration(text, "session.remember_device", "30d", problems)),
    };
    SessionSettings {
        remember_device,
        keys,
        csrf_key,
        cookie_name,
        secure,
        domain: raw.domain,
        lifetime,
        idle_timeout,
    }
}
