//! Server-side state: pending challenges, revoked sessions, send cooldowns,
//! the counters behind [`crate::limits`], push answer tokens and the last
//! authenticator-app step used per user.
//!
//! One typed layer over a [`Backend`]: memory (one replica, forgets on
//! restart), file (one replica, survives restarts) or Redis (several). Values are JSON; each carries its own expiry times, checked
//! against doorman's clock, so an injected clock in tests stays
//! authoritative and the backend's time to live only reclaims space.
//! Every change is a compare-and-set, so replicas never lose each other's
//! updates (five wrong codes spread over two replicas are five).

pub mod backend;
pub mod bounded;
pub mod file_backend;
pub mod memory;
pub mod redis_backend;

use crate::limits::{EventLog, FailureLog};
use crate::otp::push::PushToken;
use crate::otp::Challenge;
use backend::Backend;
pub use backend::{Health, StoreResult, Unavailable};
use file_backend::FileBackend;
use memory::MemoryBackend;
use moka::sync::Cache;
use redis_backend::RedisBackend;
use redis_backend::RedisSettings;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// Where challenges, revocations and counters live.
#[derive(Debug, Clone, Default)]
pub enum StoreSettings {
    /// In this process: one replica, forgetting everything on restart.
    #[default]
    Memory,
    /// A redb file: one replica, keeping sign-outs, locks and used codes
    /// across restarts. What `serve` uses when `store` is not set.
    File(file_backend::FileSettings),
    /// Redis or Valkey, shared by every replica.
    Redis(RedisSettings),
}

/// Where the file store lives unless `store.path` says otherwise (the
/// container image declares it a volume).
pub const DEFAULT_STORE_PATH: &str = "/var/lib/doorman/state.redb";

/// One of the backends, chosen by `store.kind`.
pub enum AnyBackend {
    Memory(Box<MemoryBackend>),
    File(FileBackend),
    Redis(RedisBackend),
}

macro_rules! delegate {
    ($self:ident, $backend:ident => $call:expr) => {
        match $self {
            AnyBackend::Memory($backend) => $call,
            AnyBackend::File($backend) => $call,
            AnyBackend::Redis($backend) => $call,
        }
    };
}

impl Backend for AnyBackend {
    async fn get(&self, key: &str) -> StoreResult<Option<Vec<u8>>> {
        delegate!(self, b => b.get(key).await)
    }
    async fn put(&self, key: &str, value: Vec<u8>, ttl: Duration) -> StoreResult<()> {
        delegate!(self, b => b.put(key, value, ttl).await)
    }
    async fn take(&self, key: &str) -> StoreResult<Option<Vec<u8>>> {
        delegate!(self, b => b.take(key).await)
    }
    async fn remove(&self, key: &str) -> StoreResult<()> {
        delegate!(self, b => b.remove(key).await)
    }
    async fn swap(
        &self,
        key: &str,
        expected: Option<&[u8]>,
        new: Option<Vec<u8>>,
        ttl: Duration,
    ) -> StoreResult<bool> {
        delegate!(self, b => b.swap(key, expected, new, ttl).await)
    }
    async fn revoke(&self, id: &str, ttl: Duration) -> StoreResult<()> {
        delegate!(self, b => b.revoke(id, ttl).await)
    }
    fn is_revoked(&self, id: &str) -> bool {
        delegate!(self, b => b.is_revoked(id))
    }
    async fn revoke_user(&self, user: &str, not_before: u64, ttl: Duration) -> StoreResult<()> {
        delegate!(self, b => b.revoke_user(user, not_before, ttl).await)
    }
    fn user_revoked_at(&self, user: &str) -> Option<u64> {
        delegate!(self, b => b.user_revoked_at(user))
    }
    fn has_room(&self) -> StoreResult<()> {
        delegate!(self, b => b.has_room())
    }
    fn health(&self) -> Health {
        delegate!(self, b => b.health())
    }
}

/// How long each kind of entry is kept at most.
#[derive(Debug, Clone, Copy)]
pub struct Lifetimes {
    pub session: Duration,
    pub code: Duration,
    pub cooldown: Duration,
}

/// A little slack past each lifetime, so a clock a few seconds off never
/// drops an entry early.
const SLACK: Duration = Duration::from_secs(60);
/// Failure and event logs: an entry idle for a day holds nothing any limit
/// still reads.
const COUNTER_TTL: Duration = Duration::from_secs(25 * 3600);
/// A used TOTP step: past this it is outside the accepted window anyway.
const TOTP_STEP_TTL: Duration = Duration::from_secs(5 * 60);
/// Compare-and-set retries before giving up on a hot key.
const SWAP_TRIES: usize = 32;

