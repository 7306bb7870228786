//! `GET {prefix}/auth` for nginx `auth_request`, Traefik and Caddy
//! forward-auth: 200 with identity headers, or 401 / 302 to sign in.

use super::{json, redirect, Reply, Visit};
use crate::error::Error;
use crate::session::FactorLevel;
use http::{HeaderMap, Request, StatusCode};

pub fn check<B>(visit: &mut Visit<'_>, request: &Request<B>) -> Result<Reply, Error> {
    if let Some((session, user)) = &visit.session {
        if session.level == FactorLevel::TwoFactor {
            let mut reply = json(StatusCode::OK, r#"{"status":"ok"}"#);
            user.headers
                .insert_into(&visit.app.identity, reply.headers_mut());
            // The front proxy passes this on (see the README), so the idle
            // window slides in forward-auth mode as it does when proxying.
            if let Some(cookie) = visit
                .app
                .sessions
                .refreshed_cookie(session, visit.now, visit.tls)
            {
                visit.set_cookie(cookie);
            }
            return Ok(reply);
        }
    }
    let headers = request.headers();
    let method = header(headers, "x-forwarded-method")
        .or_else(|| header(headers, "x-original-method"))
        .unwrap_or("GET");
    let navigating = matches!(method, "GET" | "HEAD") && crate::gate::accepts_html(headers);
    if !navigating {
        return Ok(json(
            StatusCode::UNAUTHORIZED,
            r#"{"error":"unauthorized"}"#,
        ));
    }
    visit.rd = original_url(headers).unwrap_or_default();
    Ok(redirect(StatusCode::FOUND, &visit.page_url("login")))
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

/// The URL the user asked for, as the front proxy reports it. It is only a
/// suggestion: `rd` is checked again before anyone is sent there.
fn original_url(headers: &HeaderMap) -> Option<String> {
    if let Some(url) = header(headers, "x-original-url") {
        return Some(url.to_owned());
    }
    let uri = header(headers, "x-forwarded-uri")?;
    match (
        header(headers, "x-forwarded-proto"),
        header(headers, "x-forwarded-host"),
    ) {
        (Some(proto), Some(host)) => Some(format!("{proto}://{host}{uri}")),
        _ => Some(uri.to_owned()),
    }
}
