//! Which app a request is for: host names (exact or `*.example.com`), each
//! app with its own access rules. Without `apps:` there is one app that
//! every host reaches, exactly as before several apps existed.

use std::borrow::Cow;

use crate::rules::Rules;

/// A host name a rule or an app answers to: lower case, without a port or
/// a trailing dot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostPattern {
    /// This host only.
    Exact(String),
    /// `*.example.com`: any host below `example.com` (not `example.com`
    /// itself), kept here as `.example.com`.
    Below(String),
}

impl HostPattern {
    /// `text` as written in the config, or `None` when it is not a host
    /// name (or `*.` followed by one).
    pub fn parse(text: &str) -> Option<HostPattern> {
        let text = text.trim().to_ascii_lowercase();
        let (wildcard, name) = match text.strip_prefix("*.") {
            Some(name) => (true, name),
            None => (false, text.as_str()),
        };
        let name = name.strip_suffix('.').unwrap_or(name);
        if !is_host_name(name) {
            return None;
        }
        Some(if wildcard {
            HostPattern::Below(format!(".{name}"))
        } else {
            HostPattern::Exact(name.to_owned())
        })
    }

    /// Whether `host` (already [`normalize`]d) is this one.
    pub fn matches(&self, host: &str) -> bool {
        match self {
            HostPattern::Exact(exact) => host == exact,
            HostPattern::Below(suffix) => host.len() > suffix.len() && host.ends_with(suffix),
        }
    }
}

impl std::fmt::Display for HostPattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HostPattern::Exact(exact) => f.write_str(exact),
            HostPattern::Below(suffix) => write!(f, "*{suffix}"),
        }
    }
}

/// Whether `name` is a DNS host name: dot-separated labels of letters,
/// digits and inner hyphens (no empty label, so no leading or trailing dot).
pub fn is_host_name(name: &str) -> bool {
    !name.is_empty()
        && name.split('.').all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// `Host` (or an authority) as apps compare it: lower case, without the
/// port and without a trailing dot; `None` when it is not a plausible host.
/// `Example.COM.:8443` is `example.com`; `[::1]:80` is `[::1]`. Borrowed
/// when `authority` has no upper case (nearly always): no allocation.
pub fn normalize(authority: &str) -> Option<Cow<'_, str>> {
    let authority = authority.trim();
    let host = if authority.starts_with('[') {
        let end = authority.find(']')?;
        let (literal, rest) = authority.split_at(end + 1);
        if !(rest.is_empty() || valid_port(rest.strip_prefix(':')?)) {
            return None;
        }
        literal
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) if valid_port(port) => host,
            Some(_) => return None,
            None => authority,
        }
    };
    let host = host.strip_suffix('.').unwrap_or(host);
    let plausible = !host.is_empty()
        && host.is_ascii()
        && !host.bytes().any(|byte| b"@/\\?# %".contains(&byte));
    if !plausible {
        return None;
    }
    Some(if host.bytes().any(|byte| byte.is_ascii_uppercase()) {
        Cow::Owned(host.to_ascii_lowercase())
    } else {
        Cow::Borrowed(host)
    })
}

/// The normalised host a request is for: its `Host`, or the authority of
/// an HTTP/2 or absolute-form target; `Ok(None)` without either. When
/// both are there and name different hosts, or there are two `Host`s, or
/// one is not a host, the request is refused: a front server and the app
/// could each believe a different one.
pub fn request_host<'r>(
    uri: &'r http::Uri,
    headers: &'r http::HeaderMap,
) -> Result<Option<Cow<'r, str>>, &'static str> {
    let mut values = headers.get_all(http::header::HOST).iter();
    let header = match (values.next(), values.next()) {
        (Some(_), Some(_)) => return Err("the request has two Host headers"),
        (Some(value), None) => {
            let text = value
                .to_str()
                .map_err(|_| "the Host header is not a host")?;
            Some(normalize(text).ok_or("the Host header is not a host")?)
        }
        (None, _) => None,
    };
    let authority = match uri.authority() {
        Some(authority) => {
            Some(normalize(authority.as_str()).ok_or("the request target's host is not a host")?)
        }
        None => None,
    };
    match (header, authority) {
        (Some(header), Some(authority)) if header != authority => {
            Err("the Host header and the request target name different hosts")
        }
        (header, authority) => Ok(header.or(authority)),
    }
}

