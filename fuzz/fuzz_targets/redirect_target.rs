//! `doorman::redirect::safe_target`: where `rd` may send a browser.
//!
//! Input: UTF-8 text. The first line is `rd`. It is checked against a fixed
//! site (`app.example.com:8080`, allowing `.corp.example` and
//! `docs.example.org`), and, when more lines follow, against the site they
//! describe: line 2 is the own host (empty: none), further lines are allowed
//! domains (trimmed and lower-cased, as the config loader does). Lines that
//! are not host names an operator could mean are dropped: the loader accepts
//! any string, and an entry such as `.` (every host ending in a dot) allows
//! `https://evil.com./`, a misconfiguration the loader could refuse but not
//! something `safe_target` can know.
//!
//! What `safe_target` promises (its doc): a path on this site (`/x`, not
//! `//x` or `/\x`), or an `http(s)://` URL whose host is the own host or an
//! allowed one; nothing with control characters, whitespace, backslashes,
//! userinfo or an encoded authority. Checked here, with the WHATWG URL parser
//! (the `url` crate, what browsers implement) as the judge of where a
//! browser would really go:
//! - it never panics, and an accepted target is `rd` unchanged;
//! - an accepted target has no control character, whitespace or `\`;
//! - an accepted path starts with one `/` (not `//`, not `/\`), and resolved
//!   against `https://app.example.com/` it stays on `app.example.com`;
//! - an accepted URL is http(s) without userinfo, and if a browser can parse
//!   it at all, its host is the own host or equal to / under an allowed
//!   domain (a URL the parser refuses, e.g. port 99999, sends nobody anywhere).
#![no_main]

use doorman::redirect::safe_target;
use libfuzzer_sys::fuzz_target;
use url::{Host, Url};

const OWN: &str = "app.example.com:8080";

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut lines = text.split('\n');
    let rd = lines.next().unwrap_or_default();
    let fixed = [".corp.example".to_owned(), "docs.example.org".to_owned()];
    check(rd, Some(OWN), &fixed);
    if let Some(own) = lines.next() {
        if !own.is_empty() && !plausible_authority(own) {
            return;
        }
        let own = (!own.is_empty()).then_some(own);
        let allowed: Vec<String> = lines
            .map(|domain| domain.trim().to_ascii_lowercase())
            .filter(|domain| plausible_domain(domain))
            .collect();
        check(rd, own, &allowed);
    }
});

fn check(rd: &str, own: Option<&str>, allowed: &[String]) {
    let Some(target) = safe_target(rd, own, allowed) else {
        return;
    };
    let context = format!("rd={rd:?} own={own:?} allowed={allowed:?} -> {target:?}");
    assert_eq!(target, rd, "{context}: target rewritten");
    assert!(
        !target
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || c == '\\'),
        "{context}: control, whitespace or backslash"
    );
    if let Some(rest) = target.strip_prefix('/') {
        assert!(
            !rest.starts_with('/') && !rest.starts_with('\\'),
            "{context}: scheme-relative"
        );
        let base = Url::parse("https://app.example.com/").unwrap();
        let joined = base.join(&target).expect("a path joins onto its base");
        assert_eq!(
            joined.host_str(),
            Some("app.example.com"),
            "{context}: a browser leaves the site"
        );
        assert_eq!(joined.scheme(), "https", "{context}: scheme changed");
        return;
    }
    let lower = target.to_ascii_lowercase();
    assert!(
        lower.starts_with("http://") || lower.starts_with("https://"),
        "{context}: neither a path nor an http(s) URL"
    );
    let Ok(url) = Url::parse(&target) else {
        return;
    };
    assert!(
        url.username().is_empty() && url.password().is_none(),
        "{context}: userinfo"
    );
    let host = url.host().expect("an http(s) URL has a host");
    let own_host = own.and_then(browser_host);
    let allowed_host = own_host.as_ref() == Some(&host.to_owned())
        || allowed.iter().any(|domain| under(&host, domain));
    assert!(
        allowed_host,
        "{context}: a browser goes to {host} (own host {own_host:?})"
    );
}

/// Where a browser connects for a `Host` header value `authority`.
fn browser_host(authority: &str) -> Option<Host> {
    // The port is not part of the host; a bad one is the Host header's problem.
    let end = match authority.strip_prefix('[') {
        Some(rest) => rest.find(']').map_or(authority.len(), |at| at + 2),
        None => authority.find(':').unwrap_or(authority.len()),
    };
    let url = Url::parse(&format!("http://{}/", &authority[..end])).ok()?;
    url.host().map(|host| host.to_owned())
}

/// `host` is `domain`, or under it when `domain` starts with a dot.
fn under(host: &Host<&str>, domain: &str) -> bool {
    let name = host.to_string();
    match domain.strip_prefix('.') {
        Some(parent) => name == parent || name.ends_with(domain),
        None => {
            name == domain
                || Url::parse(&format!("http://{domain}/"))
                    .ok()
                    .and_then(|url| url.host().map(|h| h.to_owned()))
                    .is_some_and(|h| h == host.to_owned())
        }
    }
}

/// A DNS name (labels of `a-z0-9-`, the last not a number) or a
/// dotted-quad IPv4 address; with a leading `.` for "this domain and below".
fn plausible_domain(domain: &str) -> bool {
    match domain.strip_prefix('.') {
        Some(parent) => dns_name(parent),
        None => dns_name(domain) || domain.parse::<std::net::Ipv4Addr>().is_ok(),
    }
}

fn dns_name(name: &str) -> bool {
    let labels: Vec<&str> = name.split('.').collect();
    name.len() <= 253
        && labels.iter().all(|label| {
            (1..=63).contains(&label.len())
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
        && labels.last().is_some_and(|last| !numeric(last))
}

/// What a browser sends as `Host`: a name or address, maybe with a port.
fn plausible_authority(authority: &str) -> bool {
    let authority = authority.to_ascii_lowercase();
    let (host, port) = match authority.strip_prefix('[') {
        Some(rest) => match rest.split_once(']') {
            Some((v6, port)) if v6.parse::<std::net::Ipv6Addr>().is_ok() => {
                return port.is_empty()
                    || port
                        .strip_prefix(':')
                        .is_some_and(|p| p.parse::<u16>().is_ok());
            }
            _ => return false,
        },
        None => authority.split_once(':').unwrap_or((&authority, "")),
    };
    (port.is_empty() || port.parse::<u16>().is_ok())
        && plausible_domain(host)
        && !host.starts_with('.')
}

/// A label that makes the WHATWG parser read the host as IPv4 (`7`, `0x7`).
fn numeric(label: &str) -> bool {
    match label.strip_prefix("0x") {
        Some(hex) => hex.bytes().all(|b| b.is_ascii_hexdigit()),
        None => label.bytes().all(|b| b.is_ascii_digit()),
    }
}
