//! session's keyspace in the [`Store`]: revoked sessions, and sessions a
//! user's credentials no longer admit.

use crate::store::backend::Backend;
use crate::store::{Store, StoreResult, SLACK};
use std::time::Duration;

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

    /// From memory only: the hot path never waits on the network.
    pub fn is_revoked(&self, session_id: &str) -> bool {
        self.backend().is_revoked(session_id)
    }

    /// Whether a session of `user` authenticated at `authenticated_at` was
    /// ended by `doorman sessions revoke`; from memory only.
    pub fn is_user_revoked(&self, user: &str, authenticated_at: u64) -> bool {
        self.backend()
            .user_revoked_at(user)
            .is_some_and(|not_before| authenticated_at <= not_before)
    }
}
