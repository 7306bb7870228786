//! `GET {prefix}/auth` for nginx `auth_request`, Traefik ForwardAuth and
//! Caddy `forward_auth`: the gate's decision for the request the front
//! proxy is holding, as 200 with identity headers, or 401 / 302 to sign in.
//!
//! The request a front proxy asks about is an app request: nothing in it is
//! doorman's own page, whatever its path says. The proxy describes it with
//! exactly one set of headers, each of which it sets itself (so a client's
//! copy is overwritten): `X-Original-Method` and `X-Original-URL` (nginx, as
//! the README's example sets them), or `X-Forwarded-Method` and
//! `X-Forwarded-Uri`, with `-Proto` and `-Host` (Traefik, Caddy). A request
//! carrying both sets, or half of one, is refused: one of them came from the
//! client. Those headers are believed only from `trusted_proxies`; from
//! anyone else the answer rests on the session alone (no public rules, no
//! `rd`), and only while no rule could refuse a signed-in user.

use super::{empty, redirect, respond, security_headers, Reply, JSON, SECURITY_HEADERS};
use crate::gate::{self, Decision};
use crate::proxy::headers::{X_FORWARDED_HOST, X_FORWARDED_PROTO};
use crate::request::{audit_stop, Stop, Stopped};
use crate::tokens::check::Bearer;
use crate::App;
use http::header::{LOCATION, SET_COOKIE};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use std::borrow::Cow;
use std::net::{IpAddr, SocketAddr};

// The headers a front proxy describes the original request with, as
// names, so that looking one up parses nothing.
static ORIGINAL_URL: HeaderName = HeaderName::from_static("x-original-url");
static ORIGINAL_METHOD: HeaderName = HeaderName::from_static("x-original-method");
static FORWARDED_URI: HeaderName = HeaderName::from_static("x-forwarded-uri");
static FORWARDED_METHOD: HeaderName = HeaderName::from_static("x-forwarded-method");
static REWRITE_URL: HeaderName = HeaderName::from_static("x-rewrite-url");

/// The request the front proxy is deciding about.
/// Read from the question's headers, in place where it can be.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Original<'h> {
    method: Method,
    /// Path only, as the gate matches it.
    path: &'h str,
    /// Where to come back to after sign-in: absolute when the proxy said
    /// which host and scheme, else the path and query.
    url: Cow<'h, str>,
    /// `url` read as a URI, once (`None`: it is not one).
    uri: Option<http::Uri>,
}

impl Original<'_> {
    /// The normalised host the front proxy named, when it named one.
    fn host(&self) -> Option<Cow<'_, str>> {
        crate::sites::host_of_uri(self.uri.as_ref()?)
    }
}

