//! `users_file` and `identity_headers:`: who may sign in and how the app learns who they are.

use super::raw::{RawIdentityHeaders, RawUsersFile};
use super::{source, Problems};
use crate::otp::totp::TotpSecret;
use crate::proxy::headers::{fold_name, ROUTING_HEADERS};
use crate::users::{phone_country, valid_topic, IdentityHeaders, IdentityValues, User, Users};
use argon2::password_hash::PasswordHash;
use http::header::HeaderName;
use http::HeaderValue;
use std::path::Path;

pub(super) fn load_users(path: &Path, problems: &mut Problems) -> Option<Users> {
    let prefix = format!("users_file ({}): ", path.display());
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) => {
            problems.push(
                "users_file",
                format!("cannot read {}: {err}", path.display()),
            );
            return None;
        }
    };
    // Secret files it names are taken from its own directory.
    let base = path.parent().unwrap_or(Path::new("."));
    let raw: RawUsersFile = source::parse(&text, &prefix, base, problems)?;
    Some(users(raw, &prefix, problems))
}

pub(super) fn identity_headers(
    raw: &RawIdentityHeaders,
    problems: &mut Problems,
) -> IdentityHeaders {
    let mut header = |value: &Option<String>, key: &str, default: &'static str| match value {
        None => HeaderName::from_static(default),
        Some(name) => HeaderName::from_bytes(name.as_bytes()).unwrap_or_else(|_| {
            problems.push(
                &format!("identity_headers.{key}"),
                format!("`{name}` is not a valid header name"),
            );
            HeaderName::from_static(default)
        }),
    };
    let headers = IdentityHeaders {
        user: header(&raw.user, "user", "remote-user"),
        email: header(&raw.email, "email", "remote-email"),
        groups: header(&raw.groups, "groups", "remote-groups"),
        name: header(&raw.name, "name", "remote-name"),
    };
    let keys = ["user", "email", "groups", "name"];
    let folded = headers
        .all()
        .map(|name| fold_name(name.as_str().as_bytes()));
    for (index, (key, name)) in keys.iter().zip(headers.all()).enumerate() {
        let key = format!("identity_headers.{key}");
        if let Some(owner) = owned_elsewhere(&folded[index]) {
            problems.push(
                &key,
                format!("`{name}` is {owner}, never an identity header"),
            );
        } else if folded[..index].contains(&folded[index]) {
            problems.push(
                &key,
                format!("`{name}` names another identity header as an app server reads it"),
            );
        }
    }
    headers
}

/// What else a header name (folded as app servers fold it) is, when it is
/// one that HTTP, doorman or an app's routing owns: doorman removes every
/// client copy of an identity header, then sets its own.
fn owned_elsewhere(folded: &[u8]) -> Option<&'static str> {
    const HTTP: &[&str] = &[
        "host",
        "cookie",
        "set_cookie",
        "authorization",
        "proxy_authorization",
        "content_length",
        "content_type",
        "content_encoding",
        "transfer_encoding",
        "connection",
        "upgrade",
        "te",
        "trailer",
        "keep_alive",
        "proxy_connection",
        "expect",
    ];
    let is = |names: &[&str]| {
        names
            .iter()
            .any(|name| fold_name(name.as_bytes()) == folded)
    };
    if is(HTTP) {
        Some("a header HTTP itself reads")
    } else if is(&["x-request-id", "forwarded"]) || folded.starts_with(b"x_forwarded_") {
        Some("one of doorman's own headers")
    } else if is(ROUTING_HEADERS) {
        Some("a header apps route by")
    } else {
        None
    }
}

/// The users file's `users:`, each problem under `prefix`.
/// Why `tag` is refused as a language: the shipped ones.
pub(super) fn not_shipped(tag: &str) -> String {
    let shipped: Vec<&str> = crate::i18n::Locale::shipped().collect();
    format!(
        "`{tag}` is not a shipped language; use one of {}",
        shipped.join(", ")
    )
}

pub fn users(raw: RawUsersFile, prefix: &str, problems: &mut Problems) -> Users {
    let mut users = Users::default();
    for (name, raw) in raw.users.0 {
        let path = format!("{prefix}users.{name}");
        if name.is_empty() || name.chars().any(|c| c.is_control() || c == ',') {
            problems.push(
                &path,
                "a user name must not be empty or hold commas or control characters",
            );
            continue;
        }
        let password_hash = match raw.password {
            None => {
                problems.push(
                    &format!("{path}.password"),
                    "required: an argon2id hash from `doorman hash-password`",
                );
                continue;
            }
            Some(hash) => hash,
        };
        match PasswordHash::new(&password_hash) {
                Ok(parsed) if parsed.algorithm.as_str() == "argon2id" => {}
                _ => problems.push(
                    &format!("{path}.password"),
                    "not an argon2id PHC string ($argon2id$v=19$...); make one with `doorman hash-password`",
                ),
            }
        let country = match raw.phone.as_deref().map(phone_country) {
            Some(Err(why)) => {
                let phone = raw.phone.as_deref().unwrap_or_default();
                problems.push(&format!("{path}.phone"), format!("`{phone}` {why}"));
                None
            }
            Some(Ok(country)) => country,
            None => None,
        };
        let totp = raw.totp_secret.as_deref().and_then(|text| {
            TotpSecret::from_base32(text)
                .map_err(|why| problems.push(&format!("{path}.totp_secret"), why))
                .ok()
        });
        if let Some(topic) = &raw.ntfy_topic {
            if !valid_topic(topic) {
                problems.push(
                    &format!("{path}.ntfy_topic"),
                    "1 to 64 letters, digits, `-` or `_` (ntfy's topic names)",
                );
            }
        }
        let locale = raw.locale.as_deref().and_then(|tag| {
            let found = crate::i18n::Locale::from_tag(tag);
            if found.is_none() {
                problems.push(&format!("{path}.locale"), not_shipped(tag));
            }
            found
        });
        let header = |value: &str, key: &str, problems: &mut Problems| {
            HeaderValue::from_str(value)
                .map_err(|_| {
                    problems.push(
                        &format!("{path}.{key}"),
                        "holds characters that cannot go in a header",
                    )
                })
                .ok()
        };
        let headers = IdentityValues {
            user: header(&name, "name", problems).unwrap_or(HeaderValue::from_static("")),
            email: raw
                .email
                .as_deref()
                .and_then(|v| header(v, "email", problems)),
            groups: (!raw.groups.is_empty())
                .then(|| raw.groups.join(","))
                .and_then(|v| header(&v, "groups", problems)),
            name: raw
                .display_name
                .as_deref()
                .and_then(|v| header(v, "display_name", problems)),
        };
        let user = User {
            name: name.clone(),
            password_hash,
            display_name: raw.display_name,
            email: raw.email,
            groups: raw.groups,
            phone: raw.phone,
            country,
            totp,
            ntfy_topic: raw.ntfy_topic,
            locale,
            headers,
        };
        if let Some(other) = users.insert(user) {
            problems.push(
                &path,
                format!("same name as `{other}` but for letter case; sign-in ignores case"),
            );
        }
    }
    users
}
