//! The single-replica backend that forgets on restart: bounded maps in this
//! process, entries expiring after their own time to live. When a map is
//! full, a new key is refused (sign-ins fail closed) rather than an old one
//! evicted: a lock counter or a used code step is never silently dropped.

use super::backend::{Backend, Health, StoreResult, Swap};
use super::bounded::{until_ms, BoundedMap, Revocations, DEFAULT_CAPACITY};
use std::sync::Arc;
use std::time::Duration;

pub struct MemoryBackend {
    entries: BoundedMap<Arc<Vec<u8>>>,
    revoked: Revocations,
}

impl Default for MemoryBackend {
    fn default() -> Self {
        MemoryBackend::with_capacity(DEFAULT_CAPACITY)
    }
}

impl MemoryBackend {
    /// At most `capacity` entries, and as many revocations.
    pub fn with_capacity(capacity: usize) -> MemoryBackend {
        MemoryBackend {
            entries: BoundedMap::new(capacity),
            revoked: Revocations::new(capacity),
        }
    }
}

impl Backend for MemoryBackend {
    async fn get(&self, key: &str) -> StoreResult<Option<Vec<u8>>> {
        Ok(self.entries.get(key).map(|value| value.to_vec()))
    }

    async fn put(&self, key: &str, value: Vec<u8>, ttl: Duration) -> StoreResult<()> {
        self.entries
            .write()
            .insert(key, Arc::new(value), until_ms(ttl))
    }

    async fn take(&self, key: &str) -> StoreResult<Option<Vec<u8>>> {
        Ok(self.entries.write().remove(key).map(|value| value.to_vec()))
    }

    async fn remove(&self, key: &str) -> StoreResult<()> {
        self.entries.write().remove(key);
        Ok(())
    }

    async fn compare_and_set(&self, swap: Swap<'_>) -> StoreResult<bool> {
        let mut entries = self.entries.write();
        if entries.get(swap.key).map(|value| value.as_slice()) != swap.expected {
            return Ok(false);
        }
        match swap.new {
            Some(value) => entries.insert(swap.key, Arc::new(value), until_ms(swap.ttl))?,
            None => {
                entries.remove(swap.key);
            }
        }
        Ok(true)
    }

    async fn revoke(&self, id: &str, ttl: Duration) -> StoreResult<()> {
        self.revoked.revoke(id, until_ms(ttl));
        Ok(())
    }

    fn is_revoked(&self, id: &str) -> bool {
        self.revoked.is_revoked(id)
    }

    async fn revoke_user(&self, user: &str, not_before: u64, ttl: Duration) -> StoreResult<()> {
        self.revoked.revoke_user(user, not_before, until_ms(ttl));
        Ok(())
    }

    fn user_revoked_at(&self, user: &str) -> Option<u64> {
        self.revoked.user_revoked_at(user)
    }

    fn has_room(&self) -> StoreResult<()> {
        self.revoked.has_room()?;
        if self.entries.has_room() {
            Ok(())
        } else {
            Err(super::backend::Unavailable(format!(
                "the in-memory store is full ({} entries, store.max_entries): new sign-ins \
                 are refused until entries expire, rather than forgetting a lock or a used code",
                self.entries.capacity()
            )))
        }
    }

    fn health(&self) -> Health {
        Health::Ok
    }
}
