//! The shapes of doorman's own answers: redirects, JSON, and the security
//! headers every page carries.

use super::Reply;
use crate::error::Error;
use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION};
use http::{HeaderName, HeaderValue, Response, StatusCode};
use http_body_util::Full;

/// A redirect; 303 after a form so the browser follows with GET.
pub fn redirect(status: StatusCode, location: &str) -> Reply {
    let mut reply = empty(status);
    if let Ok(value) = HeaderValue::from_str(location) {
        reply.headers_mut().insert(LOCATION, value);
    }
    reply
}

/// An answer with no body.
pub(super) fn empty(status: StatusCode) -> Reply {
    let mut reply = Response::new(Full::new(Bytes::new()));
    *reply.status_mut() = status;
    reply
}

pub(super) const HTML: &str = "text/html; charset=utf-8";
pub(super) const JSON: &str = "application/json";

/// A complete answer of doorman's own.
pub(super) fn respond(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> Reply {
    let mut reply = Response::new(Full::new(body.into()));
    *reply.status_mut() = status;
    reply
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    reply
}

pub fn json(status: StatusCode, body: &'static str) -> Reply {
    respond(status, JSON, body)
}

pub(super) fn json_error(err: &Error) -> Reply {
    let body = serde_json::json!({ "error": err.code(), "message": err.public_message() });
    respond(err.status(), JSON, body.to_string())
}

static CSP: HeaderName = HeaderName::from_static("content-security-policy");

/// How many headers [`security_headers`] sets.
pub(super) const SECURITY_HEADERS: usize = 5;

pub(super) fn security_headers(headers: &mut http::HeaderMap) {
    headers.insert(
        &CSP,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; script-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; frame-ancestors 'none'",
        ),
    );
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        http::header::X_FRAME_OPTIONS,
        HeaderValue::from_static("DENY"),
    );
    headers.insert(
        http::header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        http::header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn security_headers_sets_as_many_headers_as_room_is_made_for() {
        let mut headers = http::HeaderMap::new();
        security_headers(&mut headers);
        assert_eq!(headers.len(), SECURITY_HEADERS);
    }
}
