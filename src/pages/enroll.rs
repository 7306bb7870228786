//! `{prefix}/totp/enroll`: a signed-in person adds an authenticator app.
//!
//! The page shows a new secret as a QR code; the secret is saved to the
//! users file only once the person types a correct code from the app. The
//! secret travels in the form with an HMAC bound to the session, so the
//! server keeps nothing until then and accepts only secrets it handed out.
//!
//! Replacing an authenticator takes a code from the one there is now: a
//! fresh sign-in by SMS alone (a swapped SIM, a phone left unlocked) must
//! not be enough to move someone's authenticator to another device. Who
//! lost theirs asks an administrator. Every change is audited and sent to
//! the webhook as an account notice; the secret itself is never logged.

use super::{redirect, Form, Reply, Visit};
use crate::error::Error;
use crate::otp::qr;
use crate::otp::totp::TotpSecret;
use crate::session::FactorLevel;
use crate::users::User;
use http::StatusCode;
use minijinja::context;
use std::sync::Arc;

fn signature(visit: &Visit<'_>, session_id: &str, secret: &str) -> String {
    let key = crate::crypto::derive(&visit.app.code_key, b"doorman totp enrollment");
    crate::crypto::hex(&crate::crypto::hmac(
        &key,
        format!("{session_id}:{secret}").as_bytes(),
    ))
}

/// Who may use the page: signed in fully and recently, with a users file
/// doorman can write.
fn admitted(visit: &Visit<'_>) -> Result<(String, Arc<User>), Refused> {
    let found = signed_in(visit).map_err(Refused::SignIn)?;
    if !writable(visit) {
        return Err(Refused::ReadOnly);
    }
    if !fresh(visit) {
        return Err(Refused::Stale);
    }
    Ok(found)
}

/// Why the page is not for this visit.
enum Refused {
    /// Not fully signed in: where to sign in.
    SignIn(String),
    /// No users file doorman can write.
    ReadOnly,
    /// The second factor is not recent enough.
    Stale,
}

impl Refused {
    /// The answer that says what to do instead.
    fn answer(self, visit: &Visit<'_>) -> Result<Reply, Error> {
        match self {
            Refused::SignIn(login) => Ok(redirect(StatusCode::SEE_OTHER, &login)),
            Refused::ReadOnly => ask_an_administrator(visit),
            Refused::Stale => sign_in_again(visit),
        }
    }
}

/// The fully signed-in session's id and user, or where to send the browser.
fn signed_in(visit: &Visit<'_>) -> Result<(String, Arc<User>), String> {
    match &visit.session {
        Some((session, user)) if session.level == FactorLevel::TwoFactor => {
            Ok((session.id.clone(), user.clone()))
        }
        _ => {
            let mut login = format!("{}/login?rd=", visit.app.prefix);
            let back = format!("{}/totp/enroll", visit.app.prefix);
            login.extend(form_urlencoded::byte_serialize(back.as_bytes()));
            Err(login)
        }
    }
}

/// How recent the second factor must be to add an authenticator: a session
/// cookie that leaked later cannot plant a second factor of its own.
const FRESH: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// Whether the session proved its second factor recently enough: as if
/// the page had a rule with `max_age: 15m`.
fn fresh(visit: &Visit<'_>) -> bool {
    visit
        .session
        .as_ref()
        .is_some_and(|(session, _)| !crate::gate::needs_step_up(Some(FRESH), session, visit.now))
}

/// Asks for a new sign-in, which comes back to this page.
fn sign_in_again(visit: &Visit<'_>) -> Result<Reply, Error> {
    let back = format!("{}/totp/enroll", visit.app.prefix);
    let mut link = format!("{}/logout?rd=", visit.app.prefix);
    link.extend(form_urlencoded::byte_serialize(back.as_bytes()));
    visit.message(
        StatusCode::OK,
        &visit.t("enroll-reauth-title"),
        &visit.t("enroll-reauth-text"),
        Some((&link, &visit.t("sign-in-again"))),
    )
}

