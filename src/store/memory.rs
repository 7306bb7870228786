//! The single-replica backend: moka caches, bounded in size, entries
//! expiring after their own time to live.

use super::backend::{Backend, Health, StoreResult};
use moka::ops::compute::{CompResult, Op};
use moka::sync::Cache;
use moka::Expiry;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Upper bounds, so that a flood cannot exhaust memory.
const MAX_ENTRIES: u64 = 1_000_000;
const MAX_REVOKED: u64 = 1_000_000;

#[derive(Clone)]
struct Entry {
    value: Arc<Vec<u8>>,
    ttl: Duration,
}

struct OwnTtl;

impl Expiry<String, Entry> for OwnTtl {
    fn expire_after_create(&self, _: &String, entry: &Entry, _: Instant) -> Option<Duration> {
        Some(entry.ttl)
    }

    fn expire_after_update(
        &self,
        _: &String,
        entry: &Entry,
        _: Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        Some(entry.ttl)
    }
}

pub struct MemoryBackend {
    entries: Cache<String, Entry>,
    revoked: Cache<String, Duration>,
}

impl Default for MemoryBackend {
    fn default() -> Self {
        MemoryBackend {
            entries: Cache::builder()
                .max_capacity(MAX_ENTRIES)
                .expire_after(OwnTtl)
                .build(),
            revoked: Cache::builder()
                .max_capacity(MAX_REVOKED)
                .expire_after(RevokedTtl)
                .build(),
        }
    }
}

struct RevokedTtl;

impl Expiry<String, Duration> for RevokedTtl {
    fn expire_after_create(&self, _: &String, ttl: &Duration, _: Instant) -> Option<Duration> {
        Some(*ttl)
    }
}

impl Backend for MemoryBackend {
    async fn get(&self, key: &str) -> StoreResult<Option<Vec<u8>>> {
        Ok(self.entries.get(key).map(|entry| entry.value.to_vec()))
    }

    async fn put(&self, key: &str, value: Vec<u8>, ttl: Duration) -> StoreResult<()> {
        self.entries.insert(
            key.to_owned(),
            Entry {
                value: Arc::new(value),
                ttl,
            },
        );
        Ok(())
    }

    async fn take(&self, key: &str) -> StoreResult<Option<Vec<u8>>> {
        Ok(self.entries.remove(key).map(|entry| entry.value.to_vec()))
    }

    async fn remove(&self, key: &str) -> StoreResult<()> {
        self.entries.invalidate(key);
        Ok(())
    }

    async fn swap(
        &self,
        key: &str,
        expected: Option<&[u8]>,
        new: Option<Vec<u8>>,
        ttl: Duration,
    ) -> StoreResult<bool> {
        let mut new = new;
        let result = self.entries.entry_by_ref(key).and_compute_with(|current| {
            let holds = current.as_ref().map(|entry| entry.value().value.as_slice());
            if holds != expected {
                return Op::Nop;
            }
            match new.take() {
                Some(value) => Op::Put(Entry {
                    value: Arc::new(value),
                    ttl,
                }),
                None => Op::Remove,
            }
        });
        Ok(match result {
            CompResult::Inserted(_) | CompResult::ReplacedWith(_) | CompResult::Removed(_) => true,
            // Removing what was already absent, as asked.
            CompResult::StillNone(_) => expected.is_none(),
            CompResult::Unchanged(_) => false,
        })
    }

    async fn revoke(&self, id: &str, ttl: Duration) -> StoreResult<()> {
        self.revoked.insert(id.to_owned(), ttl);
        Ok(())
    }

    fn is_revoked(&self, id: &str) -> bool {
        self.revoked.contains_key(id)
    }

    fn health(&self) -> Health {
        Health::Ok
    }
}
