//! otp's keyspaces in the [`Store`]: each session's challenge (and the
//! challenges a user holds open), push answer tokens, the last
//! authenticator-app step used and when a code was last sent, per user.

use super::push::PushToken;
use super::Challenge;
use crate::store::{Store, StoreResult, SLACK};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// A used TOTP step: past this it is outside the accepted window anyway.
const TOTP_STEP_TTL: Duration = Duration::from_secs(5 * 60);

/// Challenges, by the id of the level-1 session they belong to.
fn challenge_key(session_id: &str) -> String {
    format!("challenge:{session_id}")
}

impl Store {
    pub async fn challenge(&self, session_id: &str) -> StoreResult<Option<Challenge>> {
        self.read(&challenge_key(session_id)).await
    }

    /// Stores `challenge`, replacing (and so invalidating) any earlier one.
    pub async fn put_challenge(&self, session_id: &str, challenge: &Challenge) -> StoreResult<()> {
        let ttl = self.lifetimes().code + SLACK;
        self.write(&challenge_key(session_id), challenge, ttl).await
    }

    pub async fn remove_challenge(&self, session_id: &str) -> StoreResult<()> {
        self.remove(&challenge_key(session_id)).await
    }

    /// Notes that `user` holds an open challenge on `session_id` until
    /// `expires_at`, in one step; the sessions whose challenges are the
    /// oldest beyond `max` open ones, for the caller to end.
    pub async fn open_challenge(
        &self,
        user: &str,
        session_id: &str,
        expires_at: u64,
        now: u64,
        max: usize,
    ) -> StoreResult<Vec<String>> {
        let ttl = self.lifetimes().code + SLACK;
        self.update(
            &format!("open:{}", user.trim().to_lowercase()),
            ttl,
            |open: &mut Option<Vec<(String, u64)>>| {
                let open = open.get_or_insert_with(Vec::new);
                open.retain(|(id, until)| *until > now && id != session_id);
                open.push((session_id.to_owned(), expires_at));
                let beyond = open.len().saturating_sub(max);
                open.drain(..beyond).map(|(id, _)| id).collect::<Vec<_>>()
            },
        )
        .await
    }

    /// Changes the session's challenge in one step; `None` when it has none.
    pub async fn update_challenge<R>(
        &self,
        session_id: &str,
        mut change: impl FnMut(&mut Challenge) -> R,
    ) -> StoreResult<Option<R>> {
        let ttl = self.lifetimes().code + SLACK;
        let result = self
            .update(&challenge_key(session_id), ttl, |value| {
                value.as_mut().map(&mut change)
            })
            .await?;
        self.wake(&challenge_key(session_id));
        Ok(result)
    }

    /// What a status long-poll for `session_id` waits on.
    pub fn push_waiter(&self, session_id: &str) -> Arc<Notify> {
        self.waiter(&challenge_key(session_id))
    }

    // Send cooldowns, by user.

    pub async fn last_sent(&self, user: &str) -> StoreResult<Option<u64>> {
        self.read(&format!("sent:{}", user.to_lowercase())).await
    }

    pub async fn record_sent(&self, user: &str, at: u64) -> StoreResult<()> {
        let ttl = self.lifetimes().cooldown + SLACK;
        self.write(&format!("sent:{}", user.to_lowercase()), &at, ttl)
            .await
    }

    // Push answer tokens.

    /// Keeps a push answer token until it is used or expires.
    pub async fn put_push_token(&self, id: &str, token: &PushToken) -> StoreResult<()> {
        let ttl = self.lifetimes().code + SLACK;
        self.write(&format!("push:{id}"), token, ttl).await
    }

    /// Removes and returns a push answer token: of two concurrent uses, on
    /// any replicas, one gets it.
    pub async fn take_push_token(&self, id: &str) -> StoreResult<Option<PushToken>> {
        self.take(&format!("push:{id}")).await
    }

    // Authenticator-app steps.

    /// Records `step` as `user`'s last accepted authenticator-app step, only
    /// if it is later than the last one; whether it was. Atomic across
    /// replicas, so a code raced in twice is accepted once.
    pub async fn accept_totp_step(&self, user: &str, step: u64) -> StoreResult<bool> {
        self.update(
            &format!("totp:{}", user.to_lowercase()),
            TOTP_STEP_TTL,
            |last: &mut Option<u64>| match last {
                Some(last) if *last >= step => false,
                _ => {
                    *last = Some(step);
                    true
                }
            },
        )
        .await
    }
}
