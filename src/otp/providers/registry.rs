//! The provider catalog: every provider doorman knows, what it can do, and
//! how its `providers.<name>` block becomes a running provider.
//!
//! Adding a provider is one new file (its raw block, settings type, reading,
//! start-up check and delivery) plus one row in [`CATALOG`]: channel checks,
//! `check-config` messages and start-up all read this table.

use super::http::Endpoint;
use super::Providers;
use crate::report::{duration, Report};
use crate::secret::Secret;
use serde::de::DeserializeOwned;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// How a provider gets a code to a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// doorman makes and checks the code; the provider carries the message.
    Message,
    /// The provider makes, sends and checks the code (a Verify API).
    Verify,
    /// The provider carries push approvals only.
    Push,
}

/// One row of the catalog.
pub struct Entry {
    /// Its key under `providers:` and in `channels:`.
    pub name: &'static str,
    pub kind: Kind,
    /// Can place voice calls.
    pub calls: bool,
    /// Can carry a push approval.
    pub pushes: bool,
    /// For trials only (`log`): never suggested in a problem message.
    pub trial: bool,
    /// Reads the block into settings, reporting problems under its path.
    pub read: Reader,
}

type Reader = fn(&serde_yaml::Value, &mut Block<'_>, &Context) -> Option<Arc<dyn Configured>>;

/// Every provider, in the order `check-config` names them.
pub const CATALOG: &[Entry] = &[
    row::<super::log::LogSettings>("log", Kind::Message, true, false, true),
    row::<super::webhook::WebhookSettings>("webhook", Kind::Message, true, true, false),
    row::<super::vonage::VonageSettings>("vonage", Kind::Verify, true, false, false),
    row::<super::vonage_legacy::VonageLegacySettings>(
        "vonage_legacy",
        Kind::Verify,
        true,
        false,
        false,
    ),
    row::<super::twilio::TwilioSettings>("twilio", Kind::Verify, true, false, false),
    row::<super::telnyx::TelnyxSettings>("telnyx", Kind::Verify, true, false, false),
    row::<super::twilio_sms::TwilioSmsSettings>("twilio_sms", Kind::Message, false, false, false),
    row::<super::vonage_sms::VonageSmsSettings>("vonage_sms", Kind::Message, false, false, false),
    row::<super::telnyx_sms::TelnyxSmsSettings>("telnyx_sms", Kind::Message, false, false, false),
    row::<super::ntfy::NtfySettings>("ntfy", Kind::Push, false, true, false),
    row::<super::duo::DuoSettings>("duo", Kind::Push, false, true, false),
];

const fn row<S: ProviderConfig>(
    name: &'static str,
    kind: Kind,
    calls: bool,
    pushes: bool,
    trial: bool,
) -> Entry {
    Entry {
        name,
        kind,
        calls,
        pushes,
        trial,
        read: read::<S>,
    }
}

/// The catalog row for `name`.
pub fn find(name: &str) -> Option<&'static Entry> {
    CATALOG.iter().find(|entry| entry.name == name)
}

