//! The per-request decision: doorman's pages, a public rule, a signed-in
//! session, or no way through.

use crate::config::{PathMatch, PublicRule};
use crate::session::FactorLevel;
use crate::users::User;
use crate::App;
use http::header::ACCEPT;
use http::{HeaderValue, Method, Request};
use std::sync::Arc;

/// What happens to a request.
pub enum Decision {
    /// It is for doorman's own pages under the auth prefix.
    Pages,
    /// A public rule lets it through, without identity.
    Public,
    /// A fully signed-in session: forward with identity, and re-issue the
    /// cookie when the idle window should slide.
    Pass {
        user: Arc<User>,
        refreshed_cookie: Option<HeaderValue>,
    },
    /// A browser without a usable session: send it to sign in.
    Login,
    /// Anything else without a session: 401, never forwarded.
    Unauthorized,
}

pub fn decide<B>(app: &App, request: &Request<B>, now: u64, tls: bool) -> Decision {
    decide_for(
        app,
        request.method(),
        request.uri().path(),
        request.headers(),
        now,
        tls,
    )
}

/// The decision for `method` and `path` with the session and `Accept` in
/// `headers`: the proxy passes its own request's; forward-auth passes what
/// the front proxy reports.
pub fn decide_for(
    app: &App,
    method: &Method,
    path: &str,
    headers: &http::HeaderMap,
    now: u64,
    tls: bool,
) -> Decision {
    if is_under(path, &app.prefix) {
        return Decision::Pages;
    }
    if app.public.iter().any(|rule| matches(rule, method, path)) {
        return Decision::Public;
    }
    if let Some((session, user)) = app.signed_in(headers, now) {
        if session.level == FactorLevel::TwoFactor {
            let refreshed_cookie = app.sessions.refreshed_cookie(&session, now, tls);
            return Decision::Pass {
                user,
                refreshed_cookie,
            };
        }
    }
    if is_browser_navigation(method, headers) {
        Decision::Login
    } else {
        Decision::Unauthorized
    }
}

/// Whether `path` is `prefix` or below it.
pub fn is_under(path: &str, prefix: &str) -> bool {
    path.strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// A GET or HEAD that accepts HTML: a person at a browser.
pub fn is_browser_navigation(method: &Method, headers: &http::HeaderMap) -> bool {
    (method == Method::GET || method == Method::HEAD) && accepts_html(headers)
}

/// Whether the client says it takes HTML (browsers do, scripts rarely).
pub fn accepts_html(headers: &http::HeaderMap) -> bool {
    headers
        .get_all(ACCEPT)
        .iter()
        .any(|value| value.to_str().is_ok_and(|v| v.contains("text/html")))
}

fn matches(rule: &PublicRule, method: &Method, path: &str) -> bool {
    if let Some(methods) = &rule.methods {
        if !methods.contains(method) {
            return false;
        }
    }
    // A path the upstream might read differently from how it is written
    // (dot segments, encoded dots, slashes or backslashes) never matches a
    // public rule: it needs a session instead.
    if !is_plain(path) {
        return false;
    }
    match &rule.path {
        PathMatch::Exact(exact) => path == exact,
        PathMatch::Prefix(prefix) => path.starts_with(prefix.as_str()),
    }
}

fn is_plain(path: &str) -> bool {
    if path.contains('\\') || path.contains("//") {
        return false;
    }
    let lower_has = |needle: &str| {
        path.as_bytes()
            .windows(needle.len())
            .any(|window| window.eq_ignore_ascii_case(needle.as_bytes()))
    };
    if lower_has("%2e") || lower_has("%2f") || lower_has("%5c") || lower_has("%00") {
        return false;
    }
    !path
        .split('/')
        .any(|segment| segment == "." || segment == "..")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(prefix: &str) -> PublicRule {
        PublicRule {
            path: PathMatch::Prefix(prefix.into()),
            methods: Some(vec![Method::GET, Method::HEAD]),
        }
    }

    #[test]
    fn a_public_prefix_matches_plain_paths_with_allowed_methods() {
        assert!(matches(&rule("/assets/"), &Method::GET, "/assets/app.css"));
        assert!(!matches(
            &rule("/assets/"),
            &Method::POST,
            "/assets/app.css"
        ));
        assert!(!matches(&rule("/assets/"), &Method::GET, "/assetsx"));
    }

    #[test]
    fn paths_that_could_climb_out_of_a_public_prefix_do_not_match() {
        for path in [
            "/assets/../admin",
            "/assets/%2e%2e/admin",
            "/assets/%2E%2E/admin",
            "/assets/..%2fadmin",
            "/assets/..%5Cadmin",
            "/assets/.\\../admin",
            "/assets//../admin",
            "/assets/./x",
        ] {
            assert!(!matches(&rule("/assets/"), &Method::GET, path), "{path}");
        }
    }

    #[test]
    fn the_auth_prefix_covers_itself_and_below_only() {
        assert!(is_under("/.doorman", "/.doorman"));
        assert!(is_under("/.doorman/login", "/.doorman"));
        assert!(!is_under("/.doormanx", "/.doorman"));
    }

    #[test]
    fn a_browser_navigation_is_a_get_accepting_html() {
        let mut headers = http::HeaderMap::new();
        headers.insert(
            ACCEPT,
            HeaderValue::from_static("text/html,application/xhtml+xml"),
        );
        assert!(is_browser_navigation(&Method::GET, &headers));
        assert!(!is_browser_navigation(&Method::POST, &headers));
        assert!(!is_browser_navigation(
            &Method::GET,
            &http::HeaderMap::new()
        ));
    }
}
