//! Signing out: `GET logout` asks, `POST logout` (CSRF-checked like every
//! POST) revokes the session server-side and clears the cookie.
//!
//! A GET changes nothing: a link or an `<img>` on another site, or a
//! browser prefetching the page, must sign nobody out.

use super::{redirect, Reply, Visit};
use crate::error::Error;
use http::StatusCode;
use minijinja::context;

/// The confirmation form; `rd` travels in it to the POST.
pub fn confirm(visit: &mut Visit<'_>) -> Result<Reply, Error> {
    let user = visit.session.as_ref().map(|(_, user)| {
        user.display_name
            .clone()
            .unwrap_or_else(|| user.name.clone())
    });
    visit.render(StatusCode::OK, "logout.html", context! { user => user })
}

pub async fn logout(visit: &mut Visit<'_>) -> Result<Reply, Error> {
    let app = visit.app;
    if let Some((session, _)) = visit.session.take() {
        app.store
            .end_session(&session.id, session.expires_at, visit.now)
            .await;
        if session.level == crate::session::FactorLevel::TwoFactor {
            crate::metrics::session_ended(session.expires_at);
        }
        tracing::info!(event = "logout", user = %session.user, client = %visit.client, "signed out");
        visit.audit(
            "logout",
            crate::audit::Record {
                user: Some(&session.user),
                ..Default::default()
            },
        );
    }
    visit.set_cookie(app.sessions.clear_cookie(visit.tls));
    if !visit.rd.is_empty() {
        return Ok(redirect(StatusCode::SEE_OTHER, &visit.destination()));
    }
    let login = format!("{}/login", app.prefix);
    visit.message(
        StatusCode::OK,
        &visit.t("signed-out-title"),
        &visit.t("signed-out-text"),
        Some((&login, &visit.t("sign-in-again"))),
    )
}