/// `token`: the doorman token the request brought, checked.
pub fn check(
    app: &App,
    token: Option<&Bearer>,
    headers: &HeaderMap,
    peer: SocketAddr,
    now: u64,
    tls: bool,
) -> Reply {
    // nginx's auth_request cannot pass a redirect on; it turns a 401 into
    // the login redirect itself (`error_page 401 =302 $doorman_login`).
    let nginx = headers.contains_key(&ORIGINAL_URL);
    let original = if app.trusts_proxy(peer.ip()) {
        original(headers)
    } else {
        if headers.contains_key(&FORWARDED_URI) || headers.contains_key(&ORIGINAL_URL) {
            warn_untrusted(peer);
        }
        Ok(None)
    };
    let client = app.client_ip(peer.ip(), headers);
    let (original, decision) = match original {
        Ok(Some(original)) => {
            let decision = decide(app, token, &original, headers, client, now, tls);
            (Some(original), decision)
        }
        // Without the original request there is no host to pick an app by.
        Ok(None)
            if app.sites.load().by_host() || app.sites.load().can_refuse_a_signed_in_user() =>
        {
            warn_unjudged(peer);
            let rule = "forward-auth without the original request, while rules restrict access";
            (None, unjudged(rule))
        }
        Ok(None) => (None, session_only(app, headers, now, tls)),
        Err(problem) => {
            tracing::warn!(%peer, problem, "forward-auth: cannot tell which request to judge");
            (None, unjudged(problem))
        }
    };
    let rd = original.as_ref().map_or("", |original| &original.url);
    let path = original.as_ref().map(|original| original.path);
    let stopped = |why, rule: &str, user: Option<&str>| {
        let stop = Stop::new(why, rule, user, client, path, headers);
        audit_stop(app, now, &stop.asked_by_front_proxy());
    };
    let mut reply = match decision {
        // `Pages` cannot come back (`own_pages: false`); it shares the arm
        // only so the match stays exhaustive.
        // A 200 has no body: `auth_request` reads only the head, and nginx
        // keeps its connection to doorman only when no body is left unread.
        Decision::Pages | Decision::Public => granted(app),
        Decision::PassToken { user, .. } => {
            let mut reply = granted(app);
            user.headers.insert_into(&app.identity, reply.headers_mut());
            reply
        }
        Decision::Pass {
            user,
            refreshed_cookie,
            ..
        } => {
            let mut reply = granted(app);
            user.headers.insert_into(&app.identity, reply.headers_mut());
            // The front proxy passes this on (see the README), so the idle
            // window slides in forward-auth mode as it does when proxying.
            if let Some(cookie) = refreshed_cookie {
                reply.headers_mut().append(SET_COOKIE, cookie);
            }
            reply
        }
        Decision::Denied { rule, user } => {
            let user = user.as_ref().map(|user| user.name.as_str());
            let stop = Stop::new(Stopped::Denied, &rule, user, client, path, headers);
            let stop = stop.asked_by_front_proxy();
            audit_stop(app, now, &stop);
            respond(
                StatusCode::FORBIDDEN,
                JSON,
                r#"{"error":"forbidden","message":"Access denied."}"#,
            )
        }
        Decision::StepUp { rule, user } => {
            stopped(Stopped::StepUp, &rule, Some(&user.name));
            let method = original.as_ref().map_or(Method::GET, |o| o.method.clone());
            let page = sign_in_url(app, "2fa", rd);
            if gate::is_browser_navigation(&method, headers) && !nginx {
                redirect(StatusCode::FOUND, &page)
            } else {
                refusal(app, nginx, rd, page, "step_up_required")
            }
        }
        Decision::UnknownHost => {
            let host = original.as_ref().and_then(Original::host);
            super::refusals::unknown_host_for_front_proxy(host.as_deref(), client)
        }
        Decision::Login if !nginx => redirect(StatusCode::FOUND, &sign_in_url(app, "login", rd)),
        Decision::Login | Decision::Unauthorized => refusal(
            app,
            nginx,
            rd,
            sign_in_url(app, "login", rd),
            "unauthorized",
        ),
    };
    // Includes `Cache-Control: no-store`: an answer about one person's
    // session is never kept by a cache.
    security_headers(reply.headers_mut());
    reply
}

/// 200 with every identity header, empty, for the user's values to
/// replace: a front proxy that copies them onto the app's request (Caddy's
/// `copy_headers`, Traefik's `authResponseHeaders`) then always has one to
/// copy, and never leaves the client's copy or a placeholder of its own in
/// their place. With room for the security headers and a re-issued cookie,
/// so the map is not grown on the way.
fn granted(app: &App) -> Reply {
    let mut reply = empty(StatusCode::OK);
    let names = app.identity.all();
    let headers = reply.headers_mut();
    headers.reserve(names.len() + SECURITY_HEADERS + 1);
    for name in names {
        headers.insert(name, HeaderValue::from_static(""));
    }
    reply
}

/// A refusal for a request doorman cannot judge.
fn unjudged(reason: &str) -> Decision {
    Decision::Denied {
        rule: reason.to_owned(),
        user: None,
    }
}

