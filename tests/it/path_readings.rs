//! Issue 11, the differential test of path readings: for a table of paths
//! built from every trick in the book, however a real server would read
//! each (`doorman::path_readings` models nginx, Go, Express, Werkzeug, a
//! Windows static server, Tomcat and a double-decoding app), if any reading
//! lands under a protected rule, doorman's answer is the protected one.
//! Judged through the same functions the gate uses: the canonical path
//! (`path::normalize`, a 400 when it refuses) and `Rules::evaluate`.

use doorman::path_readings::{lands_under, READERS};
use doorman::rules::{PathMatch, Policy, Rule, Rules, Target};
use http::Method;

fn rule(path: PathMatch, policy: Policy, groups: &[&str]) -> Rule {
    Rule {
        name: "rules[]".into(),
        path: Some(path),
        methods: None,
        networks: Vec::new(),
        users: Vec::new(),
        groups: groups.iter().map(|g| g.to_string()).collect(),
        policy,
        max_age: None,
        hosts: Vec::new(),
        tokens: false,
    }
}

/// The README's rules, with everything else public: only the readings
/// decide what is protected.
fn rules() -> Rules {
    Rules::new(vec![
        rule(
            PathMatch::Prefix("/admin/".into()),
            Policy::TwoFactor,
            &["admins"],
        ),
        rule(PathMatch::Prefix("/admin/".into()), Policy::Deny, &[]),
        rule(
            PathMatch::Regex(regex::Regex::new("^/internal/").expect("regex")),
            Policy::Deny,
            &[],
        ),
        rule(PathMatch::Exact("/metrics".into()), Policy::Deny, &[]),
        rule(PathMatch::Prefix("/".into()), Policy::Bypass, &[]),
    ])
}

/// Paths that a server may read as one under `/admin/`, `/internal/` or
/// `/metrics`, and many that it may not.
fn table() -> Vec<String> {
    let targets = [
        "admin/x",
        "Admin/x",
        "ADMIN",
        "admin",
        "internal/x",
        "INTERNAL/x",
        "internal",
        "metrics",
        "Metrics/",
        "metrics/",
    ];
    let ways_in = [
        "/{t}",
        "//{t}",
        "/./{t}",
        "/public/../{t}",
        "/public/..%2F{t}",
        "/public/..%2f{t}",
        "/public%2F..%2F{t}",
        "/public/%2e%2e/{t}",
        "/public/%2E%2E%2F{t}",
        "/public/..%5C{t}",
        "/public\\..\\{t}",
        "/public/%252e%252e/{t}",
        "/public/..%252F{t}",
        "/public/..;/{t}",
        "/;x/{t}",
        "/public;/../{t}",
        "/%2F{t}",
        "/.doorman/..%2F{t}",
        "/x/y/..%2F..%2F{t}",
        "/public/.%2E/{t}",
        // The protected directory first, then a way back out that only
        // some servers take.
        "/{t}/../public",
        "/{t}/x/../../public",
        "/{t}/..%2F..%2Fpublic",
        "/{t}/%2e%2e/public",
        "/{t}/x/..%2F..%2Fpublic/",
        "/{t}/..;/public",
    ];
    let endings = ["", ";jsessionid=1", ".", "%20", "/", "%2F", "/.", "%3B"];
    let mut paths = Vec::new();
    for way in ways_in {
        for target in targets {
            for ending in endings {
                let spelled = way.replace("{t}", &format!("{target}{ending}"));
                paths.push(spelled.clone());
                // And with the first letter of the target encoded.
                let first = target.as_bytes()[0];
                let encoded = format!("%{first:02X}{}{ending}", &target[1..]);
                paths.push(way.replace("{t}", &encoded));
                paths.push(way.replace("{t}", &format!("%25{first:02X}{}{ending}", &target[1..])));
            }
        }
    }
    paths
}

/// Whether `reading` is the exact path `exact` to an app that ignores
/// letter case and the trailing slash.
fn is_exactly(reading: &str, exact: &str) -> bool {
    let reading = reading.to_lowercase();
    let trimmed = reading.trim_end_matches('/');
    trimmed == exact || (trimmed.is_empty() && exact == "/")
}

/// What the strictest server makes of `path`: `Deny` when a reading lands
/// under a deny rule, `needs a user` when under the admins' rule, `None`
/// when no server reads it as protected.
fn protected_by_some_server(path: &str) -> Option<(bool, &'static str, String)> {
    let readings: Vec<(&'static str, String)> = READERS
        .iter()
        .filter_map(|reader| Some((reader.name, (reader.read)(path)?)))
        .collect();
    if let Some((server, reading)) = readings
        .iter()
        .find(|(_, reading)| lands_under(reading, "/internal/") || is_exactly(reading, "/metrics"))
    {
        return Some((true, server, reading.clone()));
    }
    readings
        .into_iter()
        .find(|(_, reading)| lands_under(reading, "/admin/"))
        .map(|(server, reading)| (false, server, reading))
}

#[test]
fn whenever_any_server_reads_a_path_as_protected_doormans_answer_is_protected() {
    let rules = rules();
    let client = "192.0.2.1".parse().expect("address");
    let mut protected_somewhere = 0;
    for path in table() {
        let Ok(canonical) = doorman::path::normalize(&path) else {
            continue; // 400 in both modes: never forwarded
        };
        // Proxy mode: the app receives the canonical path; forward-auth
        // mode: it receives the path as sent, and doorman refuses one with
        // dot segments (`pages::forward_auth`) before the rules.
        let modes = [
            ("proxy", protected_by_some_server(&canonical), false),
            (
                "forward-auth",
                protected_by_some_server(&path),
                doorman::path::has_dot_segments(&path),
            ),
        ];
        for (mode, protected, refused_first) in modes {
            let Some((deny, server, reading)) = protected else {
                continue;
            };
            protected_somewhere += 1;
            if refused_first {
                continue;
            }
            for method in [Method::GET, Method::HEAD, Method::POST] {
                let answer = rules.evaluate(&Target::new(&method, &canonical, client), None);
                let held = if deny {
                    answer.policy == Policy::Deny
                } else {
                    answer.needs_user || answer.policy == Policy::Deny
                };
                assert!(
                    held,
                    "{mode}: {path} (canonical {canonical}) is {reading} to {server}: {answer:?}"
                );
            }
        }
    }
    // Not a vacuous table: most of it is protected to some server.
    assert!(protected_somewhere > 3000, "{protected_somewhere}");
}

#[test]
fn paths_no_server_reads_as_protected_stay_public() {
    let rules = rules();
    let client = "192.0.2.1".parse().expect("address");
    for path in [
        "/public/x",
        "/administrator",
        "/admins/x",
        "/internals",
        "/metricsx",
        "/a/%2Fb",
        "/Public/x",
    ] {
        let protected = READERS
            .iter()
            .filter_map(|r| (r.read)(path))
            .any(|reading| {
                lands_under(&reading, "/admin/")
                    || lands_under(&reading, "/internal/")
                    || is_exactly(&reading, "/metrics")
            });
        assert!(!protected, "{path}");
        let canonical = doorman::path::normalize(path).expect("canonical");
        let answer = rules.evaluate(&Target::new(&Method::GET, &canonical, client), None);
        assert_eq!(answer.policy, Policy::Bypass, "{path}: {answer:?}");
    }
}
