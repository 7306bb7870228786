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

use crate::session::cookie_pairs;
use http::header::{HeaderName, CONNECTION, COOKIE, HOST, UPGRADE};
use http::{HeaderMap, HeaderValue};
use std::net::IpAddr;

/// Always hop-by-hop (RFC 9110 §7.6.1), besides whatever `Connection` lists:
/// `Connection` itself, then the fixed set.
const ALWAYS_HOP_BY_HOP: [&str; 9] = [
    "connection",
    "te",
    "trailer",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "transfer-encoding",
    "upgrade",
];

/// The fixed set of [`ALWAYS_HOP_BY_HOP`] as names.
static HOP_BY_HOP: [HeaderName; 8] = {
    let names = ALWAYS_HOP_BY_HOP;
    [
        HeaderName::from_static(names[1]),
        HeaderName::from_static(names[2]),
        HeaderName::from_static(names[3]),
        HeaderName::from_static(names[4]),
        HeaderName::from_static(names[5]),
        HeaderName::from_static(names[6]),
        HeaderName::from_static(names[7]),
        HeaderName::from_static(names[8]),
    ]
};

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
const ALWAYS_OWNED: &[&str] = &["host", "cookie", "forwarded", "x-request-id"];

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

/// A name's first byte as a bit, as app servers fold it: one per letter
/// (either case), one for digits, one for everything else (`_`).
fn first_class(byte: u8) -> u32 {
    match byte.to_ascii_lowercase() {
        letter @ b'a'..=b'z' => 1 << (letter - b'a'),
        b'0'..=b'9' => 1 << 26,
        _ => 1 << 27,
    }
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

/// Whether a header name folds to `x_forwarded_…`: one of doorman's own.
fn is_x_forwarded(name: &[u8]) -> bool {
    name.len() >= 12 && folds_to(&name[..12], b"x_forwarded_")
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
    /// For each length `n` below [`SHORTEST_OTHER`], the first bytes (as
    /// [`first_class`] sorts them) of every name of `n` bytes that
    /// [`ClientHeaders::clean_request`] may remove: a name whose length and
    /// first byte match none is kept with one look.
    short_names: [u32; SHORTEST_OTHER],
}

/// The shortest names [`ClientHeaders::clean_request`] removes besides the
/// ones in `short_names`: `x_request_id` and every `x_forwarded_…`.
const SHORTEST_OTHER: usize = 12;

impl ClientHeaders {
    /// `identity`: the configured identity header names; `passed`: the
    /// headers of [`ROUTING_HEADERS`] (or `X-Forwarded-*` extras, or
    /// `Forwarded`) the app needs from its clients.
    pub fn new(identity: &[&HeaderName], passed: Vec<HeaderName>) -> ClientHeaders {
        // All of them: a look-alike of a passed header is still removed.
        let routing: Vec<Vec<u8>> = ROUTING_HEADERS
            .iter()
            .map(|name| fold_name(name.as_bytes()))
            .collect();
        let identity: Vec<Vec<u8>> = identity
            .iter()
            .map(|name| fold_name(name.as_str().as_bytes()))
            .collect();
        let mut short_names = [0; SHORTEST_OTHER];
        let removed = identity.iter().chain(&routing).map(Vec::as_slice);
        let removed = removed.chain([&b"forwarded"[..]]);
        for name in removed.chain(ALWAYS_HOP_BY_HOP.map(str::as_bytes)) {
            if let (Some(names), Some(&first)) = (short_names.get_mut(name.len()), name.first()) {
                *names |= first_class(first);
            }
        }
        ClientHeaders {
            identity,
            routing,
            passed,
            short_names,
        }
    }

    /// Whether doorman sets `name` itself, so no client or `Connection`
    /// token may remove or replace it.
    fn owns(&self, name: &HeaderName) -> bool {
        let bytes = name.as_str().as_bytes();
        ALWAYS_OWNED.contains(&name.as_str())
            || self.identity.iter().any(|folded| folds_to(bytes, folded))
            || is_x_forwarded(bytes)
    }

    /// Whether a client's header called `name` must not reach the app.
    fn strips(&self, name: &HeaderName) -> bool {
        let text = name.as_str();
        let bytes = text.as_bytes();
        if self.identity.iter().any(|folded| folds_to(bytes, folded)) {
            return true;
        }
        // doorman put the one `X-Request-Id` there (`request_id::assign`);
        // any look-alike (`X_Request_Id`, `x.request.id`) is a client's copy
        // that an app server would read as the same header.
        if folds_to(bytes, b"x_request_id") {
            return text != "x-request-id";
        }
        // Kept as sent only under their exact names: `set_forwarded`
        // decides whether the sender is believed.
        if text == "x-forwarded-for" || text == "x-forwarded-proto" {
            return false;
        }
        if self.passed.iter().any(|kept| kept == name) {
            return false;
        }
        is_x_forwarded(bytes)
            || folds_to(bytes, b"forwarded")
            || self.routing.iter().any(|folded| folds_to(bytes, folded))
    }

    /// Whether `name` (as sent, `Connection` listing nothing) is surely
    /// kept: shorter than every name looked at in full, and of a length and
    /// first byte no removed name (folded) has.
    fn plainly_kept(&self, name: &[u8]) -> bool {
        match (self.short_names.get(name.len()), name.first()) {
            (Some(names), Some(&first)) => names & first_class(first) == 0,
            _ => false,
        }
    }

    /// Readies a client's request headers for the app: hop-by-hop headers
    /// removed (but never one doorman owns, whatever `Connection` lists),
    /// then every header doorman owns or apps route by, as the client sent
    /// it. Doorman's own values are set after this.
    pub fn clean_request(&self, headers: &mut HeaderMap) {
        remove_where(headers, |name, listed| {
            if listed.is_empty() && self.plainly_kept(name.as_str().as_bytes()) {
                return false;
            }
            always_hop_by_hop(name)
                || (listed.contains(name) && !self.owns(name))
                || self.strips(name)
        });
    }
}

/// Removes `Connection`, every header it names, and the fixed hop-by-hop set.
pub fn remove_hop_by_hop(headers: &mut HeaderMap) {
    remove_where(headers, is_hop_by_hop);
}

/// Whether `name` is hop-by-hop: `Connection` itself, one of the fixed set,
/// or one `Connection` lists (`listed`).
fn is_hop_by_hop(name: &HeaderName, listed: &[HeaderName]) -> bool {
    always_hop_by_hop(name) || listed.contains(name)
}

/// `Connection` and the fixed set, whatever `Connection` lists.
fn always_hop_by_hop(name: &HeaderName) -> bool {
    name == CONNECTION || HOP_BY_HOP.contains(name)
}

/// Removes every header `doomed` picks, given the names `Connection` lists,
/// in one pass over the names: nothing is removed, looked up or allocated
/// when nothing is picked (the common case).
fn remove_where(headers: &mut HeaderMap, doomed: impl Fn(&HeaderName, &[HeaderName]) -> bool) {
    let listed = connection_listed(
        headers
            .get_all(CONNECTION)
            .iter()
            .map(HeaderValue::as_bytes),
    );
    let picked: Vec<HeaderName> = headers
        .keys()
        .filter(|name| doomed(name, &listed))
        .cloned()
        .collect();
    for name in picked {
        headers.remove(name);
    }
}

/// The header names `Connection` values list, beyond the fixed set.
pub fn connection_listed<'a>(values: impl Iterator<Item = &'a [u8]>) -> Vec<HeaderName> {
    values
        // As `HeaderValue::to_str` reads them: visible ASCII (and tabs) only.
        .filter(|value| {
            value
                .iter()
                .all(|&byte| byte == b'\t' || (32..127).contains(&byte))
        })
        .filter_map(|value| std::str::from_utf8(value).ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        // `keep-alive` (nearly every HTTP/1.1 response says it) is gone
        // anyway: no name to build for it.
        .filter(|token| {
            !HOP_BY_HOP
                .iter()
                .any(|name| token.eq_ignore_ascii_case(name.as_str()))
        })
        .filter_map(|token| HeaderName::from_bytes(token.as_bytes()).ok())
        .collect()
}

/// [`remove_hop_by_hop`]'s rule for one field of a head read as bytes
/// (the HTTP/1 lane's): `listed` from [`connection_listed`]. httparse has
/// read `name` as a token, the same bytes a [`HeaderName`] takes, so the
/// rule is compared byte for byte (letter case ignored) without building
/// one: a name hyper would not pass on is never passed on here either.
pub fn is_hop_by_hop_field(name: &[u8], listed: &[HeaderName]) -> bool {
    let is = |known: &str| name.eq_ignore_ascii_case(known.as_bytes());
    ALWAYS_HOP_BY_HOP.into_iter().any(is) || listed.iter().map(HeaderName::as_str).any(is)
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
    let own = |pair: &[u8]| {
        let name = memchr::memchr(b'=', pair).map_or(pair, |at| &pair[..at]);
        names.iter().any(|own| name.trim_ascii() == own.as_bytes())
    };
    // One lookup of the name for reading, rewriting and removing.
    let http::header::Entry::Occupied(mut lines) = headers.entry(COOKIE) else {
        return;
    };
    let mut each = lines.iter();
    if let (Some(line), None) = (each.next(), each.next()) {
        if !cookie_pairs(line.as_bytes()).any(own) {
            return;
        }
    }
    let mut joined = Vec::new();
    for pair in lines.iter().flat_map(|line| cookie_pairs(line.as_bytes())) {
        if !own(pair) {
            if !joined.is_empty() {
                joined.extend_from_slice(b"; ");
            }
            joined.extend_from_slice(pair);
        }
    }
    match HeaderValue::from_bytes(&joined) {
        // In place of every line the client sent.
        Ok(value) if !joined.is_empty() => {
            lines.insert(value);
        }
        _ => {
            lines.remove_entry_mult();
        }
    }
}

/// The `X-Forwarded-*` values doorman sends, each in place of whatever the
/// client sent under that name; `None`: the header goes without one.
pub struct Forwarded {
    pub r#for: Option<HeaderValue>,
    pub proto: HeaderValue,
    pub host: Option<HeaderValue>,
}

/// The peer appended to `X-Forwarded-For`, and `-Proto` and `-Host`, from
/// the request's `headers` (cleaned, not yet readied).
/// What the client sent is kept only from a trusted proxy (`trusted`):
/// its chain, and the scheme it says the client used; anyone else's claims
/// are dropped, so the upstream never believes a spoofed address or scheme.
pub fn forwarded(
    headers: &HeaderMap,
    peer: IpAddr,
    tls: bool,
    host: Option<&HeaderValue>,
    trusted: bool,
) -> Forwarded {
    let chain = trusted
        .then(|| {
            // Several X-Forwarded-For lines are one list (RFC 9110 §5.3).
            let mut chain = String::new();
            for line in headers
                .get_all(&X_FORWARDED_FOR)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|line| !line.is_empty())
            {
                chain.push_str(line);
                chain.push_str(", ");
            }
            chain
        })
        .filter(|chain| !chain.is_empty());
    let r#for = match chain {
        Some(chain) => HeaderValue::from_str(&format!("{chain}{peer}")).ok(),
        None => Some(peer_value(peer)),
    };
    let https = tls || (trusted && forwarded_https(headers));
    Forwarded {
        r#for,
        proto: HeaderValue::from_static(if https { "https" } else { "http" }),
        host: host.cloned(),
    }
}

