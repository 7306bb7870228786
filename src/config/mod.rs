//! Configuration in two stages: [`raw`] mirrors the file, [`Config`] is the
//! validated, typed result that the rest of doorman sees.

pub mod env;
mod forwarding;
pub mod raw;
mod source;

use crate::limits::{FailurePolicy, RatePolicy};
use crate::net::TrustedProxies;
pub use forwarding::ForwardingSettings;
pub use source::parse as parse_yaml;

use crate::otp::Channel;
use crate::rules::{PathMatch, Policy, Rule, Rules};
use crate::store::redis_backend::{RedisSettings, SentinelSettings};
use crate::users::Users;
use cookie::Key;
use http::header::HeaderName;
use http::uri::{Authority, Scheme};
use http::{HeaderValue, Method, Uri};
use ipnet::IpNet;
use raw::{RawConfig, RawPublicRule, RawRule, RawUsersFile};
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Every problem found in a config, each with the key path it concerns.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Problems(Vec<(String, String)>);

impl Problems {
    /// Records a problem; only the first for each key is kept, since later
    /// ones are usually its consequences (an unset variable, then "too short";
    /// an unreadable `secret_file`, then a missing `secret`).
    pub fn push(&mut self, path: &str, message: impl Into<String>) {
        let reported = |known: &str| known == path || known.strip_suffix("_file") == Some(path);
        if !self.0.iter().any(|(known, _)| reported(known)) {
            self.0.push((path.to_owned(), message.into()));
        }
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn iter(&self) -> impl Iterator<Item = &(String, String)> {
        self.0.iter()
    }

    /// Adds `(from DOORMAN_X)` to each problem with a key a variable set.
    fn naming_variables(mut self, applied: &env::Applied) -> Problems {
        if applied.is_empty() {
            return self;
        }
        for (path, message) in &mut self.0 {
            if let Some(variable) = applied.variable_for(path) {
                message.push_str(&format!(" (from {variable})"));
            }
        }
        self
    }
}

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, (path, message)) in self.0.iter().enumerate() {
            if index > 0 {
                writeln!(f)?;
            }
            write!(f, "{path}: {message}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Problems {}

/// Validated settings. Built once at start-up; request handling reads it only.
#[derive(Debug)]
pub struct Config {
    /// Address the gateway listens on.
    pub listen: SocketAddr,
    /// The protected app.
    pub upstream: Upstream,
    /// Path under which doorman's own pages live, without a trailing slash.
    pub auth_prefix: String,
    /// Name used in messages and page titles.
    pub app_name: String,
    /// The externally visible origin; its host goes into the WebOTP line.
    pub public_url: Option<Uri>,
    /// A directory whose templates replace the embedded ones.
    pub templates_dir: Option<PathBuf>,
    pub users: Users,
    /// The users file, when there is one (the demo has none); the
    /// authenticator enrollment page writes new secrets into it.
    pub users_path: Option<PathBuf>,
    pub session: SessionSettings,
    /// `public:` as bypass rules, then `rules:`; first match wins.
    pub rules: Rules,
    /// The second-factor channels offered to users, in this order.
    pub channels: Vec<ChannelSettings>,
    pub providers: ProviderSettings,
    pub codes: CodeSettings,
    pub identity_headers: IdentityHeaders,
    /// Hosts besides the request's own that `rd` may send the browser to;
    /// a leading dot also allows subdomains.
    pub allowed_redirect_domains: Vec<String>,
    /// ISO 3166 codes codes may be sent to; empty allows every country.
    pub allowed_countries: Vec<String>,
    /// Peers whose `X-Forwarded-*` headers are believed.
    pub trusted_proxies: TrustedProxies,
    /// Upgrades tunnelled, client headers passed.
    pub forwarding: ForwardingSettings,
    /// Where shared state lives.
    pub store: StoreSettings,
    /// `store.max_entries`: entries each in-memory map holds before new
    /// sign-ins are refused (nothing is ever evicted).
    pub store_max_entries: usize,
    pub limits: Limits,
    pub log: LogSettings,
    /// TLS on the listener; `None` serves plain HTTP.
    pub tls: Option<TlsSettings>,
    /// Where Prometheus metrics are served; `None` (the default) serves none.
    pub metrics_listen: Option<SocketAddr>,
    /// How long health reports not-ready before the listener closes at
    /// shutdown, so load balancers stop sending new work first.
    pub shutdown_delay: Duration,
}

/// The listener's certificate and what to say about HTTPS.
#[derive(Clone)]
pub struct TlsSettings {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    /// Loaded and checked at validation, so `check-config` catches a bad pair.
    pub certified: rustls::sign::CertifiedKey,
    /// `Strict-Transport-Security` for every answer, when set.
    pub hsts: Option<HeaderValue>,
}

impl fmt::Debug for TlsSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsSettings")
            .field("cert_file", &self.cert_file)
            .field("key_file", &self.key_file)
            .field("hsts", &self.hsts)
            .finish()
    }
}

#[derive(Debug, Clone)]
pub struct Upstream {
    pub scheme: Scheme,
    pub authority: Authority,
    /// Replaces the client's `Host` when set.
    pub host_header: Option<HeaderValue>,
    /// For `https://` upstreams: how their certificate is checked.
    pub tls: Option<std::sync::Arc<rustls::ClientConfig>>,
    /// `upstream_insecure_skip_verify` is on: warned about at every start.
    pub insecure_skip_verify: bool,
}

pub struct SessionSettings {
    /// Newest first: the first encrypts, all of them decrypt.
    pub keys: Vec<Key>,
    /// Derived from the newest secret: signs CSRF tokens.
    pub csrf_key: [u8; 32],
    pub cookie_name: String,
    pub secure: Secure,
    pub domain: Option<String>,
    pub lifetime: Duration,
    pub idle_timeout: Duration,
}

