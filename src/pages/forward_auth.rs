//! `GET {prefix}/auth` for nginx `auth_request`, Traefik ForwardAuth and
//! Caddy `forward_auth`: the gate's decision for the request the front
//! proxy is holding, as 200 with identity headers, or 401 / 302 to sign in.
//!
//! The front proxy reports the original request in `X-Forwarded-Method`,
//! `-Proto`, `-Host` and `-Uri` (Traefik, Caddy) or `X-Original-URL` and
//! `X-Original-Method` (nginx, as the README's example sets them). Those
//! headers are believed only from `trusted_proxies`; from anyone else the
//! answer rests on the session alone (no public rules, no `rd`).

use super::{json, redirect, respond, security_headers, Reply, JSON};
use crate::gate::{self, Decision};
use crate::App;
use http::header::{LOCATION, SET_COOKIE};
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use std::borrow::Cow;
use std::net::{IpAddr, SocketAddr};

/// The request the front proxy is deciding about.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Original {
    method: Method,
    /// Path only, as the gate matches it.
    path: String,
    /// Where to come back to after sign-in: absolute when the proxy said
    /// which host and scheme, else the path and query.
    url: String,
}

pub fn check(app: &App, headers: &HeaderMap, peer: SocketAddr, now: u64, tls: bool) -> Reply {
    // nginx's auth_request cannot pass a redirect on; it turns a 401 into
    // the login redirect itself (`error_page 401 =302 $doorman_login`).
    let nginx = headers.contains_key("x-original-url");
    let original = if app.trusts_proxy(peer.ip()) {
        original(headers)
    } else {
        if headers.contains_key("x-forwarded-uri") || headers.contains_key("x-original-url") {
            warn_untrusted(peer);
        }
        None
    };
    let client = app.client_ip(peer.ip(), headers);
    let decision = match &original {
        Some(original) => decide(app, original, headers, client, now, tls),
        None => session_only(app, headers, now, tls),
    };
    let rd = original
        .as_ref()
        .map_or("", |original| original.url.as_str());
    let mut reply = match decision {
        Decision::Pages | Decision::Public => json(StatusCode::OK, r#"{"status":"ok"}"#),
        Decision::Pass {
            user,
            refreshed_cookie,
            ..
        } => {
            let mut reply = json(StatusCode::OK, r#"{"status":"ok"}"#);
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
            let path = original.as_ref().map(|original| original.path.as_str());
            tracing::warn!(event = "rule_denied", rule, user, %client, path, "forward-auth: request denied by rule");
            app.audit.event(
                now,
                "rule_denied",
                crate::audit::Record {
                    user,
                    client: Some(client),
                    rule: Some(&rule),
                    path,
                    ..Default::default()
                },
            );
            respond(
                StatusCode::FORBIDDEN,
                JSON,
                r#"{"error":"forbidden","message":"Access denied."}"#,
            )
        }
        Decision::StepUp { rule, user } => {
            tracing::info!(event = "step_up_required", rule, user = %user.name, %client, "forward-auth: a recent second factor is required");
            let method = original.as_ref().map_or(Method::GET, |o| o.method.clone());
            let page = sign_in_url(app, "2fa", rd);
            if gate::is_browser_navigation(&method, headers) && !nginx {
                redirect(StatusCode::FOUND, &page)
            } else {
                refusal(app, nginx, rd, page, "step_up_required")
            }
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

/// The one call into the gate, with what the front proxy reported, on the
/// canonical path as the proxy path uses it. (Kept apart so a change in the
/// gate's inputs changes only this function.)
fn decide(
    app: &App,
    original: &Original,
    headers: &HeaderMap,
    client: IpAddr,
    now: u64,
    tls: bool,
) -> Decision {
    if original.path.is_empty() {
        return Decision::Denied {
            rule: "not an origin-form request target".into(),
            user: None,
        };
    }
    let canonical = match crate::path::normalize(&original.path) {
        Ok(canonical) => canonical,
        Err(malformed) => {
            return Decision::Denied {
                rule: format!("malformed path: {}", malformed.reason()),
                user: None,
            }
        }
    };
    let decision = gate::decide(
        app,
        &gate::Request {
            method: &original.method,
            path: &canonical,
            headers,
            client,
        },
        now,
        tls,
    );
    match decision {
        // doorman's own pages pass only as written: a path that becomes
        // one of them once normalized is something else to the app behind.
        Decision::Pages if matches!(canonical, Cow::Owned(_)) => {
            session_only(app, headers, now, tls)
        }
        decision => decision,
    }
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

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .map(str::trim)
        .filter(|value| !value.is_empty())
}

/// The original request from the proxy's headers; `None` when it sent none.
/// The path comes from `X-Forwarded-Uri` when present (the request target
/// as received), else from `X-Original-URL`; the URL to come back to is
/// `X-Original-URL`, else built from `X-Forwarded-Proto`/`-Host`/`-Uri`.
fn original(headers: &HeaderMap) -> Option<Original> {
    let method = header(headers, "x-forwarded-method")
        .or_else(|| header(headers, "x-original-method"))
        .unwrap_or("GET");
    let method = Method::from_bytes(method.to_ascii_uppercase().as_bytes()).ok()?;
    let uri = header(headers, "x-forwarded-uri");
    if let Some(url) = header(headers, "x-original-url") {
        // nginx: `$scheme://$http_host$request_uri`, or just the URI.
        let target = uri.unwrap_or_else(|| match url.find("://") {
            Some(at) => {
                let rest = &url[at + 3..];
                rest.find('/').map_or("/", |slash| &rest[slash..])
            }
            None => url,
        });
        return Some(Original {
            method,
            path: path_of(target),
            url: url.to_owned(),
        });
    }
    let uri = uri?;
    let url = match (
        header(headers, "x-forwarded-proto"),
        header(headers, "x-forwarded-host"),
    ) {
        (Some(proto), Some(host)) if matches!(proto, "http" | "https") => {
            format!("{proto}://{host}{uri}")
        }
        _ => uri.to_owned(),
    };
    Some(Original {
        method,
        path: path_of(uri),
        url,
    })
}

/// The path of an origin-form request target, without query or fragment;
/// empty for anything else (`*`, absolute-form), which the gate never sees.
fn path_of(target: &str) -> String {
    let path = target.split(['?', '#']).next().unwrap_or("");
    if path.starts_with('/') {
        path.to_owned()
    } else {
        String::new()
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
        let found = original(&headers(&[
            ("x-forwarded-method", "POST"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "app.example.com"),
            ("x-forwarded-uri", "/admin/x?y=1"),
        ]));
        assert_eq!(
            found,
            Some(Original {
                method: Method::POST,
                path: "/admin/x".into(),
                url: "https://app.example.com/admin/x?y=1".into(),
            })
        );
    }

    #[test]
    fn nginx_original_url_gives_the_path_and_is_the_url() {
        let found = original(&headers(&[
            ("x-original-url", "http://app.local:8080/assets/a.css?v=2"),
            ("x-original-method", "HEAD"),
        ]));
        assert_eq!(
            found,
            Some(Original {
                method: Method::HEAD,
                path: "/assets/a.css".into(),
                url: "http://app.local:8080/assets/a.css?v=2".into(),
            })
        );
    }

    #[test]
    fn no_forwarded_headers_is_no_original_request() {
        assert_eq!(original(&headers(&[("x-forwarded-method", "GET")])), None);
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

    #[test]
    fn x_forwarded_uri_gives_the_path_even_beside_x_original_url() {
        let found = original(&headers(&[
            ("x-original-url", "http://evil/admin/real"),
            ("x-forwarded-uri", "/real"),
        ]))
        .expect("an original request");
        assert_eq!(found.path, "/real");
        assert_eq!(found.url, "http://evil/admin/real");
    }
}
