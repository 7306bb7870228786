//! Bounded in-memory maps that never forget: when full they refuse new
//! work instead of evicting, so a flood can neither exhaust memory nor push
//! out a revocation or a lock counter.
//!
//! Every backend keeps its revocations in a [`Revocations`] (the hot path
//! reads only memory); the memory backend keeps its entries in a
//! [`BoundedMap`] too. Expiry is wall-clock time: it only reclaims space,
//! since every value the typed layer stores carries its own expiry times.

use super::backend::{StoreResult, Unavailable};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How many entries each in-memory map holds at most, unless configured.
pub const DEFAULT_CAPACITY: usize = 1_000_000;

/// Expired entries are swept at most this often (a sweep walks the map).
const SWEEP_EVERY_MS: u64 = 10_000;

pub fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as u64)
}

/// `ttl` from now, in Unix milliseconds.
pub fn until_ms(ttl: Duration) -> u64 {
    unix_ms().saturating_add(ttl.as_millis().min(u128::from(u64::MAX)) as u64)
}

/// A map from text keys to values, each until a Unix-millisecond time.
pub struct BoundedMap<V> {
    capacity: usize,
    map: RwLock<HashMap<String, (V, u64)>>,
    last_sweep: AtomicU64,
}

impl<V: Clone> BoundedMap<V> {
    pub fn new(capacity: usize) -> BoundedMap<V> {
        BoundedMap {
            capacity: capacity.max(1),
            map: RwLock::new(HashMap::new()),
            last_sweep: AtomicU64::new(0),
        }
    }

    fn read(&self) -> RwLockReadGuard<'_, HashMap<String, (V, u64)>> {
        self.map
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn write(&self) -> Guard<'_, V> {
        Guard {
            owner: self,
            map: self
                .map
                .write()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        }
    }

    /// The value under `key`, unless it has expired.
    pub fn get(&self, key: &str) -> Option<V> {
        let now = unix_ms();
        self.read()
            .get(key)
            .filter(|(_, until)| *until > now)
            .map(|(value, _)| value.clone())
    }

    /// Stores `value` until `until`, even past the capacity: what is given
    /// to keep (a revocation) is never dropped. [`BoundedMap::has_room`]
    /// then says no until entries expire.
    pub fn insert(&self, key: &str, value: V, until: u64) {
        self.write().insert_anyway(key, value, until);
    }

    /// Whether there is room for one more entry (after sweeping out the
    /// expired ones, when full).
    pub fn has_room(&self) -> bool {
        if self.read().len() < self.capacity {
            return true;
        }
        let mut map = self.write();
        map.sweep(true);
        map.map.len() < self.capacity
    }

    pub fn len(&self) -> usize {
        self.read().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }
}

/// The map locked for a change made in one step (compare-and-set).
pub struct Guard<'a, V> {
    owner: &'a BoundedMap<V>,
    map: RwLockWriteGuard<'a, HashMap<String, (V, u64)>>,
}

impl<V: Clone> Guard<'_, V> {
    /// The live value under `key`.
    pub fn get(&self, key: &str) -> Option<&V> {
        let now = unix_ms();
        self.map
            .get(key)
            .filter(|(_, until)| *until > now)
            .map(|(value, _)| value)
    }

    pub fn remove(&mut self, key: &str) -> Option<V> {
        let now = unix_ms();
        self.map
            .remove(key)
            .filter(|(_, until)| *until > now)
            .map(|(value, _)| value)
    }

    /// Stores `value`; a key not yet held needs room, and is refused
    /// without it (the caller fails closed: nothing is evicted).
    pub fn insert(&mut self, key: &str, value: V, until: u64) -> StoreResult<()> {
        if self.get(key).is_none() {
            self.sweep(false);
            if self.map.len() >= self.owner.capacity {
                self.sweep(true);
            }
            if self.map.len() >= self.owner.capacity && !self.map.contains_key(key) {
                return Err(full(self.owner.capacity));
            }
        }
        self.map.insert(key.to_owned(), (value, until));
        Ok(())
    }

    fn insert_anyway(&mut self, key: &str, value: V, until: u64) {
        self.sweep(false);
        let keep = match self.map.get(key) {
            // A longer revocation already held stays as long.
            Some((_, held)) => until.max(*held),
            None => until,
        };
        self.map.insert(key.to_owned(), (value, keep));
    }

    /// Drops expired entries; unless `now_if_full`, at most every few
    /// seconds, so a full map is not walked on every request.
    fn sweep(&mut self, now_if_full: bool) {
        let now = unix_ms();
        let last = self.owner.last_sweep.load(Ordering::Relaxed);
        let due = now.saturating_sub(last) >= SWEEP_EVERY_MS;
        if !(due || (now_if_full && now.saturating_sub(last) >= 1_000)) {
            return;
        }
        self.owner.last_sweep.store(now, Ordering::Relaxed);
        self.map.retain(|_, (_, until)| *until > now);
    }
}

