//! The words people read, in their language: the Fluent files under
//! `locales/`, embedded at build time, `Accept-Language` negotiation, and
//! formatting with English standing in for a message a language lacks.

use crate::embed::embedded;
use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};
use std::sync::LazyLock;
use unic_langid::LanguageIdentifier;

/// Every shipped language: its tag and its messages. English comes first:
/// it is the fallback for a message another file lacks.
const SHIPPED: &[(&str, &str)] =
    embedded!("../locales/", "/doorman.ftl": "en", "de", "fr", "es", "pt-BR");

/// One of the shipped languages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Locale(usize);

impl Locale {
    pub const ENGLISH: Locale = Locale(0);

    /// The language tag, as `<html lang>` and `Content-Language` carry it.
    pub fn tag(self) -> &'static str {
        SHIPPED[self.0].0
    }

    /// Every shipped language's tag, for error messages and the guide.
    pub fn shipped() -> impl Iterator<Item = &'static str> {
        SHIPPED.iter().map(|(tag, _)| *tag)
    }

    /// The shipped language that serves `tag` (`de-AT` → `de`, `pt` →
    /// `pt-BR`), if any.
    pub fn from_tag(tag: &str) -> Option<Locale> {
        let wanted: LanguageIdentifier = tag.trim().parse().ok()?;
        best(std::slice::from_ref(&wanted))
    }

    /// The best shipped language for an `Accept-Language` header, by its
    /// q-values; `fallback` when the header is absent, malformed or asks
    /// for nothing shipped.
    pub fn negotiate(header: Option<&str>, fallback: Locale) -> Locale {
        let Some(header) = header else {
            return fallback;
        };
        let mut wanted: Vec<(u16, LanguageIdentifier)> = header
            .split(',')
            .take(20)
            .filter_map(|item| {
                let mut parts = item.split(';');
                let tag = parts.next()?.trim();
                let quality = parts
                    .find_map(|param| param.trim().strip_prefix("q="))
                    .map_or(Some(1000), quality)?;
                if quality == 0 || tag == "*" {
                    return None;
                }
                Some((quality, tag.parse().ok()?))
            })
            .collect();
        // Stable: equal weights keep the order the browser gave.
        wanted.sort_by_key(|(quality, _)| std::cmp::Reverse(*quality));
        let wanted: Vec<LanguageIdentifier> = wanted.into_iter().map(|(_, id)| id).collect();
        best(&wanted).unwrap_or(fallback)
    }

    /// "N seconds" / "N minutes" / "N hours" from `now` until `at`.
    pub fn wait(self, now: u64, at: u64) -> String {
        let seconds = at.saturating_sub(now).max(1);
        let (id, n) = if seconds < 120 {
            ("wait-seconds", seconds)
        } else if seconds < 2 * 3600 {
            ("wait-minutes", seconds.div_ceil(60))
        } else {
            ("wait-hours", seconds.div_ceil(3600))
        };
        self.format(id, &[("n", n.into())])
    }

    /// The date and time of `unix` (seconds, UTC) as this language writes
    /// them: "December 2, 2026, 23:01 UTC", "2. Dezember 2026, 23:01 UTC".
    pub fn date_time(self, unix: u64) -> String {
        let (year, month, day) = crate::clock::civil_from_days((unix / 86_400) as i64);
        let rest = unix % 86_400;
        let time = format!("{:02}:{:02}", rest / 3600, rest % 3600 / 60);
        let month = self.text(&format!("month-{month}"));
        // Text, not numbers: a year is not grouped like a count.
        let args = [
            ("day", Arg::Text(day.to_string())),
            ("month", Arg::Text(month)),
            ("year", Arg::Text(year.to_string())),
            ("time", Arg::Text(time)),
        ];
        self.format("date-time", &args)
    }

    /// The message `id` with no arguments.
    pub fn text(self, id: &str) -> String {
        self.format(id, &[])
    }

    /// The message `id` with `args`; English's when this language lacks
    /// it, and the id itself (logged) when English does too.
    pub fn format(self, id: &str, args: &[(&str, Arg)]) -> String {
        let mut fluent_args = FluentArgs::new();
        for (name, value) in args {
            let value = match value {
                Arg::Number(n) => FluentValue::from(*n),
                Arg::Text(text) => FluentValue::from(text.as_str()),
            };
            fluent_args.set(*name, value);
        }
        for bundle in [&BUNDLES[self.0], &BUNDLES[0]] {
            let Some(pattern) = bundle.get_message(id).and_then(|m| m.value()) else {
                continue;
            };
            let mut errors = Vec::new();
            let text = bundle.format_pattern(pattern, Some(&fluent_args), &mut errors);
            if !errors.is_empty() {
                tracing::error!(
                    id,
                    locale = self.tag(),
                    ?errors,
                    "a translation did not format"
                );
            }
            return text.into_owned();
        }
        tracing::error!(id, "no such message in the translation files");
        id.to_owned()
    }
}

/// A value a message is formatted with: numbers choose plural forms.
#[derive(Debug, Clone)]
pub enum Arg {
    Number(i64),
    Text(String),
}

impl From<&str> for Arg {
    fn from(text: &str) -> Arg {
        Arg::Text(text.to_owned())
    }
}

impl From<String> for Arg {
    fn from(text: String) -> Arg {
        Arg::Text(text)
    }
}

impl From<u64> for Arg {
    fn from(n: u64) -> Arg {
        Arg::Number(i64::try_from(n).unwrap_or(i64::MAX))
    }
}

/// `q=0.8` → 800; `None` for a malformed weight.
fn quality(text: &str) -> Option<u16> {
    let value: f32 = text.trim().parse().ok()?;
    (0.0..=1.0)
        .contains(&value)
        .then(|| (value * 1000.0).round() as u16)
}

static LANGUAGES: LazyLock<Vec<LanguageIdentifier>> = LazyLock::new(|| {
    SHIPPED
        .iter()
        .map(|(tag, _)| tag.parse().unwrap_or_default())
        .collect()
});

/// The first shipped language that serves one of `wanted`, in order.
fn best(wanted: &[LanguageIdentifier]) -> Option<Locale> {
    let found = fluent_langneg::negotiate_languages(
        wanted,
        &LANGUAGES,
        None,
        fluent_langneg::NegotiationStrategy::Lookup,
    );
    let first = found.first()?;
    LANGUAGES.iter().position(|id| id == *first).map(Locale)
}

static BUNDLES: LazyLock<Vec<FluentBundle<FluentResource>>> = LazyLock::new(|| {
    SHIPPED
        .iter()
        .zip(LANGUAGES.iter())
        .map(|((tag, source), id)| {
            let resource = FluentResource::try_new((*source).to_owned()).unwrap_or_else(
                |(resource, errors)| {
                    tracing::error!(tag, ?errors, "a translation file has errors");
                    resource
                },
            );
            let mut bundle = FluentBundle::new_concurrent(vec![id.clone()]);
            // No Unicode isolation marks: the texts go into HTML, SMS and
            // speech, where they would be noise.
            bundle.set_use_isolating(false);
            if let Err(errors) = bundle.add_resource(resource) {
                tracing::error!(tag, ?errors, "a translation file repeats a message");
            }
            bundle
        })
        .collect()
});

#[cfg(test)]
#[path = "i18n_tests.rs"]
mod tests;
