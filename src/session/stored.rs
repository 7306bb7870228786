//! session's keyspace in the [`Store`]: revoked sessions, and sessions a
//! user's credentials no longer admit.

use crate::store::backend::Backend;
use crate::store::{Store, StoreResult, SLACK};
use std::time::Duration;

/// How long a revocation of all of a user's sessions is kept: past any
/// session (of lifetime `session`) or trusted browser (a month at most)
/// it can end; those expire by themselves after that.
pub fn user_revocation_kept(session: Duration) -> Duration {
    session.max(Duration::from_secs(31 * 24 * 3600)) + SLACK
}

impl Store {
    /// Revokes a session id until `expires_at` (Unix seconds, doorman's clock).
    pub async fn revoke(&self, session_id: &str, expires_at: u64, now: u64) -> StoreResult<()> {
        let ttl = Duration::from_secs(expires_at.saturating_sub(now)) + SLACK;
        self.backend().revoke(session_id, ttl).await
    }

    /// Ends a session: revoked (on this replica at once, on the others as
    /// soon as Redis has it; a revocation Redis missed is sent again when it
    /// is back) and its challenge dropped. Never fails: a sign-out must not.
    pub async fn end_session(&self, session_id: &str, expires_at: u64, now: u64) {
        if let Err(err) = self.revoke(session_id, expires_at, now).await {
            tracing::warn!(error = %err, "revocation kept here; other replicas get it when the store is back");
        }
        if let Err(err) = self.remove_challenge(session_id).await {
            tracing::warn!(error = %err, "could not drop the session's challenge; it expires by itself");
        }
    }

    /// Ends every session of `user` made at or before `now` (and every
    /// browser they marked trusted then), on every replica that shares the
    /// store: what `doorman sessions revoke` does, and what a removed or
    /// replaced factor does, so no session it made outlives it.
    pub async fn end_user_sessions(&self, user: &str, now: u64) -> StoreResult<()> {
        let keep = user_revocation_kept(self.lifetimes().session);
        self.backend().revoke_user(user, now, keep).await
    }

    /// From memory only: the hot path never waits on the network.
    pub fn is_revoked(&self, session_id: &str) -> bool {
        self.backend().is_revoked(session_id)
    }

    /// When a session of `user` starting now, authenticated at
    /// `authenticated_at`, counts as made: then, or just after a revocation
    /// of all of `user`'s sessions in that very second (revocations count
    /// whole seconds; one known here came before this session). An earlier
    /// authentication stays before it, and revoked. From memory only.
    pub fn made_after_revocations(&self, user: &str, authenticated_at: u64) -> u64 {
        match self.backend().user_revoked_at(user) {
            Some(not_before) if authenticated_at == not_before => not_before.saturating_add(1),
            _ => authenticated_at,
        }
    }

    /// Whether a session of `user` authenticated at `authenticated_at` was
    /// ended by `doorman sessions revoke` (or a removed factor); from
    /// memory only.
    pub fn is_user_revoked(&self, user: &str, authenticated_at: u64) -> bool {
        self.backend()
            .user_revoked_at(user)
            .is_some_and(|not_before| authenticated_at <= not_before)
    }
}
