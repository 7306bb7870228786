//! The first factor: username and password.

use super::{redirect, Form, Reply, Visit};
use crate::error::Error;
use crate::session::FactorLevel;
use http::StatusCode;
use minijinja::context;

pub fn show(visit: &mut Visit<'_>) -> Result<Reply, Error> {
    if let Some((session, _)) = &visit.session {
        let next = match session.level {
            FactorLevel::TwoFactor => visit.destination(),
            FactorLevel::Password => visit.page_url("2fa"),
        };
        return Ok(redirect(StatusCode::FOUND, &next));
    }
    visit.render(StatusCode::OK, "login.html", context! {})
}

pub async fn submit(visit: &mut Visit<'_>, form: &Form) -> Result<Reply, Error> {
    let username = form.get("username").map_or("", |name| name.trim());
    let password = form.get("password").map_or("", String::as_str);
    if username.is_empty() || password.is_empty() {
        return visit.render(
            StatusCode::BAD_REQUEST,
            "login.html",
            context! { error => "Enter your username and password.", username => username },
        );
    }
    let app = visit.app;
    let Some(user) = app.passwords.check(username, password).await else {
        crate::metrics::password_check("failed");
        tracing::warn!(
            event = "signin_failed",
            user = ?username,
            client = %visit.peer.ip(),
            user_agent = ?visit.user_agent(),
            "wrong username or password"
        );
        return visit.render(
            StatusCode::UNAUTHORIZED,
            "login.html",
            context! { error => "Incorrect username or password.", username => username },
        );
    };
    crate::metrics::password_check("ok");
    // A previous session (of anyone) in this browser ends here: no fixation.
    if let Some((old, _)) = visit.session.take() {
        app.store.revoke(&old.id, old.expires_at);
        app.store.remove_challenge(&old.id);
    }
    let session = app
        .sessions
        .start(&user.name, FactorLevel::Password, visit.now, visit.now);
    visit.set_cookie(app.sessions.set_cookie(&session, visit.tls));
    tracing::info!(event = "password_accepted", user = %user.name, client = %visit.peer.ip(), "password accepted");
    Ok(redirect(StatusCode::SEE_OTHER, &visit.page_url("2fa")))
}
