//! `2fa/passkey`: a passkey or security key as the second factor. The
//! browser asks `2fa/passkey/begin` for a challenge (kept in the store for
//! the session, single-use), the authenticator signs it, and the signed
//! assertion comes back as a form field to `2fa/passkey`, where the
//! attempt is reserved before anything in it is checked.

use super::challenge::choose_page;
use super::second_factor::signed_in_with_password;
use super::{redirect, Form, Reply, Visit};
use crate::audit::Record;
use crate::error::Error;
use crate::otp::Channel;
use crate::webauthn::{parse_assertion, record_use, Refusal, RelyingParty};
use http::StatusCode;
use webauthn_rs::prelude::PasskeyAuthentication;

/// The relying party, or "no such page" where passkeys are not set up.
pub(super) fn relying_party<'a>(visit: &Visit<'a>) -> Result<&'a RelyingParty, Error> {
    visit.app.passkeys.as_ref().ok_or(Error::NotFound)
}

/// Options for `navigator.credentials`, as JSON.
pub(super) fn options_reply(options: &impl serde::Serialize) -> Result<Reply, Error> {
    let body = serde_json::to_vec(options).map_err(|_| Error::BadRequest("passkey options"))?;
    Ok(super::respond(StatusCode::OK, super::JSON, body))
}

/// `POST 2fa/passkey/begin`: a challenge the user's credentials can answer.
pub async fn begin(visit: &mut Visit<'_>) -> Result<Reply, Error> {
    let rp = relying_party(visit)?;
    let (session, user) = match signed_in_with_password(visit) {
        Ok(found) => found,
        Err(elsewhere) => return Ok(redirect(StatusCode::SEE_OTHER, &elsewhere)),
    };
    let credentials = visit.app.store.passkeys(&user.name).await?;
    if credentials.is_empty() {
        return Err(Error::BadRequest("passkey sign-in: no passkey registered"));
    }
    let (options, state) = rp.begin_authentication(&credentials).map_err(|err| {
        tracing::warn!(error = %err, "cannot start a passkey sign-in");
        Error::BadRequest("passkey sign-in")
    })?;
    let store = &visit.app.store;
    store
        .put_ceremony("auth", &session.id, &state, visit.now)
        .await?;
    options_reply(&options)
}

/// `POST 2fa/passkey`, field `credential`: the signed assertion.
pub async fn finish(visit: &mut Visit<'_>, form: &Form) -> Result<Reply, Error> {
    let rp = relying_party(visit)?;
    let (session, user) = match signed_in_with_password(visit) {
        Ok(found) => found,
        Err(elsewhere) => return Ok(redirect(StatusCode::SEE_OTHER, &elsewhere)),
    };
    let app = visit.app;
    let reservation = visit.reserve_attempt(&user.name, Some(&user.name)).await?;
    if let Some(until) = reservation.refused {
        let text = super::verify::too_many_failed(visit, until);
        return choose_page(visit, &user, StatusCode::TOO_MANY_REQUESTS, Some(text));
    }
    let state: Option<PasskeyAuthentication> = app
        .store
        .take_ceremony("auth", &session.id, visit.now)
        .await?;
    let response = form.get("credential").map(String::as_str).unwrap_or("");
    let now = visit.now;
    let checked = async {
        let state = state.ok_or(Refusal::NoCeremony)?;
        let assertion = parse_assertion(response)?;
        let result = rp.finish_authentication(&assertion, &state)?;
        app.store
            .update_passkeys(&user.name, |list| {
                record_use(list, &result, now).map(|i| list[i].name.clone())
            })
            .await
            .map_err(|err| Refusal::Rejected(err.to_string()))?
    }
    .await;
    match checked {
        Ok(name) => {
            app.limiter.refund(&app.store, &reservation).await?;
            crate::metrics::sign_in("webauthn", "webauthn", "ok");
            tracing::info!(event = "passkey_used", user = %user.name, passkey = %name, "passkey accepted");
            if super::trusted_device::asked(form) {
                super::trusted_device::remember(visit, &user);
            }
            Ok(super::verify::signed_in(visit, &session, &user, Channel::Webauthn).await)
        }
        Err(refusal) => {
            refused(visit, &user.name, &refusal);
            crate::metrics::sign_in("webauthn", "webauthn", "wrong_code");
            let text = visit.t("passkey-rejected");
            choose_page(visit, &user, StatusCode::UNAUTHORIZED, Some(text))
        }
    }
}

/// Audits and logs a refused passkey; the reason never reaches the page.
pub(super) fn refused(visit: &Visit<'_>, user: &str, refusal: &Refusal) {
    let reason = match refusal {
        Refusal::NoCeremony => "no_ceremony",
        Refusal::Unreadable => "unreadable",
        Refusal::UnknownCredential => "unknown_credential",
        Refusal::CounterRegressed => "counter_regressed",
        Refusal::Duplicate => "duplicate",
        Refusal::WrongOrigin => "wrong_origin",
        Refusal::WrongChallenge => "wrong_challenge",
        Refusal::Rejected(_) => "rejected",
    };
    visit.audit(
        "passkey_failed",
        Record {
            user: Some(user),
            channel: Some("webauthn"),
            reason: Some(reason),
            ..Record::default()
        },
    );
    tracing::warn!(event = "passkey_failed", user, reason, error = %refusal, client = %visit.client, "passkey refused");
}

/// Looks up whether the visit's user has a passkey and recovery codes,
/// for the `2fa` pages (neither, where the store cannot say: the other
/// channels are still offered).
pub(super) async fn look_up_factors(visit: &mut Visit<'_>) {
    let Some((_, user)) = &visit.session else {
        return;
    };
    let store = &visit.app.store;
    if visit.app.passkeys.is_some() {
        match store.passkeys(&user.name).await {
            Ok(list) => visit.has_passkey = !list.is_empty(),
            Err(err) => tracing::warn!(error = %err, "cannot read passkeys"),
        }
    }
    match store.recovery_codes(&user.name).await {
        Ok(codes) => visit.has_recovery_codes = codes.is_some_and(|codes| codes.left() > 0),
        Err(err) => tracing::warn!(error = %err, "cannot read recovery codes"),
    }
}