impl fmt::Debug for SessionSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionSettings")
            .field("keys", &format_args!("[{} redacted]", self.keys.len()))
            .field("cookie_name", &self.cookie_name)
            .field("secure", &self.secure)
            .field("domain", &self.domain)
            .field("lifetime", &self.lifetime)
            .field("idle_timeout", &self.idle_timeout)
            .finish()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Secure {
    /// `Secure` when the request arrived over TLS.
    Auto,
    Always,
    Never,
}

#[derive(Debug, Clone)]
pub struct ChannelSettings {
    pub channel: Channel,
    /// The provider first, then its fallbacks, each at most once.
    pub providers: Vec<String>,
    /// Codes this channel may send in any 24 hours, across all users: a
    /// ceiling on the bill. `None`: no ceiling.
    pub max_per_day: Option<u32>,
}

/// The configured providers; `None` where a block is absent.
#[derive(Debug, Clone, Default)]
pub struct ProviderSettings {
    pub log: bool,
    pub webhook: Option<WebhookSettings>,
    pub vonage: Option<VonageSettings>,
    pub vonage_legacy: Option<VonageSettings>,
    pub twilio: Option<TwilioSettings>,
    pub telnyx: Option<TelnyxSettings>,
    pub twilio_sms: Option<TwilioSmsSettings>,
    pub vonage_sms: Option<VonageSmsSettings>,
    pub telnyx_sms: Option<TelnyxSmsSettings>,
    pub ntfy: Option<NtfySettings>,
    pub duo: Option<DuoSettings>,
}

/// Providers that can carry a push approval.
pub const PUSH_PROVIDERS: &[&str] = &["ntfy", "duo", "webhook"];

/// Every provider name doorman knows, and whether it can place voice calls.
pub const PROVIDERS: &[(&str, bool)] = &[
    ("log", true),
    ("webhook", true),
    ("vonage", true),
    ("vonage_legacy", true),
    ("twilio", true),
    ("telnyx", true),
    ("twilio_sms", false),
    ("vonage_sms", false),
    ("telnyx_sms", false),
    ("ntfy", false),
    ("duo", false),
];

impl ProviderSettings {
    pub fn is_configured(&self, name: &str) -> bool {
        match name {
            "log" => self.log,
            "webhook" => self.webhook.is_some(),
            "vonage" => self.vonage.is_some(),
            "vonage_legacy" => self.vonage_legacy.is_some(),
            "twilio" => self.twilio.is_some(),
            "telnyx" => self.telnyx.is_some(),
            "twilio_sms" => self.twilio_sms.is_some(),
            "vonage_sms" => self.vonage_sms.is_some(),
            "telnyx_sms" => self.telnyx_sms.is_some(),
            "ntfy" => self.ntfy.is_some(),
            "duo" => self.duo.is_some(),
            _ => false,
        }
    }
}

/// A credential: kept out of `Debug` output and so out of logs.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

#[derive(Clone)]
pub struct WebhookSettings {
    pub url: reqwest::Url,
    pub secret: Option<String>,
    pub timeout: Duration,
}