pub struct Store {
    backend: AnyBackend,
    lifetimes: Lifetimes,
    /// Status long-polls waiting on this replica, by session id; an answer
    /// that arrives here wakes them at once (others poll the store).
    push_waiters: Cache<String, Arc<Notify>>,
}

impl Store {
    pub fn memory(lifetimes: Lifetimes) -> Store {
        Store::with_backend(AnyBackend::Memory(Box::default()), lifetimes)
    }

    /// The store `settings` ask for, holding at most `capacity` entries in
    /// memory per map; Redis is connected in the background. The error
    /// starts with the config key it is about.
    pub fn new(
        settings: &StoreSettings,
        lifetimes: Lifetimes,
        capacity: usize,
    ) -> Result<Store, String> {
        let backend = match settings {
            StoreSettings::Memory => {
                AnyBackend::Memory(Box::new(MemoryBackend::with_capacity(capacity)))
            }
            StoreSettings::File(file) => AnyBackend::File(
                FileBackend::open(&file.path, capacity)
                    .map_err(|err| format!("store.path: {err}"))?,
            ),
            StoreSettings::Redis(redis) => AnyBackend::Redis(
                RedisBackend::start_with_capacity(redis, capacity)
                    .map_err(|err| format!("store: {err}"))?,
            ),
        };
        Ok(Store::with_backend(backend, lifetimes))
    }

    fn with_backend(backend: AnyBackend, lifetimes: Lifetimes) -> Store {
        Store {
            backend,
            lifetimes,
            push_waiters: Cache::builder()
                .max_capacity(100_000)
                .time_to_idle(lifetimes.code + SLACK)
                .build(),
        }
    }

    pub fn health(&self) -> Health {
        self.backend.health()
    }

    async fn read<T: DeserializeOwned>(&self, key: &str) -> StoreResult<Option<T>> {
        let bytes = self.backend.get(key).await?;
        Ok(bytes.and_then(|bytes| serde_json::from_slice(&bytes).ok()))
    }

    async fn write<T: Serialize>(&self, key: &str, value: &T, ttl: Duration) -> StoreResult<()> {
        let bytes = serde_json::to_vec(value).map_err(|err| Unavailable(err.to_string()))?;
        self.backend.put(key, bytes, ttl).await
    }

    /// Applies `change` to the value under `key` (`None` when absent; set it
    /// to `None` to remove), atomically against every other replica.
    async fn update<T, R>(
        &self,
        key: &str,
        ttl: Duration,
        mut change: impl FnMut(&mut Option<T>) -> R,
    ) -> StoreResult<R>
    where
        T: Serialize + DeserializeOwned,
    {
        for _ in 0..SWAP_TRIES {
            let current = self.backend.get(key).await?;
            let mut value: Option<T> = current
                .as_deref()
                .and_then(|bytes| serde_json::from_slice(bytes).ok());
            let result = change(&mut value);
            let new = match &value {
                Some(value) => {
                    Some(serde_json::to_vec(value).map_err(|err| Unavailable(err.to_string()))?)
                }
                None => None,
            };
            if new.as_deref() == current.as_deref() {
                return Ok(result);
            }
            if self.backend.swap(key, current.as_deref(), new, ttl).await? {
                return Ok(result);
            }
            // Lost the race: let the winner finish before reading again, so
            // a burst on one key settles instead of spinning.
            tokio::task::yield_now().await;
        }
        Err(Unavailable(format!("{key} is changing too fast")))
    }

    // Revocations.

    /// Revokes a session id until `expires_at` (Unix seconds, doorman's clock).
    pub async fn revoke(&self, session_id: &str, expires_at: u64, now: u64) -> StoreResult<()> {
        let ttl = Duration::from_secs(expires_at.saturating_sub(now)) + SLACK;
        self.backend.revoke(session_id, ttl).await
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
        self.backend.is_revoked(session_id)
    }

    /// Whether a session of `user` authenticated at `authenticated_at` was
    /// ended by `doorman sessions revoke`; from memory only.
    pub fn is_user_revoked(&self, user: &str, authenticated_at: u64) -> bool {
        self.backend
            .user_revoked_at(user)
            .is_some_and(|not_before| authenticated_at <= not_before)
    }

