//! Prometheus metrics: counters the rest of doorman bumps, and the text
//! exposition served on `metrics_listen`.
//!
//! The per-request metrics (requests by outcome, upstream latency) are plain
//! atomics in statics: no lock, no allocation, no lookup on the hot path.
//! (`prometheus-client`'s histogram takes a lock per observation, so this
//! module writes the exposition format itself.) Labelled counters for
//! sign-ins, challenges, deliveries and limits change a few times per
//! sign-in, not per request; they live in a map behind a short lock.
//!
//! Counters are process-wide: several gateways in one process (tests) share them.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::Duration;

use crate::metrics_histogram::Histogram;

/// What became of a request, as `doorman_requests_total{outcome}` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestOutcome {
    /// A signed-in request forwarded to the upstream.
    Proxied,
    /// Forwarded without a session by a public rule.
    Public,
    /// A browser sent to the login page.
    Login,
    /// A script answered 401.
    Unauthorized,
    /// One of doorman's own pages (login, 2fa, auth, …).
    Pages,
    /// A probe of the health endpoint: not a page anyone visits.
    Health,
    /// The upstream could not be reached or did not answer in time.
    UpstreamError,
    /// A deny rule refused it (403).
    Denied,
    /// Signed in, but a rule wants a more recent second factor.
    StepUp,
    /// A request target doorman will not interpret (400).
    BadRequest,
}

impl RequestOutcome {
    const ALL: [RequestOutcome; 10] = [
        RequestOutcome::Proxied,
        RequestOutcome::Public,
        RequestOutcome::Login,
        RequestOutcome::Unauthorized,
        RequestOutcome::Pages,
        RequestOutcome::Health,
        RequestOutcome::UpstreamError,
        RequestOutcome::Denied,
        RequestOutcome::StepUp,
        RequestOutcome::BadRequest,
    ];

    fn label(self) -> &'static str {
        match self {
            RequestOutcome::Proxied => "proxied",
            RequestOutcome::Public => "public",
            RequestOutcome::Login => "login",
            RequestOutcome::Unauthorized => "unauthorized",
            RequestOutcome::Pages => "pages",
            RequestOutcome::Health => "health",
            RequestOutcome::UpstreamError => "upstream_error",
            RequestOutcome::Denied => "denied",
            RequestOutcome::StepUp => "step_up",
            RequestOutcome::BadRequest => "bad_request",
        }
    }
}

static REQUESTS: [AtomicU64; RequestOutcome::ALL.len()] =
    [const { AtomicU64::new(0) }; RequestOutcome::ALL.len()];

static LANE: AtomicU64 = AtomicU64::new(0);

/// Counts one request the HTTP/1 lane carried (it is counted by
/// [`request`] as well).
pub fn lane_request() {
    LANE.fetch_add(1, Relaxed);
}

/// Counts one request.
pub fn request(outcome: RequestOutcome) {
    REQUESTS[outcome as usize].fetch_add(1, Relaxed);
}

static UPSTREAM: Histogram = Histogram::new(crate::metrics_histogram::UPSTREAM_BUCKETS);

/// Records how long the upstream took to send its response headers.
pub fn upstream_latency(elapsed: Duration) {
    UPSTREAM.observe(elapsed);
}

/// Sessions that finished both factors, minus those logged out (see
/// [`session_started`]).
static LIVE_SESSIONS: Mutex<BTreeMap<u64, i64>> = Mutex::new(BTreeMap::new());
static LIVE_SESSIONS_FALLBACK: AtomicI64 = AtomicI64::new(0);

/// A session reached two factors; it counts as live until `expires_at`
/// (Unix seconds) or until [`session_ended`]. Idle sessions are counted
/// until their absolute expiry: the gauge is an upper bound.
pub fn session_started(expires_at: u64) {
    // Entries past their expiry go here too, so the map stays bounded by
    // one lifetime's sessions even when nobody scrapes. This housekeeping
    // reads the wall clock: an injected clock (tests) only ever runs ahead
    // of it, so nothing still live is dropped.
    let wall = crate::clock::Clock::now(&crate::clock::SystemClock);
    match LIVE_SESSIONS.lock() {
        Ok(mut live) => {
            while live.first_key_value().is_some_and(|(at, _)| *at <= wall) {
                live.pop_first();
            }
            *live.entry(expires_at).or_insert(0) += 1;
        }
        Err(_) => {
            LIVE_SESSIONS_FALLBACK.fetch_add(1, Relaxed);
        }
    }
}

/// A two-factor session with this expiry was logged out.
pub fn session_ended(expires_at: u64) {
    if let Ok(mut live) = LIVE_SESSIONS.lock() {
        if let Some(count) = live.get_mut(&expires_at) {
            *count -= 1;
            if *count <= 0 {
                live.remove(&expires_at);
            }
        }
    }
}

