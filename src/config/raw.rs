//! What the user wrote: serde mirrors of the config file, before validation.
//!
//! Every field is optional or defaulted so that validation, not serde, reports
//! what is missing — with its key path and next to every other problem.

use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use std::fmt;

#[derive(Debug, Default, Deserialize)]
pub struct RawConfig {
    pub listen: Option<String>,
    pub upstream: Option<String>,
    pub upstream_host_header: Option<String>,
    pub auth_prefix: Option<String>,
    pub users_file: Option<String>,
    pub app_name: Option<String>,
    pub default_locale: Option<String>,
    pub public_url: Option<String>,
    pub templates_dir: Option<String>,
    /// API tokens, hashed, as `doorman token` writes them.
    pub tokens_file: Option<String>,
    /// PEM CA bundle that an `https://` upstream's certificate must chain to.
    pub upstream_ca_file: Option<String>,
    pub upstream_insecure_skip_verify: Option<bool>,
    pub tls: Option<RawTls>,
    pub metrics_listen: Option<String>,
    pub shutdown_delay: Option<String>,
    #[serde(default)]
    pub session: RawSession,
    #[serde(default)]
    pub public: Vec<RawPublicRule>,
    #[serde(default)]
    pub rules: Vec<RawRule>,
    /// Several apps by host name; without it, `upstream` and `rules` are the one app.
    #[serde(default)]
    pub apps: Vec<RawApp>,
    #[serde(default)]
    pub channels: OrderedMap<RawChannel>,
    #[serde(default)]
    pub providers: RawProviders,
    #[serde(default)]
    pub codes: RawCodes,
    #[serde(default)]
    pub identity_headers: RawIdentityHeaders,
    #[serde(default)]
    pub allowed_redirect_domains: Vec<String>,
    #[serde(default)]
    pub allowed_countries: Vec<String>,
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    #[serde(default)]
    pub forwarding: RawForwarding,
    #[serde(default)]
    pub limits: RawLimits,
    #[serde(default)]
    pub store: RawStore,
    #[serde(default)]
    pub log: RawLog,
    pub webauthn: Option<RawWebauthn>,
}