fn full(capacity: usize) -> Unavailable {
    Unavailable(format!(
        "the in-memory store is full ({capacity} entries, store.max_entries): \
         new sign-ins are refused until entries expire, rather than forgetting \
         a revocation or a lock"
    ))
}

/// Revoked sessions and users, answered from memory.
pub struct Revocations {
    /// Session id → nothing; present means revoked.
    sessions: BoundedMap<()>,
    /// Folded user name → sessions authenticated at or before this Unix
    /// second are revoked.
    users: BoundedMap<u64>,
}

impl Revocations {
    pub fn new(capacity: usize) -> Revocations {
        Revocations {
            sessions: BoundedMap::new(capacity),
            users: BoundedMap::new(capacity),
        }
    }

    pub fn revoke(&self, id: &str, until: u64) {
        self.sessions.insert(id, (), until);
    }

    pub fn is_revoked(&self, id: &str) -> bool {
        self.sessions.get(id).is_some()
    }

    /// Keeps the latest "not before" for `user`.
    pub fn revoke_user(&self, user: &str, not_before: u64, until: u64) {
        let key = fold(user);
        let mut map = self.users.write();
        let latest = map
            .get(&key)
            .map_or(not_before, |held| (*held).max(not_before));
        map.insert_anyway(&key, latest, until);
    }

    /// The Unix second at or before which `user`'s sessions are revoked.
    pub fn user_revoked_at(&self, user: &str) -> Option<u64> {
        // A name in lower-case ASCII (nearly every one) is folded already:
        // looked up as it is, with no copy on the way.
        if user
            .bytes()
            .any(|byte| !byte.is_ascii() || byte.is_ascii_uppercase())
        {
            return self.users.get(&fold(user));
        }
        self.users.get(user)
    }

    /// Room for the revocations new sign-ins will bring.
    pub fn has_room(&self) -> StoreResult<()> {
        if self.sessions.has_room() && self.users.has_room() {
            Ok(())
        } else {
            Err(Unavailable(format!(
                "the revocation list is full ({} entries, store.max_entries): new sign-ins \
                 are refused until revocations expire, rather than forgetting one",
                self.sessions.capacity()
            )))
        }
    }
}

/// User names match without regard to letter case, as at sign-in.
pub fn fold(user: &str) -> String {
    user.to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_map_refuses_new_keys_but_keeps_changing_held_ones() {
        let map = BoundedMap::new(2);
        let until = until_ms(Duration::from_secs(60));
        map.write().insert("a", 1, until).unwrap();
        map.write().insert("b", 2, until).unwrap();
        assert!(map.write().insert("c", 3, until).is_err());
        assert!(map.write().insert("a", 10, until).is_ok());
        assert_eq!(map.get("a"), Some(10));
        assert_eq!(map.get("b"), Some(2));
        assert!(!map.has_room());
    }

    #[test]
    fn revocations_past_the_capacity_are_kept_and_refuse_new_sign_ins() {
        let revocations = Revocations::new(2);
        let until = until_ms(Duration::from_secs(60));
        for id in ["one", "two", "three"] {
            revocations.revoke(id, until);
        }
        assert!(["one", "two", "three"]
            .iter()
            .all(|id| revocations.is_revoked(id)));
        assert!(revocations.has_room().is_err());
    }

    #[test]
    fn expired_entries_read_as_absent() {
        let revocations = Revocations::new(10);
        revocations.revoke("gone", unix_ms().saturating_sub(1));
        assert!(!revocations.is_revoked("gone"));
    }

    #[test]
    fn a_user_revocation_only_moves_forward_and_ignores_letter_case() {
        let revocations = Revocations::new(10);
        let until = until_ms(Duration::from_secs(60));
        revocations.revoke_user("Alice", 200, until);
        revocations.revoke_user("alice", 100, until);
        assert_eq!(revocations.user_revoked_at("ALICE"), Some(200));
        assert_eq!(revocations.user_revoked_at("alice"), Some(200));
        assert_eq!(revocations.user_revoked_at("bob"), None);
        revocations.revoke_user("ÉLODIE", 300, until);
        assert_eq!(revocations.user_revoked_at("élodie"), Some(300));
        assert_eq!(revocations.user_revoked_at("Élodie"), Some(300));
        revocations.revoke_user("ǅemal", 400, until);
        assert_eq!(revocations.user_revoked_at("ǆemal"), Some(400));
    }
}
