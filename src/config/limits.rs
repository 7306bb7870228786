//! `limits:`: connection, body, time and rate bounds.

use super::raw::{RawFailures, RawLimits, RawRate};
use super::{duration, Problems};
use crate::limits::{FailurePolicy, Limits, RatePolicy};
use std::time::Duration;

/// `value`, or `default` when unset; 0 is reported at `path` and read as
/// `default`.
fn at_least_one<N: Copy + Default + PartialEq>(
    value: Option<N>,
    path: &str,
    default: N,
    problems: &mut Problems,
) -> N {
    match value {
        Some(value) if value == N::default() => {
            problems.push(path, "must be at least 1");
            default
        }
        Some(value) => value,
        None => default,
    }
}

pub(super) fn limits(raw: &RawLimits, problems: &mut Problems) -> Limits {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let positive = |value, key: &str, default, problems: &mut Problems| {
        at_least_one(value, &format!("limits.{key}"), default, problems)
    };
    let timeout = |value: &Option<String>, key: &str, default, problems: &mut Problems| {
        duration(
            value.as_deref(),
            &format!("limits.{key}"),
            default,
            problems,
        )
    };
    let max_connections = positive(raw.max_connections, "max_connections", 10_000, problems);
    Limits {
        worker_threads: positive(raw.worker_threads, "worker_threads", cores, problems),
        fast_lane: raw.fast_lane.unwrap_or(true),
        max_connections,
        // One address may never take more than half of every slot.
        max_connections_per_client: positive(
            raw.max_connections_per_client,
            "max_connections_per_client",
            (max_connections / 2).clamp(1, 256),
            problems,
        ),
        idle_timeout: timeout(&raw.idle_timeout, "idle_timeout", "30s", problems),
        body_idle_timeout: timeout(&raw.body_idle_timeout, "body_idle_timeout", "60s", problems),
        concurrent_password_checks: positive(
            raw.concurrent_password_checks,
            "concurrent_password_checks",
            (cores / 2).max(1),
            problems,
        ),
        header_read_timeout: timeout(
            &raw.header_read_timeout,
            "header_read_timeout",
            "10s",
            problems,
        ),
        auth_body_bytes: positive(raw.auth_body_bytes, "auth_body_bytes", 16 * 1024, problems),
        upstream_connect_timeout: timeout(
            &raw.upstream_connect_timeout,
            "upstream_connect_timeout",
            "5s",
            problems,
        ),
        upstream_timeout: timeout(&raw.upstream_timeout, "upstream_timeout", "60s", problems),
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

pub(super) fn failure_policy(
    raw: &RawFailures,
    path: &str,
    problems: &mut Problems,
) -> FailurePolicy {
    let defaults = FailurePolicy::default();
    let at_least_one = |value, key: &str, default, problems: &mut Problems| {
        at_least_one(value, &format!("{path}.{key}"), default, problems)
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

pub(super) fn rate(
    raw: &RawRate,
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
