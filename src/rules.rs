//! Access rules: an ordered list, first match wins, `two_factor` when none
//! matches. `public:` entries are bypass rules placed before `rules:`.
//!
//! Rules see the canonical path (see [`crate::path`]) and, when an upstream
//! could read it differently, the lenient view too; the stricter of the two
//! answers stands, so no spelling of a path reaches what its rule forbids.

use crate::users::User;
use http::Method;
use ipnet::IpNet;
use regex::Regex;
use std::net::IpAddr;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// Pass without a session (and without identity headers).
    Bypass,
    /// A fully signed-in session (the default).
    TwoFactor,
    /// 403 for everyone the rule matches.
    Deny,
}

impl Policy {
    pub fn name(self) -> &'static str {
        match self {
            Policy::Bypass => "bypass",
            Policy::TwoFactor => "two_factor",
            Policy::Deny => "deny",
        }
    }
}

#[derive(Debug, Clone)]
pub enum PathMatch {
    Exact(String),
    Prefix(String),
    /// Anchored at the start of the path.
    Regex(Regex),
}

impl PathMatch {
    fn matches(&self, path: &str) -> bool {
        match self {
            PathMatch::Exact(exact) => path == exact,
            PathMatch::Prefix(prefix) => path.starts_with(prefix.as_str()),
            PathMatch::Regex(regex) => regex.is_match(path),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Rule {
    /// Where it came from in the config, e.g. `rules[2]`: for logs and audit.
    pub name: String,
    pub path: Option<PathMatch>,
    /// `None` matches every method.
    pub methods: Option<Vec<Method>>,
    /// Client networks; empty matches every client.
    pub networks: Vec<IpNet>,
    /// Lower-case user names; with `groups`, the rule applies to anyone in
    /// either list. Both empty: to everyone.
    pub users: Vec<String>,
    pub groups: Vec<String>,
    pub policy: Policy,
    /// Step-up: the second factor must be at most this old.
    pub max_age: Option<Duration>,
}

impl Rule {
    fn has_subjects(&self) -> bool {
        !self.users.is_empty() || !self.groups.is_empty()
    }

    fn matches_request(&self, method: &Method, path: &str, client: IpAddr) -> bool {
        self.methods
            .as_ref()
            .is_none_or(|methods| methods.contains(method))
            && self
                .path
                .as_ref()
                .is_none_or(|matcher| matcher.matches(path))
            && (self.networks.is_empty() || self.networks.iter().any(|net| net.contains(&client)))
    }

    fn matches_user(&self, user: &User) -> bool {
        self.users
            .iter()
            .any(|name| name.eq_ignore_ascii_case(&user.name))
            || self.groups.iter().any(|group| user.groups.contains(group))
    }
}

/// What a request must bring.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub policy: Policy,
    /// Index of the rule that decided; `None` for the default.
    pub rule: Option<usize>,
    pub max_age: Option<Duration>,
    /// A rule naming users or groups matched an anonymous request: only a
    /// signed-in user can be judged.
    pub needs_user: bool,
}

const DEFAULT: Answer = Answer {
    policy: Policy::TwoFactor,
    rule: None,
    max_age: None,
    needs_user: false,
};

/// The request as rules see it.
pub struct Target<'a> {
    pub method: &'a Method,
    /// Canonical path.
    pub path: &'a str,
    /// The lenient view, when it differs.
    lenient: Option<String>,
    pub client: IpAddr,
}

impl<'a> Target<'a> {
    /// `path` must be canonical (see [`crate::path::normalize`]); the
    /// lenient view is worked out here.
    pub fn new(method: &'a Method, path: &'a str, client: IpAddr) -> Target<'a> {
        Target {
            method,
            path,
            lenient: crate::path::lenient(path),
            client,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Rules(Vec<Rule>);

impl Rules {
    pub fn new(rules: Vec<Rule>) -> Rules {
        Rules(rules)
    }

    pub fn get(&self, index: usize) -> Option<&Rule> {
        self.0.get(index)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The answer for `target`, judged as `user` (or anonymously).
    pub fn evaluate(&self, target: &Target<'_>, user: Option<&User>) -> Answer {
        let strict = self.first_match(target.method, target.path, target.client, user);
        match target.lenient.as_deref() {
            None => strict,
            Some(view) => stricter(
                strict,
                self.first_match(target.method, view, target.client, user),
            ),
        }
    }

    fn first_match(
        &self,
        method: &Method,
        path: &str,
        client: IpAddr,
        user: Option<&User>,
    ) -> Answer {
        for (index, rule) in self.0.iter().enumerate() {
            if !rule.matches_request(method, path, client) {
                continue;
            }
            if rule.has_subjects() {
                match user {
                    None => {
                        return Answer {
                            rule: Some(index),
                            needs_user: true,
                            ..DEFAULT
                        }
                    }
                    Some(user) if !rule.matches_user(user) => continue,
                    Some(_) => {}
                }
            }
            return Answer {
                policy: rule.policy,
                rule: Some(index),
                max_age: rule.max_age,
                needs_user: false,
            };
        }
        DEFAULT
    }
}

/// Deny over two_factor over bypass; two two_factor answers keep the
/// shorter `max_age`.
fn stricter(a: Answer, b: Answer) -> Answer {
    let rank = |answer: &Answer| match answer.policy {
        Policy::Deny => 2,
        Policy::TwoFactor => 1,
        Policy::Bypass => 0,
    };
    if rank(&a) != rank(&b) {
        return if rank(&a) > rank(&b) { a } else { b };
    }
    let needs_user = a.needs_user || b.needs_user;
    let keep_b = match (a.max_age, b.max_age) {
        (Some(x), Some(y)) => y < x,
        (None, Some(_)) => true,
        _ => false,
    };
    let mut kept = if keep_b { b } else { a };
    kept.needs_user = needs_user;
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(path: PathMatch, policy: Policy) -> Rule {
        Rule {
            name: "rules[0]".into(),
            path: Some(path),
            methods: None,
            networks: Vec::new(),
            users: Vec::new(),
            groups: Vec::new(),
            policy,
            max_age: None,
        }
    }

    fn target(path: &str) -> Target<'_> {
        Target::new(&Method::GET, path, "192.0.2.1".parse().unwrap())
    }

    #[test]
    fn the_first_matching_rule_wins_and_two_factor_is_the_default() {
        let rules = Rules::new(vec![
            rule(PathMatch::Prefix("/a/".into()), Policy::Bypass),
            rule(PathMatch::Prefix("/".into()), Policy::Deny),
        ]);
        assert_eq!(rules.evaluate(&target("/a/x"), None).policy, Policy::Bypass);
        assert_eq!(rules.evaluate(&target("/b"), None).policy, Policy::Deny);
        assert_eq!(Rules::default().evaluate(&target("/"), None), DEFAULT);
    }

    #[test]
    fn the_stricter_view_wins() {
        let rules = Rules::new(vec![
            rule(PathMatch::Prefix("/admin".into()), Policy::Deny),
            rule(PathMatch::Prefix("/public/".into()), Policy::Bypass),
        ]);
        let answer = rules.evaluate(&target("/public/..%2Fadmin"), None);
        assert_eq!(answer.policy, Policy::Deny);
        let answer = rules.evaluate(&target("/public/a%2Fb"), None);
        assert_eq!(answer.policy, Policy::Bypass);
    }

    #[test]
    fn subjects_need_a_user() {
        let mut admins = rule(PathMatch::Prefix("/admin/".into()), Policy::TwoFactor);
        admins.groups = vec!["admins".into()];
        admins.max_age = Some(Duration::from_secs(600));
        let rules = Rules::new(vec![
            admins,
            rule(PathMatch::Prefix("/admin/".into()), Policy::Deny),
        ]);
        let anonymous = rules.evaluate(&target("/admin/x"), None);
        assert!(anonymous.needs_user);
        assert_eq!(anonymous.policy, Policy::TwoFactor);
    }
}
