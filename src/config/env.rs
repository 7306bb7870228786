//! Settings from `DOORMAN_*` environment variables, laid over the config
//! file (or over nothing, for a sidecar with no file): defaults < file <
//! environment.

use serde_yaml::{Mapping, Value};

/// How a variable's text becomes a YAML value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    /// `true`/`false` (also `1`/`0`, `yes`/`no`).
    Bool,
    /// Comma-separated, blanks trimmed.
    List,
    /// `channel:provider[:fallback…]`, comma-separated: the whole `channels:` block.
    Channels,
}

/// Every variable doorman reads, and the key it sets. README lists the same.
pub const VARIABLES: &[(&str, &str, Kind)] = &[
    ("DOORMAN_LISTEN", "listen", Kind::Text),
    ("DOORMAN_UPSTREAM", "upstream", Kind::Text),
    (
        "DOORMAN_UPSTREAM_HOST_HEADER",
        "upstream_host_header",
        Kind::Text,
    ),
    ("DOORMAN_UPSTREAM_CA_FILE", "upstream_ca_file", Kind::Text),
    (
        "DOORMAN_UPSTREAM_INSECURE_SKIP_VERIFY",
        "upstream_insecure_skip_verify",
        Kind::Bool,
    ),
    ("DOORMAN_AUTH_PREFIX", "auth_prefix", Kind::Text),
    ("DOORMAN_USERS_FILE", "users_file", Kind::Text),
    ("DOORMAN_APP_NAME", "app_name", Kind::Text),
    ("DOORMAN_DEFAULT_LOCALE", "default_locale", Kind::Text),
    ("DOORMAN_PUBLIC_URL", "public_url", Kind::Text),
    ("DOORMAN_TEMPLATES_DIR", "templates_dir", Kind::Text),
    ("DOORMAN_METRICS_LISTEN", "metrics_listen", Kind::Text),
    ("DOORMAN_SHUTDOWN_DELAY", "shutdown_delay", Kind::Text),
    ("DOORMAN_SESSION_SECRET", "session.secret", Kind::Text),
    (
        "DOORMAN_SESSION_SECRET_FILE",
        "session.secret_file",
        Kind::Text,
    ),
    (
        "DOORMAN_SESSION_COOKIE_NAME",
        "session.cookie_name",
        Kind::Text,
    ),
    ("DOORMAN_SESSION_SECURE", "session.secure", Kind::Text),
    ("DOORMAN_SESSION_DOMAIN", "session.domain", Kind::Text),
    ("DOORMAN_SESSION_LIFETIME", "session.lifetime", Kind::Text),
    (
        "DOORMAN_SESSION_IDLE_TIMEOUT",
        "session.idle_timeout",
        Kind::Text,
    ),
    ("DOORMAN_TLS_CERT_FILE", "tls.cert_file", Kind::Text),
    ("DOORMAN_TLS_KEY_FILE", "tls.key_file", Kind::Text),
    ("DOORMAN_TLS_HSTS", "tls.hsts", Kind::Text),
    ("DOORMAN_CHANNELS", "channels", Kind::Channels),
    ("DOORMAN_WEBHOOK_URL", "providers.webhook.url", Kind::Text),
    (
        "DOORMAN_WEBHOOK_SECRET",
        "providers.webhook.secret",
        Kind::Text,
    ),
    (
        "DOORMAN_WEBHOOK_SECRET_FILE",
        "providers.webhook.secret_file",
        Kind::Text,
    ),
    (
        "DOORMAN_NTFY_BASE_URL",
        "providers.ntfy.base_url",
        Kind::Text,
    ),
    ("DOORMAN_NTFY_TOKEN", "providers.ntfy.token", Kind::Text),
    (
        "DOORMAN_NTFY_TOKEN_FILE",
        "providers.ntfy.token_file",
        Kind::Text,
    ),
    (
        "DOORMAN_ALLOWED_REDIRECT_DOMAINS",
        "allowed_redirect_domains",
        Kind::List,
    ),
    ("DOORMAN_ALLOWED_COUNTRIES", "allowed_countries", Kind::List),
    ("DOORMAN_TRUSTED_PROXIES", "trusted_proxies", Kind::List),
    ("DOORMAN_STORE_KIND", "store.kind", Kind::Text),
    ("DOORMAN_STORE_URL", "store.url", Kind::Text),
    (
        "DOORMAN_STORE_PASSWORD_FILE",
        "store.password_file",
        Kind::Text,
    ),
    ("DOORMAN_STORE_KEY_PREFIX", "store.key_prefix", Kind::Text),
    ("DOORMAN_STORE_PATH", "store.path", Kind::Text),
    ("DOORMAN_LOG_LEVEL", "log.level", Kind::Text),
    ("DOORMAN_LOG_FORMAT", "log.format", Kind::Text),
    ("DOORMAN_LOG_AUDIT", "log.audit", Kind::Text),
    ("DOORMAN_LOG_ACCESS", "log.access", Kind::Text),
];

