//! `public:` and `rules:`: the access rules, and the networks they and `trusted_proxies` name.

use super::raw::{RawPublicRule, RawRule};
use super::{duration, Problems};
use crate::rules::{PathMatch, Policy, Rule, Rules};
use crate::sites::HostPattern;
use http::Method;
use ipnet::IpNet;

/// CIDRs like `10.0.0.0/8`; a bare address is a network of one.
pub(super) fn networks(texts: &[String], path: &str, problems: &mut Problems) -> Vec<IpNet> {
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
pub(super) fn access_rules(
    public: &[RawPublicRule],
    rules: &[RawRule],
    problems: &mut Problems,
) -> Rules {
    access_rules_under("", public, rules, problems)
}

/// As [`access_rules`], for keys under `prefix` (`apps[1].`).
pub(super) fn access_rules_under(
    prefix: &str,
    public: &[RawPublicRule],
    rules: &[RawRule],
    problems: &mut Problems,
) -> Rules {
    let mut list = Vec::new();
    for (index, rule) in public.iter().enumerate() {
        if rule.path.is_some() == rule.path_prefix.is_some() {
            problems.push(
                &format!("{prefix}public[{index}]"),
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
        list.extend(access_rule(
            format!("{prefix}public[{index}]"),
            &raw,
            problems,
        ));
    }
    for (index, rule) in rules.iter().enumerate() {
        list.extend(access_rule(
            format!("{prefix}rules[{index}]"),
            rule,
            problems,
        ));
    }
    Rules::new(list)
}

pub(super) fn access_rule(name: String, rule: &RawRule, problems: &mut Problems) -> Option<Rule> {
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
        Some("one_factor") => Policy::OneFactor,
        Some("bypass") => Policy::Bypass,
        Some("deny") => Policy::Deny,
        Some(other) => {
            problems.push(
                &key("policy"),
                format!("expected `bypass`, `one_factor`, `two_factor` or `deny`, not `{other}`"),
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
    let hosts = hosts(&rule.hosts, &key("hosts"), problems);
    let tokens = rule.tokens.unwrap_or(false);
    if tokens && matches!(policy, Policy::Bypass | Policy::Deny) {
        problems.push(
            &key("tokens"),
            "only a `one_factor` or `two_factor` rule can let API tokens through",
        );
    }
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
        hosts,
        tokens,
    })
}

/// Host names like `wiki.example.com` or `*.example.com`.
pub(super) fn hosts(texts: &[String], path: &str, problems: &mut Problems) -> Vec<HostPattern> {
    texts
        .iter()
        .enumerate()
        .filter_map(|(index, text)| {
            let pattern = HostPattern::parse(text);
            if pattern.is_none() {
                problems.push(
                    &format!("{path}[{index}]"),
                    format!("`{text}` is not a host name like wiki.example.com or *.example.com"),
                );
            }
            pattern
        })
        .collect()
}
