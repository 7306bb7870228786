//! Header rewrites as small pure functions.

use http::header::{HeaderName, CONNECTION, COOKIE, HOST, UPGRADE};
use http::{HeaderMap, HeaderValue};
use std::net::IpAddr;

/// Always hop-by-hop (RFC 9110 §7.6.1), besides whatever `Connection` lists.
static HOP_BY_HOP: [HeaderName; 8] = [
    HeaderName::from_static("te"),
    HeaderName::from_static("trailer"),
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    HeaderName::from_static("proxy-authenticate"),
    HeaderName::from_static("proxy-authorization"),
    HeaderName::from_static("transfer-encoding"),
    HeaderName::from_static("upgrade"),
];

pub static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
pub static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
pub static X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");

/// Removes `Connection`, every header it names, and the fixed hop-by-hop set.
pub fn remove_hop_by_hop(headers: &mut HeaderMap) {
    if headers.contains_key(CONNECTION) {
        let named: Vec<HeaderName> = headers
            .get_all(CONNECTION)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
            .collect();
        for name in named {
            headers.remove(name);
        }
        headers.remove(CONNECTION);
    }
    for name in &HOP_BY_HOP {
        headers.remove(name);
    }
}

/// The protocol a request asks to switch to, if it is an HTTP/1.1 upgrade.
pub fn upgrade_protocol(headers: &HeaderMap) -> Option<HeaderValue> {
    let asks = headers
        .get_all(CONNECTION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|token| token.trim().eq_ignore_ascii_case("upgrade"));
    asks.then(|| headers.get(UPGRADE).cloned()).flatten()
}

/// Whether header `name` (lower case, as hyper gives it) is `target` once
/// `_` is read as `-`: `remote_user` reaches many app servers as REMOTE_USER.
fn same_header(name: &str, target: &str) -> bool {
    name.len() == target.len()
        && name
            .bytes()
            .zip(target.bytes())
            .all(|(a, b)| a == b || (a == b'_' && b == b'-'))
}

/// Removes every client-sent copy of the identity headers, in any letter
/// case and with `_` for `-`.
pub fn strip_identity(headers: &mut HeaderMap, identity: &[&HeaderName]) {
    let spoofed: Vec<HeaderName> = headers
        .keys()
        .filter(|name| {
            identity
                .iter()
                .any(|target| same_header(name.as_str(), target.as_str()))
        })
        .cloned()
        .collect();
    for name in spoofed {
        headers.remove(name);
    }
}

/// Drops the named cookies from `Cookie` so doorman's own never reach the
/// app, and joins several `Cookie` lines (HTTP/2 clients may send each cookie
/// as its own field) into the one line HTTP/1.1 allows (RFC 9113 §8.2.3).
pub fn strip_cookies(headers: &mut HeaderMap, names: &[&str]) {
    let mentions = |line: &str| {
        line.split(';').any(|pair| {
            let key = pair.split('=').next().unwrap_or("").trim();
            names.contains(&key)
        })
    };
    let present = headers
        .get_all(COOKIE)
        .iter()
        .any(|value| value.to_str().is_ok_and(mentions));
    if !present && headers.get_all(COOKIE).iter().nth(1).is_none() {
        return;
    }
    let kept: Vec<&str> = headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|line| line.split(';'))
        .map(str::trim)
        .filter(|pair| !pair.is_empty())
        .filter(|pair| !names.contains(&pair.split('=').next().unwrap_or("").trim()))
        .collect();
    let joined = kept.join("; ");
    headers.remove(COOKIE);
    if !joined.is_empty() {
        if let Ok(value) = HeaderValue::from_str(&joined) {
            headers.insert(COOKIE, value);
        }
    }
}

/// Appends the peer to `X-Forwarded-For` and sets `-Proto` and `-Host`.
/// The chain the client sent is kept only from a trusted proxy
/// (`keep_chain`); anyone else's claims are dropped, so the upstream never
/// believes a spoofed address.
pub fn set_forwarded(
    headers: &mut HeaderMap,
    peer: IpAddr,
    tls: bool,
    host: Option<&HeaderValue>,
    keep_chain: bool,
) {
    let peer = peer.to_string();
    // Several X-Forwarded-For lines are one list (RFC 9110 §5.3).
    let mut chain = String::new();
    if !keep_chain {
        headers.remove(&X_FORWARDED_FOR);
    }
    for line in headers
        .get_all(&X_FORWARDED_FOR)
        .iter()
        .filter_map(|v| v.to_str().ok())
    {
        if !line.trim().is_empty() {
            chain.push_str(line.trim());
            chain.push_str(", ");
        }
    }
    chain.push_str(&peer);
    if let Ok(value) = HeaderValue::from_str(&chain) {
        headers.insert(X_FORWARDED_FOR.clone(), value);
    }
    headers.insert(
        X_FORWARDED_PROTO.clone(),
        HeaderValue::from_static(if tls { "https" } else { "http" }),
    );
    match host {
        Some(host) => {
            headers.insert(X_FORWARDED_HOST.clone(), host.clone());
        }
        None => {
            headers.remove(&X_FORWARDED_HOST);
        }
    }
}