    /// `Err` when an in-memory map is full: a new sign-in is refused (and
    /// says so) rather than a revocation or a lock being forgotten.
    pub fn has_room(&self) -> StoreResult<()> {
        self.backend.has_room()
    }

    // Challenges, by the id of the level-1 session they belong to.

    fn challenge_key(session_id: &str) -> String {
        format!("challenge:{session_id}")
    }

    pub async fn challenge(&self, session_id: &str) -> StoreResult<Option<Challenge>> {
        self.read(&Store::challenge_key(session_id)).await
    }

    /// Stores `challenge`, replacing (and so invalidating) any earlier one.
    pub async fn put_challenge(&self, session_id: &str, challenge: &Challenge) -> StoreResult<()> {
        let ttl = self.lifetimes.code + SLACK;
        self.write(&Store::challenge_key(session_id), challenge, ttl)
            .await
    }

    pub async fn remove_challenge(&self, session_id: &str) -> StoreResult<()> {
        self.backend.remove(&Store::challenge_key(session_id)).await
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
        let ttl = self.lifetimes.code + SLACK;
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
        let ttl = self.lifetimes.code + SLACK;
        let result = self
            .update(&Store::challenge_key(session_id), ttl, |value| {
                value.as_mut().map(&mut change)
            })
            .await?;
        if let Some(waiter) = self.push_waiters.get(session_id) {
            waiter.notify_waiters();
        }
        Ok(result)
    }

    /// What a status long-poll for `session_id` waits on.
    pub fn push_waiter(&self, session_id: &str) -> Arc<Notify> {
        self.push_waiters
            .get_with_by_ref(session_id, || Arc::new(Notify::new()))
    }

    // Send cooldowns, by user.

    pub async fn last_sent(&self, user: &str) -> StoreResult<Option<u64>> {
        self.read(&format!("sent:{}", user.to_lowercase())).await
    }

    pub async fn record_sent(&self, user: &str, at: u64) -> StoreResult<()> {
        let ttl = self.lifetimes.cooldown + SLACK;
        self.write(&format!("sent:{}", user.to_lowercase()), &at, ttl)
            .await
    }

    /// Starts `cooldown` under `key` unless one is running; when it ends,
    /// if one is. One step, so of two at once one starts it.
    pub async fn take_cooldown(
        &self,
        key: &str,
        cooldown: Duration,
        now: u64,
    ) -> StoreResult<Result<(), u64>> {
        let ends = |at: u64| at.saturating_add(cooldown.as_secs());
        self.update(
            &format!("cooldown:{key}"),
            cooldown + SLACK,
            |last: &mut Option<u64>| match *last {
                Some(at) if ends(at) > now => Err(ends(at)),
                _ => {
                    *last = Some(now);
                    Ok(())
                }
            },
        )
        .await
    }

    // Limit counters.

    /// The failure log under `key` (empty when there is none).
    pub async fn failures(&self, key: &str) -> StoreResult<FailureLog> {
        Ok(self
            .read(&format!("failures:{key}"))
            .await?
            .unwrap_or_default())
    }

    /// Runs `change` on the failure log under `key` (created empty).
    pub async fn update_failures<R>(
        &self,
        key: &str,
        mut change: impl FnMut(&mut FailureLog) -> R,
    ) -> StoreResult<R> {
        self.update(&format!("failures:{key}"), COUNTER_TTL, |value| {
            change(value.get_or_insert_with(FailureLog::default))
        })
        .await
    }

    /// Runs `change` on the event log under `key` (created empty).
    pub async fn update_events<R>(
        &self,
        key: &str,
        mut change: impl FnMut(&mut EventLog) -> R,
    ) -> StoreResult<R> {
        self.update(&format!("events:{key}"), COUNTER_TTL, |value| {
            change(value.get_or_insert_with(EventLog::default))
        })
        .await
    }

    // Push answer tokens.

    /// Keeps a push answer token until it is used or expires.
    pub async fn put_push_token(&self, id: &str, token: &PushToken) -> StoreResult<()> {
        let ttl = self.lifetimes.code + SLACK;
        self.write(&format!("push:{id}"), token, ttl).await
    }

    /// Removes and returns a push answer token: of two concurrent uses, on
    /// any replicas, one gets it.
    pub async fn take_push_token(&self, id: &str) -> StoreResult<Option<PushToken>> {
        let bytes = self.backend.take(&format!("push:{id}")).await?;
        Ok(bytes.and_then(|bytes| serde_json::from_slice(&bytes).ok()))
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