/// Says once per process why forward-auth refuses everything.
fn warn_unjudged(peer: SocketAddr) {
    static WARNED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if !WARNED.swap(true, std::sync::atomic::Ordering::Relaxed) {
        tracing::warn!(
            %peer,
            "forward-auth request without a believable original request (X-Original-* or \
             X-Forwarded-Method/-Uri from a peer in trusted_proxies): refused, since deny, \
             users or groups rules could not be applied to it; check trusted_proxies and the \
             front proxy's config (see the README's forward-auth section)"
        );
    }
}

/// Says once per process that a proxy is not trusted, since access rules
/// silently not applying is the kind of mistake nobody spots otherwise.
fn warn_untrusted(peer: SocketAddr) {
    static WARNED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if !WARNED.swap(true, std::sync::atomic::Ordering::Relaxed) {
        tracing::warn!(
            %peer,
            "forward-auth request with X-Forwarded-Uri / X-Original-URL from a peer not in \
             trusted_proxies: the original request is ignored, so access rules do not apply \
             and only the session is checked; add the proxy's address to trusted_proxies"
        );
    }
}

/// 401 with where to sign in: in the JSON body, and for nginx (whose
/// `error_page 401 =302 $doorman_login` needs it) in `Location`, absolute,
/// since nginx takes a value starting with `/` as an internal redirect.
fn refusal(app: &App, nginx: bool, rd: &str, page: String, error: &str) -> Reply {
    let body = serde_json::json!({
        "error": error,
        "message": "Sign in first.",
        "login": page,
    });
    let mut reply = respond(StatusCode::UNAUTHORIZED, JSON, body.to_string());
    if nginx {
        let absolute = match (&app.public_origin, origin_of(rd)) {
            (None, Some(origin)) => format!("{origin}{page}"),
            _ => page,
        };
        if let Ok(value) = HeaderValue::from_str(&absolute) {
            reply.headers_mut().insert(LOCATION, value);
        }
    }
    reply
}

/// The gate's decision on what the front proxy reported, on the canonical
/// path as the proxy path uses it. The client's request goes to the app
/// with whatever routing headers the front proxy did not clear, so a
/// method override (`X-HTTP-Method-Override`, ...) or `X-Rewrite-URL` is
/// one more reading of it: every reading must pass, or the first one that
/// does not is the answer.
fn decide(
    app: &App,
    token: Option<&Bearer>,
    original: &Original<'_>,
    headers: &HeaderMap,
    client: IpAddr,
    now: u64,
    tls: bool,
) -> Decision {
    // The overrides and rewrites, rare: no allocation without them.
    let mut overrides = Vec::new();
    for name in &METHOD_OVERRIDES {
        for value in headers.get_all(name) {
            match Method::from_bytes(value.as_bytes()) {
                Ok(method) => overrides.push(method),
                Err(_) => return unjudged("a method override that is not a method"),
            }
        }
    }
    let host = original.host();
    let site = app.sites.load().pick(host.as_deref());
    let app_of = (site, host.as_deref(), token);
    let rewrites =
        (headers.get_all(&REWRITE_URL).iter()).map(|value| path_of(value.to_str().unwrap_or("")));
    let paths = std::iter::once(original.path).chain(rewrites);
    let mut first = None;
    for path in paths {
        for method in std::iter::once(&original.method).chain(&overrides) {
            match decide_one(app, app_of, method, path, headers, client, now, tls) {
                passed @ (Decision::Pass { .. } | Decision::Public) => {
                    first.get_or_insert(passed);
                }
                refused => return refused,
            }
        }
    }
    first.unwrap_or_else(|| unjudged("no request to judge"))
}

/// Headers an app may take the method from instead of the request line.
static METHOD_OVERRIDES: [HeaderName; 3] = [
    HeaderName::from_static("x-http-method-override"),
    HeaderName::from_static("x-http-method"),
    HeaderName::from_static("x-method-override"),
];