fn live_sessions(now: u64) -> i64 {
    match LIVE_SESSIONS.lock() {
        Ok(mut live) => {
            // Expired entries go at scrape time, which is when anyone asks.
            let current = live.split_off(&now.saturating_add(1));
            *live = current;
            live.values().sum()
        }
        Err(_) => LIVE_SESSIONS_FALLBACK.load(Relaxed),
    }
}

/// One labelled counter family: name → labels → count.
type Labelled = BTreeMap<(&'static str, Vec<(&'static str, String)>), u64>;
static LABELLED: Mutex<Labelled> = Mutex::new(BTreeMap::new());

fn bump(name: &'static str, labels: &[(&'static str, &str)]) {
    add(name, labels, 1);
}

/// Puts a labelled series in the exposition at 0, if it is not there yet.
fn seed(name: &'static str, labels: &[(&'static str, &str)]) {
    add(name, labels, 0);
}

fn add(name: &'static str, labels: &[(&'static str, &str)], by: u64) {
    let key = (
        name,
        labels
            .iter()
            .map(|(label, value)| (*label, (*value).to_owned()))
            .collect(),
    );
    if let Ok(mut counters) = LABELLED.lock() {
        *counters.entry(key).or_insert(0) += by;
    }
}

/// What [`delivery`] counts besides `ok` (see `otp::send::delivery_outcome`).
const DELIVERY_FAILURES: [&str; 6] = [
    "invalid_number",
    "throttled",
    "concurrent",
    "low_balance",
    "unavailable",
    "refused",
];

/// Every `limit` [`limit_hit`] counts (the README's metrics table lists
/// them): all exported from the start.
pub const LIMITS: [&str; 13] = [
    "connections_per_client",
    "resend_cooldown",
    "allowed_countries",
    "delayed",
    "locked",
    "lock_client",
    "lock_account",
    "per_number",
    "per_account",
    "channel_per_day",
    "push_prompts",
    "totp_cooldown",
    "totp_starts",
];

/// Exports the series that exist whatever is configured at 0, so a
/// dashboard or an alert sees them before the first event; `tls`: whether
/// a certificate is served (and so reloaded).
pub fn seed_fixed(tls: bool) {
    let reloaded: &[&str] = if tls {
        &["config", "users_file", "certificate"]
    } else {
        &["config", "users_file"]
    };
    for outcome in ["ok", "failed"] {
        seed("doorman_password_checks_total", &[("outcome", outcome)]);
        for what in reloaded {
            seed(
                "doorman_reloads_total",
                &[("what", what), ("outcome", outcome)],
            );
        }
    }
    for limit in LIMITS {
        seed("doorman_limit_hits_total", &[("limit", limit)]);
    }
    // Recovery codes are always on.
    sign_ins_seeded("recovery_code", "recovery_code", &["ok", "wrong_code"]);
}

/// Exports at 0 the sign-ins of passkeys (`webauthn:` configured), and of
/// passwordless sign-in when it is on.
pub fn passkeys_configured(passwordless: bool) {
    sign_ins_seeded("webauthn", "webauthn", &["ok", "wrong_code"]);
    if passwordless {
        sign_ins_seeded("webauthn", "passwordless", &["ok"]);
    }
}

fn sign_ins_seeded(channel: &str, provider: &str, outcomes: &[&str]) {
    for outcome in outcomes {
        seed(
            "doorman_sign_ins_total",
            &[
                ("channel", channel),
                ("provider", provider),
                ("outcome", outcome),
            ],
        );
    }
}

/// Exports at 0 the series of a provider configured on a channel: its
/// deliveries by outcome, its challenges started and failed, its sign-ins
/// and its latency histograms.
pub fn provider_configured(channel: &'static str, provider: &'static str) {
    let with = |outcome| {
        [
            ("channel", channel),
            ("provider", provider),
            ("outcome", outcome),
        ]
    };
    for outcome in std::iter::once("ok").chain(DELIVERY_FAILURES) {
        seed("doorman_deliveries_total", &with(outcome));
    }
    for outcome in ["started", "failed"] {
        seed("doorman_challenges_total", &with(outcome));
    }
    let outcomes: &[&str] = if channel == "push" {
        &["ok", "denied", "expired"]
    } else {
        &["ok", "wrong_code", "too_many_attempts", "expired"]
    };
    for outcome in outcomes {
        seed("doorman_sign_ins_total", &with(outcome));
    }
    crate::metrics_histogram::provider_configured(channel, provider);
}

/// The password step: `outcome` is `ok` or `failed`.
pub fn password_check(outcome: &str) {
    bump("doorman_password_checks_total", &[("outcome", outcome)]);
}

/// A second-factor check: `outcome` is `ok` (signed in), `wrong_code`,
/// `expired`, `too_many_attempts`, `error`, ….
pub fn sign_in(channel: &str, provider: &str, outcome: &str) {
    bump(
        "doorman_sign_ins_total",
        &[
            ("channel", channel),
            ("provider", provider),
            ("outcome", outcome),
        ],
    );
}

