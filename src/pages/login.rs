//! The first factor: username and password.

use super::{redirect, Form, Reply, Visit};
use crate::audit::Record;
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
    let passwordless = super::passwordless::offered(visit);
    visit.render(
        StatusCode::OK,
        "login.html",
        context! { passwordless => passwordless },
    )
}

pub async fn submit(visit: &mut Visit<'_>, form: &Form) -> Result<Reply, Error> {
    let username = form.get("username").map_or("", |name| name.trim());
    let password = form.get("password").map_or("", String::as_str);
    if username.is_empty() || password.is_empty() {
        return visit.render(
            StatusCode::BAD_REQUEST,
            "login.html",
            context! { error => visit.t("login-missing"), username => username },
        );
    }
    let app = visit.app;
    // Accounts that exist are counted in the store; made-up names in a
    // bounded cache of this replica, so a flood of them cannot crowd real
    // ones out, yet they are slowed exactly alike. The client always is,
    // unless this browser carries the account's device mark.
    let account = app
        .users
        .load()
        .find(username)
        .map(|user| user.name.clone());
    // Taken before the password is looked at, so that attempts in flight
    // together are all counted; without the store a lock cannot be
    // checked: fail closed.
    let reservation = visit.reserve_attempt(username, account.as_deref()).await?;
    if !reservation.delay.is_zero() {
        tokio::time::sleep(reservation.delay).await;
    }
    let locked = reservation.refused.is_some();
    let checked = app.passwords.check(username, password, locked).await;
    let Some(user) = checked else {
        crate::metrics::password_check("failed");
        let record = || Record::about(account.as_deref().unwrap_or(username));
        if locked {
            visit.audit(
                "signin_locked",
                Record {
                    until: reservation.refused,
                    ..record()
                },
            );
        } else {
            visit.audit(
                "signin_failed",
                Record {
                    reason: Some("password"),
                    ..record()
                },
            );
        }
        tracing::warn!(
            event = "signin_failed",
            user = ?username,
            client = %visit.client,
            user_agent = ?visit.user_agent(),
            locked,
            "wrong username or password"
        );
        // The reservation stays: it was this failure, counted already.
        // A lock is told as one, with its end: names no account has lock
        // on the same counts, so this says nothing of whether one exists,
        // and the password was not looked at.
        let error = match reservation.refused {
            Some(until) => visit.t_with(
                "login-locked",
                &[
                    ("until", clock_time(until).into()),
                    ("wait", visit.locale.wait(visit.now, until).into()),
                ],
            ),
            None => visit.t("login-wrong"),
        };
        return visit.render(
            StatusCode::UNAUTHORIZED,
            "login.html",
            context! { error => error, username => username },
        );
    };
    crate::metrics::password_check("ok");
    app.limiter.refund(&app.store, &reservation).await?;
    // A previous session (of anyone) in this browser ends here: no fixation.
    if let Some((old, _)) = visit.session.take() {
        app.store
            .end_session(&old.id, old.expires_at, visit.now)
            .await;
    }
    if let Some(proven_at) = super::trusted_device::recognised(visit, &user) {
        return Ok(trusted(visit, &user, proven_at));
    }
    let session = app.start_session(&user, FactorLevel::Password, visit.now, visit.now);
    visit.set_cookie(app.sessions.set_cookie(&session, visit.tls));
    tracing::info!(event = "password_accepted", user = %user.name, client = %visit.client, "password accepted");
    visit.audit("password_accepted", Record::about(&user.name));
    // Where the rule asks for the password only, that is enough.
    let destination = visit.destination();
    if let Ok(uri) = destination.parse::<http::Uri>() {
        // A relative destination is on this page's own host.
        let host = uri
            .host()
            .or(visit.host.as_deref())
            .and_then(crate::sites::normalize);
        let path = crate::path::normalize(uri.path()).ok();
        let one_factor = path.is_some_and(|path| {
            let client = visit.client;
            crate::gate::destination_is_one_factor(app, host.as_deref(), &path, client, &user)
        });
        if one_factor {
            return Ok(redirect(StatusCode::SEE_OTHER, &destination));
        }
    }
    Ok(redirect(StatusCode::SEE_OTHER, &visit.page_url("2fa")))
}

/// A browser remembered for `user`: the password was enough. The session
/// counts its second factor from when it was proven (`proven_at`), so a
/// rule with `max_age` still asks for a fresh one.
fn trusted(visit: &mut Visit<'_>, user: &crate::users::User, proven_at: u64) -> Reply {
    let app = visit.app;
    let mut session = app.start_session(user, FactorLevel::TwoFactor, visit.now, visit.now);
    session.second_factor_at = proven_at;
    visit.set_cookie(app.sessions.set_cookie(&session, visit.tls));
    visit.set_device_mark(&user.name);
    crate::metrics::session_started(session.expires_at);
    tracing::info!(event = "trusted_device_used", user = %user.name, client = %visit.client, "password accepted on a remembered device");
    visit.audit("trusted_device_used", Record::about(&user.name));
    redirect(StatusCode::SEE_OTHER, &visit.destination())
}

/// `HH:MM` (UTC) of a Unix time, for "locked until".
fn clock_time(at: u64) -> String {
    let of_day = at % 86_400;
    format!("{:02}:{:02}", of_day / 3600, of_day % 3600 / 60)
}