/// The app a request was picked for and the host it was picked by.
/// And the token the request brought, checked.
type AppOf<'a> = (Option<usize>, Option<&'a str>, Option<&'a Bearer>);

#[allow(clippy::too_many_arguments)]
fn decide_one(
    app: &App,
    (site, host, token): AppOf<'_>,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    client: IpAddr,
    now: u64,
    tls: bool,
) -> Decision {
    if path.is_empty() {
        return unjudged("not an origin-form request target");
    }
    // The app behind the front proxy gets the path as sent, and may not
    // resolve dot segments (`/admin/x/../../public` is under /admin/ to it):
    // browsers never send them, so such a request is refused unjudged.
    if crate::path::has_dot_segments(path) {
        return unjudged("dot segments in a forwarded path");
    }
    let canonical = match crate::path::normalize(path) {
        Ok(canonical) => canonical,
        Err(malformed) => return unjudged(&format!("malformed path: {}", malformed.reason())),
    };
    gate::decide(
        app,
        &gate::Request {
            method,
            path: &canonical,
            headers,
            client,
            // The front proxy sends doorman's own pages to doorman; what it
            // asks about here is on its way to the app.
            own_pages: false,
            site,
            host,
            token,
        },
        now,
        tls,
    )
}

/// Without a believable original request: signed in, or not.
fn session_only(app: &App, headers: &HeaderMap, now: u64, tls: bool) -> Decision {
    if let Some((session, user)) = gate::fully_signed_in(app, headers, now, tls) {
        return gate::pass(app, session, user, now, tls);
    }
    if gate::accepts_html(headers) {
        Decision::Login
    } else {
        Decision::Unauthorized
    }
}

/// `{public_url}{prefix}/{page}?rd=…`; relative without `public_url`,
/// which works when doorman's pages are served on the app's own host.
fn sign_in_url(app: &App, page: &str, rd: &str) -> String {
    let origin = app.public_origin.as_deref().unwrap_or("");
    let mut url = format!("{origin}{}/{page}", app.prefix);
    if !rd.is_empty() {
        url.push_str("?rd=");
        url.extend(form_urlencoded::byte_serialize(rd.as_bytes()));
    }
    url
}

/// `scheme://host[:port]` of an absolute http(s) URL.
fn origin_of(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    let valid = !authority.is_empty()
        && authority
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b));
    valid.then(|| &url[..url.len() - rest.len() + end])
}

fn header<'h>(headers: &'h HeaderMap, name: &HeaderName) -> Option<&'h str> {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .map(str::trim)
        .filter(|value| !value.is_empty())
}

