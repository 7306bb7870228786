//! webauthn's keyspaces in the [`Store`]: each user's credentials, the
//! user handle each passkey carries (for passwordless sign-in), and the
//! state of a ceremony between its begin and its finish.

use super::Credential;
use crate::limits::fold;
use crate::store::{Store, StoreResult, SLACK};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::time::Duration;

/// Credentials are kept until removed; the store wants a lifetime, so
/// this one outlasts any deployment.
const KEEP: Duration = Duration::from_secs(20 * 365 * 24 * 3600);

/// Most credentials one user may hold: bounds the list each sign-in reads.
pub const MAX_CREDENTIALS: usize = 20;

fn credentials_key(user: &str) -> String {
    format!("passkeys:{}", fold(user))
}

fn handle_key(handle: &str) -> String {
    format!("passkey-handle:{handle}")
}

/// A ceremony's state, by session (or browser nonce) and kind.
fn ceremony_key(kind: &str, owner: &str) -> String {
    format!("webauthn-{kind}:{owner}")
}

impl Store {
    /// `user`'s credentials, oldest first.
    pub async fn passkeys(&self, user: &str) -> StoreResult<Vec<Credential>> {
        Ok(self.read(&credentials_key(user)).await?.unwrap_or_default())
    }

    /// Changes `user`'s credentials in one step, atomically against every
    /// other replica (two sign-ins with one counter cannot both advance it).
    pub async fn update_passkeys<R>(
        &self,
        user: &str,
        mut change: impl FnMut(&mut Vec<Credential>) -> R,
    ) -> StoreResult<R> {
        self.update(&credentials_key(user), KEEP, |value| {
            let mut list: Vec<Credential> = value.take().unwrap_or_default();
            let result = change(&mut list);
            *value = (!list.is_empty()).then_some(list);
            result
        })
        .await
    }

    /// Notes whose passkeys carry `handle` (the user handle).
    pub async fn put_passkey_handle(&self, handle: &str, user: &str) -> StoreResult<()> {
        self.write(&handle_key(handle), &fold(user), KEEP).await
    }

    /// The user whose passkeys carry `handle`.
    pub async fn passkey_handle(&self, handle: &str) -> StoreResult<Option<String>> {
        self.read(&handle_key(handle)).await
    }

    /// Keeps a ceremony's state until its finish, for a code's lifetime
    /// from `now`; a new begin replaces the one before.
    pub async fn put_ceremony<T: Serialize>(
        &self,
        kind: &str,
        owner: &str,
        state: &T,
        now: u64,
    ) -> StoreResult<()> {
        let lifetime = self.lifetimes().code;
        let ceremony = (state, now + lifetime.as_secs());
        self.write(&ceremony_key(kind, owner), &ceremony, lifetime + SLACK)
            .await
    }

    /// Removes and returns a ceremony's state unless it expired by `now`:
    /// it finishes once, on any replica, so a replayed response finds
    /// nothing.
    pub async fn take_ceremony<T: DeserializeOwned>(
        &self,
        kind: &str,
        owner: &str,
        now: u64,
    ) -> StoreResult<Option<T>> {
        let taken: Option<(T, u64)> = self.take(&ceremony_key(kind, owner)).await?;
        Ok(taken.and_then(|(state, expires_at)| (now < expires_at).then_some(state)))
    }
}
