//! Access rules: an ordered list, first match wins, `two_factor` when none
//! matches. `public:` entries are bypass rules placed before `rules:`.
//!
//! Rules see the request twice and the stricter answer stands, so no
//! spelling of a path reaches what its rule forbids:
//! - *as written*: the canonical path (see [`crate::path`]), methods exactly;
//! - *as a lenient app reads it*: the lenient view of the path, and for every
//!   rule but a bypass letter case folded, `/admin` inside `/admin/`, methods in any letter
//!   case and `HEAD` as `GET` — what Express, Rails, Flask and case-insensitive
//!   file systems do. A bypass rule is never loosened this way: it matches
//!   the lenient view exactly as written, or not at all.

use crate::sites::HostPattern;
use crate::users::User;
use http::Method;
use ipnet::IpNet;
use regex::Regex;
use std::borrow::Cow;
use std::net::IpAddr;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// Pass without a session (and without identity headers).
    Bypass,
    /// A signed-in session with the password only (or more).
    OneFactor,
    /// A fully signed-in session (the default).
    TwoFactor,
    /// 403 for everyone the rule matches.
    Deny,
}

impl Policy {
    pub fn name(self) -> &'static str {
        match self {
            Policy::Bypass => "bypass",
            Policy::OneFactor => "one_factor",
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

    /// The same match for a lenient app: on lower-cased paths, with a
    /// trailing slash optional.
    fn loosened(&self) -> Loose {
        match self {
            PathMatch::Exact(exact) => {
                Loose::Exact(without_trailing_slash(&exact.to_lowercase()).to_owned())
            }
            PathMatch::Prefix(prefix) => Loose::Prefix(prefix.to_lowercase()),
            PathMatch::Regex(regex) => regex::RegexBuilder::new(regex.as_str())
                .case_insensitive(true)
                .build()
                .map_or(Loose::Strict, Loose::Regex),
        }
    }
}

/// A [`PathMatch`] as a lenient app reads it; matched against a
/// lower-cased path.
#[derive(Debug, Clone)]
enum Loose {
    /// Lower case, without a trailing slash (unless it is `/`).
    Exact(String),
    Prefix(String),
    /// Case-insensitive.
    Regex(Regex),
    /// The pattern cannot be loosened: match it as written.
    Strict,
}

impl Loose {
    fn matches(&self, strict: &PathMatch, folded: &str) -> bool {
        match self {
            Loose::Exact(exact) => without_trailing_slash(folded) == *exact,
            // `/admin` is inside `/admin/` for an app that ignores the slash.
            Loose::Prefix(prefix) => {
                folded.starts_with(prefix.as_str())
                    || prefix
                        .strip_suffix('/')
                        .is_some_and(|directory| without_trailing_slash(folded) == directory)
            }
            // The trailing slash either way: `^/admin/` holds `/admin`,
            // `^/admin$` holds `/admin/`.
            Loose::Regex(regex) => {
                regex.is_match(folded)
                    || match folded.strip_suffix('/') {
                        Some(_) => regex.is_match(without_trailing_slash(folded)),
                        None => regex.is_match(&format!("{folded}/")),
                    }
            }
            Loose::Strict => strict.matches(folded),
        }
    }
}

/// `path` without its trailing slashes, `/` staying `/`.
fn without_trailing_slash(path: &str) -> &str {
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        "/"
    } else {
        trimmed
    }
}

/// `path` in lower case; borrowed when it already is.
fn fold_case(path: &str) -> Cow<'_, str> {
    if path
        .bytes()
        .any(|byte| byte.is_ascii_uppercase() || !byte.is_ascii())
    {
        Cow::Owned(path.to_lowercase())
    } else {
        Cow::Borrowed(path)
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
    /// Hosts the rule is for; empty: every host.
    pub hosts: Vec<HostPattern>,
    /// Whether an API token may pass where this rule decides; tokens are
    /// refused wherever no rule says so.
    pub tokens: bool,
}

impl Rule {
    fn has_subjects(&self) -> bool {
        !self.users.is_empty() || !self.groups.is_empty()
    }

    fn matches_request(&self, method: &Method, path: &str, target: &Target<'_>) -> bool {
        self.methods
            .as_ref()
            .is_none_or(|methods| methods.contains(method))
            && self
                .path
                .as_ref()
                .is_none_or(|matcher| matcher.matches(path))
            && self.matches_client(target)
    }

    /// As a lenient app reads the request: `folded` is the lower-cased
    /// lenient view, `loose` this rule's loosened path match.
    fn matches_loosely(
        &self,
        method: &Method,
        folded: &str,
        loose: Option<&Loose>,
        target: &Target<'_>,
    ) -> bool {
        let method_matches = |methods: &Vec<Method>| {
            methods.iter().any(|listed| {
                listed.as_str().eq_ignore_ascii_case(method.as_str())
                    || (*listed == Method::GET && method.as_str().eq_ignore_ascii_case("HEAD"))
            })
        };
        self.methods.as_ref().is_none_or(method_matches)
            && match (&self.path, loose) {
                (Some(strict), Some(loose)) => loose.matches(strict, folded),
                (Some(strict), None) => strict.matches(folded),
                (None, _) => true,
            }
            && self.matches_client(target)
    }

