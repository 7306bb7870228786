//! Server-side state, generic: JSON values with compare-and-set, and
//! revocations. What is stored is each owner's business: the keyspaces live
//! with them (`otp::stored`: challenges, push tokens, authenticator steps,
//! send times; `limits::stored`: failure and event logs, cooldowns;
//! `session::stored`: revocations).
//!
//! One layer over a [`Backend`]: memory (one replica, forgets on
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
mod redis_settings;

use backend::{Backend, Swap};
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
    async fn compare_and_set(&self, swap: Swap<'_>) -> StoreResult<bool> {
        delegate!(self, b => b.compare_and_set(swap).await)
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
pub(crate) const SLACK: Duration = Duration::from_secs(60);
/// Compare-and-set retries before giving up on a hot key.
const SWAP_TRIES: usize = 32;

pub struct Store {
    backend: AnyBackend,
    lifetimes: Lifetimes,
    /// Long-polls waiting on this replica for a change, by key (a push
    /// status waits on its session's challenge): a change made here wakes
    /// them at once; other replicas' waiters poll the store.
    waiters: Cache<String, Arc<Notify>>,
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
            waiters: Cache::builder()
                .max_capacity(100_000)
                .time_to_idle(lifetimes.code + SLACK)
                .build(),
        }
    }

    pub fn health(&self) -> Health {
        self.backend.health()
    }

    /// How long each kind of entry is kept.
    pub(crate) fn lifetimes(&self) -> Lifetimes {
        self.lifetimes
    }

    /// The backend itself, for what is not JSON (revocations live in
    /// memory on every replica as well as in the backend).
    pub(crate) fn backend(&self) -> &AnyBackend {
        &self.backend
    }

    /// Removes and returns the JSON value under `key`: of two concurrent
    /// takers, on any replicas, one gets it.
    pub(crate) async fn take<T: DeserializeOwned>(&self, key: &str) -> StoreResult<Option<T>> {
        let bytes = self.backend.take(key).await?;
        Ok(bytes.and_then(|bytes| serde_json::from_slice(&bytes).ok()))
    }

    pub(crate) async fn remove(&self, key: &str) -> StoreResult<()> {
        self.backend.remove(key).await
    }

    /// What a waiter on `key` (on this replica) waits on.
    pub(crate) fn waiter(&self, key: &str) -> Arc<Notify> {
        self.waiters
            .get_with_by_ref(key, || Arc::new(Notify::new()))
    }

    /// Wakes the waiters on `key` on this replica; the others poll.
    pub(crate) fn wake(&self, key: &str) {
        if let Some(waiter) = self.waiters.get(key) {
            waiter.notify_waiters();
        }
    }

    /// The JSON value under `key`; `None` when absent or unreadable.
    pub(crate) async fn read<T: DeserializeOwned>(&self, key: &str) -> StoreResult<Option<T>> {
        let bytes = self.backend.get(key).await?;
        Ok(bytes.and_then(|bytes| serde_json::from_slice(&bytes).ok()))
    }

    /// Stores `value` as JSON under `key` for `ttl`.
    pub(crate) async fn write<T: Serialize>(
        &self,
        key: &str,
        value: &T,
        ttl: Duration,
    ) -> StoreResult<()> {
        let bytes = serde_json::to_vec(value).map_err(|err| Unavailable(err.to_string()))?;
        self.backend.put(key, bytes, ttl).await
    }

    /// Applies `change` to the value under `key` (`None` when absent; set it
    /// to `None` to remove), atomically against every other replica.
    pub(crate) async fn update<T, R>(
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

    /// `Err` when an in-memory map is full: a new sign-in is refused (and
    /// says so) rather than a revocation or a lock being forgotten.
    pub fn has_room(&self) -> StoreResult<()> {
        self.backend.has_room()
    }
}
