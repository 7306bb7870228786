//! Prometheus histograms as plain atomics: the upstream's latency and
//! `doorman_provider_duration_seconds`, one histogram per channel,
//! provider and outcome.
//!
//! Observing is a few relaxed atomic adds; the text is written at scrape
//! time only. Provider histograms are found by their `&'static str` labels
//! under a short lock (a few lookups per sign-in, never per request) and
//! live for the process: their number is bounded by the provider kinds
//! doorman knows times channels times two outcomes.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::Duration;

/// Most buckets a histogram has, `+Inf` included.
const MAX_BUCKETS: usize = 16;

/// Upper bounds for the upstream's latency, in seconds.
pub const UPSTREAM_BUCKETS: &[f64] = &[
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Upper bounds for a provider's API call, in seconds: a provider answers
/// in tens of milliseconds to seconds, and gives up within 30.
pub const PROVIDER_BUCKETS: &[f64] =
    &[0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

/// One histogram: observations per bucket (not cumulative; the one after
/// the last bound is `+Inf`) and their sum.
pub struct Histogram {
    bounds: &'static [f64],
    counts: [AtomicU64; MAX_BUCKETS],
    sum_micros: AtomicU64,
}

impl Histogram {
    /// Empty, with these upper bounds (fewer than 16, ascending).
    pub const fn new(bounds: &'static [f64]) -> Histogram {
        assert!(bounds.len() < MAX_BUCKETS);
        Histogram {
            bounds,
            counts: [const { AtomicU64::new(0) }; MAX_BUCKETS],
            sum_micros: AtomicU64::new(0),
        }
    }

    /// Records one observation.
    pub fn observe(&self, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        let bucket = self
            .bounds
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(self.bounds.len());
        self.counts[bucket].fetch_add(1, Relaxed);
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        self.sum_micros.fetch_add(micros, Relaxed);
    }

    /// Observations in bucket `index` alone (for tests).
    #[cfg(test)]
    pub fn in_bucket(&self, index: usize) -> u64 {
        self.counts[index].load(Relaxed)
    }

    /// Appends `name_bucket`, `name_sum` and `name_count`; `labels` are
    /// written `a="x",b="y"` (already escaped), or empty.
    pub fn render(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        let mut cumulative = 0;
        for (index, bound) in self.bounds.iter().enumerate() {
            cumulative += self.counts[index].load(Relaxed);
            let _ = writeln!(
                out,
                "{name}_bucket{{{labels}{sep}le=\"{bound}\"}} {cumulative}"
            );
        }
        cumulative += self.counts[self.bounds.len()].load(Relaxed);
        let _ = writeln!(
            out,
            "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {cumulative}"
        );
        let sum = self.sum_micros.load(Relaxed) as f64 / 1e6;
        let braced = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        let _ = writeln!(out, "{name}_sum{braced} {sum}");
        let _ = writeln!(out, "{name}_count{braced} {cumulative}");
    }
}

/// Channel, provider, outcome (`ok` or `error`).
type ProviderKey = (&'static str, &'static str, &'static str);
static PROVIDERS: Mutex<BTreeMap<ProviderKey, &'static Histogram>> = Mutex::new(BTreeMap::new());

/// The histogram for these labels, made (at zero) the first time.
fn provider_histogram(key: ProviderKey) -> Option<&'static Histogram> {
    let mut providers = PROVIDERS.lock().ok()?;
    Some(
        providers
            .entry(key)
            .or_insert_with(|| Box::leak(Box::new(Histogram::new(PROVIDER_BUCKETS)))),
    )
}

/// Records one provider attempt: `ok` is whether it delivered.
pub fn provider_attempt(channel: &'static str, provider: &'static str, ok: bool, took: Duration) {
    let outcome = if ok { "ok" } else { "error" };
    if let Some(histogram) = provider_histogram((channel, provider, outcome)) {
        histogram.observe(took);
    }
}

/// Exports this provider's histograms at zero before its first attempt.
pub fn provider_configured(channel: &'static str, provider: &'static str) {
    for outcome in ["ok", "error"] {
        provider_histogram((channel, provider, outcome));
    }
}

/// Appends `doorman_provider_duration_seconds`.
pub fn render_providers(out: &mut String) {
    const NAME: &str = "doorman_provider_duration_seconds";
    let _ = writeln!(
        out,
        "# HELP {NAME} Time a provider took to accept or refuse a code, call or push, by channel, provider and outcome (ok, error)."
    );
    let _ = writeln!(out, "# TYPE {NAME} histogram");
    let histograms: Vec<(ProviderKey, &'static Histogram)> = match PROVIDERS.lock() {
        Ok(providers) => providers.iter().map(|(key, h)| (*key, *h)).collect(),
        Err(_) => Vec::new(),
    };
    for ((channel, provider, outcome), histogram) in histograms {
        let labels = format!(
            "channel=\"{}\",provider=\"{}\",outcome=\"{outcome}\"",
            crate::metrics::escape(channel),
            crate::metrics::escape(provider)
        );
        histogram.render(out, NAME, &labels);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_cumulative_and_count_every_observation() {
        let histogram = Histogram::new(&[0.1, 1.0]);
        histogram.observe(Duration::from_millis(50));
        histogram.observe(Duration::from_millis(500));
        histogram.observe(Duration::from_secs(5));
        let mut out = String::new();
        histogram.render(&mut out, "h", "a=\"b\"");
        assert_eq!(
            out,
            "h_bucket{a=\"b\",le=\"0.1\"} 1\nh_bucket{a=\"b\",le=\"1\"} 2\n\
             h_bucket{a=\"b\",le=\"+Inf\"} 3\nh_sum{a=\"b\"} 5.55\nh_count{a=\"b\"} 3\n"
        );
    }
}
