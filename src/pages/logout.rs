//! Signing out: revoke the session server-side and clear the cookie.

use super::{redirect, Reply, Visit};
use crate::error::Error;
use http::StatusCode;

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
        "Signed out",
        "You have signed out.",
        Some((&login, "Sign in again")),
    )
}
