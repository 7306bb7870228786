//! Header rewrites as small pure functions, and the one list of headers
//! doorman owns.
//!
//! A client never speaks for doorman: before a request is forwarded, every
//! header doorman sets (identity, `X-Forwarded-*`) and every header apps
//! believe for routing or for the client's address (`X-Original-URL`,
//! `X-Real-IP`, method overrides, ...) is removed from what the client sent —
//! matched the way app servers fold names (CGI, WSGI, PHP, Rack: letter case
//! ignored, any character that is not a letter or digit read as `_`), so
//! `Remote.User` and `REMOTE_USER` are both `Remote-User`. Hop-by-hop headers
//! go first, and a `Connection` token can never remove a header doorman owns.

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

/// Headers apps believe for routing, the method, or the client's address,
/// removed from client requests unless `forwarding.pass_headers` names one.
/// Every `X-Forwarded-*` and `Forwarded` is removed as well (doorman owns
/// them); these are the others.
pub const ROUTING_HEADERS: &[&str] = &[
    "x-original-url",
    "x-original-uri",
    "x-original-method",
    "x-original-host",
    "x-rewrite-url",
    "x-http-method-override",
    "x-http-method",
    "x-method-override",
    "x-real-ip",
    "true-client-ip",
    "x-client-ip",
    "cf-connecting-ip",
    "fastly-client-ip",
    "x-cluster-client-ip",
    "x-host",
    "x-url-scheme",
    "front-end-https",
];

/// The names doorman sets on every forwarded request; a client's
/// `Connection` header may never remove them.
const ALWAYS_OWNED: &[&str] = &["host", "cookie", "forwarded"];

/// A header name as app servers see it: ASCII letters lower-cased, every
/// other byte that is not a letter or digit as `_`.
pub fn fold_name(name: &[u8]) -> Vec<u8> {
    name.iter()
        .map(|&byte| match byte {
            b'A'..=b'Z' => byte.to_ascii_lowercase(),
            b'a'..=b'z' | b'0'..=b'9' => byte,
            _ => b'_',
        })
        .collect()
}

/// Whether `name` folds to `folded` (already folded), without allocating.
fn folds_to(name: &[u8], folded: &[u8]) -> bool {
    name.len() == folded.len()
        && name.iter().zip(folded).all(|(&byte, &want)| {
            let byte = match byte {
                b'A'..=b'Z' => byte.to_ascii_lowercase(),
                b'a'..=b'z' | b'0'..=b'9' => byte,
                _ => b'_',
            };
            byte == want
        })
}

/// Which client headers doorman removes, built once from the config.
#[derive(Debug, Clone)]
pub struct ClientHeaders {
    /// Folded identity header names: every look-alike is removed.
    identity: Vec<Vec<u8>>,
    /// Folded routing and client-address names.
    routing: Vec<Vec<u8>>,
    /// Exact (lower-case) names the config lets through.
    passed: Vec<HeaderName>,
}

impl ClientHeaders {
    /// `identity`: the configured identity header names; `passed`: the
    /// headers of [`ROUTING_HEADERS`] (or `X-Forwarded-*` extras, or
    /// `Forwarded`) the app needs from its clients.
    pub fn new(identity: &[&HeaderName], passed: Vec<HeaderName>) -> ClientHeaders {
        // All of them: a look-alike of a passed header is still removed.
        let routing = ROUTING_HEADERS
            .iter()
            .map(|name| fold_name(name.as_bytes()))
            .collect();
        ClientHeaders {
            identity: identity
                .iter()
                .map(|name| fold_name(name.as_str().as_bytes()))
                .collect(),
            routing,
            passed,
        }
    }

    /// Whether doorman sets `name` itself, so no client or `Connection`
    /// token may remove or replace it.
    fn owns(&self, name: &HeaderName) -> bool {
        let bytes = name.as_str().as_bytes();
        ALWAYS_OWNED.contains(&name.as_str())
            || self.identity.iter().any(|folded| folds_to(bytes, folded))
            || fold_name(bytes).starts_with(b"x_forwarded_")
    }

    /// Whether a client's header called `name` must not reach the app.
    fn strips(&self, name: &HeaderName) -> bool {
        let text = name.as_str();
        let bytes = text.as_bytes();
        if self.identity.iter().any(|folded| folds_to(bytes, folded)) {
            return true;
        }
        // Kept as sent only under their exact names: `set_forwarded`
        // decides whether the sender is believed.
        if text == "x-forwarded-for" || text == "x-forwarded-proto" {
            return false;
        }
        if self.passed.iter().any(|kept| kept == name) {
            return false;
        }
        let folded_prefix = bytes.len() >= 12 && folds_to(&bytes[..12], b"x_forwarded_");
        folded_prefix
            || folds_to(bytes, b"forwarded")
            || self.routing.iter().any(|folded| folds_to(bytes, folded))
    }

