//! `{prefix}/passkeys`: a person lists, adds and removes their passkeys and
//! security keys, after a fresh full sign-in (as for the authenticator
//! app: a cookie that leaked later must not plant a credential of its
//! own). Credentials go to the store; each change is audited.

use super::passkey::{options_reply, refused, relying_party};
use super::{redirect, Form, Reply, Visit};
use crate::audit::Record;
use crate::error::Error;
use crate::session::FactorLevel;
use crate::users::User;
use crate::webauthn::stored::MAX_CREDENTIALS;
use crate::webauthn::{Credential, Refusal};
use http::StatusCode;
use minijinja::context;
use serde::Serialize;
use std::sync::Arc;
use webauthn_rs::prelude::PasskeyRegistration;

/// How recent the second factor must be to change credentials.
const FRESH: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// What to answer instead (boxed: a reply is large beside the success).
pub(super) type Answer = Box<Result<Reply, Error>>;

/// The fully and freshly signed-in session's id and user, or the answer
/// that says what to do first.
fn admitted(visit: &Visit<'_>) -> Result<(String, Arc<User>), Answer> {
    admitted_to(visit, "passkeys", "sign-in-again-to-change-passkeys")
}

/// [`admitted`] for the page at `page` (under the prefix); message
/// `why` says why to sign in again.
pub(super) fn admitted_to(
    visit: &Visit<'_>,
    page: &str,
    why: &str,
) -> Result<(String, Arc<User>), Answer> {
    let back = format!("{}/{page}", visit.app.prefix);
    let back: String = form_urlencoded::byte_serialize(back.as_bytes()).collect();
    match &visit.session {
        Some((session, user)) if session.level == FactorLevel::TwoFactor => {
            if crate::gate::needs_step_up(Some(FRESH), session, visit.now) {
                let link = format!("{}/logout?rd={back}", visit.app.prefix);
                let again = visit.t("sign-in-again");
                return Err(Box::new(visit.message(
                    StatusCode::OK,
                    &again,
                    &visit.t(why),
                    Some((&link, &again)),
                )));
            }
            Ok((session.id.clone(), user.clone()))
        }
        _ => Err(Box::new(Ok(redirect(
            StatusCode::SEE_OTHER,
            &format!("{}/login?rd={back}", visit.app.prefix),
        )))),
    }
}

/// A credential as the list shows it.
#[derive(Serialize)]
struct Listed {
    id: String,
    name: String,
    added: String,
    last_used: Option<String>,
}

/// `GET passkeys`.
pub async fn show(visit: &mut Visit<'_>) -> Result<Reply, Error> {
    relying_party(visit)?;
    let (_, user) = match admitted(visit) {
        Ok(found) => found,
        Err(answer) => return *answer,
    };
    page(visit, &user, StatusCode::OK, None, None).await
}

async fn page(
    visit: &Visit<'_>,
    user: &User,
    status: StatusCode,
    notice: Option<&str>,
    error: Option<&str>,
) -> Result<Reply, Error> {
    let credentials = visit.app.store.passkeys(&user.name).await?;
    let listed: Vec<Listed> = credentials
        .iter()
        .map(|credential| Listed {
            id: credential.id(),
            name: credential.name.clone(),
            added: visit.locale.date_time(credential.added_at),
            last_used: credential.last_used.map(|at| visit.locale.date_time(at)),
        })
        .collect();
    visit.render(
        status,
        "passkeys.html",
        context! {
            passkeys => listed,
            full => credentials.len() >= MAX_CREDENTIALS,
            notice => notice,
            error => error,
        },
    )
}

/// `POST passkeys/begin`: options for a new credential, as JSON.
pub async fn begin(visit: &mut Visit<'_>) -> Result<Reply, Error> {
    let rp = relying_party(visit)?;
    let (session_id, user) = match admitted(visit) {
        Ok(found) => found,
        Err(_) => return Err(Error::Forbidden),
    };
    let existing = visit.app.store.passkeys(&user.name).await?;
    if existing.len() >= MAX_CREDENTIALS {
        return Err(Error::BadRequest("passkey registration: too many passkeys"));
    }
    let display = user.display_name.as_deref().unwrap_or(&user.name);
    let (options, state) = rp
        .begin_registration(&user.name, display, &existing)
        .map_err(|err| {
            tracing::warn!(error = %err, "cannot start a passkey registration");
            Error::BadRequest("passkey registration")
        })?;
    visit
        .app
        .store
        .put_ceremony("register", &session_id, &state, visit.now)
        .await?;
    options_reply(&options)
}