/// `a, b or c`: the non-trial providers that pass `keep`, dedicated ones
/// (Verify or push-only) ahead of the general-purpose ones.
pub fn suggest(keep: impl Fn(&Entry) -> bool) -> String {
    let mut names: Vec<&Entry> = CATALOG.iter().filter(|e| !e.trial && keep(e)).collect();
    names.sort_by_key(|entry| entry.kind == Kind::Message);
    let names: Vec<&str> = names.iter().map(|entry| entry.name).collect();
    match names.split_last() {
        None => String::new(),
        Some((last, [])) => (*last).to_owned(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
    }
}

/// What reading a block may need besides the block itself.
#[derive(Debug, Clone)]
pub struct Context {
    /// `app_name`: Vonage's default brand.
    pub app_name: String,
}

/// A provider's settings: read from its block, checked at start-up, built
/// into running providers.
pub trait ProviderConfig: fmt::Debug + Send + Sync + Sized + 'static {
    /// The block as written (serde, every field optional).
    type Raw: DeserializeOwned;
    fn read(raw: Self::Raw, block: &mut Block<'_>, context: &Context) -> Option<Self>;
    /// Adds the running provider(s) to `providers`.
    fn build(&self, providers: &mut Providers);
    /// Where the provider is reached, if anywhere: the default start-up
    /// check says whether it can be.
    fn endpoint(&self) -> Option<&reqwest::Url> {
        None
    }
    /// Whether the settings are complete and usable, said before doorman
    /// serves (as Authelia's notifiers do); settings made in code, not read
    /// from a block, meet it too. Never a network call: `check-config` and
    /// the tests run it.
    fn startup_check(&self) -> Result<(), String> {
        self.endpoint().map_or(Ok(()), usable_url)
    }
}

/// A provider block as written: `$name` with every key optional (`read`
/// reports a missing one at its path), a string unless a type follows it
/// in parentheses, and nothing else (an unknown key is reported too).
macro_rules! raw_block {
    ($(#[$meta:meta])* $name:ident: $($key:ident $(($ty:ty))?),+ $(,)?) => {
        $(#[$meta])*
        #[derive(Debug, Default, serde::Deserialize)]
        pub struct $name {
            $(pub $key: Option<$crate::otp::providers::registry::raw_block!(@type $($ty)?)>,)+
        }
    };
    (@type) => { String };
    (@type $ty:ty) => { $ty };
}
pub(super) use raw_block;

/// `build` and `endpoint` for the settings of a provider reached at
/// `self.endpoint` that plays one role: `$add` is `add_message`,
/// `add_verify` or `add_push`, and `$provider::new` takes the settings.
macro_rules! one_role {
    ($add:ident, $provider:ident) => {
        fn build(&self, providers: &mut Providers) {
            providers.$add($provider::new(self.clone()));
        }

        fn endpoint(&self) -> Option<&reqwest::Url> {
            Some(&self.endpoint.base_url)
        }
    };
}
pub(super) use one_role;

/// A provider reached over HTTP whose block is its keys, each read the way
/// named, then `base_url` (defaulting to `$url`; `None`: required) and
/// `timeout`: writes the raw block, its reading and `build` (as
/// [`one_role`]). A key is `required`, `secret` (a required credential),
/// `optional`, or `or "default"`; `one_of(a, b)` wants exactly one of two
/// optional keys. Problems are reported in the order the keys are named.
macro_rules! http_block {
    (
        $(#[$meta:meta])*
        $raw:ident => $settings:ident, $add:ident($provider:ident):
        $($key:ident($($how:tt)+)),+;
        $(one_of($a:ident, $b:ident);)?
        base_url $url:expr $(,)?
    ) => {
        $crate::otp::providers::registry::raw_block!(
            $(#[$meta])* $raw: $($key,)+ base_url, timeout
        );

        impl $crate::otp::providers::registry::ProviderConfig for $settings {
            type Raw = $raw;

            fn read(
                raw: Self::Raw,
                block: &mut $crate::otp::providers::registry::Block<'_>,
                _context: &$crate::otp::providers::registry::Context,
            ) -> Option<Self> {
                $(block.one_of((stringify!($a), &raw.$a), (stringify!($b), &raw.$b))?;)?
                Some($settings {
                    $($key: $crate::otp::providers::registry::http_block!(@read block, raw, $key, $($how)+),)+
                    endpoint: block.endpoint(&raw.base_url, &raw.timeout, $url)?,
                })
            }

            $crate::otp::providers::registry::one_role!($add, $provider);
        }
    };
    (@read $block:ident, $raw:ident, $key:ident, required) => {
        $block.required(stringify!($key), &$raw.$key)?
    };
    (@read $block:ident, $raw:ident, $key:ident, secret) => {
        $block.secret(stringify!($key), &$raw.$key)?
    };
    (@read $block:ident, $raw:ident, $key:ident, optional) => {
        $raw.$key.clone()
    };
    (@read $block:ident, $raw:ident, $key:ident, or $default:literal) => {
        $raw.$key.clone().unwrap_or_else(|| $default.to_owned())
    };
}
pub(super) use http_block;

/// A provider's settings, whatever the provider.
pub trait Configured: fmt::Debug + Send + Sync {
    fn build(&self, providers: &mut Providers);
    fn startup_check(&self) -> Result<(), String>;
    /// For the one provider with a second role (the webhook hears account notices).
    fn as_any(&self) -> &dyn std::any::Any;
}

impl<S: ProviderConfig> Configured for S {
    fn build(&self, providers: &mut Providers) {
        ProviderConfig::build(self, providers)
    }
    fn startup_check(&self) -> Result<(), String> {
        ProviderConfig::startup_check(self)
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

fn read<S: ProviderConfig>(
    value: &serde_yaml::Value,
    block: &mut Block<'_>,
    context: &Context,
) -> Option<Arc<dyn Configured>> {
    let raw: S::Raw = block.parse(value)?;
    let settings = S::read(raw, block, context)?;
    Some(Arc::new(settings))
}

/// Whether a URL is one a provider can be reached at.
pub fn usable_url(url: &reqwest::Url) -> Result<(), String> {
    if matches!(url.scheme(), "http" | "https") && url.host().is_some() {
        Ok(())
    } else {
        Err(format!("`{url}` is not an http:// or https:// URL"))
    }
}

/// Reads one provider block, reporting problems under its path.
pub struct Block<'p> {
    path: String,
    problems: &'p mut dyn Report,
}

impl<'p> Block<'p> {
    pub fn new(path: &str, problems: &'p mut dyn Report) -> Block<'p> {
        Block {
            path: path.to_owned(),
            problems,
        }
    }

    pub fn problem(&mut self, key: &str, message: impl Into<String>) {
        self.problems
            .report(&format!("{}.{key}", self.path), message.into());
    }

    /// The block as `T`: each unknown key and a wrong type reported at its path.
    fn parse<T: DeserializeOwned>(&mut self, value: &serde_yaml::Value) -> Option<T> {
        let mut unknown = Vec::new();
        let mut record = |path: serde_ignored::Path<'_>| unknown.push(path.to_string());
        let ignored = serde_ignored::Deserializer::new(value.clone(), &mut record);
        let parsed = serde_path_to_error::deserialize::<_, T>(ignored);
        for key in unknown {
            self.problem(&key, "unknown key");
        }
        match parsed {
            Ok(parsed) => Some(parsed),
            Err(err) => {
                let key = err.path().to_string();
                let message = err.into_inner().to_string();
                if key == "." {
                    self.problems.report(&self.path, message);
                } else {
                    self.problem(&key, message);
                }
                None
            }
        }
    }

    pub fn required(&mut self, key: &str, value: &Option<String>) -> Option<String> {
        match value.as_deref().map(str::trim) {
            Some(value) if !value.is_empty() => Some(value.to_owned()),
            _ => {
                self.problem(key, "required");
                None
            }
        }
    }

    /// A required key that holds a credential: kept as a [`Secret`].
    pub fn secret(&mut self, key: &str, value: &Option<String>) -> Option<Secret> {
        self.required(key, value).map(Secret::new)
    }

    /// An http(s) URL; `default` when the key is absent.
    pub fn url(
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
            Ok(url) if usable_url(&url).is_ok() => Some(url),
            _ => {
                self.problem(key, format!("`{text}` is not an http:// or https:// URL"));
                None
            }
        }
    }

    /// `base_url` (`default` when absent) and `timeout` (10 s when absent).
    pub fn endpoint(
        &mut self,
        base_url: &Option<String>,
        timeout: &Option<String>,
        default: Option<&str>,
    ) -> Option<Endpoint> {
        let timeout = self.timeout(timeout, "10s");
        let base_url = self.url("base_url", base_url, default)?;
        Some(Endpoint { base_url, timeout })
    }

    pub fn timeout(&mut self, value: &Option<String>, default: &str) -> Duration {
        let path = format!("{}.timeout", self.path);
        duration(value.as_deref(), &path, default, self.problems)
    }

    /// Exactly one of two alternative keys.
    pub fn one_of(&mut self, a: (&str, &Option<String>), b: (&str, &Option<String>)) -> Option<()> {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Each problem: its path and message.
    type Found = Vec<(String, String)>;

    #[derive(Default)]
    struct Collected(Found);

    impl Report for Collected {
        fn report(&mut self, path: &str, message: String) {
            self.0.push((path.to_owned(), message));
        }
    }

    fn context() -> Context {
        Context {
            app_name: "Example".to_owned(),
        }
    }

    fn read_block(name: &str, yaml: &str) -> (Option<Arc<dyn Configured>>, Found) {
        let entry = find(name).expect("in the catalog");
        let value: serde_yaml::Value = serde_yaml::from_str(yaml).expect("yaml");
        let mut problems = Collected::default();
        let path = format!("providers.{name}");
        let read = (entry.read)(&value, &mut Block::new(&path, &mut problems), &context());
        (read, problems.0)
    }

    #[test]
    fn every_name_in_the_catalog_is_there_once() {
        for entry in CATALOG {
            let count = CATALOG.iter().filter(|e| e.name == entry.name).count();
            assert_eq!(count, 1, "{}", entry.name);
        }
    }

    #[test]
    fn push_only_providers_neither_call_nor_carry_codes() {
        for entry in CATALOG.iter().filter(|e| e.kind == Kind::Push) {
            assert!(entry.pushes && !entry.calls, "{}", entry.name);
        }
    }

    #[test]
    fn suggestions_name_dedicated_providers_first_and_never_a_trial_one() {
        assert_eq!(suggest(|e| e.pushes), "ntfy, duo or webhook");
        assert_eq!(
            suggest(|e| e.calls),
            "vonage, vonage_legacy, twilio, telnyx or webhook"
        );
    }

    #[test]
    fn an_empty_block_reports_each_missing_key_under_the_provider() {
        let (read, problems) = read_block("twilio", "{}");
        assert!(read.is_none());
        assert_eq!(
            problems,
            [(
                "providers.twilio.account_sid".to_owned(),
                "required".to_owned()
            )]
        );
        let (read, problems) = read_block("log", "{}");
        assert!(read.is_some() && problems.is_empty(), "{problems:?}");
    }

    #[test]
    fn an_unknown_key_and_a_wrong_type_are_reported_at_their_path() {
        let (_, problems) = read_block("ntfy", "{ tokn: x }");
        assert!(problems.contains(&("providers.ntfy.tokn".to_owned(), "unknown key".to_owned())));
        let (read, problems) = read_block("ntfy", "{ priority: loud }");
        assert!(read.is_none());
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].0 == "providers.ntfy.priority", "{problems:?}");
    }

    #[test]
    fn every_provider_that_reads_a_complete_block_passes_its_startup_check() {
        let blocks = [
            ("webhook", "{ url: \"http://127.0.0.1:9/hook\" }"),
            ("vonage", "{ api_key: k, api_secret: s }"),
            ("vonage_legacy", "{ api_key: k, api_secret: s }"),
            ("twilio", "{ account_sid: AC1, auth_token: t, service_sid: VA1 }"),
            ("telnyx", "{ api_key: k, verify_profile_id: p }"),
            ("twilio_sms", "{ account_sid: AC1, auth_token: t, from: \"+15550000\" }"),
            ("vonage_sms", "{ api_key: k, api_secret: s, from: Example }"),
            ("telnyx_sms", "{ api_key: k, from: \"+15550000\" }"),
            ("ntfy", "{}"),
            ("duo", "{ base_url: \"https://api-1.duosecurity.com\", integration_key: i, secret_key: s }"),
            ("log", "{}"),
        ];
        assert_eq!(blocks.len(), CATALOG.len(), "a block for every provider");
        for (name, yaml) in blocks {
            let (read, problems) = read_block(name, yaml);
            let configured = read.unwrap_or_else(|| panic!("{name}: {problems:?}"));
            assert!(problems.is_empty(), "{name}: {problems:?}");
            assert_eq!(configured.startup_check(), Ok(()), "{name}");
            let mut providers = Providers::default();
            configured.build(&mut providers);
            let built = providers.get(name).is_some() || providers.get_push(name).is_some();
            assert!(built, "{name} built itself");
        }
    }

    #[test]
    fn settings_made_in_code_with_an_unusable_url_fail_the_startup_check() {
        let settings = super::super::WebhookSettings {
            url: reqwest::Url::parse("ftp://example.com/hook").expect("url"),
            secret: None,
            timeout: Duration::from_secs(5),
        };
        assert!(ProviderConfig::startup_check(&settings).is_err());
    }
}
