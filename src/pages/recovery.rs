//! Recovery codes on the pages: `2fa/recovery` signs in with one in place
//! of the second factor (the attempt reserved first, like any code), and
//! `recovery` makes a new set after a fresh full sign-in, shown once.

use super::challenge::choose_page;
use super::passkey_enroll::admitted_to;
use super::second_factor::signed_in_with_password;
use super::{redirect, Form, Reply, Visit};
use crate::audit::Record;
use crate::error::Error;
use crate::recovery::RecoveryCodes;
use http::StatusCode;
use minijinja::context;

/// `POST 2fa/recovery`, field `code`.
pub async fn sign_in(visit: &mut Visit<'_>, form: &Form) -> Result<Reply, Error> {
    let (session, user) = match signed_in_with_password(visit) {
        Ok(found) => found,
        Err(elsewhere) => return Ok(redirect(StatusCode::SEE_OTHER, &elsewhere)),
    };
    let app = visit.app;
    let typed = form.get("code").map(String::as_str).unwrap_or("");
    if typed.trim().is_empty() {
        let text = visit.t("recovery-missing");
        return choose_page(visit, &user, StatusCode::BAD_REQUEST, Some(text));
    }
    // Counted like any code: reserved before the code is looked at.
    let reservation = visit.reserve_attempt(&user.name, Some(&user.name)).await?;
    if let Some(until) = reservation.refused {
        let text = super::verify::too_many_failed(visit, until);
        return choose_page(visit, &user, StatusCode::TOO_MANY_REQUESTS, Some(text));
    }
    if !reservation.delay.is_zero() {
        tokio::time::sleep(reservation.delay).await;
    }
    let used = match app.store.use_recovery_code(&user.name, typed).await {
        Ok(used) => used,
        Err(err) => {
            app.limiter.refund(&app.store, &reservation).await?;
            return Err(err.into());
        }
    };
    let Some(left) = used else {
        visit.audit(
            "challenge_failed",
            Record {
                user: Some(&user.name),
                channel: Some("recovery_code"),
                reason: Some("wrong_code"),
                ..Record::default()
            },
        );
        tracing::warn!(event = "challenge_failed", user = %user.name, client = %visit.client, "wrong recovery code");
        crate::metrics::sign_in("recovery_code", "recovery_code", "wrong_code");
        let text = visit.t("recovery-wrong");
        return choose_page(visit, &user, StatusCode::UNAUTHORIZED, Some(text));
    };
    app.limiter.refund(&app.store, &reservation).await?;
    visit.audit(
        "recovery_code_used",
        Record {
            user: Some(&user.name),
            channel: Some("recovery_code"),
            left: Some(left),
            ..Record::default()
        },
    );
    tracing::warn!(event = "recovery_code_used", user = %user.name, left, client = %visit.client, "signed in with a recovery code");
    crate::metrics::sign_in("recovery_code", "recovery_code", "ok");
    super::verify::signed_in_as(visit, &session, &user, "recovery_code").await;
    let text = match left {
        0 => visit.t("recovery-last"),
        n => visit.t_with("recovery-left", &[("n", (n as u64).into())]),
    };
    let destination = visit.destination();
    visit.message(
        StatusCode::OK,
        &visit.t("recovery-signed-in-title"),
        &text,
        Some((&destination, &visit.t("login-continue"))),
    )
}

/// `GET recovery`: how many codes are left, and a button for a new set.
pub async fn show(visit: &mut Visit<'_>) -> Result<Reply, Error> {
    let (_, user) = match admitted_to(visit, "recovery", "sign-in-again-to-make-recovery-codes") {
        Ok(found) => found,
        Err(answer) => return *answer,
    };
    let current = visit.app.store.recovery_codes(&user.name).await?;
    visit.render(
        StatusCode::OK,
        "recovery.html",
        context! { left => current.as_ref().map(RecoveryCodes::left), codes => None::<Vec<String>> },
    )
}

/// `POST recovery`: a new set, replacing the old, shown this once.
pub async fn generate(visit: &mut Visit<'_>) -> Result<Reply, Error> {
    let (_, user) = match admitted_to(visit, "recovery", "sign-in-again-to-make-recovery-codes") {
        Ok(found) => found,
        Err(answer) => return *answer,
    };
    let (codes, set) = RecoveryCodes::generate(visit.now);
    let replaced = visit.app.store.recovery_codes(&user.name).await?.is_some();
    visit.app.store.put_recovery_codes(&user.name, &set).await?;
    // The old set is gone: a session one of its codes made goes with it.
    if replaced {
        super::passkey_enroll::factor_removed(visit, &user).await?;
    }
    visit.audit(
        "recovery_codes_created",
        Record {
            user: Some(&user.name),
            ..Record::default()
        },
    );
    let notice = crate::notify::Notice::new(
        "recovery_codes_created",
        &user.name,
        "page",
        Some(visit.client),
        visit.now,
    );
    notice.send(visit.app).await;
    visit.render(
        StatusCode::OK,
        "recovery.html",
        context! { left => set.left(), codes => codes },
    )
}