/// `webauthn:`: the relying party passkeys are bound to.
#[derive(Debug, Default, Deserialize)]
pub struct RawWebauthn {
    pub rp_id: Option<String>,
    pub rp_name: Option<String>,
    #[serde(default)]
    pub origins: Vec<String>,
    #[serde(default)]
    pub passwordless: bool,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawForwarding {
    /// `None`: the default (`websocket`); `[]` tunnels nothing.
    pub upgrades: Option<Vec<String>>,
    #[serde(default)]
    pub pass_headers: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawTls {
    pub cert_file: Option<String>,
    pub key_file: Option<String>,
    /// The `Strict-Transport-Security` value, e.g. `max-age=31536000`.
    pub hsts: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawSession {
    /// Also reachable as `secret_file`, which the loader turns into `secret`.
    pub secret: Option<String>,
    #[serde(default)]
    pub previous_secrets: Vec<String>,
    pub cookie_name: Option<String>,
    pub secure: Option<serde_yaml::Value>,
    pub domain: Option<String>,
    pub lifetime: Option<String>,
    pub idle_timeout: Option<String>,
    /// How long "Remember this device" spares the second factor; unset: off.
    pub remember_device: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawPublicRule {
    pub path: Option<String>,
    pub path_prefix: Option<String>,
    pub methods: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawRule {
    pub path: Option<String>,
    pub path_prefix: Option<String>,
    pub path_regex: Option<String>,
    pub methods: Option<Vec<String>>,
    #[serde(default)]
    pub networks: Vec<String>,
    #[serde(default)]
    pub users: Vec<String>,
    #[serde(default)]
    pub groups: Vec<String>,
    pub policy: Option<String>,
    pub max_age: Option<String>,
    /// Hosts the rule is for (exact, or `*.example.com`); empty: every host.
    #[serde(default)]
    pub hosts: Vec<String>,
    /// Whether API tokens may pass where this rule decides.
    pub tokens: Option<bool>,
}

/// One entry of `apps:`: an upstream, the hosts that reach it, its rules.
#[derive(Debug, Default, Deserialize)]
pub struct RawApp {
    #[serde(default)]
    pub hosts: Vec<String>,
    pub upstream: Option<String>,
    pub upstream_host_header: Option<String>,
    pub upstream_ca_file: Option<String>,
    pub upstream_insecure_skip_verify: Option<bool>,
    #[serde(default)]
    pub public: Vec<RawPublicRule>,
    #[serde(default)]
    pub rules: Vec<RawRule>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawChannel {
    pub provider: Option<String>,
    #[serde(default)]
    pub fallback: Vec<String>,
    pub max_per_day: Option<u32>,
}

/// `providers:`, block by block; each provider reads its own
/// (`otp::providers::registry`), so a new provider needs nothing here.
#[derive(Debug, Default, Deserialize)]
pub struct RawProviders(pub OrderedMap<serde_yaml::Value>);

#[derive(Debug, Default, Deserialize)]
pub struct RawCodes {
    pub length: Option<u32>,
    pub lifetime: Option<String>,
    pub max_attempts: Option<u32>,
    pub resend_cooldown: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawIdentityHeaders {
    pub user: Option<String>,
    pub email: Option<String>,
    pub groups: Option<String>,
    pub name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawLimits {
    pub worker_threads: Option<usize>,
    pub fast_lane: Option<bool>,
    pub max_connections: Option<usize>,
    pub max_connections_per_client: Option<usize>,
    pub idle_timeout: Option<String>,
    pub body_idle_timeout: Option<String>,
    pub concurrent_password_checks: Option<usize>,
    pub header_read_timeout: Option<String>,
    pub auth_body_bytes: Option<usize>,
    pub upstream_connect_timeout: Option<String>,
    pub upstream_timeout: Option<String>,
    pub max_header_bytes: Option<usize>,
    pub max_headers: Option<usize>,
    #[serde(default)]
    pub failures: RawFailures,
    #[serde(default)]
    pub client_failures: RawFailures,
    #[serde(default)]
    pub sends_per_number: RawRate,
    #[serde(default)]
    pub sends_per_account: RawRate,
    #[serde(default)]
    pub push_prompts: RawRate,
    #[serde(default)]
    pub totp_starts: RawRate,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawFailures {
    pub delay_after: Option<u32>,
    pub delay: Option<String>,
    pub lock_after: Option<u32>,
    pub window: Option<String>,
    pub lock_for: Option<String>,
    pub per_hour: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawRate {
    pub max: Option<u32>,
    pub window: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawStore {
    pub kind: Option<String>,
    pub url: Option<String>,
    pub sentinel: Option<RawSentinel>,
    /// Also reachable as `password_file`.
    pub password: Option<String>,
    pub key_prefix: Option<String>,
    pub pool_size: Option<usize>,
    pub connect_timeout: Option<String>,
    pub command_timeout: Option<String>,
    /// `kind: file`: the database file.
    pub path: Option<String>,
    /// Entries held in memory per map before new sign-ins are refused.
    pub max_entries: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawSentinel {
    pub master_name: Option<String>,
    #[serde(default)]
    pub nodes: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawLog {
    pub level: Option<String>,
    pub format: Option<String>,
    pub audit: Option<String>,
    pub access: Option<String>,
}

/// A YAML mapping that keeps the order it was written in (`channels:` is
/// offered to users in file order).
#[derive(Debug)]
pub struct OrderedMap<V>(pub Vec<(String, V)>);

impl<V> Default for OrderedMap<V> {
    fn default() -> Self {
        OrderedMap(Vec::new())
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for OrderedMap<V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct OrderedVisitor<V>(std::marker::PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for OrderedVisitor<V> {
            type Value = OrderedMap<V>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a mapping")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut entries = Vec::new();
                while let Some((key, value)) = map.next_entry::<String, V>()? {
                    entries.push((key, value));
                }
                Ok(OrderedMap(entries))
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(OrderedMap(Vec::new()))
            }
        }
        deserializer.deserialize_map(OrderedVisitor(std::marker::PhantomData))
    }
}

/// The users file as written.
#[derive(Debug, Default, Deserialize)]
pub struct RawUsersFile {
    #[serde(default)]
    pub users: OrderedMap<RawUser>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawUser {
    pub password: Option<String>,
    pub display_name: Option<String>,
    pub email: Option<String>,
    #[serde(default)]
    pub groups: Vec<String>,
    pub phone: Option<String>,
    pub totp_secret: Option<String>,
    pub ntfy_topic: Option<String>,
    pub locale: Option<String>,
}
