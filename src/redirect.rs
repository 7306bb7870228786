//! Where `rd` may send a browser: this site, or a host allowed by config.

/// `rd` when it is safe to redirect to, else `None` (the caller uses `/`).
///
/// Safe means a path on this site (`/x`, not `//x` or `/\x`), or an
/// `http(s)://` URL whose host is `own_host` or in `allowed`. Anything with
/// control characters, whitespace, backslashes, userinfo or an encoded
/// authority is refused rather than interpreted: browsers disagree on those.
pub fn safe_target(rd: &str, own_host: Option<&str>, allowed: &[String]) -> Option<String> {
    if rd.is_empty()
        || rd.len() > 2048
        || rd
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || c == '\\')
    {
        return None;
    }
    if let Some(rest) = rd.strip_prefix('/') {
        return (!rest.starts_with('/')).then(|| rd.to_owned());
    }
    let lower = rd.to_ascii_lowercase();
    let after_scheme = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"))?;
    let authority = after_scheme
        .split(['/', '?', '#'])
        .next()
        .unwrap_or_default();
    if authority.is_empty() || authority.contains(['@', '%']) {
        return None;
    }
    let host = host_of(authority)?;
    let own = own_host.map(|own| host_of(&own.to_ascii_lowercase()).unwrap_or_default());
    let allowed_host = own.as_deref() == Some(host.as_str())
        || allowed.iter().any(|domain| match domain.strip_prefix('.') {
            Some(parent) => host == parent || host.ends_with(domain.as_str()),
            None => host == *domain,
        });
    allowed_host.then(|| rd.to_owned())
}

/// The host of `host[:port]` (IPv6 literals keep their brackets). A port
/// that is not a number (`host:8080.evil.com`) makes it no URL at all.
fn host_of(authority: &str) -> Option<String> {
    let (host, port) = if authority.starts_with('[') {
        let end = authority.find(']')?;
        authority.split_at(end + 1)
    } else {
        authority.split_at(authority.find(':').unwrap_or(authority.len()))
    };
    let numeric_port = port.is_empty()
        || port
            .strip_prefix(':')
            .is_some_and(|digits| digits.bytes().all(|b| b.is_ascii_digit()));
    let valid = numeric_port
        && !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.[]:".contains(&b));
    valid.then(|| host.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(rd: &str) -> Option<String> {
        safe_target(
            rd,
            Some("app.example.com:8080"),
            &[".corp.example".into(), "docs.example.org".into()],
        )
    }

    #[test]
    fn paths_on_this_site_are_allowed() {
        assert_eq!(check("/admin?tab=1#x").as_deref(), Some("/admin?tab=1#x"));
        assert_eq!(check("/").as_deref(), Some("/"));
    }

    #[test]
    fn urls_on_this_host_or_allowed_domains_are_allowed() {
        for rd in [
            "https://app.example.com/x",
            "http://APP.example.com:9000/",
            "https://wiki.corp.example/",
            "https://corp.example/",
            "https://docs.example.org",
        ] {
            assert!(check(rd).is_some(), "{rd}");
        }
    }

    #[test]
    fn everything_else_is_refused() {
        for rd in [
            "//evil.com",
            "///evil.com",
            "/\\evil.com",
            "\\\\evil.com",
            "/\t/evil.com",
            "https://evil.com",
            "https://app.example.com@evil.com",
            "https://evil.com\\@app.example.com",
            "https://app.example.com.evil.com",
            "https://app.example.com:8080.evil.com",
            "https://app.example.com:evil.com",
            "https://evilcorp.example",
            "https://%61pp.example.com",
            "javascript:alert(1)",
            "data:text/html,x",
            "evil.com",
            "https:/evil.com",
            "//app.example.com",
            " /x",
            "/x\r\nSet-Cookie: a=b",
        ] {
            assert_eq!(check(rd), None, "{rd:?} should be refused");
        }
    }
}