/// Which key each variable set, to name the variable in problems.
#[derive(Debug, Default, Clone)]
pub struct Applied(Vec<(String, &'static str)>);

impl Applied {
    /// The variable behind `path` (the key itself, one below it, or the
    /// `secret` that a `secret_file` variable turned into).
    pub fn variable_for(&self, path: &str) -> Option<&'static str> {
        self.0.iter().find_map(|(key, variable)| {
            let base = key.strip_suffix("_file").unwrap_or(key);
            let covers = |key: &str| {
                path == key
                    || path
                        .strip_prefix(key)
                        .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
            };
            (covers(key) || covers(base)).then_some(*variable)
        })
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Sets every variable `lookup` knows onto `root` (a YAML mapping; anything
/// else is replaced by one). A variable replaces its key and the key's
/// `_file` twin (or the twin without `_file`), so the environment always wins.
pub fn overlay(root: &mut Value, lookup: &dyn Fn(&str) -> Option<String>) -> Applied {
    let mut applied = Applied::default();
    for (variable, path, kind) in VARIABLES {
        let Some(text) = lookup(variable) else {
            continue;
        };
        let value = match kind {
            Kind::Text => Value::String(text),
            Kind::Bool => match text.trim().to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" => Value::Bool(true),
                "false" | "0" | "no" | "" => Value::Bool(false),
                _ => Value::String(text),
            },
            Kind::List => Value::Sequence(
                text.split(',')
                    .map(str::trim)
                    .filter(|item| !item.is_empty())
                    .map(|item| Value::String(item.to_owned()))
                    .collect(),
            ),
            Kind::Channels => channels(&text),
        };
        set(root, path, value);
        applied.0.push(((*path).to_owned(), variable));
    }
    applied
}

/// `sms:twilio:webhook,voice:twilio` → `{sms: {provider: twilio, fallback: [webhook]}, voice: …}`.
fn channels(text: &str) -> Value {
    let mut map = Mapping::new();
    for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let mut parts = entry.split(':').map(str::trim);
        let channel = parts.next().unwrap_or_default();
        let mut block = Mapping::new();
        if let Some(provider) = parts.next() {
            block.insert("provider".into(), provider.into());
        }
        let fallback: Vec<Value> = parts.map(Value::from).collect();
        if !fallback.is_empty() {
            block.insert("fallback".into(), Value::Sequence(fallback));
        }
        map.insert(channel.into(), Value::Mapping(block));
    }
    Value::Mapping(map)
}

fn set(root: &mut Value, path: &str, value: Value) {
    if !root.is_mapping() {
        *root = Value::Mapping(Mapping::new());
    }
    let mut node = root;
    let mut keys = path.split('.').peekable();
    while let Some(key) = keys.next() {
        let Value::Mapping(map) = node else {
            return;
        };
        if keys.peek().is_none() {
            let twin = match key.strip_suffix("_file") {
                Some(base) => base.to_owned(),
                None => format!("{key}_file"),
            };
            map.remove(twin.as_str());
            map.insert(key.into(), value);
            return;
        }
        let child = map
            .entry(key.into())
            .or_insert_with(|| Value::Mapping(Mapping::new()));
        if !child.is_mapping() {
            *child = Value::Mapping(Mapping::new());
        }
        node = child;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            pairs
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).to_owned())
        }
    }

    #[test]
    fn a_variable_replaces_its_key_and_the_file_twin() {
        let mut root: Value =
            serde_yaml::from_str("listen: a\nsession: {secret: x, cookie_name: c}").unwrap();
        let applied = overlay(
            &mut root,
            &lookup(&[
                ("DOORMAN_LISTEN", "127.0.0.1:1"),
                ("DOORMAN_SESSION_SECRET_FILE", "/run/s"),
            ]),
        );
        let expected: Value = serde_yaml::from_str(
            "listen: 127.0.0.1:1\nsession: {cookie_name: c, secret_file: /run/s}",
        )
        .unwrap();
        assert_eq!(root, expected);
        assert_eq!(
            applied.variable_for("session.secret"),
            Some("DOORMAN_SESSION_SECRET_FILE")
        );
        assert_eq!(applied.variable_for("listen"), Some("DOORMAN_LISTEN"));
        assert_eq!(applied.variable_for("upstream"), None);
    }

    #[test]
    fn channels_and_lists_are_written_compactly() {
        let mut root = Value::Null;
        overlay(
            &mut root,
            &lookup(&[
                ("DOORMAN_CHANNELS", "sms:twilio:webhook, voice:twilio"),
                ("DOORMAN_ALLOWED_COUNTRIES", "US, GB"),
                ("DOORMAN_UPSTREAM_INSECURE_SKIP_VERIFY", "yes"),
            ]),
        );
        let expected: Value = serde_yaml::from_str(
            "channels: {sms: {provider: twilio, fallback: [webhook]}, voice: {provider: twilio}}\nallowed_countries: [US, GB]\nupstream_insecure_skip_verify: true",
        )
        .unwrap();
        assert_eq!(root, expected);
    }
}
