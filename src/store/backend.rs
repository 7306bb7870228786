//! What a store backend offers: bytes under keys, each with a time to live,
//! an atomic compare-and-set, one-time reads, and revocations that every
//! replica hears about. Memory, file (redb) and Redis implement the same
//! trait and pass the same conformance suite (`tests/it/store.rs`).
//!
//! Values carry their own expiry times, checked against doorman's clock;
//! the backend's time to live only reclaims space.

use std::future::Future;
use std::time::Duration;

/// The shared state cannot be reached: new sign-ins fail closed.
#[derive(Debug, Clone, thiserror::Error)]
#[error("shared state unavailable: {0}")]
pub struct Unavailable(pub String);

pub type StoreResult<T> = Result<T, Unavailable>;

/// How a backend is doing, for the health endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    Ok,
    /// Reachable state is missing; sessions still work from their cookies.
    Degraded,
}

/// A compare-and-set: set `key` to `new` (or remove it, for `None`) for
/// `ttl`, only if it still holds `expected` (`None`: absent).
#[derive(Debug)]
pub struct Swap<'a> {
    pub key: &'a str,
    pub expected: Option<&'a [u8]>,
    pub new: Option<Vec<u8>>,
    pub ttl: Duration,
}

pub trait Backend: Send + Sync {
    fn get(&self, key: &str) -> impl Future<Output = StoreResult<Option<Vec<u8>>>> + Send;

    fn put(
        &self,
        key: &str,
        value: Vec<u8>,
        ttl: Duration,
    ) -> impl Future<Output = StoreResult<()>> + Send;

    /// Reads and removes in one step: of two concurrent takes, one gets it.
    fn take(&self, key: &str) -> impl Future<Output = StoreResult<Option<Vec<u8>>>> + Send;

    fn remove(&self, key: &str) -> impl Future<Output = StoreResult<()>> + Send;

    /// Sets `key` to `new` (or removes it, for `None`) only if it still
    /// holds `expected` (`None`: absent); whether it did.
    fn swap<'a>(
        &'a self,
        key: &'a str,
        expected: Option<&'a [u8]>,
        new: Option<Vec<u8>>,
        ttl: Duration,
    ) -> impl Future<Output = StoreResult<bool>> + Send + 'a {
        self.compare_and_set(Swap {
            key,
            expected,
            new,
            ttl,
        })
    }

    /// [`Backend::swap`], as one request: what each backend implements.
    fn compare_and_set(&self, swap: Swap<'_>) -> impl Future<Output = StoreResult<bool>> + Send;

    /// Revokes a session id for `ttl`, here and on every other replica.
    fn revoke(&self, id: &str, ttl: Duration) -> impl Future<Output = StoreResult<()>> + Send;

    /// Whether `id` is revoked, from memory: the hot path never waits on
    /// the network.
    fn is_revoked(&self, id: &str) -> bool;

    /// Revokes every session of `user` authenticated at or before
    /// `not_before` (Unix seconds), for `ttl`, here and on every replica.
    fn revoke_user(
        &self,
        user: &str,
        not_before: u64,
        ttl: Duration,
    ) -> impl Future<Output = StoreResult<()>> + Send;

    /// The latest `not_before` revoked for `user` (letter case ignored),
    /// from memory.
    fn user_revoked_at(&self, user: &str) -> Option<u64>;

    /// `Err` when a bounded in-memory set is full: a new sign-in must wait
    /// rather than have a revocation or a lock evicted to make room.
    fn has_room(&self) -> StoreResult<()>;

    fn health(&self) -> Health;
}
