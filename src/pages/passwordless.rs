//! `login/passkey` (with `webauthn.passwordless: true`): a discoverable
//! passkey with user verification signs in with both factors at once. The
//! challenge is kept under the browser's CSRF nonce (there is no session
//! yet); the passkey names its user by the handle given at enrolment, and
//! the attempt is reserved for that account before the signature is
//! checked.

use super::passkey::{options_reply, refused, relying_party};
use super::{redirect, Form, Reply, Visit};
use crate::audit::Record;
use crate::error::Error;
use crate::session::FactorLevel;
use crate::webauthn::{parse_assertion, record_use, Refusal, RelyingParty};
use http::StatusCode;
use minijinja::context;
use webauthn_rs::prelude::DiscoverableAuthentication;

/// The relying party, when passwordless sign-in is on.
fn passwordless<'a>(visit: &Visit<'a>) -> Result<&'a RelyingParty, Error> {
    relying_party(visit).and_then(|rp| {
        if rp.settings.passwordless {
            Ok(rp)
        } else {
            Err(Error::NotFound)
        }
    })
}

/// Whether the login page offers "Sign in with a passkey".
pub(super) fn offered(visit: &Visit<'_>) -> bool {
    passwordless(visit).is_ok()
}

/// `POST login/passkey/begin`: a challenge any discoverable passkey answers.
pub async fn begin(visit: &mut Visit<'_>) -> Result<Reply, Error> {
    let rp = passwordless(visit)?;
    let (options, state) = rp.begin_discoverable().map_err(|err| {
        tracing::warn!(error = %err, "cannot start a passkey sign-in");
        Error::BadRequest("passkey sign-in")
    })?;
    let store = &visit.app.store;
    store
        .put_ceremony("discover", &visit.nonce, &state, visit.now)
        .await?;
    options_reply(&options)
}

/// `POST login/passkey`, field `credential`.
pub async fn finish(visit: &mut Visit<'_>, form: &Form) -> Result<Reply, Error> {
    let rp = passwordless(visit)?;
    let app = visit.app;
    let state: Option<DiscoverableAuthentication> = app
        .store
        .take_ceremony("discover", &visit.nonce, visit.now)
        .await?;
    let response = form.get("credential").map(String::as_str).unwrap_or("");
    let identified = async {
        let state = state.ok_or(Refusal::NoCeremony)?;
        let assertion = parse_assertion(response)?;
        let handle = rp.identify(&assertion)?.to_string();
        let name = app
            .store
            .passkey_handle(&handle)
            .await
            .map_err(|err| Refusal::Rejected(err.to_string()))?
            .ok_or(Refusal::UnknownCredential)?;
        let user = app.users.load().find(&name).cloned();
        let user = user.ok_or(Refusal::UnknownCredential)?;
        Ok::<_, Refusal>((state, assertion, user))
    }
    .await;
    let (state, assertion, user) = match identified {
        Ok(found) => found,
        Err(refusal) => {
            refused(visit, "", &refusal);
            return not_accepted(visit);
        }
    };
    let reservation = visit.reserve_attempt(&user.name, Some(&user.name)).await?;
    if reservation.refused.is_some() {
        return not_accepted(visit);
    }
    let credentials = app.store.passkeys(&user.name).await?;
    let now = visit.now;
    let checked = async {
        let result = rp.finish_discoverable(&assertion, state, &credentials)?;
        app.store
            .update_passkeys(&user.name, |list| record_use(list, &result, now))
            .await
            .map_err(|err| Refusal::Rejected(err.to_string()))?
    }
    .await;
    if let Err(refusal) = checked {
        refused(visit, &user.name, &refusal);
        return not_accepted(visit);
    }
    app.limiter.refund(&app.store, &reservation).await?;
    if let Err(err) = app.limiter.signed_in(&app.store, &user.name).await {
        tracing::warn!(error = %err, "could not reset the failure count");
    }
    if let Some((old, _)) = visit.session.take() {
        app.store.end_session(&old.id, old.expires_at, now).await;
    }
    let session = app.start_session(&user, FactorLevel::TwoFactor, now, now);
    visit.set_cookie(app.sessions.set_cookie(&session, visit.tls));
    visit.set_device_mark(&user.name);
    crate::metrics::session_started(session.expires_at);
    crate::metrics::sign_in("webauthn", "passwordless", "ok");
    visit.audit(
        "signin_succeeded",
        Record {
            user: Some(&user.name),
            channel: Some("webauthn"),
            reason: Some("passwordless"),
            ..Record::default()
        },
    );
    tracing::info!(event = "signin_succeeded", user = %user.name, client = %visit.client, "signed in with a passkey alone");
    Ok(redirect(StatusCode::SEE_OTHER, &visit.destination()))
}

/// The login page again, saying the passkey did not do.
fn not_accepted(visit: &Visit<'_>) -> Result<Reply, Error> {
    visit.render(
        StatusCode::UNAUTHORIZED,
        "login.html",
        context! {
            error => visit.t("passkey-rejected-password"),
            passwordless => true,
        },
    )
}
