//! Prometheus metrics on `metrics_listen`: scraped and parsed.

use crate::support::Env;
use std::collections::HashMap;

/// `name{labels}` → value, for every sample line; panics on a line that is
/// not valid text exposition.
fn parse(text: &str) -> HashMap<String, f64> {
    let mut samples = HashMap::new();
    for line in text.lines() {
        if line.is_empty() || line.starts_with('#') {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let kind = rest.split_whitespace().nth(1).expect("a type");
                assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
            }
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect("series and value");
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("not a number: {line}"));
        if let Some(open) = series.find('{') {
            assert!(series.ends_with('}'), "{line}");
            let name = &series[..open];
            assert!(
                name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'),
                "{line}"
            );
            for pair in series[open + 1..series.len() - 1].split("\",") {
                let (label, quoted) = pair.split_once('=').expect("label=value");
                assert!(quoted.starts_with('"'), "{line}");
                assert!(!label.is_empty());
            }
        }
        samples.insert(series.to_owned(), value);
    }
    samples
}

async fn scrape(env: &Env) -> HashMap<String, f64> {
    let addr = env
        .doorman
        .as_ref()
        .and_then(|doorman| doorman.metrics_addr())
        .expect("metrics are on");
    let response = reqwest::get(format!("http://{addr}/metrics"))
        .await
        .expect("scrape");
    assert_eq!(response.status(), 200);
    assert!(response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/plain; version=0.0.4")));
    parse(&response.text().await.expect("body"))
}

fn get(samples: &HashMap<String, f64>, series: &str) -> f64 {
    *samples
        .get(series)
        .unwrap_or_else(|| panic!("no {series} in {samples:#?}"))
}

#[tokio::test]
async fn metrics_count_requests_latency_sign_ins_deliveries_and_live_sessions() {
    let env = Env::with_extra("metrics_listen: \"127.0.0.1:0\"\n").await;
    let before = scrape(&env).await;

    let mut browser = env.signed_in("alice").await;
    assert_eq!(browser.get("/hello").await.status, 200);
    assert_eq!(env.api_get("/api", None).await.status, 401);
    let after = scrape(&env).await;

    // Counters are process-wide (other tests run alongside): compare growth.
    let grew = |series: &str| get(&after, series) - before.get(series).copied().unwrap_or(0.0);
    assert!(grew("doorman_requests_total{outcome=\"proxied\"}") >= 1.0);
    assert!(grew("doorman_requests_total{outcome=\"unauthorized\"}") >= 1.0);
    assert!(grew("doorman_requests_total{outcome=\"pages\"}") >= 4.0);
    assert!(grew("doorman_upstream_duration_seconds_count") >= 1.0);
    assert!(grew("doorman_upstream_duration_seconds_bucket{le=\"+Inf\"}") >= 1.0);
    assert!(grew("doorman_password_checks_total{outcome=\"ok\"}") >= 1.0);
    assert!(
        grew("doorman_challenges_total{channel=\"sms\",provider=\"webhook\",outcome=\"started\"}")
            >= 1.0
    );
    assert!(
        grew("doorman_deliveries_total{channel=\"sms\",provider=\"webhook\",outcome=\"ok\"}")
            >= 1.0
    );
    assert!(
        grew("doorman_sign_ins_total{channel=\"sms\",provider=\"webhook\",outcome=\"ok\"}") >= 1.0
    );
    assert!(get(&after, "doorman_sessions_live") >= 1.0);
    // Buckets are cumulative.
    assert!(
        get(
            &after,
            "doorman_upstream_duration_seconds_bucket{le=\"0.001\"}"
        ) <= get(
            &after,
            "doorman_upstream_duration_seconds_bucket{le=\"10\"}"
        )
    );
}

#[tokio::test]
async fn metrics_are_off_unless_metrics_listen_is_set() {
    let env = Env::start().await;
    assert!(env
        .doorman
        .as_ref()
        .expect("running")
        .metrics_addr()
        .is_none());
    // And they are not on the main port either.
    assert_eq!(env.api_get("/metrics", None).await.status, 401);
}

#[tokio::test]
async fn a_refused_resend_counts_as_a_limit_hit() {
    let env = Env::with_extra("metrics_listen: \"127.0.0.1:0\"\n").await;
    let series = "doorman_limit_hits_total{limit=\"resend_cooldown\"}";
    let before = scrape(&env).await.get(series).copied().unwrap_or(0.0);
    let mut browser = env.past_password("bob").await;
    assert_eq!(browser.ask_for_code("sms").await.status, 303);
    let page = browser.resend_code("sms").await;
    assert_eq!(page.status, 429, "{page:?}");
    assert!(get(&scrape(&env).await, series) >= before + 1.0);
}

#[tokio::test]
async fn build_info_and_process_metrics_are_exported() {
    let env = Env::with_extra("metrics_listen: \"127.0.0.1:0\"\n").await;
    let samples = scrape(&env).await;
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(
        get(
            &samples,
            &format!("doorman_build_info{{version=\"{version}\"}}")
        ),
        1.0
    );
    if cfg!(target_os = "linux") {
        assert!(get(&samples, "process_resident_memory_bytes") > 0.0);
        assert!(
            get(&samples, "process_virtual_memory_bytes")
                >= get(&samples, "process_resident_memory_bytes")
        );
        assert!(get(&samples, "process_open_fds") >= 3.0);
        assert!(get(&samples, "process_max_fds") >= get(&samples, "process_open_fds"));
        assert!(get(&samples, "process_cpu_seconds_total") >= 0.0);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after 1970")
            .as_secs_f64();
        let start = get(&samples, "process_start_time_seconds");
        assert!(
            start <= now + 2.0 && start > now - 3600.0,
            "{start} vs {now}"
        );
    }
}

/// Every bucket of `name` with `labels` (written `a="x",b="y"`), in order
/// of their bounds, `+Inf` last.
fn buckets(samples: &HashMap<String, f64>, name: &str, labels: &str) -> Vec<(f64, f64)> {
    let prefix = format!("{name}_bucket{{{labels},le=\"");
    let mut found: Vec<(f64, f64)> = samples
        .iter()
        .filter_map(|(series, value)| {
            let bound = series.strip_prefix(&prefix)?.strip_suffix("\"}")?;
            let bound = if bound == "+Inf" {
                f64::INFINITY
            } else {
                bound.parse().expect("a bound")
            };
            Some((bound, *value))
        })
        .collect();
    found.sort_by(|a, b| a.0.total_cmp(&b.0));
    found
}

#[tokio::test]
async fn each_provider_attempt_is_timed_in_a_histogram() {
    let env = Env::with_extra("metrics_listen: \"127.0.0.1:0\"\n").await;
    let labels = "channel=\"sms\",provider=\"webhook\",outcome=\"ok\"";
    let name = "doorman_provider_duration_seconds";
    let count = format!("{name}_count{{{labels}}}");
    let before = scrape(&env).await;

    let mut browser = env.past_password("alice").await;
    browser.request_code(&env, "sms").await;
    assert_eq!(env.webhook.deliveries().len(), 1);
    let after = scrape(&env).await;

    // Counters are process-wide (other tests send alongside): compare growth.
    let was = |series: &str| before.get(series).copied().unwrap_or(0.0);
    assert!(get(&after, &count) >= was(&count) + 1.0);
    let buckets = buckets(&after, name, labels);
    assert!(buckets.len() >= 5, "{buckets:?}");
    assert_eq!(buckets.last().map(|b| b.0), Some(f64::INFINITY));
    assert_eq!(buckets.last().map(|b| b.1), Some(get(&after, &count)));
    assert!(
        buckets.windows(2).all(|pair| pair[0].1 <= pair[1].1),
        "not cumulative: {buckets:?}"
    );
    let sum = format!("{name}_sum{{{labels}}}");
    assert!(get(&after, &sum) > was(&sum));
}

#[tokio::test]
async fn health_probes_are_not_counted_as_page_requests() {
    let env = Env::with_extra("metrics_listen: \"127.0.0.1:0\"\n").await;
    let before = scrape(&env).await;
    for _ in 0..100 {
        assert_eq!(env.api_get("/.doorman/health", None).await.status, 200);
    }
    let after = scrape(&env).await;
    let grew = |series: &str| get(&after, series) - get(&before, series);
    assert!(grew("doorman_requests_total{outcome=\"health\"}") >= 100.0);
    // Other tests visit pages alongside, but far fewer than 100 while these
    // probes run; 100 probes counted as pages would make it at least 100.
    assert!(
        grew("doorman_requests_total{outcome=\"pages\"}") < 100.0,
        "{}",
        grew("doorman_requests_total{outcome=\"pages\"}")
    );
}

#[tokio::test]
async fn a_fresh_doorman_exports_every_outcome_and_each_providers_series_at_zero() {
    let env = Env::with_extra("metrics_listen: \"127.0.0.1:0\"\n").await;
    // Its own process: nothing else has counted anything in it.
    let mut serve = crate::support::process::Process::spawn(
        crate::support::process::doorman()
            .args(["serve", "--config"])
            .arg(env.config_path()),
    );
    let line = serve.wait_for("doorman is listening");
    let addr = line
        .split_whitespace()
        .find_map(|field| field.strip_prefix("metrics="))
        .unwrap_or_else(|| panic!("no metrics= in {line:?}"));
    let body = reqwest::get(format!("http://{addr}/metrics"))
        .await
        .expect("scrape")
        .text()
        .await
        .expect("body");
    let samples = parse(&body);
    for outcome in [
        "proxied",
        "public",
        "login",
        "unauthorized",
        "pages",
        "health",
        "upstream_error",
        "denied",
        "step_up",
        "bad_request",
    ] {
        let series = format!("doorman_requests_total{{outcome=\"{outcome}\"}}");
        assert_eq!(get(&samples, &series), 0.0, "{series}");
    }
    for channel in ["sms", "voice"] {
        let labels = format!("channel=\"{channel}\",provider=\"webhook\"");
        for outcome in [
            "ok",
            "throttled",
            "invalid_number",
            "unavailable",
            "refused",
        ] {
            let series = format!("doorman_deliveries_total{{{labels},outcome=\"{outcome}\"}}");
            assert_eq!(get(&samples, &series), 0.0, "{series}");
        }
        for series in [
            format!("doorman_challenges_total{{{labels},outcome=\"started\"}}"),
            format!("doorman_challenges_total{{{labels},outcome=\"failed\"}}"),
            format!("doorman_sign_ins_total{{{labels},outcome=\"ok\"}}"),
            format!("doorman_sign_ins_total{{{labels},outcome=\"wrong_code\"}}"),
            format!("doorman_sign_ins_total{{{labels},outcome=\"too_many_attempts\"}}"),
            format!("doorman_sign_ins_total{{{labels},outcome=\"expired\"}}"),
            format!("doorman_provider_duration_seconds_count{{{labels},outcome=\"ok\"}}"),
            format!("doorman_provider_duration_seconds_count{{{labels},outcome=\"error\"}}"),
            format!(
                "doorman_provider_duration_seconds_bucket{{{labels},outcome=\"ok\",le=\"+Inf\"}}"
            ),
        ] {
            assert_eq!(get(&samples, &series), 0.0, "{series}");
        }
    }
    for series in [
        "doorman_password_checks_total{outcome=\"ok\"}",
        "doorman_password_checks_total{outcome=\"failed\"}",
        "doorman_reloads_total{what=\"config\",outcome=\"ok\"}",
        "doorman_reloads_total{what=\"config\",outcome=\"failed\"}",
        "doorman_reloads_total{what=\"users_file\",outcome=\"ok\"}",
        "doorman_reloads_total{what=\"users_file\",outcome=\"failed\"}",
        "doorman_sign_ins_total{channel=\"recovery_code\",provider=\"recovery_code\",outcome=\"ok\"}",
        "doorman_sign_ins_total{channel=\"recovery_code\",provider=\"recovery_code\",outcome=\"wrong_code\"}",
        "doorman_upstream_duration_seconds_count",
    ] {
        assert_eq!(get(&samples, series), 0.0, "{series}");
    }
    // Every limit, by the name the README's metrics table gives it.
    let readme = include_str!("../../README.md");
    let row = readme
        .lines()
        .find(|line| line.starts_with("| `doorman_limit_hits_total` |"))
        .expect("the README's doorman_limit_hits_total row");
    let limits: Vec<&str> = row
        .split("`limit`:")
        .nth(1)
        .and_then(|rest| rest.split('|').next())
        .expect("its limits")
        .split(',')
        .map(|limit| limit.trim().trim_matches('`'))
        .collect();
    assert_eq!(limits, doorman::metrics::LIMITS, "{row}");
    for limit in limits {
        let series = format!("doorman_limit_hits_total{{limit=\"{limit}\"}}");
        assert_eq!(get(&samples, &series), 0.0, "{series}");
    }
    // No certificate is served, so no certificate reload is exported.
    assert!(!body.contains("what=\"certificate\""), "{body}");
}