/// `POST passkeys`, fields `name` and `credential`: the new credential.
pub async fn finish(visit: &mut Visit<'_>, form: &Form) -> Result<Reply, Error> {
    let rp = relying_party(visit)?;
    let (session_id, user) = match admitted(visit) {
        Ok(found) => found,
        Err(answer) => return *answer,
    };
    let app = visit.app;
    let state: Option<PasskeyRegistration> = app
        .store
        .take_ceremony("register", &session_id, visit.now)
        .await?;
    let name: String = form
        .get("name")
        .map(|name| {
            name.trim()
                .chars()
                .filter(|c| !c.is_control())
                .take(60)
                .collect()
        })
        .filter(|name: &String| !name.is_empty())
        .unwrap_or_else(|| visit.t("passkey-default-name"));
    let response = form.get("credential").map(String::as_str).unwrap_or("");
    let now = visit.now;
    let added = async {
        let state = state.ok_or(Refusal::NoCeremony)?;
        let passkey = rp.finish_registration(response, &state)?;
        let credential = Credential {
            name: name.clone(),
            added_at: now,
            last_used: None,
            passkey,
        };
        app.store
            .update_passkeys(&user.name, |list| {
                if list
                    .iter()
                    .any(|c| c.passkey.cred_id() == credential.passkey.cred_id())
                {
                    return Err(Refusal::Duplicate);
                }
                if list.len() >= MAX_CREDENTIALS {
                    return Err(Refusal::Rejected("too many passkeys".into()));
                }
                list.push(credential.clone());
                Ok(())
            })
            .await
            .map_err(|err| Refusal::Rejected(err.to_string()))??;
        Ok::<(), Refusal>(())
    }
    .await;
    if let Err(refusal) = added {
        refused(visit, &user.name, &refusal);
        let text = visit.t("passkey-not-added");
        return page(visit, &user, StatusCode::BAD_REQUEST, None, Some(&text)).await;
    }
    let handle = rp.user_handle(&user.name).to_string();
    app.store.put_passkey_handle(&handle, &user.name).await?;
    changed(visit, &user, "passkey_added", &name).await;
    let text = visit.t_with("passkey-added", &[("name", name.as_str().into())]);
    page(visit, &user, StatusCode::OK, Some(&text), None).await
}

/// `POST passkeys/remove`, field `id`.
pub async fn remove(visit: &mut Visit<'_>, form: &Form) -> Result<Reply, Error> {
    relying_party(visit)?;
    let (_, user) = match admitted(visit) {
        Ok(found) => found,
        Err(answer) => return *answer,
    };
    let id = form.get("id").map(String::as_str).unwrap_or("");
    let removed = visit
        .app
        .store
        .update_passkeys(&user.name, |list| {
            let at = list.iter().position(|credential| credential.id() == id)?;
            Some(list.remove(at).name)
        })
        .await?;
    let Some(name) = removed else {
        let text = visit.t("passkey-not-yours");
        return page(visit, &user, StatusCode::BAD_REQUEST, None, Some(&text)).await;
    };
    factor_removed(visit, &user).await?;
    changed(visit, &user, "passkey_removed", &name).await;
    let text = visit.t_with("passkey-removed", &[("name", name.as_str().into())]);
    page(visit, &user, StatusCode::OK, Some(&text), None).await
}

/// A factor kept in the store (a passkey, a set of recovery codes) was
/// removed or replaced: every session of `user` made until now ends on
/// every replica, with the browsers marked trusted until now, so none that
/// the factor made outlives it; this session carries on, re-issued as made
/// after that (its lifetime unchanged).
pub(super) async fn factor_removed(visit: &mut Visit<'_>, user: &User) -> Result<(), Error> {
    let now = visit.now;
    visit.app.store.end_user_sessions(&user.name, now).await?;
    if let Some((session, _)) = &visit.session {
        let mut renewed = session.clone();
        renewed.authenticated_at = now.saturating_add(1).max(renewed.authenticated_at);
        let cookie = visit.app.sessions.set_cookie(&renewed, visit.tls);
        visit.set_cookie(cookie);
    }
    Ok(())
}

/// Audits a change and sends the account notice.
async fn changed(visit: &Visit<'_>, user: &User, event: &'static str, name: &str) {
    visit.audit(
        event,
        Record {
            user: Some(&user.name),
            channel: Some("webauthn"),
            ..Record::default()
        },
    );
    tracing::info!(event, user = %user.name, passkey = %name, client = %visit.client, "passkeys changed");
    let notice =
        crate::notify::Notice::new(event, &user.name, "page", Some(visit.client), visit.now);
    notice.send(visit.app).await;
}