fn writable(visit: &Visit<'_>) -> bool {
    visit
        .app
        .users_file
        .as_deref()
        .is_some_and(crate::config::users_file::is_writable)
}

fn ask_an_administrator(visit: &Visit<'_>) -> Result<Reply, Error> {
    visit.message(
        StatusCode::OK,
        &visit.t("enroll-admin-title"),
        &visit.t("enroll-admin-text"),
        Some(("/", &visit.t("back-to-app"))),
    )
}

pub fn show(visit: &mut Visit<'_>) -> Result<Reply, Error> {
    let (session_id, user) = match admitted(visit) {
        Ok(admitted) => admitted,
        Err(refused) => return refused.answer(visit),
    };
    let secret = TotpSecret::generate();
    let enrollment = Enrollment {
        session_id: &session_id,
        user: &user,
        secret: &secret,
    };
    page(visit, &enrollment, StatusCode::OK, None, None)
}

/// The enrollment form in the making: the session it is bound to, whose
/// it is, and the new secret it offers.
struct Enrollment<'a> {
    session_id: &'a str,
    user: &'a User,
    secret: &'a TotpSecret,
}

/// The page for `enrollment`; `error` is about the new code,
/// `current_error` about the current authenticator's.
fn page(
    visit: &Visit<'_>,
    enrollment: &Enrollment<'_>,
    status: StatusCode,
    error: Option<&str>,
    current_error: Option<&str>,
) -> Result<Reply, Error> {
    let Enrollment {
        session_id,
        user,
        secret,
    } = enrollment;
    let base32 = secret.to_base32();
    let uri = secret.otpauth_uri(&visit.app.app_name, &user.name);
    let grouped: Vec<String> = base32
        .as_bytes()
        .chunks(4)
        .map(|chunk| String::from_utf8_lossy(chunk).into_owned())
        .collect();
    visit.render(
        status,
        "enroll.html",
        context! {
            qr_svg => qr::svg(&uri).map(minijinja::Value::from_safe_string),
            secret => &base32,
            secret_grouped => grouped.join(" "),
            signature => signature(visit, session_id, &base32),
            replacing => visit.app.totp_secret(user).is_some(),
            current_error => current_error,
            error => error,
        },
    )
}