impl fmt::Debug for WebhookSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookSettings")
            .field("url", &self.url.as_str())
            .field("secret", &self.secret.as_ref().map(|_| "redacted"))
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// `vonage` (Verify v2) and `vonage_legacy` (Verify v1).
#[derive(Debug, Clone)]
pub struct VonageSettings {
    pub api_key: String,
    pub api_secret: Secret,
    /// Names the app in Vonage's message: 1–16 characters, none of `/{}:$`.
    pub brand: String,
    pub locale: String,
    pub base_url: reqwest::Url,
    pub timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct TwilioSettings {
    pub account_sid: String,
    pub auth_token: Secret,
    pub service_sid: String,
    pub locale: String,
    pub base_url: reqwest::Url,
    pub timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct TelnyxSettings {
    pub api_key: Secret,
    pub verify_profile_id: String,
    pub base_url: reqwest::Url,
    pub timeout: Duration,
}

/// Exactly one of `from` and `messaging_service_sid` is set.
#[derive(Debug, Clone)]
pub struct TwilioSmsSettings {
    pub account_sid: String,
    pub auth_token: Secret,
    pub from: Option<String>,
    pub messaging_service_sid: Option<String>,
    pub base_url: reqwest::Url,
    pub timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct VonageSmsSettings {
    pub api_key: String,
    pub api_secret: Secret,
    pub from: String,
    pub base_url: reqwest::Url,
    pub timeout: Duration,
}

/// Exactly one of `from` and `messaging_profile_id` is set.
#[derive(Debug, Clone)]
pub struct TelnyxSmsSettings {
    pub api_key: Secret,
    pub from: Option<String>,
    pub messaging_profile_id: Option<String>,
    pub base_url: reqwest::Url,
    pub timeout: Duration,
}

/// `ntfy`: push notifications through an ntfy server.
#[derive(Debug, Clone)]
pub struct NtfySettings {
    pub base_url: reqwest::Url,
    pub auth: NtfyAuth,
    /// 1–5; default 4 ("high"), so the phone shows it at once.
    pub priority: u8,
    pub timeout: Duration,
}

#[derive(Debug, Clone)]
pub enum NtfyAuth {
    None,
    Token(Secret),
    Basic { username: String, password: Secret },
}

/// `duo`: Duo Auth API push.
#[derive(Debug, Clone)]
pub struct DuoSettings {
    pub base_url: reqwest::Url,
    pub integration_key: String,
    pub secret_key: Secret,
    pub timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct CodeSettings {
    pub length: u32,
    pub lifetime: Duration,
    pub max_attempts: u32,
    pub resend_cooldown: Duration,
}

#[derive(Debug, Clone)]
pub struct IdentityHeaders {
    pub user: HeaderName,
    pub email: HeaderName,
    pub groups: HeaderName,
    pub name: HeaderName,
}

impl IdentityHeaders {
    pub fn all(&self) -> [&HeaderName; 4] {
        [&self.user, &self.email, &self.groups, &self.name]
    }
}

#[derive(Debug, Clone)]
pub struct Limits {
    /// Threads serving requests, each with its own event loop.
    pub worker_threads: usize,
    pub max_connections: usize,
    /// Open connections one client address (IPv6: one /64) may hold;
    /// trusted proxies are not capped.
    pub max_connections_per_client: usize,
    /// How long a connection may stay open with no request in flight.
    pub idle_timeout: Duration,
    /// How long a body (either way) or a client's socket may make no progress.
    pub body_idle_timeout: Duration,
    pub concurrent_password_checks: usize,
    pub header_read_timeout: Duration,
    pub auth_body_bytes: usize,
    pub upstream_connect_timeout: Duration,
    /// How long the upstream may take to send its response headers.
    pub upstream_timeout: Duration,
    /// Request head size and header count a client may send.
    pub max_header_bytes: usize,
    pub max_headers: usize,
    /// Failed sign-ins per account, and per client address.
    pub failures: FailurePolicy,
    pub client_failures: FailurePolicy,
    pub sends_per_number: RatePolicy,
    pub sends_per_account: RatePolicy,
    pub push_prompts: RatePolicy,
    /// Authenticator-app challenges started per account.
    pub totp_starts: RatePolicy,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone)]
pub struct LogSettings {
    pub level: String,
    pub format: LogFormat,
    /// Where the JSON audit events go.
    pub audit: crate::audit::Output,
}

const MIN_SECRET_BYTES: usize = 32;

impl Config {
    /// Reads and validates the file at `path` with the `DOORMAN_*`
    /// environment variables laid over it; relative paths inside it
    /// (`users_file`, `templates_dir`, …) are taken from the file's directory.
    pub fn load(path: &Path) -> Result<Config, Problems> {
        Config::load_from(Some(path), &|name| std::env::var(name).ok())
    }

    /// The file at `path` (or none: settings from `lookup` alone, relative
    /// paths from the working directory) with the variables `lookup` knows
    /// laid over it.
    pub fn load_from(
        path: Option<&Path>,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, Problems> {
        let Some(path) = path else {
            return Config::from_sources("", Path::new("."), lookup);
        };
        let text = std::fs::read_to_string(path).map_err(|err| {
            let mut problems = Problems::default();
            problems.push("config", format!("cannot read {}: {err}", path.display()));
            problems
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Config::from_sources(&text, base, lookup)
    }

    /// Config text with environment variables from `lookup` laid over it.
    /// A problem with a key a variable set names the variable.
    pub fn from_sources(
        text: &str,
        base: &Path,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, Problems> {
        let mut problems = Problems::default();
        let mut applied = env::Applied::default();
        let raw: Option<RawConfig> = source::parse_with(text, "", &mut problems, |value| {
            applied = env::overlay(value, lookup);
        });
        let result = match raw {
            None => Err(problems),
            Some(raw) => Config::validate(raw, base, problems),
        };
        result.map_err(|problems| problems.naming_variables(&applied))
    }

    /// Validates config text; `base` resolves relative file paths.
    pub fn from_yaml(text: &str, base: &Path) -> Result<Config, Problems> {
        let mut problems = Problems::default();
        let raw: Option<RawConfig> = source::parse(text, "", &mut problems);
        let Some(raw) = raw else {
            return Err(problems);
        };
        Config::validate(raw, base, problems)
    }

    fn validate(raw: RawConfig, base: &Path, mut problems: Problems) -> Result<Config, Problems> {
        let users_path = raw.users_file.as_ref().map(|file| base.join(file));
        let users = match &users_path {
            None => {
                problems.push("users_file", "required: the file that lists users");
                None
            }
            Some(path) => load_users(path, &mut problems),
        };
        let mut config = build(raw, users.unwrap_or_default(), base, &mut problems);
        config.users_path = users_path;
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(problems)
        }
    }

    /// Validates a config whose users are given directly (the demo).
    pub fn from_yaml_with_users(text: &str, users: Users) -> Result<Config, Problems> {
        let mut problems = Problems::default();
        let raw: Option<RawConfig> = source::parse(text, "", &mut problems);
        let Some(raw) = raw else {
            return Err(problems);
        };
        let config = build(raw, users, Path::new("."), &mut problems);
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(problems)
        }
    }
}

fn load_users(path: &Path, problems: &mut Problems) -> Option<Users> {
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
    let raw: RawUsersFile = source::parse(&text, &prefix, problems)?;
    Some(Users::from_raw(raw, &prefix, problems))
}

fn build(raw: RawConfig, users: Users, base: &Path, problems: &mut Problems) -> Config {
    let listen = raw
        .listen
        .as_deref()
        .unwrap_or("0.0.0.0:8080")
        .parse()
        .unwrap_or_else(|_| {
            problems.push("listen", "expected an address like 0.0.0.0:8080");
            SocketAddr::from(([127, 0, 0, 1], 0))
        });
    let upstream = upstream(&raw, base, problems);
    let auth_prefix = auth_prefix(raw.auth_prefix.as_deref(), problems);
    let public_url = raw
        .public_url
        .as_deref()
        .and_then(|url| match url.parse::<Uri>() {
            Ok(uri) if uri.scheme().is_some() && uri.host().is_some() => Some(uri),
            _ => {
                problems.push(
                    "public_url",
                    "expected an absolute URL like https://app.example.com",
                );
                None
            }
        });
    let session = session(raw.session, problems);
    let rules = access_rules(&raw.public, &raw.rules, problems);
    let app_name = raw.app_name.clone().unwrap_or_else(|| "doorman".to_owned());
    let providers = providers(&raw.providers, &app_name, problems);
    let allowed_countries = countries(&raw.allowed_countries, problems);
    let channels = channels(&raw.channels, &providers, problems);
    push_needs_public_url(&channels, public_url.is_some(), problems);
    let codes = codes(&raw.codes, problems);
    let identity_headers = identity_headers(&raw.identity_headers, problems);
    let limits = limits(&raw.limits, problems);
    let trusted_proxies = networks(&raw.trusted_proxies, "trusted_proxies", problems);
    let forwarding = forwarding::forwarding(&raw.forwarding, &identity_headers, problems);
    let store = store(&raw.store, base, problems);
    let store_max_entries = match raw.store.max_entries {
        Some(0) => {
            problems.push("store.max_entries", "must be at least 1");
            1
        }
        Some(entries) => entries,
        None => crate::store::bounded::DEFAULT_CAPACITY,
    };
    let log = LogSettings {
        level: raw.log.level.unwrap_or_else(|| "info".to_owned()),
        format: match raw.log.format.as_deref() {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => {
                problems.push(
                    "log.format",
                    format!("expected `text` or `json`, not `{other}`"),
                );
                LogFormat::Text
            }
        },
        audit: match raw.log.audit.as_deref() {
            None | Some("stdout") => crate::audit::Output::Stdout,
            Some("stderr") => crate::audit::Output::Stderr,
            Some("off") => crate::audit::Output::Off,
            Some(other) => {
                problems.push(
                    "log.audit",
                    format!("expected `stdout`, `stderr` or `off`, not `{other}`"),
                );
                crate::audit::Output::Stdout
            }
        },
    };
    let allowed_redirect_domains = raw
        .allowed_redirect_domains
        .iter()
        .enumerate()
        .filter_map(|(index, domain)| {
            let domain = domain.trim().to_ascii_lowercase();
            // A host name, optionally with a leading dot for its subdomains:
            // `.` alone or `evil.com.` would admit far more than meant.
            let name = domain.strip_prefix('.').unwrap_or(&domain);
            let plausible = !name.is_empty()
                && name.split('.').all(|label| {
                    !label.is_empty()
                        && !label.starts_with('-')
                        && !label.ends_with('-')
                        && label
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                });
            if !plausible {
                problems.push(
                    &format!("allowed_redirect_domains[{index}]"),
                    format!("`{domain}` is not a host name like app.example.com or .example.com"),
                );
            }
            plausible.then_some(domain)
        })
        .collect();
    let tls = raw
        .tls
        .as_ref()
        .and_then(|tls| tls_settings(tls, base, problems));
    let metrics_listen = raw.metrics_listen.as_deref().and_then(|text| {
        text.parse()
            .map_err(|_| problems.push("metrics_listen", "expected an address like 127.0.0.1:9090"))
            .ok()
    });
    let shutdown_delay = match raw.shutdown_delay.as_deref() {
        None | Some("0") | Some("0s") => Duration::ZERO,
        text => duration(text, "shutdown_delay", "0s", problems),
    };
    Config {
        listen,
        upstream,
        auth_prefix,
        app_name,
        public_url,
        templates_dir: raw.templates_dir.map(|dir| base.join(dir)),
        users,
        users_path: None,
        session,
        rules,
        channels,
        providers,
        codes,
        identity_headers,
        allowed_redirect_domains,
        allowed_countries,
        trusted_proxies: TrustedProxies::new(trusted_proxies),
        forwarding,
        store,
        store_max_entries,
        limits,
        log,
        tls,
        metrics_listen,
        shutdown_delay,
    }
}

fn tls_settings(raw: &raw::RawTls, base: &Path, problems: &mut Problems) -> Option<TlsSettings> {
    let hsts = raw.hsts.as_deref().and_then(|value| {
        let valid = value
            .trim_start()
            .to_ascii_lowercase()
            .starts_with("max-age=");
        match HeaderValue::from_str(value) {
            Ok(header) if valid => Some(header),
            _ => {
                problems.push(
                    "tls.hsts",
                    "expected a Strict-Transport-Security value like `max-age=31536000`",
                );
                None
            }
        }
    });
    let (Some(cert), Some(key)) = (&raw.cert_file, &raw.key_file) else {
        if raw.cert_file.is_none() {
            problems.push("tls.cert_file", "required: a PEM certificate chain");
        }
        if raw.key_file.is_none() {
            problems.push(
                "tls.key_file",
                "required: the certificate's PEM private key",
            );
        }
        return None;
    };
    let (cert_file, key_file) = (base.join(cert), base.join(key));
    match crate::tls::load_certified_key(&cert_file, &key_file) {
        Ok(certified) => Some(TlsSettings {
            cert_file,
            key_file,
            certified,
            hsts,
        }),
        Err(message) => {
            problems.push("tls.cert_file", message);
            None
        }
    }
}

fn upstream(raw: &RawConfig, base: &Path, problems: &mut Problems) -> Upstream {
    let fallback = Upstream {
        scheme: Scheme::HTTP,
        authority: Authority::from_static("127.0.0.1"),
        host_header: None,
        tls: None,
        insecure_skip_verify: false,
    };
    let host_header = raw.upstream_host_header.as_deref().and_then(|host| {
        HeaderValue::from_str(host)
            .map_err(|_| problems.push("upstream_host_header", "not a valid Host value"))
            .ok()
    });
    let Some(text) = raw.upstream.as_deref() else {
        problems.push(
            "upstream",
            "required: the URL of the app to protect, like http://127.0.0.1:3000",
        );
        return fallback;
    };
    let uri: Uri = match text.parse() {
        Ok(uri) => uri,
        Err(_) => {
            problems.push("upstream", format!("`{text}` is not a URL"));
            return fallback;
        }
    };
    let insecure_skip_verify = raw.upstream_insecure_skip_verify.unwrap_or(false);
    match (uri.scheme(), uri.authority()) {
        (Some(scheme), Some(authority)) if *scheme == Scheme::HTTP || *scheme == Scheme::HTTPS => {
            if uri.path() != "/" && !uri.path().is_empty() {
                problems.push(
                    "upstream",
                    "a path is not supported; give only scheme, host and port",
                );
            }
            let https = *scheme == Scheme::HTTPS;
            if !https && (raw.upstream_ca_file.is_some() || insecure_skip_verify) {
                let key = if insecure_skip_verify {
                    "upstream_insecure_skip_verify"
                } else {
                    "upstream_ca_file"
                };
                problems.push(key, "applies to https:// upstreams only");
            }
            let trust = match (&raw.upstream_ca_file, insecure_skip_verify) {
                (Some(_), true) => {
                    problems.push(
                        "upstream_insecure_skip_verify",
                        "set `upstream_ca_file` or `upstream_insecure_skip_verify`, not both",
                    );
                    crate::tls::UpstreamTrust::InsecureSkipVerify
                }
                (Some(file), false) => crate::tls::UpstreamTrust::CaFile(base.join(file)),
                (None, true) => crate::tls::UpstreamTrust::InsecureSkipVerify,
                (None, false) => crate::tls::UpstreamTrust::SystemRoots,
            };
            let tls = if https {
                match crate::tls::client_config(&trust) {
                    Ok(config) => Some(std::sync::Arc::new(config)),
                    Err(message) => {
                        let key = match trust {
                            crate::tls::UpstreamTrust::CaFile(_) => "upstream_ca_file",
                            _ => "upstream",
                        };
                        problems.push(key, message);
                        None
                    }
                }
            } else {
                None
            };
            Upstream {
                scheme: scheme.clone(),
                authority: authority.clone(),
                host_header,
                tls,
                insecure_skip_verify: https && insecure_skip_verify,
            }
        }
        (Some(_), Some(_)) => {
            problems.push("upstream", "expected an http:// or https:// URL");
            fallback
        }
        _ => {
            problems.push(
                "upstream",
                format!("`{text}` needs a scheme and host, like http://127.0.0.1:3000"),
            );
            fallback
        }
    }
}

fn auth_prefix(raw: Option<&str>, problems: &mut Problems) -> String {
    let prefix = raw.unwrap_or("/.doorman").trim_end_matches('/');
    let valid = prefix.starts_with('/')
        && prefix.len() > 1
        && prefix
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-~".contains(&b))
        && !prefix
            .split('/')
            .any(|segment| segment == "." || segment == "..");
    if !valid {
        problems.push(
            "auth_prefix",
            "expected a path like /.doorman (letters, digits, / . _ - ~)",
        );
        return "/.doorman".to_owned();
    }
    prefix.to_owned()
}

fn session(raw: raw::RawSession, problems: &mut Problems) -> SessionSettings {
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
    SessionSettings {
        keys,
        csrf_key,
        cookie_name,
        secure,
        domain: raw.domain,
        lifetime,
        idle_timeout,
    }
}

/// Parses `30s`, `5m`, `12h`, `1h30m`; zero is refused.
pub fn duration(
    text: Option<&str>,
    path: &str,
    default: &str,
    problems: &mut Problems,
) -> Duration {
    let text = text.unwrap_or(default);
    match humantime::parse_duration(text) {
        Ok(value) if !value.is_zero() => value,
        Ok(_) => {
            problems.push(path, "must be longer than zero");
            humantime::parse_duration(default).unwrap_or(Duration::from_secs(1))
        }
        Err(_) => {
            problems.push(
                path,
                format!("`{text}` is not a duration like 30s, 5m or 12h"),
            );
            humantime::parse_duration(default).unwrap_or(Duration::from_secs(1))
        }
    }
}

/// Where challenges, revocations and counters live.
#[derive(Debug, Clone, Default)]
pub enum StoreSettings {
    /// In this process: one replica, forgetting everything on restart.
    #[default]
    Memory,
    /// A redb file: one replica, keeping sign-outs, locks and used codes
    /// across restarts. What `serve` uses when `store` is not set.
    File(crate::store::file_backend::FileSettings),
    /// Redis or Valkey, shared by every replica.
    Redis(RedisSettings),
}

/// Where the file store lives unless `store.path` says otherwise (the
/// container image declares it a volume).
pub const DEFAULT_STORE_PATH: &str = "/var/lib/doorman/state.redb";

fn store(raw: &raw::RawStore, base: &Path, problems: &mut Problems) -> StoreSettings {
    let redis_only = [
        ("url", raw.url.is_some()),
        ("password", raw.password.is_some()),
        ("key_prefix", raw.key_prefix.is_some()),
        ("pool_size", raw.pool_size.is_some()),
        ("sentinel", raw.sentinel.is_some()),
        ("connect_timeout", raw.connect_timeout.is_some()),
        ("command_timeout", raw.command_timeout.is_some()),
    ];
    let not_redis = |problems: &mut Problems| {
        for (key, given) in redis_only {
            if given {
                problems.push(&format!("store.{key}"), "only for `kind: redis`");
            }
        }
    };
    if raw.path.is_some() && !matches!(raw.kind.as_deref(), None | Some("file")) {
        problems.push("store.path", "only for `kind: file`");
    }
    match raw.kind.as_deref() {
        Some("memory") => {
            not_redis(problems);
            StoreSettings::Memory
        }
        None | Some("file") => {
            not_redis(problems);
            let path = match raw.path.as_deref().map(str::trim) {
                Some("") => {
                    problems.push(
                        "store.path",
                        "must name a file, like /var/lib/doorman/state.redb",
                    );
                    PathBuf::from(DEFAULT_STORE_PATH)
                }
                Some(path) => base.join(path),
                None => PathBuf::from(DEFAULT_STORE_PATH),
            };
            if path.is_dir() {
                problems.push(
                    "store.path",
                    format!(
                        "{} is a directory; name a file in it, like state.redb",
                        path.display()
                    ),
                );
            }
            StoreSettings::File(crate::store::file_backend::FileSettings { path })
        }
        Some("redis" | "valkey") => {
            let sentinel = raw.sentinel.as_ref().map(|sentinel| {
                let master_name = sentinel.master_name.clone().unwrap_or_else(|| {
                    problems.push(
                        "store.sentinel.master_name",
                        "required: the name the Sentinels monitor, like mymaster",
                    );
                    String::new()
                });
                if sentinel.nodes.is_empty() {
                    problems.push(
                        "store.sentinel.nodes",
                        "required: the Sentinels, like [\"redis://10.0.0.1:26379\"]",
                    );
                }
                for (index, node) in sentinel.nodes.iter().enumerate() {
                    if let Err(err) = crate::store::redis_backend::check_url(node) {
                        problems.push(
                            &format!("store.sentinel.nodes[{index}]"),
                            format!("`{node}`: {err}"),
                        );
                    }
                }
                SentinelSettings {
                    master_name,
                    nodes: sentinel.nodes.clone(),
                }
            });
            // With Sentinel the URL only gives the database, TLS and
            // password for the master; its host is not used.
            let url = match raw.url.as_deref() {
                None if sentinel.is_some() => "redis://sentinel-master/0".to_owned(),
                None => {
                    problems.push(
                        "store.url",
                        "required: like redis://127.0.0.1:6379/0 or rediss://…",
                    );
                    String::new()
                }
                Some(url) => {
                    if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
                        problems.push(
                            "store.url",
                            format!("`{url}` is not a redis:// or rediss:// URL"),
                        );
                    } else if let Err(err) = crate::store::redis_backend::check_url(url) {
                        problems.push("store.url", format!("`{url}`: {err}"));
                    }
                    url.to_owned()
                }
            };
            let pool_size = match raw.pool_size {
                Some(0) => {
                    problems.push("store.pool_size", "must be at least 1");
                    1
                }
                Some(size) => size,
                None => 2,
            };
            StoreSettings::Redis(RedisSettings {
                url,
                sentinel,
                password: raw
                    .password
                    .clone()
                    .filter(|password| !password.is_empty())
                    .map(Secret),
                key_prefix: raw
                    .key_prefix
                    .clone()
                    .unwrap_or_else(|| "doorman:".to_owned()),
                pool_size,
                connect_timeout: duration(
                    raw.connect_timeout.as_deref(),
                    "store.connect_timeout",
                    "2s",
                    problems,
                ),
                command_timeout: duration(
                    raw.command_timeout.as_deref(),
                    "store.command_timeout",
                    "1s",
                    problems,
                ),
            })
        }
        Some(other) => {
            problems.push(
                "store.kind",
                format!("expected `file`, `memory` or `redis`, not `{other}`"),
            );
            StoreSettings::Memory
        }
    }
}

/// CIDRs like `10.0.0.0/8`; a bare address is a network of one.
fn networks(texts: &[String], path: &str, problems: &mut Problems) -> Vec<IpNet> {
    texts
        .iter()
        .enumerate()
        .filter_map(|(index, text)| {
            let text = text.trim();
            text.parse::<IpNet>()
                .or_else(|_| text.parse::<std::net::IpAddr>().map(IpNet::from))
                .map_err(|_| {
                    problems.push(
                        &format!("{path}[{index}]"),
                        format!("`{text}` is not an address or a CIDR like 10.0.0.0/8"),
                    )
                })
                .ok()
        })
        .collect()
}

/// `public:` entries become bypass rules ahead of `rules:`.
fn access_rules(public: &[RawPublicRule], rules: &[RawRule], problems: &mut Problems) -> Rules {
    let mut list = Vec::new();
    for (index, rule) in public.iter().enumerate() {
        if rule.path.is_some() == rule.path_prefix.is_some() {
            problems.push(
                &format!("public[{index}]"),
                "give exactly one of `path` or `path_prefix`",
            );
            continue;
        }
        let raw = RawRule {
            path: rule.path.clone(),
            path_prefix: rule.path_prefix.clone(),
            methods: rule.methods.clone(),
            policy: Some("bypass".to_owned()),
            ..RawRule::default()
        };
        list.extend(access_rule(format!("public[{index}]"), &raw, problems));
    }
    for (index, rule) in rules.iter().enumerate() {
        list.extend(access_rule(format!("rules[{index}]"), rule, problems));
    }
    Rules::new(list)
}

fn access_rule(name: String, rule: &RawRule, problems: &mut Problems) -> Option<Rule> {
    let key = |field: &str| format!("{name}.{field}");
    let literal = |text: &String, field: &str, problems: &mut Problems| {
        if !text.starts_with('/') {
            problems.push(&key(field), format!("`{text}` must start with /"));
        } else if crate::path::normalize(text).ok().as_deref() != Some(text.as_str()) {
            // Requests are matched in canonical form, so this could never match.
            let canonical = crate::path::normalize(text)
                .map(|c| format!("; write it as `{c}`"))
                .unwrap_or_default();
            problems.push(
                &key(field),
                format!("`{text}` is not a canonical path{canonical}"),
            );
        }
    };
    let path = match (&rule.path, &rule.path_prefix, &rule.path_regex) {
        (None, None, None) => None,
        (Some(exact), None, None) => {
            literal(exact, "path", problems);
            Some(PathMatch::Exact(exact.clone()))
        }
        (None, Some(prefix), None) => {
            literal(prefix, "path_prefix", problems);
            Some(PathMatch::Prefix(prefix.clone()))
        }
        (None, None, Some(pattern)) => {
            let anchored = format!("^(?:{})", pattern.strip_prefix('^').unwrap_or(pattern));
            match regex::Regex::new(&anchored) {
                Ok(regex) => Some(PathMatch::Regex(regex)),
                Err(err) => {
                    // The regex crate's message spans lines; its last says what is wrong.
                    let text = err.to_string();
                    let reason = text
                        .lines()
                        .last()
                        .unwrap_or("")
                        .trim_start_matches("error: ");
                    problems.push(&key("path_regex"), format!("not a valid regex: {reason}"));
                    None
                }
            }
        }
        _ => {
            problems.push(
                &name,
                "give at most one of `path`, `path_prefix` or `path_regex`",
            );
            None
        }
    };
    let methods = rule.methods.as_ref().map(|methods| {
        methods
            .iter()
            .filter_map(|method| {
                Method::from_bytes(method.to_ascii_uppercase().as_bytes())
                    .map_err(|_| {
                        problems.push(&key("methods"), format!("`{method}` is not an HTTP method"))
                    })
                    .ok()
            })
            .collect()
    });
    let policy = match rule.policy.as_deref() {
        None | Some("two_factor") => Policy::TwoFactor,
        Some("bypass") => Policy::Bypass,
        Some("deny") => Policy::Deny,
        Some(other) => {
            problems.push(
                &key("policy"),
                format!("expected `bypass`, `two_factor` or `deny`, not `{other}`"),
            );
            Policy::TwoFactor
        }
    };
    let subjects = !rule.users.is_empty() || !rule.groups.is_empty();
    if policy == Policy::Bypass && subjects {
        problems.push(
            &name,
            "a bypass rule cannot name `users` or `groups`: nobody is signed in to compare",
        );
    }
    let max_age = rule.max_age.as_deref().map(|text| {
        if policy != Policy::TwoFactor {
            problems.push(
                &key("max_age"),
                "only a `two_factor` rule can ask for a recent second factor",
            );
        }
        duration(Some(text), &key("max_age"), "10m", problems)
    });
    let networks = networks(&rule.networks, &key("networks"), problems);
    Some(Rule {
        name,
        path,
        methods,
        networks,
        users: rule
            .users
            .iter()
            .map(|user| user.to_ascii_lowercase())
            .collect(),
        groups: rule.groups.clone(),
        policy,
        max_age,
    })
}

fn providers(raw: &raw::RawProviders, app_name: &str, problems: &mut Problems) -> ProviderSettings {
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
            api_secret: Secret(block.required("api_secret", &raw.api_secret)?),
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
                auth_token: Secret(block.required("auth_token", &raw.auth_token)?),
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
                api_key: Secret(block.required("api_key", &raw.api_key)?),
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
                auth_token: Secret(block.required("auth_token", &raw.auth_token)?),
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
                api_secret: Secret(block.required("api_secret", &raw.api_secret)?),
                from: block.required("from", &raw.from)?,
                base_url: block.url("base_url", &raw.base_url, Some("https://rest.nexmo.com"))?,
                timeout: block.timeout(&raw.timeout, "10s"),
            })
        }),
        ntfy: raw.ntfy.as_ref().and_then(|raw| {
            let mut block = Block::new("providers.ntfy", problems);
            let auth = match (&raw.token, &raw.username, &raw.password) {
                (None, None, None) => NtfyAuth::None,
                (Some(token), None, None) => NtfyAuth::Token(Secret(token.trim().to_owned())),
                (None, Some(username), Some(password)) => NtfyAuth::Basic {
                    username: username.clone(),
                    password: Secret(password.clone()),
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
                secret_key: Secret(block.required("secret_key", &raw.secret_key)?),
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
                api_key: Secret(block.required("api_key", &raw.api_key)?),
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

fn channels(
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
                "unknown channel; doorman offers `sms`, `voice`, `push` and `totp`",
            );
            continue;
        };
        if kind == Channel::Totp {
            // The user's authenticator app is the only "provider".
            if channel.provider.is_some() || !channel.fallback.is_empty() {
                problems.push(
                    &format!("{path}.provider"),
                    "an authenticator app needs no provider; write `totp: {}`",
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
            let Some((_, calls)) = PROVIDERS.iter().find(|(known, _)| known == provider) else {
                let known: Vec<&str> = PROVIDERS.iter().map(|(name, _)| *name).collect();
                problems.push(
                    &key,
                    format!("unknown provider `{provider}`; known: {}", known.join(", ")),
                );
                continue;
            };
            let pushes = PUSH_PROVIDERS.contains(&provider.as_str());
            if kind == Channel::Push && !pushes {
                problems.push(
                    &key,
                    format!("`{provider}` cannot send push approvals; use ntfy, duo or webhook"),
                );
            } else if kind != Channel::Push && pushes && provider != "webhook" {
                problems.push(
                    &key,
                    format!("`{provider}` sends push approvals only; use it under channels.push"),
                );
            } else if kind == Channel::Voice && !calls {
                problems.push(
                    &key,
                    format!("`{provider}` sends text messages only; for voice use vonage, vonage_legacy, twilio, telnyx or webhook"),
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
fn push_needs_public_url(
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

fn countries(raw: &[String], problems: &mut Problems) -> Vec<String> {
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

fn codes(raw: &raw::RawCodes, problems: &mut Problems) -> CodeSettings {
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

fn identity_headers(raw: &raw::RawIdentityHeaders, problems: &mut Problems) -> IdentityHeaders {
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
    IdentityHeaders {
        user: header(&raw.user, "user", "remote-user"),
        email: header(&raw.email, "email", "remote-email"),
        groups: header(&raw.groups, "groups", "remote-groups"),
        name: header(&raw.name, "name", "remote-name"),
    }
}

fn limits(raw: &raw::RawLimits, problems: &mut Problems) -> Limits {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let positive =
        |value: Option<usize>, key: &str, default: usize, problems: &mut Problems| match value {
            Some(0) => {
                problems.push(&format!("limits.{key}"), "must be at least 1");
                default
            }
            Some(value) => value,
            None => default,
        };
    let max_connections = positive(raw.max_connections, "max_connections", 10_000, problems);
    Limits {
        worker_threads: positive(raw.worker_threads, "worker_threads", cores, problems),
        max_connections,
        // One address may never take more than half of every slot.
        max_connections_per_client: positive(
            raw.max_connections_per_client,
            "max_connections_per_client",
            (max_connections / 2).clamp(1, 256),
            problems,
        ),
        idle_timeout: duration(
            raw.idle_timeout.as_deref(),
            "limits.idle_timeout",
            "30s",
            problems,
        ),
        body_idle_timeout: duration(
            raw.body_idle_timeout.as_deref(),
            "limits.body_idle_timeout",
            "60s",
            problems,
        ),
        concurrent_password_checks: positive(
            raw.concurrent_password_checks,
            "concurrent_password_checks",
            (cores / 2).max(1),
            problems,
        ),
        header_read_timeout: duration(
            raw.header_read_timeout.as_deref(),
            "limits.header_read_timeout",
            "10s",
            problems,
        ),
        auth_body_bytes: positive(raw.auth_body_bytes, "auth_body_bytes", 16 * 1024, problems),
        upstream_connect_timeout: duration(
            raw.upstream_connect_timeout.as_deref(),
            "limits.upstream_connect_timeout",
            "5s",
            problems,
        ),
        upstream_timeout: duration(
            raw.upstream_timeout.as_deref(),
            "limits.upstream_timeout",
            "60s",
            problems,
        ),
        max_header_bytes: match raw.max_header_bytes {
            // hyper's smallest read buffer.
            Some(bytes) if bytes < 8192 => {
                problems.push("limits.max_header_bytes", "must be at least 8192");
                32 * 1024
            }
            Some(bytes) => bytes,
            None => 32 * 1024,
        },
        max_headers: positive(raw.max_headers, "max_headers", 100, problems),
        failures: failure_policy(&raw.failures, "limits.failures", problems),
        client_failures: failure_policy(&raw.client_failures, "limits.client_failures", problems),
        sends_per_number: rate(
            &raw.sends_per_number,
            "limits.sends_per_number",
            (3, "10m"),
            problems,
        ),
        sends_per_account: rate(
            &raw.sends_per_account,
            "limits.sends_per_account",
            (10, "24h"),
            problems,
        ),
        push_prompts: rate(
            &raw.push_prompts,
            "limits.push_prompts",
            (3, "10m"),
            problems,
        ),
        totp_starts: rate(&raw.totp_starts, "limits.totp_starts", (10, "1h"), problems),
    }
}

fn failure_policy(raw: &raw::RawFailures, path: &str, problems: &mut Problems) -> FailurePolicy {
    let defaults = FailurePolicy::default();
    let at_least_one =
        |value: Option<u32>, key: &str, default: u32, problems: &mut Problems| match value {
            Some(0) => {
                problems.push(&format!("{path}.{key}"), "must be at least 1");
                default
            }
            Some(value) => value,
            None => default,
        };
    FailurePolicy {
        delay_after: at_least_one(
            raw.delay_after,
            "delay_after",
            defaults.delay_after,
            problems,
        ),
        // `0s` turns the delay off.
        delay: match raw.delay.as_deref().map(str::trim) {
            Some("0" | "0s") => Duration::ZERO,
            text => duration(text, &format!("{path}.delay"), "1s", problems),
        },
        lock_after: at_least_one(raw.lock_after, "lock_after", defaults.lock_after, problems),
        window: duration(
            raw.window.as_deref(),
            &format!("{path}.window"),
            "15m",
            problems,
        ),
        lock_for: duration(
            raw.lock_for.as_deref(),
            &format!("{path}.lock_for"),
            "15m",
            problems,
        ),
        per_hour: at_least_one(raw.per_hour, "per_hour", defaults.per_hour, problems),
    }
}

fn rate(
    raw: &raw::RawRate,
    path: &str,
    default: (u32, &str),
    problems: &mut Problems,
) -> RatePolicy {
    RatePolicy {
        max: match raw.max {
            Some(0) => {
                problems.push(&format!("{path}.max"), "must be at least 1");
                default.0
            }
            Some(max) => max,
            None => default.0,
        },
        window: duration(
            raw.window.as_deref(),
            &format!("{path}.window"),
            default.1,
            problems,
        ),
    }
}