    /// Readies a client's request headers for the app: hop-by-hop headers
    /// removed (but never one doorman owns, whatever `Connection` lists),
    /// then every header doorman owns or apps route by, as the client sent
    /// it. Doorman's own values are set after this.
    pub fn clean_request(&self, headers: &mut HeaderMap) {
        remove_hop_by_hop_except(headers, |name| self.owns(name));
        let stripped: Vec<HeaderName> = headers
            .keys()
            .filter(|name| self.strips(name))
            .cloned()
            .collect();
        for name in stripped {
            headers.remove(name);
        }
    }
}

/// Removes `Connection`, every header it names, and the fixed hop-by-hop set.
pub fn remove_hop_by_hop(headers: &mut HeaderMap) {
    remove_hop_by_hop_except(headers, |_| false);
}

/// As [`remove_hop_by_hop`], but a name `Connection` lists is kept when
/// `protected` says so.
fn remove_hop_by_hop_except(headers: &mut HeaderMap, protected: impl Fn(&HeaderName) -> bool) {
    if headers.contains_key(CONNECTION) {
        let named: Vec<HeaderName> = headers
            .get_all(CONNECTION)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
            .filter(|name| !protected(name))
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

/// The upgrade to tunnel: the protocol asked for when it is one of
/// `allowed` (by name, letter case ignored; a list such as `websocket, h2c`
/// is never one protocol). Anything else is forwarded as a plain request.
pub fn allowed_upgrade(headers: &HeaderMap, allowed: &[String]) -> Option<HeaderValue> {
    let protocol = upgrade_protocol(headers)?;
    let text = protocol.to_str().ok()?.trim();
    let name = text.split('/').next().unwrap_or(text);
    allowed
        .iter()
        .any(|allowed| allowed.eq_ignore_ascii_case(name) && !text.contains(','))
        .then_some(protocol)
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
/// What the client sent is kept only from a trusted proxy (`trusted`):
/// its chain, and the scheme it says the client used; anyone else's claims
/// are dropped, so the upstream never believes a spoofed address or scheme.
pub fn set_forwarded(
    headers: &mut HeaderMap,
    peer: IpAddr,
    tls: bool,
    host: Option<&HeaderValue>,
    trusted: bool,
) {
    let peer = peer.to_string();
    // Several X-Forwarded-For lines are one list (RFC 9110 §5.3).
    let mut chain = String::new();
    if !trusted {
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
    let https = tls || (trusted && forwarded_https(headers));
    headers.insert(
        X_FORWARDED_PROTO.clone(),
        HeaderValue::from_static(if https { "https" } else { "http" }),
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

/// Whether `X-Forwarded-Proto` says `https`: the first (client-facing)
/// value of the first line. Believe it only from a trusted proxy.
pub fn forwarded_https(headers: &HeaderMap) -> bool {
    headers
        .get(&X_FORWARDED_PROTO)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(',').next())
        .is_some_and(|scheme| scheme.trim().eq_ignore_ascii_case("https"))
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
        ClientHeaders::new(&names.iter().collect::<Vec<_>>(), Vec::new())
            .clean_request(&mut headers);
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
        assert_eq!(headers["x-forwarded-host"], "app");
    }

    #[test]
    fn a_trusted_proxys_https_is_kept_and_anyone_elses_scheme_is_replaced() {
        for (sent, trusted, tls, expected) in [
            ("https", true, false, "https"),
            ("HTTPS, http", true, false, "https"),
            ("http", true, false, "http"),
            ("https", false, false, "http"),
            ("gopher", true, false, "http"),
            ("http", false, true, "https"),
            ("http", true, true, "https"),
        ] {
            let mut headers = map(&[("x-forwarded-proto", sent)]);
            set_forwarded(
                &mut headers,
                "10.0.0.1".parse().unwrap(),
                tls,
                None,
                trusted,
            );
            assert_eq!(
                headers["x-forwarded-proto"], expected,
                "{sent} {trusted} {tls}"
            );
            assert_eq!(headers.get_all("x-forwarded-proto").iter().count(), 1);
        }
    }

    fn identity() -> [HeaderName; 4] {
        [
            HeaderName::from_static("remote-user"),
            HeaderName::from_static("remote-email"),
            HeaderName::from_static("remote-groups"),
            HeaderName::from_static("remote-name"),
        ]
    }

    fn cleaned(pairs: &[(&str, &str)], passed: &[&str]) -> HeaderMap {
        let identity = identity();
        let passed = passed
            .iter()
            .map(|name| HeaderName::from_bytes(name.as_bytes()).unwrap())
            .collect();
        let mut headers = map(pairs);
        ClientHeaders::new(&identity.iter().collect::<Vec<_>>(), passed)
            .clean_request(&mut headers);
        headers
    }

    #[test]
    fn every_name_an_app_server_folds_into_an_identity_header_is_removed() {
        for name in [
            "Remote-User",
            "remote_user",
            "REMOTE.USER",
            "Remote~User",
            "remote+user",
            "Remote!User",
            "remote'user",
            "Remote|Groups",
            "remote.email",
            "REMOTE_NAME",
            "remote`name",
            "Remote*Groups",
            "remote#user",
            "remote$user",
            "remote^user",
        ] {
            let headers = cleaned(&[(name, "mallory"), ("x-kept", "1")], &[]);
            assert!(!headers.contains_key(name), "{name}");
            assert_eq!(headers.len(), 1, "{name}");
        }
        // Only names that fold to one: these are other headers.
        let headers = cleaned(
            &[
                ("remote-username", "1"),
                ("remoteuser", "1"),
                ("x-remote-user", "1"),
            ],
            &[],
        );
        assert_eq!(headers.len(), 3);
    }

    #[test]
    fn connection_never_removes_a_header_doorman_owns() {
        let headers = cleaned(
            &[
                (
                    "connection",
                    "Remote-User, remote_groups, Cookie, Host, X-Forwarded-For, X-Forwarded-Proto, \
                     Forwarded, X-Forwarded-Host, x-app-hop",
                ),
                ("cookie", "app=1"),
                ("host", "app.example.com"),
                ("x-forwarded-for", "203.0.113.9"),
                ("x-forwarded-proto", "https"),
                ("x-app-hop", "1"),
            ],
            &[],
        );
        assert_eq!(headers["cookie"], "app=1");
        assert_eq!(headers["host"], "app.example.com");
        // Kept for set_forwarded, which believes them only from a trusted proxy.
        assert!(headers.contains_key("x-forwarded-for"));
        assert!(headers.contains_key("x-forwarded-proto"));
        // A header that is the client's own to drop still goes.
        assert!(!headers.contains_key("x-app-hop"));
        assert!(!headers.contains_key("connection"));
    }

    #[test]
    fn routing_and_client_address_headers_are_removed_unless_passed() {
        let sent: Vec<(&str, &str)> = ROUTING_HEADERS
            .iter()
            .map(|name| (*name, "/admin"))
            .chain([
                ("forwarded", "for=1.2.3.4;proto=https"),
                ("x-forwarded-prefix", "/admin"),
                ("x-forwarded-port", "443"),
                ("x-forwarded-server", "x"),
                ("x-forwarded-scheme", "https"),
                ("x-forwarded-ssl", "on"),
                ("X_Forwarded_For", "1.2.3.4"),
                ("x.forwarded.proto", "https"),
                ("X-Original_URL", "/admin"),
                ("x_real_ip", "1.2.3.4"),
                ("x-kept", "1"),
            ])
            .collect();
        let headers = cleaned(&sent, &[]);
        assert_eq!(
            headers.keys().map(HeaderName::as_str).collect::<Vec<_>>(),
            ["x-kept"]
        );
        // Passed by name only: look-alikes of a passed header still go.
        let headers = cleaned(
            &[
                ("x-real-ip", "1.2.3.4"),
                ("x_real_ip", "6.6.6.6"),
                ("x-forwarded-prefix", "/app"),
            ],
            &["x-real-ip", "x-forwarded-prefix"],
        );
        assert_eq!(headers.len(), 2);
        assert_eq!(headers["x-real-ip"], "1.2.3.4");
    }

    #[test]
    fn only_an_allowed_protocol_is_an_upgrade_and_never_h2c() {
        let allowed = ["websocket".to_owned()];
        let ask = |protocol: &str| {
            allowed_upgrade(
                &map(&[("connection", "Upgrade"), ("upgrade", protocol)]),
                &allowed,
            )
        };
        assert!(ask("websocket").is_some());
        assert!(ask("WebSocket").is_some());
        for refused in [
            "h2c",
            "H2C",
            "websocket, h2c",
            "h2c, websocket",
            "tls/1.2",
            "foo",
        ] {
            assert!(ask(refused).is_none(), "{refused}");
        }
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
