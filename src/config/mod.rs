//! Configuration in two stages: [`raw`] mirrors the file, [`Config`] is the
//! validated, typed result that the rest of doorman sees.
//!
//! Each section is validated in its own file and becomes the settings type
//! of the module that uses it (`SessionSettings` in `session`, `Limits` in
//! `limits`, …): imports flow from here to the domain, never back.
//! [`users_file`] is the way back to disk: it writes an enrolled
//! authenticator secret into the users file and checks it reads back.

mod apps;
mod channels;
pub mod env;
mod forwarding;
mod limits;
mod listener;
mod problems;
mod providers;
pub mod raw;
mod rules;
mod session;
mod source;
mod store;
mod upstream;
pub mod users;
pub mod users_file;
mod webauthn;

pub use crate::report::duration;
pub use problems::Problems;
pub use source::parse as parse_yaml;

use crate::limits::Limits;
use crate::net::TrustedProxies;
use crate::otp::providers::ProviderSettings;
use crate::otp::{ChannelSettings, CodeSettings};
use crate::proxy::{ForwardingSettings, Upstream};
use crate::session::SessionSettings;
use crate::sites::Sites;
use crate::store::StoreSettings;
use crate::tls::TlsSettings;
use crate::users::{IdentityHeaders, Users};
use http::Uri;
use raw::RawConfig;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Validated settings. Built once at start-up; request handling reads it only.
#[derive(Debug)]
pub struct Config {
    /// Address the gateway listens on.
    pub listen: SocketAddr,
    /// The protected app; with `apps:`, the first app's (see `upstreams`).
    pub upstream: Upstream,
    /// Each app's upstream, at its index in `sites`.
    pub upstreams: Vec<Upstream>,
    /// Path under which doorman's own pages live, without a trailing slash.
    pub auth_prefix: String,
    /// Name used in messages and page titles.
    pub app_name: String,
    /// The language when `Accept-Language` names no shipped one, and of
    /// text messages to users without a `locale`.
    pub default_locale: crate::i18n::Locale,
    /// The externally visible origin; its host goes into the WebOTP line.
    pub public_url: Option<Uri>,
    /// A directory whose templates replace the embedded ones.
    pub templates_dir: Option<PathBuf>,
    /// `tokens_file`: API tokens, hashed; `None` accepts no token.
    pub tokens_file: Option<PathBuf>,
    pub users: Users,
    /// The users file, when there is one (the demo has none); the
    /// authenticator enrollment page writes new secrets into it.
    pub users_path: Option<PathBuf>,
    pub session: SessionSettings,
    /// The apps by host, each with `public:` as bypass rules, then
    /// `rules:` (first match wins); one app for every host without `apps:`.
    pub sites: Sites,
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
    /// Passkeys and security keys; `None` when `webauthn:` is not set.
    pub webauthn: Option<crate::webauthn::WebauthnSettings>,
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
    /// Where the access log goes (off by default).
    pub access: crate::access_log::Output,
}

impl Config {
    /// Reads and validates the file at `path` with the `DOORMAN_*`
    /// environment variables laid over it; relative paths inside it
    /// (`users_file`, `templates_dir`, …) are taken from the file's directory.
    pub fn load(path: &Path) -> Result<Config, Problems> {
        Config::load_from(Some(path), &|name| std::env::var(name).ok())
    }

    /// The users file at `path` alone, as a reload reads it: the users, or
    /// every problem found in it.
    pub fn load_users(path: &Path) -> Result<Users, Problems> {
        let mut problems = Problems::default();
        match users::load_users(path, &mut problems) {
            Some(users) if problems.is_empty() => Ok(users),
            _ => Err(problems),
        }
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
        let raw: Option<RawConfig> = source::parse_with(text, "", base, &mut problems, |value| {
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
        let raw: Option<RawConfig> = source::parse(text, "", base, &mut problems);
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
            Some(path) => users::load_users(path, &mut problems),
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
        let raw: Option<RawConfig> = source::parse(text, "", Path::new("."), &mut problems);
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
    let (sites, upstreams) = apps::apps(&raw, base, problems);
    let upstream = upstreams
        .first()
        .cloned()
        .unwrap_or_else(upstream::fallback);
    let auth_prefix = listener::auth_prefix(raw.auth_prefix.as_deref(), problems);
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
    let session = session::session(raw.session, problems);
    let app_name = raw.app_name.clone().unwrap_or_else(|| "doorman".to_owned());
    let default_locale = raw
        .default_locale
        .as_deref()
        .map_or(Default::default(), |tag| {
            crate::i18n::Locale::from_tag(tag).unwrap_or_else(|| {
                problems.push("default_locale", users::not_shipped(tag));
                Default::default()
            })
        });
    let providers = providers::providers(&raw.providers, &app_name, problems);
    let allowed_countries = channels::countries(&raw.allowed_countries, problems);
    let channels = channels::channels(&raw.channels, &providers, problems);
    channels::push_needs_public_url(&channels, public_url.is_some(), problems);
    let codes = channels::codes(&raw.codes, problems);
    let webauthn = webauthn::webauthn(raw.webauthn.as_ref(), &channels, &app_name, problems);
    let identity_headers = users::identity_headers(&raw.identity_headers, problems);
    let limits = limits::limits(&raw.limits, problems);
    let trusted_proxies = rules::networks(&raw.trusted_proxies, "trusted_proxies", problems);
    let forwarding = forwarding::forwarding(&raw.forwarding, &identity_headers, problems);
    let store = store::store(&raw.store, base, problems);
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
        access: match raw.log.access.as_deref() {
            None => crate::access_log::Output::Off,
            Some(text) => crate::access_log::Output::parse(text, base).unwrap_or_else(|why| {
                problems.push("log.access", why);
                crate::access_log::Output::Off
            }),
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
            let plausible = crate::sites::is_host_name(name);
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
        .and_then(|tls| listener::tls_settings(tls, base, problems));
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
        upstreams,
        auth_prefix,
        app_name,
        default_locale,
        public_url,
        templates_dir: raw.templates_dir.map(|dir| base.join(dir)),
        tokens_file: raw.tokens_file.map(|file| base.join(file)),
        users,
        users_path: None,
        session,
        sites,
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
        webauthn,
    }
}