/// A challenge was asked for: `outcome` is `started` (a code is on its
/// way), `failed`, `throttled`, `refused`, ….
pub fn challenge(channel: &str, provider: &str, outcome: &str) {
    bump(
        "doorman_challenges_total",
        &[
            ("channel", channel),
            ("provider", provider),
            ("outcome", outcome),
        ],
    );
}

/// One attempt to deliver through one provider (a fallback chain makes
/// several): `outcome` is `ok`, `failed`, `throttled`, `invalid_number`, ….
pub fn delivery(channel: &str, provider: &str, outcome: &str) {
    bump(
        "doorman_deliveries_total",
        &[
            ("channel", channel),
            ("provider", provider),
            ("outcome", outcome),
        ],
    );
}

/// A rate limit or lockout refused something; `limit` names which, one
/// of [`LIMITS`].
pub fn limit_hit(limit: &'static str) {
    debug_assert!(LIMITS.contains(&limit), "{limit} is not in metrics::LIMITS");
    bump("doorman_limit_hits_total", &[("limit", limit)]);
}

/// A configuration (`what` = `config`) or certificate (`certificate`)
/// reload: `outcome` is `ok` or `failed`.
pub fn reload(what: &str, outcome: &str) {
    bump(
        "doorman_reloads_total",
        &[("what", what), ("outcome", outcome)],
    );
}

const HELP: &[(&str, &str, &str)] = &[
    (
        "doorman_password_checks_total",
        "counter",
        "Password steps, by outcome.",
    ),
    (
        "doorman_sign_ins_total",
        "counter",
        "Second-factor checks, by channel, provider and outcome (ok: signed in).",
    ),
    (
        "doorman_challenges_total",
        "counter",
        "Second-factor challenges asked for, by channel, provider and outcome.",
    ),
    (
        "doorman_deliveries_total",
        "counter",
        "Delivery attempts per provider, by channel, provider and outcome.",
    ),
    (
        "doorman_limit_hits_total",
        "counter",
        "Requests refused by a rate limit or lockout, by limit.",
    ),
    (
        "doorman_reloads_total",
        "counter",
        "Configuration and certificate reloads, by outcome.",
    ),
];

/// Every metric in the Prometheus text format (version 0.0.4); `now` is
/// doorman's clock, for the live-session gauge.
pub fn render(now: u64) -> String {
    let mut out = String::with_capacity(4096);
    out.push_str("# HELP doorman_requests_total Requests by what became of them.\n");
    out.push_str("# TYPE doorman_requests_total counter\n");
    for outcome in RequestOutcome::ALL {
        let _ = writeln!(
            out,
            "doorman_requests_total{{outcome=\"{}\"}} {}",
            outcome.label(),
            REQUESTS[outcome as usize].load(Relaxed)
        );
    }

    out.push_str(
        "# HELP doorman_fast_lane_requests_total Requests forwarded by the HTTP/1 lane (limits.fast_lane), of doorman_requests_total.\n",
    );
    out.push_str("# TYPE doorman_fast_lane_requests_total counter\n");
    let _ = writeln!(
        out,
        "doorman_fast_lane_requests_total {}",
        LANE.load(Relaxed)
    );

    out.push_str(
        "# HELP doorman_upstream_duration_seconds Time until the upstream's response headers.\n",
    );
    out.push_str("# TYPE doorman_upstream_duration_seconds histogram\n");
    UPSTREAM.render(&mut out, "doorman_upstream_duration_seconds", "");
    crate::metrics_histogram::render_providers(&mut out);

    out.push_str("# HELP doorman_sessions_live Two-factor sessions issued and not yet expired or logged out.\n");
    out.push_str("# TYPE doorman_sessions_live gauge\n");
    let _ = writeln!(out, "doorman_sessions_live {}", live_sessions(now));

    crate::metrics_process::render(&mut out);

    let counters = LABELLED.lock().map(|c| c.clone()).unwrap_or_default();
    for (name, kind, help) in HELP {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        for ((family, labels), count) in &counters {
            if family != name {
                continue;
            }
            let labels: Vec<String> = labels
                .iter()
                .map(|(label, value)| format!("{label}=\"{}\"", escape(value)))
                .collect();
            let _ = writeln!(out, "{name}{{{}}} {count}", labels.join(","));
        }
    }
    out
}

/// A label value as the text format wants it.
pub(crate) fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_lands_in_the_first_bucket_that_holds_it() {
        let before: u64 = UPSTREAM.in_bucket(2);
        upstream_latency(Duration::from_millis(7));
        assert_eq!(UPSTREAM.in_bucket(2), before + 1);
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }

    #[test]
    fn live_sessions_drop_at_expiry_and_logout() {
        // Far in the future, apart from anything else in this process.
        let base = 8_000_000_000;
        session_started(base + 100);
        session_started(base + 200);
        let at_start = live_sessions(base);
        assert!(at_start >= 2);
        session_ended(base + 200);
        assert_eq!(live_sessions(base), at_start - 1);
        assert_eq!(live_sessions(base + 150), at_start - 2);
    }
}