    /// The client's network and the request's host. A request without a
    /// host is within every host a restricting rule names (so leaving
    /// `Host` out never escapes a deny), and outside every host a rule
    /// that lets more through names.
    fn matches_client(&self, target: &Target<'_>) -> bool {
        let (client, host) = (target.client, target.host);
        let host_matches = self.hosts.is_empty()
            || match host {
                Some(host) => self.hosts.iter().any(|pattern| pattern.matches(host)),
                None => matches!(self.policy, Policy::Deny | Policy::TwoFactor),
            };
        host_matches
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
    /// The deciding rule lets API tokens through (never the default).
    pub tokens: bool,
}

const DEFAULT: Answer = Answer {
    policy: Policy::TwoFactor,
    rule: None,
    max_age: None,
    needs_user: false,
    tokens: false,
};

/// The request as rules see it.
pub struct Target<'a> {
    pub method: &'a Method,
    /// Canonical path.
    pub path: &'a str,
    /// The lenient views, when they differ.
    lenient: Option<crate::path::LenientViews>,
    pub client: IpAddr,
    /// The normalised host (see [`crate::sites::normalize`]), when known.
    pub host: Option<&'a str>,
}

impl<'a> Target<'a> {
    /// `path` must be canonical (see [`crate::path::normalize`]); the
    /// lenient view is worked out here.
    pub fn new(method: &'a Method, path: &'a str, client: IpAddr) -> Target<'a> {
        Target {
            method,
            path,
            lenient: crate::path::lenient_views(path),
            client,
            host: None,
        }
    }

    /// The same request, for `host` (`hosts` rules match it).
    pub fn on_host(self, host: Option<&'a str>) -> Target<'a> {
        Target { host, ..self }
    }

    /// Whether the lenient view is `prefix` or below it (so doorman's own
    /// page only when every reading says so).
    pub fn lenient_is_under(&self, prefix: &str) -> bool {
        let under = |view: &str| {
            view.strip_prefix(prefix)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        };
        self.lenient.as_ref().is_none_or(|views| {
            under(&views.resolved)
                && views.unresolved.as_deref().is_none_or(under)
                && views.others.iter().all(|view| under(view))
        })
    }
}

#[derive(Debug, Clone, Default)]
pub struct Rules {
    list: Vec<Rule>,
    /// Each rule's path match as a lenient app reads it, built once.
    loose: Vec<Option<Loose>>,
}

/// Which reading of the request a pass over the rules judges.
#[derive(Clone, Copy)]
enum Reading<'a> {
    /// The canonical path, as written.
    Written(&'a str),
    /// The lenient view as written (for bypass rules) and lower-cased (for
    /// every other rule).
    Lenient { view: &'a str, folded: &'a str },
}

impl Rules {
    pub fn new(rules: Vec<Rule>) -> Rules {
        let loose = rules
            .iter()
            .map(|rule| rule.path.as_ref().map(PathMatch::loosened))
            .collect();
        Rules { list: rules, loose }
    }

