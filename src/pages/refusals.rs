//! What doorman answers in the app's place when a request does not get
//! through: sign in, step up, denied, malformed, unauthorized, or the
//! upstream failed; a page for a browser, JSON for anything else.

use super::{json_error, redirect, respond, security_headers, HTML, JSON};
use crate::error::Error;
use crate::i18n::Locale;
use crate::{gate, App, Body};
use http::header::{CONTENT_LANGUAGE, VARY};
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::Either;

/// 302 to the login page, remembering where the browser was going.
pub fn login_redirect<B>(app: &App, request: &Request<B>) -> Response<Body> {
    sign_in_redirect(app, "login", request)
}

/// 302 to doorman's `page`, which comes back to the request's path and query.
fn sign_in_redirect<B>(app: &App, page: &str, request: &Request<B>) -> Response<Body> {
    let original = request.uri().path_and_query().map_or("/", |pq| pq.as_str());
    let mut location = format!("{}/{page}?rd=", app.prefix);
    location.extend(form_urlencoded::byte_serialize(original.as_bytes()));
    let mut reply = redirect(StatusCode::FOUND, &location);
    security_headers(reply.headers_mut());
    reply.map(Either::Right)
}

/// 302 to the second-factor page: the rule wants a more recent proof.
/// A script gets 401 `step_up_required` instead.
pub fn step_up<B>(app: &App, request: &Request<B>) -> Response<Body> {
    if !gate::is_browser_navigation(request.method(), request.headers()) {
        let body = serde_json::json!({
            "error": "step_up_required",
            "message": "This needs a recent second factor; sign in again in a browser.",
            "login": format!("{}/2fa", app.prefix),
        });
        return stopped(StatusCode::UNAUTHORIZED, &body);
    }
    sign_in_redirect(app, "2fa", request)
}

/// 403 from a deny rule, as a page or JSON.
pub fn forbidden<B>(app: &App, request: &Request<B>) -> Response<Body> {
    let headers = request.headers();
    let browser = gate::accepts_html(headers).then(|| super::page_locale(app, headers));
    error_response(app, &Error::Forbidden, browser)
}

/// 400 for a request target doorman will not interpret.
pub fn bad_request(reason: &'static str) -> Response<Body> {
    let body = serde_json::json!({ "error": "bad_request", "message": reason });
    stopped(StatusCode::BAD_REQUEST, &body)
}

/// 421 for a host no app answers to: the client (or a front proxy) sent
/// it to the wrong server, and no app's rules can judge it.
pub fn misdirected() -> Response<Body> {
    let body = serde_json::json!({
        "error": "unknown_host",
        "message": "No app is served at this host name.",
    });
    stopped(StatusCode::MISDIRECTED_REQUEST, &body)
}

/// forward-auth's 403 for a host no app answers to (`host`: the original
/// request's), with the log line
/// that tells the operator what the front proxy must send.
pub(super) fn unknown_host_for_front_proxy(
    host: Option<&str>,
    client: std::net::IpAddr,
) -> super::Reply {
    tracing::warn!(
        event = "unknown_host",
        host = host.unwrap_or(""),
        %client,
        asked_by = "forward-auth",
        "no app answers to the forwarded host (see `apps:`; the front proxy must \
         send X-Forwarded-Host, or an absolute X-Original-URL)"
    );
    respond(
        StatusCode::FORBIDDEN,
        JSON,
        r#"{"error":"unknown_host","message":"No app is served at this host name."}"#,
    )
}

/// 401 for a client that is not a browser; it is never forwarded.
pub fn unauthorized(app: &App) -> Response<Body> {
    let body = serde_json::json!({
        "error": "unauthorized",
        "message": "Sign in first.",
        "login": format!("{}/login", app.prefix),
    });
    stopped(StatusCode::UNAUTHORIZED, &body)
}

/// A request doorman stops, answered in JSON.
fn stopped(status: StatusCode, body: &serde_json::Value) -> Response<Body> {
    let mut reply = respond(status, JSON, body.to_string());
    security_headers(reply.headers_mut());
    reply.map(Either::Right)
}

/// An error on the proxied path (upstream down, timeout) as a page in the
/// browser's language (`Some`), or JSON.
pub fn error_response(app: &App, err: &Error, browser: Option<Locale>) -> Response<Body> {
    let mut reply = if let Some(locale) = browser {
        let context = minijinja::context! {
            locale => locale.tag(),
            app_name => &app.app_name,
            prefix => &app.prefix,
            title => locale.text(match err {
                Error::Forbidden => "refused-forbidden-title",
                _ => "refused-unavailable-title",
            }),
            message => super::error_text(locale, err),
        };
        match app.templates.render("message.html", context) {
            Ok(html) => {
                let mut reply = respond(err.status(), HTML, html);
                let headers = reply.headers_mut();
                headers.insert(VARY, HeaderValue::from_static("Accept-Language"));
                headers.insert(CONTENT_LANGUAGE, HeaderValue::from_static(locale.tag()));
                reply
            }
            Err(_) => json_error(err),
        }
    } else {
        json_error(err)
    };
    security_headers(reply.headers_mut());
    reply.map(Either::Right)
}
