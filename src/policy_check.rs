//! `doorman check-policy`: which app and rule decide a request, and why,
//! for every reading of its path; and `check-config`'s warning about
//! `users`/`groups` rules that everyone else falls through.

use crate::rules::{Answer, PathMatch, Policy, Rule, Target};
use crate::sites::{self, Sites};
use crate::users::User;
use http::{Method, Uri};
use std::net::IpAddr;

/// Who asks: a signed-in user, or that user's API token.
pub struct Asker<'a> {
    pub user: Option<&'a User>,
    pub token: Option<&'a str>,
}

/// The explanation, one line each; an error for a URL that cannot be read.
pub fn explain(
    sites: &Sites,
    asker: &Asker<'_>,
    method: &Method,
    url: &str,
    client: IpAddr,
) -> Result<Vec<String>, String> {
    let uri: Uri = url.parse().map_err(|_| format!("`{url}` is not a URL"))?;
    let host = uri.host().and_then(sites::normalize);
    let raw_path = if uri.path().is_empty() {
        "/"
    } else {
        uri.path()
    };
    let path = crate::path::normalize(raw_path)
        .map_err(|malformed| format!("refused before any rule (400): {}", malformed.reason()))?;
    let mut lines = Vec::new();
    let Some(index) = sites.pick(host.as_deref()) else {
        lines.push(format!(
            "no app answers to host `{}`: 421 (proxy) / 403 (forward-auth)",
            host.unwrap_or_default()
        ));
        return Ok(lines);
    };
    let site = sites.get(index).ok_or("no such app")?;
    lines.push(format!(
        "app: {} (host {})",
        site.name,
        host.as_deref().unwrap_or("-")
    ));
    lines.push(format!("canonical path: {path}"));
    let target = Target::new(method, &path, client).on_host(host.as_deref());
    let rules = &site.rules;
    let name = |answer: &Answer| {
        answer
            .rule
            .and_then(|index| rules.get(index))
            .map_or_else(|| "default".to_owned(), |rule| rule.name.clone())
    };
    for (reading, answer) in rules.each_reading(&target, asker.user) {
        lines.push(format!(
            "{reading} → {} ({})",
            name(&answer),
            describe(&answer)
        ));
    }
    let answer = rules.evaluate(&target, asker.user);
    let verdict = match (answer.policy, asker.user, asker.token) {
        (Policy::Bypass, _, _) => "public: passes without identity".to_owned(),
        (Policy::Deny, _, _) => "denied (403)".to_owned(),
        (_, None, _) if answer.needs_user => {
            "needs a signed-in user to judge (sign in first)".to_owned()
        }
        (_, None, _) => format!("sign in first ({})", answer.policy.name()),
        (_, Some(_), Some(token)) if answer.tokens => format!("token `{token}` passes"),
        (_, Some(_), Some(token)) => {
            format!("token `{token}` refused: the rule does not say `tokens: true`")
        }
        (Policy::OneFactor, Some(user), None) => {
            format!("{} passes with the password alone", user.name)
        }
        (_, Some(user), None) => match answer.max_age {
            Some(max_age) => format!(
                "{} passes with both factors, the second at most {}s old",
                user.name,
                max_age.as_secs()
            ),
            None => format!("{} passes with both factors", user.name),
        },
    };
    lines.push(format!(
        "decision: {verdict}, by {} (the strictest reading)",
        name(&answer)
    ));
    Ok(lines)
}

fn describe(answer: &Answer) -> String {
    let mut text = answer.policy.name().to_owned();
    if answer.needs_user {
        text.push_str(", needs the user");
    }
    if let Some(max_age) = answer.max_age {
        text.push_str(&format!(", max_age {}s", max_age.as_secs()));
    }
    if answer.tokens {
        text.push_str(", tokens allowed");
    }
    text
}

/// Rules naming `users` or `groups` for a path with no later `deny`
/// covering it: everyone else signed in falls through to the default
/// (`two_factor`) and gets in, which is rarely what was meant.
pub fn fall_through_warnings(sites: &Sites) -> Vec<String> {
    let mut warnings = Vec::new();
    for site in sites.iter() {
        let rules = &site.rules;
        for index in 0..rules.len() {
            let Some(rule) = rules.get(index) else {
                continue;
            };
            let subjects = !rule.users.is_empty() || !rule.groups.is_empty();
            if !subjects || rule.policy == Policy::Deny {
                continue;
            }
            let covered = (index + 1..rules.len())
                .filter_map(|later| rules.get(later))
                .any(|later| later.policy == Policy::Deny && covers(later, rule));
            if !covered {
                warnings.push(format!(
                    "{}: only some users or groups are named, but no later `deny` rule covers its \
                     path: everyone else signed in falls through to the default (two_factor) and \
                     gets in; add `{{ {}, policy: deny }}` after it",
                    rule.name,
                    path_key(rule.path.as_ref())
                ));
            }
        }
    }
    warnings
}

/// Whether deny rule `later` matches at least every path `rule` matches.
fn covers(later: &Rule, rule: &Rule) -> bool {
    let hosts = later.hosts.is_empty() || later.hosts.iter().all(|h| rule.hosts.contains(h));
    let path = match (&later.path, &rule.path) {
        (None, _) => true,
        (Some(PathMatch::Prefix(deny)), Some(PathMatch::Prefix(p) | PathMatch::Exact(p))) => {
            p.starts_with(deny.as_str())
        }
        (Some(PathMatch::Exact(deny)), Some(PathMatch::Exact(p))) => deny == p,
        (Some(PathMatch::Regex(deny)), Some(PathMatch::Regex(p))) => deny.as_str() == p.as_str(),
        _ => false,
    };
    hosts && path && later.methods.is_none() && later.networks.is_empty()
}

fn path_key(path: Option<&PathMatch>) -> String {
    match path {
        None => "path_prefix: \"/\"".to_owned(),
        Some(PathMatch::Exact(p)) => format!("path: \"{p}\""),
        Some(PathMatch::Prefix(p)) => format!("path_prefix: \"{p}\""),
        Some(PathMatch::Regex(r)) => {
            let pattern = r.as_str();
            let inner = pattern
                .strip_prefix("^(?:")
                .and_then(|p| p.strip_suffix(')'))
                .unwrap_or(pattern);
            format!("path_regex: \"{inner}\"")
        }
    }
}
