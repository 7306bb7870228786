//! A token a request brought, checked: the attempt is reserved against
//! the token's user (and the client) before the secret is compared, as a
//! password is, and every refusal is audited — never with the secret.

use super::{presented, verify, Refused};
use crate::users::User;
use crate::App;
use http::HeaderMap;
use std::net::IpAddr;
use std::sync::Arc;

/// What the gate is told about a request's token.
pub enum Bearer {
    /// A current token of an existing user.
    Valid {
        user: Arc<User>,
        name: String,
        grant: Grant,
    },
    /// A doorman token that is not (unknown, wrong, expired, revoked,
    /// locked out, or its user is gone): 401, and no cookie is looked at.
    Refused,
}

/// Which token let a request through: what an open tunnel asks again
/// ([`Grant::still_current`]).
#[derive(Debug, Clone)]
pub struct Grant {
    id: String,
    user: String,
    hash: String,
}

impl Grant {
    /// Whether the token is still in the tokens file as it was (not
    /// revoked, not replaced, same user) and not expired at `now`. The
    /// user's side (still there, same credentials) is the gate's.
    pub fn still_current(&self, app: &App, now: u64) -> bool {
        app.tokens.find(&self.id).is_some_and(|entry| {
            entry.user == self.user
                && crate::crypto::equal(entry.hash.as_bytes(), self.hash.as_bytes())
                && !entry.expired(now)
        })
    }

    /// The token's user, as the tokens file names them.
    pub fn user(&self) -> &str {
        &self.user
    }
}

/// The request's doorman token, checked; `None` when it brought none.
pub async fn authenticate(
    app: &App,
    headers: &HeaderMap,
    client: IpAddr,
    now: u64,
) -> Option<Bearer> {
    let presented = presented(headers)?;
    let entry = app.tokens.find(&presented.id);
    let users = app.users.load();
    let user = entry
        .as_ref()
        .and_then(|entry| users.get(&entry.user).cloned());
    let account = match &user {
        Some(user) => crate::limits::Account::Known(&user.name),
        None => crate::limits::Account::Unknown(&presented.id),
    };
    let reservation = match app
        .limiter
        .reserve(&app.store, account, Some(client), now)
        .await
    {
        Ok(reservation) => reservation,
        Err(err) => {
            // Without the store no lock can be checked: fail closed.
            tracing::warn!(error = %err, "cannot count a token attempt: refused");
            return Some(Bearer::Refused);
        }
    };
    if !reservation.delay.is_zero() {
        tokio::time::sleep(reservation.delay).await;
    }
    let checked = match (&entry, &user) {
        (Some(entry), Some(_)) => verify(entry, &presented, now),
        _ => Err(Refused::Unknown),
    };
    let refused = match checked {
        _ if reservation.refused.is_some() => Some("locked"),
        Ok(()) => None,
        Err(why) => Some(why.reason()),
    };
    let name = entry.as_ref().map(|entry| entry.name.as_str());
    let who = user.as_ref().map(|user| user.name.as_str());
    if let Some(reason) = refused {
        tracing::warn!(event = "token_refused", user = who, token = name, %client, reason, "API token refused");
        let record = crate::audit::Record {
            user: who,
            client: Some(client),
            reason: Some(reason),
            token: name,
            request_id: crate::request_id::of(headers),
            ..Default::default()
        };
        app.audit.event(now, "token_refused", record);
        // The reservation stays: this failure is counted.
        return Some(Bearer::Refused);
    }
    if let Err(err) = app.limiter.refund(&app.store, &reservation).await {
        tracing::warn!(error = %err, "cannot hand back a token attempt");
    }
    let (user, entry) = (user?, entry?);
    let record = crate::audit::Record {
        user: Some(&user.name),
        client: Some(client),
        token: Some(&entry.name),
        request_id: crate::request_id::of(headers),
        ..Default::default()
    };
    app.audit.event(now, "token_used", record);
    let grant = Grant {
        id: entry.id,
        user: entry.user,
        hash: entry.hash,
    };
    Some(Bearer::Valid {
        user,
        name: entry.name,
        grant,
    })
}