/// The original request from the proxy's headers: `None` when it sent
/// neither set, an error when it sent both or only part of one (then a
/// client wrote some of them, and no reading can be trusted).
fn original(headers: &HeaderMap) -> Result<Option<Original<'_>>, &'static str> {
    // A front proxy that appends instead of overwriting leaves the client's
    // copy beside its own: with two values, no reading can be trusted.
    let repeated = [
        &ORIGINAL_URL,
        &ORIGINAL_METHOD,
        &FORWARDED_URI,
        &FORWARDED_METHOD,
        &X_FORWARDED_HOST,
        &X_FORWARDED_PROTO,
    ]
    .into_iter()
    .any(|name| headers.get_all(name).iter().nth(1).is_some());
    if repeated {
        return Err(
            "a header describing the original request was sent twice; the front \
                    proxy must overwrite the client's copy",
        );
    }
    let nginx_url = header(headers, &ORIGINAL_URL);
    let nginx_method = header(headers, &ORIGINAL_METHOD);
    let forwarded_uri = header(headers, &FORWARDED_URI);
    let forwarded_method = header(headers, &FORWARDED_METHOD);
    let nginx = nginx_url.is_some() || nginx_method.is_some();
    let forwarded = forwarded_uri.is_some() || forwarded_method.is_some();
    let (method, target, url) = match (nginx, forwarded) {
        (false, false) => return Ok(None),
        (true, true) => {
            return Err(
                "both X-Original-* and X-Forwarded-Method/-Uri were sent; the front \
                        proxy must set one set and clear the other",
            )
        }
        (true, false) => {
            let (Some(url), Some(method)) = (nginx_url, nginx_method) else {
                return Err(
                    "X-Original-URL and X-Original-Method must both be set by the \
                            front proxy",
                );
            };
            // nginx: `$scheme://$http_host$request_uri`, or just the URI.
            let target = match url.find("://") {
                Some(at) => {
                    let rest = &url[at + 3..];
                    rest.find('/').map_or("/", |slash| &rest[slash..])
                }
                None => url,
            };
            (method, target, Cow::Borrowed(url))
        }
        (false, true) => {
            let (Some(uri), Some(method)) = (forwarded_uri, forwarded_method) else {
                return Err(
                    "X-Forwarded-Uri and X-Forwarded-Method must both be set by the \
                            front proxy",
                );
            };
            let url = match (
                header(headers, &X_FORWARDED_PROTO),
                header(headers, &X_FORWARDED_HOST),
            ) {
                (Some(proto), Some(host)) if matches!(proto, "http" | "https") => {
                    Cow::Owned(format!("{proto}://{host}{uri}"))
                }
                _ => Cow::Borrowed(uri),
            };
            (method, uri, url)
        }
    };
    // As sent: the rules compare methods loosely where that is stricter.
    let method = Method::from_bytes(method.as_bytes()).map_err(|_| "not a valid method")?;
    let uri = url.parse().ok();
    Ok(Some(Original {
        method,
        path: path_of(target),
        url,
        uri,
    }))
}