pub async fn submit(visit: &mut Visit<'_>, form: &Form) -> Result<Reply, Error> {
    let (session_id, user) = match admitted(visit) {
        Ok(admitted) => admitted,
        Err(refused) => return refused.answer(visit),
    };
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or("");
    let base32 = field("secret");
    if !crate::crypto::equal(
        signature(visit, &session_id, base32).as_bytes(),
        field("signature").as_bytes(),
    ) {
        return Err(Error::BadRequest("enrollment form"));
    }
    let Ok(secret) = TotpSecret::from_base32(base32) else {
        return Err(Error::BadRequest("enrollment form"));
    };
    let enrollment = Enrollment {
        session_id: &session_id,
        user: &user,
        secret: &secret,
    };
    let digits =
        |name: &str| -> String { field(name).chars().filter(char::is_ascii_digit).collect() };
    let app = visit.app;
    let current = app.totp_secret(&user);
    // Replacing: first a code from the authenticator there is now. It is a
    // guess like any other code, so it counts against the account.
    let mut current_step = None;
    // The attempt, reserved before the current code is checked; handed
    // back only once it proves to be right and unused.
    let mut held = None;
    if let Some(current) = &current {
        let reservation = visit.reserve_attempt(&user.name, Some(&user.name)).await?;
        if let Some(until) = reservation.refused {
            let wait = visit.locale.wait(visit.now, until);
            let text = visit.t_with("too-many-failed", &[("wait", wait.into())]);
            return page(
                visit,
                &enrollment,
                StatusCode::TOO_MANY_REQUESTS,
                Some(&text),
                None,
            );
        }
        match current.matching_step(&digits("current_code"), visit.now) {
            Some(step) => {
                current_step = Some(step);
                held = Some(reservation);
            }
            // The reserved attempt stays: a wrong current code is a failure.
            None => return refuse_current(visit, &enrollment),
        }
    }
    let Some(step) = secret.matching_step(&digits("code"), visit.now) else {
        if let Some(reservation) = &held {
            app.limiter.refund(&app.store, reservation).await?;
        }
        let text = visit.t("enroll-wrong");
        return page(
            visit,
            &enrollment,
            StatusCode::UNAUTHORIZED,
            Some(&text),
            None,
        );
    };
    // Both codes are right: only now is the current one used up, so a
    // mistyped new code does not cost the person a time step.
    if let Some(step) = current_step {
        if !app.store.accept_totp_step(&user.name, step).await? {
            super::verify::totp_replayed(visit, &user);
            return refuse_current(visit, &enrollment);
        }
    }
    if let Some(reservation) = &held {
        app.limiter.refund(&app.store, reservation).await?;
    }
    let Some(path) = app.users_file.clone() else {
        return ask_an_administrator(visit);
    };
    let (name, saved) = (user.name.clone(), secret.clone());
    let written = tokio::task::spawn_blocking(move || {
        crate::config::users_file::set_totp_secret(&path, &name, &saved)
            .map_err(|err| crate::error::chain(&err))
    })
    .await
    .unwrap_or_else(|_| Err("the writer stopped".to_owned()));
    if let Err(why) = written {
        // `why` names the file and the cause, never the secret.
        tracing::error!(user = %user.name, error = %why, "cannot save an authenticator secret");
        visit.audit(
            "totp_enroll_failed",
            crate::audit::Record {
                user: Some(&user.name),
                reason: Some("not_saved"),
                ..Default::default()
            },
        );
        return visit.message(
            StatusCode::INTERNAL_SERVER_ERROR,
            &visit.t("enroll-not-saved-title"),
            &visit.t("enroll-not-saved-text"),
            Some(("/", &visit.t("back-to-app"))),
        );
    }
    // This code signed nothing in yet, but it must not sign in either.
    if let Err(err) = app.store.accept_totp_step(&user.name, step).await {
        tracing::warn!(error = %err, "could not mark the enrollment code as used");
    }
    app.enrolled
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .insert(user.name.clone(), secret);
    // A new authenticator is a new credential epoch: this session carries
    // on with it, the user's other sessions end.
    if let Some((session, _)) = &visit.session {
        let mut renewed = session.clone();
        renewed.epoch = visit.app.credential_epoch(&user);
        visit.set_cookie(visit.app.sessions.set_cookie(&renewed, visit.tls));
    }
    let event = if current.is_some() {
        "totp_replaced"
    } else {
        "totp_enrolled"
    };
    let notice =
        crate::notify::Notice::new(event, &user.name, "page", Some(visit.client), visit.now);
    notice.audit(
        app,
        visit.now,
        Some(visit.user_agent()).filter(|agent| !agent.is_empty()),
    );
    notice.send(app).await;
    let (title, text) = if current.is_some() {
        ("enroll-replaced-title", "enroll-replaced-text")
    } else {
        ("enroll-added-title", "enroll-added-text")
    };
    visit.message(
        StatusCode::OK,
        &visit.t(title),
        &visit.t(text),
        Some(("/", &visit.t("back-to-app"))),
    )
}

/// The current authenticator's code was wrong (or used before).
fn refuse_current(visit: &Visit<'_>, enrollment: &Enrollment<'_>) -> Result<Reply, Error> {
    visit.audit(
        "totp_enroll_failed",
        crate::audit::Record {
            user: Some(&enrollment.user.name),
            reason: Some("current_code"),
            ..Default::default()
        },
    );
    let text = visit.t("enroll-current-wrong");
    page(
        visit,
        enrollment,
        StatusCode::UNAUTHORIZED,
        None,
        Some(&text),
    )
}