impl Forwarded {
    pub fn apply(self, headers: &mut HeaderMap) {
        for (name, value) in [
            (&X_FORWARDED_FOR, self.r#for),
            (&X_FORWARDED_PROTO, Some(self.proto)),
            (&X_FORWARDED_HOST, self.host),
        ] {
            match value {
                Some(value) => headers.insert(name.clone(), value),
                None => headers.remove(name),
            };
        }
    }

    /// Each header with a value, as [`Forwarded::apply`] sets it.
    pub fn pairs(&self) -> impl Iterator<Item = (&HeaderName, &HeaderValue)> {
        [
            (&X_FORWARDED_FOR, self.r#for.as_ref()),
            (&X_FORWARDED_PROTO, Some(&self.proto)),
            (&X_FORWARDED_HOST, self.host.as_ref()),
        ]
        .into_iter()
        .filter_map(|(name, value)| Some((name, value?)))
    }
}

/// Whether doorman sets the header `name` on every request it forwards
/// (`Host`, `X-Request-Id`, the `X-Forwarded-*` it writes, the identity
/// headers `identity`), so a client's copy never goes out beside it.
pub fn set_by_doorman(name: &HeaderName, identity: &[&HeaderName; 4]) -> bool {
    name == HOST
        || name == crate::request_id::X_REQUEST_ID
        || name == X_FORWARDED_FOR
        || name == X_FORWARDED_PROTO
        || name == X_FORWARDED_HOST
        || identity.contains(&name)
}

/// `peer` as a header value, remembered per thread for the last peer (a
/// keep-alive connection, or one front proxy, asks again and again).
fn peer_value(peer: IpAddr) -> HeaderValue {
    thread_local! {
        static LAST: std::cell::RefCell<Option<(IpAddr, HeaderValue)>> =
            const { std::cell::RefCell::new(None) };
    }
    LAST.with_borrow_mut(|last| match last {
        Some((known, value)) if *known == peer => value.clone(),
        _ => {
            let value = HeaderValue::from_str(&peer.to_string())
                .unwrap_or_else(|_| HeaderValue::from_static("unknown"));
            *last = Some((peer, value.clone()));
            value
        }
    })
}

/// Removes every `Authorization` that carries a doorman API token (see
/// [`crate::tokens::carries_token`]); the app's own credentials stay.
pub fn strip_token_authorization(headers: &mut HeaderMap) {
    let authorization = http::header::AUTHORIZATION;
    if !headers
        .get_all(&authorization)
        .iter()
        .any(crate::tokens::carries_token)
    {
        return;
    }
    let kept: Vec<HeaderValue> = headers
        .get_all(&authorization)
        .iter()
        .filter(|value| !crate::tokens::carries_token(value))
        .cloned()
        .collect();
    headers.remove(&authorization);
    for value in kept {
        headers.append(&authorization, value);
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
pub fn host_of(uri: &http::Uri, headers: &HeaderMap) -> Option<HeaderValue> {
    headers.get(HOST).cloned().or_else(|| {
        uri.authority()
            .and_then(|authority| HeaderValue::from_str(authority.as_str()).ok())
    })
}

#[cfg(test)]
mod tests;