/// The normalised host of an absolute URL (the front proxy's
/// `X-Original-URL`, or `X-Forwarded-Proto` + `-Host` + `-Uri`); `None`
/// for a relative one.
pub fn host_of_uri(uri: &http::Uri) -> Option<Cow<'_, str>> {
    uri.scheme()?;
    normalize(uri.authority()?.as_str())
}

fn valid_port(port: &str) -> bool {
    !port.is_empty() && port.len() <= 5 && port.bytes().all(|b| b.is_ascii_digit())
}

/// One app behind doorman.
#[derive(Debug, Clone)]
pub struct Site {
    /// Where it came from, e.g. `apps[1]`, or `upstream` for the one app
    /// of a config without `apps:`: for logs and `check-policy`.
    pub name: String,
    /// The hosts it answers to; empty answers to every host (the one app
    /// of a config without `apps:`).
    pub hosts: Vec<HostPattern>,
    /// Its `public:` (as bypass rules) and `rules:`, first match wins.
    pub rules: Rules,
}

/// Every app, in config order; a request goes to the first whose hosts
/// match (an exact name before a wildcard, whatever the order).
#[derive(Debug, Clone, Default)]
pub struct Sites {
    list: Vec<Site>,
}

impl Sites {
    pub fn new(list: Vec<Site>) -> Sites {
        Sites { list }
    }

    /// The one app of a config without `apps:`: every host, these rules.
    pub fn single(rules: Rules) -> Sites {
        Sites::new(vec![Site {
            name: "upstream".to_owned(),
            hosts: Vec::new(),
            rules,
        }])
    }

    /// Whether requests are told apart by host (`apps:` is configured).
    pub fn by_host(&self) -> bool {
        self.list.iter().any(|site| !site.hosts.is_empty())
    }

    /// The app for a normalised `host`: exact names win over wildcards,
    /// then config order. `None` for a host no app answers to (or no
    /// host at all while apps are told apart by host) — never a default
    /// app, which would put one app's rules on another's requests.
    pub fn pick(&self, host: Option<&str>) -> Option<usize> {
        if let Some(index) = self.list.iter().position(|site| site.hosts.is_empty()) {
            return Some(index);
        }
        let host = host?;
        let exact = |site: &Site| {
            site.hosts
                .iter()
                .any(|pattern| matches!(pattern, HostPattern::Exact(_)) && pattern.matches(host))
        };
        let any = |site: &Site| site.hosts.iter().any(|pattern| pattern.matches(host));
        self.list
            .iter()
            .position(exact)
            .or_else(|| self.list.iter().position(any))
    }

    pub fn get(&self, index: usize) -> Option<&Site> {
        self.list.get(index)
    }