/// The path of an origin-form request target, without query or fragment;
/// empty for anything else (`*`, absolute-form), which the gate never sees.
fn path_of(target: &str) -> &str {
    let path = target.split(['?', '#']).next().unwrap_or("");
    if path.starts_with('/') {
        path
    } else {
        ""
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn traefik_and_caddy_headers_give_method_path_and_an_absolute_url() {
        let asked = headers(&[
            ("x-forwarded-method", "POST"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "app.example.com"),
            ("x-forwarded-uri", "/admin/x?y=1"),
        ]);
        let found = original(&asked);
        assert_eq!(
            found,
            Ok(Some(Original {
                method: Method::POST,
                path: "/admin/x",
                url: "https://app.example.com/admin/x?y=1".into(),
                uri: Some(http::Uri::from_static(
                    "https://app.example.com/admin/x?y=1"
                )),
            }))
        );
    }

    #[test]
    fn nginx_original_url_gives_the_path_and_is_the_url() {
        let asked = headers(&[
            ("x-original-url", "http://app.local:8080/assets/a.css?v=2"),
            ("x-original-method", "HEAD"),
        ]);
        let found = original(&asked);
        assert_eq!(
            found,
            Ok(Some(Original {
                method: Method::HEAD,
                path: "/assets/a.css",
                url: "http://app.local:8080/assets/a.css?v=2".into(),
                uri: Some(http::Uri::from_static(
                    "http://app.local:8080/assets/a.css?v=2"
                )),
            }))
        );
    }

    #[test]
    fn the_host_is_the_one_the_front_proxy_named_normalised() {
        for (pairs, host) in [
            (
                &[
                    ("x-original-url", "http://App.Local:8080/x"),
                    ("x-original-method", "GET"),
                ][..],
                Some("app.local"),
            ),
            (
                &[("x-original-url", "/x"), ("x-original-method", "GET")],
                None,
            ),
            (
                &[
                    ("x-forwarded-method", "GET"),
                    ("x-forwarded-proto", "https"),
                    ("x-forwarded-host", "wiki.example.com."),
                    ("x-forwarded-uri", "/x"),
                ],
                Some("wiki.example.com"),
            ),
            (
                &[
                    ("x-forwarded-method", "GET"),
                    ("x-forwarded-host", "wiki.example.com"),
                    ("x-forwarded-uri", "/x"),
                ],
                None,
            ),
            (
                &[
                    ("x-original-url", "http://evil.com@app.local/x"),
                    ("x-original-method", "GET"),
                ],
                None,
            ),
        ] {
            let asked = headers(pairs);
            let found = original(&asked)
                .expect("readable")
                .expect("an original request");
            assert_eq!(found.host().as_deref(), host, "{pairs:?}");
        }
    }

    #[test]
    fn no_forwarded_headers_is_no_original_request() {
        assert_eq!(
            original(&headers(&[("x-forwarded-for", "192.0.2.1")])),
            Ok(None)
        );
    }

    #[test]
    fn half_a_set_of_headers_is_refused_since_the_client_wrote_the_rest() {
        for pairs in [
            &[("x-forwarded-method", "GET")][..],
            &[("x-forwarded-uri", "/assets/x")],
            &[("x-original-url", "http://app/assets/x")],
            &[("x-original-method", "GET")],
        ] {
            assert!(original(&headers(pairs)).is_err(), "{pairs:?}");
        }
    }

    #[test]
    fn both_sets_of_headers_are_refused_whichever_the_client_added() {
        for pairs in [
            // nginx's set, plus the client's own X-Forwarded-Method/-Uri.
            &[
                ("x-original-url", "http://app/admin"),
                ("x-original-method", "POST"),
                ("x-forwarded-method", "GET"),
            ][..],
            &[
                ("x-original-url", "http://app/admin"),
                ("x-original-method", "POST"),
                ("x-forwarded-uri", "/assets/x"),
            ],
            // Traefik's or Caddy's set, plus the client's X-Original-*.
            &[
                ("x-forwarded-method", "POST"),
                ("x-forwarded-uri", "/admin"),
                ("x-original-url", "/assets/x"),
            ],
            &[
                ("x-forwarded-method", "POST"),
                ("x-forwarded-uri", "/admin"),
                ("x-original-method", "GET"),
            ],
        ] {
            assert!(original(&headers(pairs)).is_err(), "{pairs:?}");
        }
    }

    #[test]
    fn a_header_of_the_set_sent_twice_is_refused() {
        for name in ["x-forwarded-uri", "x-forwarded-method", "x-forwarded-host"] {
            let mut map = headers(&[
                ("x-forwarded-method", "GET"),
                ("x-forwarded-uri", "/assets/x"),
                ("x-forwarded-host", "app"),
            ]);
            map.append(name, HeaderValue::from_static("/admin"));
            assert!(original(&map).is_err(), "{name}");
        }
    }

    #[test]
    fn the_method_is_judged_as_sent() {
        let asked = headers(&[("x-forwarded-method", "delete"), ("x-forwarded-uri", "/x")]);
        let found = original(&asked);
        assert_eq!(
            found.map(|o| o.map(|o| o.method.to_string())),
            Ok(Some("delete".into()))
        );
    }

    #[test]
    fn the_origin_of_a_url_is_its_scheme_and_authority() {
        assert_eq!(
            origin_of("http://app.local:8080/x?y"),
            Some("http://app.local:8080")
        );
        assert_eq!(
            origin_of("https://app.example.com"),
            Some("https://app.example.com")
        );
        assert_eq!(origin_of("/relative"), None);
        assert_eq!(origin_of("https://evil@host/"), None);
    }

    #[test]
    fn a_target_that_is_not_a_path_has_no_path() {
        assert_eq!(path_of("*"), "");
        assert_eq!(path_of("http://app/admin"), "");
        assert_eq!(path_of("/a#b"), "/a");
    }
}