    pub fn get(&self, index: usize) -> Option<&Rule> {
        self.list.get(index)
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Whether some rule may refuse a fully signed-in user (deny, users or
    /// groups, `max_age`): then a request cannot be judged on its session
    /// alone.
    pub fn can_refuse_a_signed_in_user(&self) -> bool {
        self.list.iter().any(|rule| {
            rule.policy == Policy::Deny || rule.has_subjects() || rule.max_age.is_some()
        })
    }

    /// The answer for `target`, judged as `user` (or anonymously): the
    /// stricter of the two readings.
    pub fn evaluate(&self, target: &Target<'_>, user: Option<&User>) -> Answer {
        if self.list.is_empty() {
            return DEFAULT;
        }
        let written = self.first_match(target, Reading::Written(target.path), user);
        let views = target.lenient.as_ref();
        let view = views.map_or(target.path, |views| views.resolved.as_str());
        let lenient = self.lenient_match(target, view, user);
        let answer = stricter(written, lenient);
        let others = views
            .into_iter()
            .flat_map(|views| views.unresolved.iter().chain(&views.others));
        others.fold(answer, |answer, view| {
            stricter(answer, self.lenient_match(target, view, user))
        })
    }

    /// Each reading [`Rules::evaluate`] judges, named, with its answer:
    /// what `check-policy` shows (the stricter of them all stands).
    pub fn each_reading(&self, target: &Target<'_>, user: Option<&User>) -> Vec<(String, Answer)> {
        let mut readings = vec![(
            format!("as written: {}", target.path),
            self.first_match(target, Reading::Written(target.path), user),
        )];
        if let Some(views) = target.lenient.as_ref() {
            let all = std::iter::once(&views.resolved)
                .chain(views.unresolved.iter())
                .chain(&views.others);
            for view in all {
                let answer = self.lenient_match(target, view, user);
                let shown = fold_case(view);
                readings.push((format!("as a lenient app reads it: {shown}"), answer));
            }
        } else {
            let answer = self.lenient_match(target, target.path, user);
            readings.push((
                format!("as a lenient app reads it: {}", fold_case(target.path)),
                answer,
            ));
        }
        readings
    }

    /// The first match on a lenient `view` of the request's path.
    fn lenient_match(&self, target: &Target<'_>, view: &str, user: Option<&User>) -> Answer {
        let folded = fold_case(view);
        self.first_match(
            target,
            Reading::Lenient {
                view,
                folded: &folded,
            },
            user,
        )
    }

    fn first_match(
        &self,
        target: &Target<'_>,
        reading: Reading<'_>,
        user: Option<&User>,
    ) -> Answer {
        let method = target.method;
        for (index, rule) in self.list.iter().enumerate() {
            let matches = match reading {
                Reading::Written(path) => rule.matches_request(method, path, target),
                // Never loosen a bypass: it matches only as written.
                Reading::Lenient { view, .. } if rule.policy == Policy::Bypass => {
                    rule.matches_request(method, view, target)
                }
                Reading::Lenient { folded, .. } => rule.matches_loosely(
                    method,
                    folded,
                    self.loose.get(index).and_then(Option::as_ref),
                    target,
                ),
            };
            if !matches {
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
                tokens: rule.tokens,
            };
        }
        DEFAULT
    }
}

/// Deny over two_factor over one_factor over bypass; two two_factor
/// answers keep the shorter `max_age`; tokens pass only if both let them.
fn stricter(a: Answer, b: Answer) -> Answer {
    let rank = |answer: &Answer| match answer.policy {
        Policy::Deny => 3,
        Policy::TwoFactor => 2,
        Policy::OneFactor => 1,
        Policy::Bypass => 0,
    };
    if rank(&a) != rank(&b) {
        return if rank(&a) > rank(&b) { a } else { b };
    }
    let needs_user = a.needs_user || b.needs_user;
    let tokens = a.tokens && b.tokens;
    let keep_b = match (a.max_age, b.max_age) {
        (Some(x), Some(y)) => y < x,
        (None, Some(_)) => true,
        _ => false,
    };
    let mut kept = if keep_b { b } else { a };
    kept.needs_user = needs_user;
    kept.tokens = tokens;
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
            hosts: Vec::new(),
            tokens: false,
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
    fn restricting_rules_hold_for_every_spelling_a_lenient_app_reads() {
        let rules = Rules::new(vec![
            rule(PathMatch::Prefix("/admin/".into()), Policy::Deny),
            rule(PathMatch::Exact("/metrics".into()), Policy::Deny),
            rule(
                PathMatch::Regex(Regex::new("^/internal$").unwrap()),
                Policy::Deny,
            ),
        ]);
        for path in [
            "/admin",
            "/admin/",
            "/Admin",
            "/ADMIN/x",
            "/aDmIn/",
            "/metrics/",
            "/Metrics",
            "/internal/",
            "/INTERNAL",
            "/Admin./x",
            "/admin%20/x",
        ] {
            let canonical = crate::path::normalize(path).unwrap();
            assert_eq!(
                rules.evaluate(&target(&canonical), None).policy,
                Policy::Deny,
                "{path}"
            );
        }
        for path in ["/administrator", "/metricsx", "/internals", "/admins/x"] {
            assert_eq!(
                rules.evaluate(&target(path), None).policy,
                Policy::TwoFactor,
                "{path}"
            );
        }
    }

    #[test]
    fn a_bypass_matches_only_as_written_and_methods_loosen_only_for_restrictions() {
        let mut public = rule(PathMatch::Prefix("/assets/".into()), Policy::Bypass);
        public.methods = Some(vec![Method::GET]);
        let mut deletes = rule(PathMatch::Prefix("/records/".into()), Policy::Deny);
        deletes.methods = Some(vec![Method::DELETE, Method::GET]);
        let rules = Rules::new(vec![public, deletes]);
        let client = "192.0.2.1".parse().unwrap();
        let judge = |method: &str, path: &str| {
            let method = Method::from_bytes(method.as_bytes()).unwrap();
            rules
                .evaluate(&Target::new(&method, path, client), None)
                .policy
        };
        assert_eq!(judge("GET", "/assets/x"), Policy::Bypass);
        assert_eq!(judge("get", "/assets/x"), Policy::TwoFactor);
        assert_eq!(judge("GET", "/ASSETS/x"), Policy::TwoFactor);
        assert_eq!(judge("GET", "/assets"), Policy::TwoFactor);
        for method in ["DELETE", "delete", "Delete", "HEAD", "head", "get"] {
            assert_eq!(judge(method, "/records/1"), Policy::Deny, "{method}");
        }
        assert_eq!(judge("POST", "/records/1"), Policy::TwoFactor);
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