    /// The rules of app `index`; none (so the default, `two_factor`) for
    /// an index past the end, which a reload that drops an app could leave.
    pub fn rules(&self, index: usize) -> &Rules {
        static NONE: std::sync::OnceLock<Rules> = std::sync::OnceLock::new();
        self.list
            .get(index)
            .map_or_else(|| NONE.get_or_init(Rules::default), |site| &site.rules)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Site> {
        self.list.iter()
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Rules in every app together, for counts in logs.
    pub fn rule_count(&self) -> usize {
        self.list.iter().map(|site| site.rules.len()).sum()
    }

    /// Whether some rule of some app may refuse a fully signed-in user.
    pub fn can_refuse_a_signed_in_user(&self) -> bool {
        self.list
            .iter()
            .any(|site| site.rules.can_refuse_a_signed_in_user())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site(name: &str, hosts: &[&str]) -> Site {
        Site {
            name: name.into(),
            hosts: hosts.iter().filter_map(|h| HostPattern::parse(h)).collect(),
            rules: Rules::default(),
        }
    }

    #[test]
    fn hosts_are_compared_without_case_port_or_trailing_dot() {
        assert_eq!(
            normalize("Wiki.Example.COM.:8443").as_deref(),
            Some("wiki.example.com")
        );
        assert_eq!(
            normalize("wiki.example.com").as_deref(),
            Some("wiki.example.com")
        );
        assert_eq!(normalize("[::1]:8080").as_deref(), Some("[::1]"));
        assert_eq!(normalize("a.example.com:x"), None);
        assert_eq!(normalize("evil.com@a.example.com"), None);
        assert_eq!(normalize(""), None);
    }

    #[test]
    fn a_host_already_in_lower_case_is_not_copied() {
        for (authority, host) in [
            ("wiki.example.com", "wiki.example.com"),
            ("wiki.example.com.:8443", "wiki.example.com"),
            ("[::1]:80", "[::1]"),
            (" app ", "app"),
        ] {
            assert!(
                matches!(normalize(authority), Some(Cow::Borrowed(found)) if found == host),
                "{authority}"
            );
        }
        for (authority, host) in [
            ("Wiki.example.com", "wiki.example.com"),
            ("[::FFFF:1]", "[::ffff:1]"),
        ] {
            assert!(
                matches!(normalize(authority), Some(Cow::Owned(found)) if found == host),
                "{authority}"
            );
        }
    }

    #[test]
    fn a_host_header_that_disagrees_with_the_target_is_refused() {
        let mut headers = http::HeaderMap::new();
        headers.insert(http::header::HOST, "wiki.example.com".parse().unwrap());
        let absolute: http::Uri = "http://git.example.com/".parse().unwrap();
        let same: http::Uri = "http://WIKI.example.com:80/x".parse().unwrap();
        let origin: http::Uri = "/x".parse().unwrap();
        assert!(request_host(&absolute, &headers).is_err());
        assert_eq!(
            request_host(&same, &headers),
            Ok(Some("wiki.example.com".into()))
        );
        assert_eq!(
            request_host(&origin, &headers),
            Ok(Some("wiki.example.com".into()))
        );
        assert_eq!(request_host(&origin, &http::HeaderMap::new()), Ok(None));
        headers.append(http::header::HOST, "git.example.com".parse().unwrap());
        assert!(request_host(&origin, &headers).is_err());
    }

    #[test]
    fn a_wildcard_covers_subdomains_only() {
        let below = HostPattern::parse("*.Example.com").unwrap();
        assert!(below.matches("a.example.com"));
        assert!(below.matches("a.b.example.com"));
        assert!(!below.matches("example.com"));
        assert!(!below.matches("badexample.com"));
        assert_eq!(below.to_string(), "*.example.com");
        assert_eq!(HostPattern::parse("*"), None);
        assert_eq!(HostPattern::parse("a..b"), None);
    }

    #[test]
    fn an_exact_host_wins_over_an_earlier_wildcard_and_unknown_hosts_get_no_app() {
        let sites = Sites::new(vec![
            site("apps[0]", &["*.example.com"]),
            site("apps[1]", &["wiki.example.com"]),
        ]);
        assert_eq!(sites.pick(Some("wiki.example.com")), Some(1));
        assert_eq!(sites.pick(Some("git.example.com")), Some(0));
        assert_eq!(sites.pick(Some("example.org")), None);
        assert_eq!(sites.pick(None), None);
    }

    #[test]
    fn the_one_app_without_apps_answers_every_host() {
        let sites = Sites::single(Rules::default());
        assert_eq!(sites.pick(Some("anything")), Some(0));
        assert_eq!(sites.pick(None), Some(0));
        assert!(!sites.by_host());
    }
}