/// The host the client asked for: `Host`, or the authority of an HTTP/2 URI.
pub fn request_host<B>(request: &http::Request<B>) -> Option<HeaderValue> {
    request.headers().get(HOST).cloned().or_else(|| {
        request
            .uri()
            .authority()
            .and_then(|authority| HeaderValue::from_str(authority.as_str()).ok())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        headers
    }

    #[test]
    fn hop_by_hop_headers_and_those_named_in_connection_are_removed() {
        let mut headers = map(&[
            ("connection", "keep-alive, X-Secret-Hop"),
            ("x-secret-hop", "1"),
            ("keep-alive", "timeout=5"),
            ("transfer-encoding", "chunked"),
            ("te", "trailers"),
            ("x-kept", "yes"),
        ]);
        remove_hop_by_hop(&mut headers);
        assert_eq!(headers.len(), 1);
        assert_eq!(headers["x-kept"], "yes");
    }

    #[test]
    fn identity_headers_are_stripped_in_any_case_and_with_underscores() {
        let mut headers = map(&[
            ("Remote-User", "mallory"),
            ("REMOTE_USER", "mallory"),
            ("remote-groups", "admins"),
            ("Remote_Email", "m@example.com"),
            ("remote-username", "kept"),
        ]);
        let names = [
            HeaderName::from_static("remote-user"),
            HeaderName::from_static("remote-email"),
            HeaderName::from_static("remote-groups"),
            HeaderName::from_static("remote-name"),
        ];
        strip_identity(&mut headers, &names.iter().collect::<Vec<_>>());
        assert_eq!(headers.len(), 1);
        assert!(headers.contains_key("remote-username"));
    }

    #[test]
    fn only_doormans_cookies_are_removed_from_the_cookie_header() {
        let mut headers = map(&[
            ("cookie", "app=1; doorman_session=abc"),
            ("cookie", "doorman_session_csrf=x; theme=dark"),
        ]);
        strip_cookies(&mut headers, &["doorman_session", "doorman_session_csrf"]);
        assert_eq!(headers["cookie"], "app=1; theme=dark");
    }

    #[test]
    fn several_cookie_lines_are_joined_into_one() {
        let mut headers = map(&[("cookie", "app=1"), ("cookie", "theme=dark")]);
        strip_cookies(&mut headers, &["doorman_session"]);
        assert_eq!(headers.get_all("cookie").iter().count(), 1);
        assert_eq!(headers["cookie"], "app=1; theme=dark");
    }

    #[test]
    fn a_cookie_header_of_only_doormans_cookies_disappears() {
        let mut headers = map(&[("cookie", "doorman_session=abc")]);
        strip_cookies(&mut headers, &["doorman_session"]);
        assert!(!headers.contains_key("cookie"));
    }

    #[test]
    fn several_x_forwarded_for_lines_are_kept_as_one_list() {
        let mut headers = map(&[
            ("x-forwarded-for", "203.0.113.9"),
            ("x-forwarded-for", "198.51.100.7"),
        ]);
        set_forwarded(
            &mut headers,
            "127.0.0.1".parse().unwrap(),
            false,
            None,
            true,
        );
        assert_eq!(
            headers["x-forwarded-for"],
            "203.0.113.9, 198.51.100.7, 127.0.0.1"
        );
    }

    #[test]
    fn an_untrusted_peers_chain_is_replaced() {
        let mut headers = map(&[("x-forwarded-for", "203.0.113.9")]);
        set_forwarded(
            &mut headers,
            "192.0.2.1".parse().unwrap(),
            false,
            None,
            false,
        );
        assert_eq!(headers["x-forwarded-for"], "192.0.2.1");
    }

    #[test]
    fn x_forwarded_for_is_appended_to() {
        let mut headers = map(&[
            ("x-forwarded-for", "203.0.113.9"),
            ("x-forwarded-proto", "https"),
        ]);
        set_forwarded(
            &mut headers,
            "127.0.0.1".parse().unwrap(),
            false,
            Some(&HeaderValue::from_static("app")),
            true,
        );
        assert_eq!(headers["x-forwarded-for"], "203.0.113.9, 127.0.0.1");
        assert_eq!(headers["x-forwarded-proto"], "http");
        assert_eq!(headers["x-forwarded-host"], "app");
    }

    #[test]
    fn an_upgrade_needs_connection_upgrade_and_an_upgrade_header() {
        assert!(upgrade_protocol(&map(&[
            ("connection", "keep-alive, Upgrade"),
            ("upgrade", "websocket")
        ]))
        .is_some());
        assert!(upgrade_protocol(&map(&[("upgrade", "websocket")])).is_none());
        assert!(upgrade_protocol(&map(&[("connection", "upgrade")])).is_none());
    }
}
