//! The single-instance backend that survives a restart: an embedded,
//! crash-safe redb database in one file (`store.path`).
//!
//! Every change is one redb write transaction, committed durably before
//! the call returns, so a sign-out, a failed attempt or a used code step
//! is on disk once doorman has answered. redb calls block, so they run on
//! tokio's blocking pool, never on a worker thread. Revocations are read on
//! every authenticated request, so they are also held in memory: loaded at
//! start, written through on revoke.
//!
//! redb lets one process open the file. `doorman sessions revoke` therefore
//! never opens it: it drops a request file into `<path>.requests/`, which
//! the running doorman picks up within half a second (and a stopped one at
//! its next start, before it listens). Whoever may write that directory may
//! already delete the whole store, so it needs no other authentication.

use super::backend::{Backend, Health, StoreResult, Swap, Unavailable};
use super::bounded::{fold, unix_ms, until_ms, Revocations};
use redb::{
    Database, DatabaseError, ReadableDatabase, ReadableTable, ReadableTableMetadata,
    TableDefinition,
};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

/// Where the file store lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSettings {
    pub path: PathBuf,
}

/// Values: 8 bytes of expiry (Unix ms, big-endian), then the bytes stored.
const ENTRIES: TableDefinition<&str, &[u8]> = TableDefinition::new("entries");
/// Revoked session id → until (Unix ms).
const REVOKED: TableDefinition<&str, u64> = TableDefinition::new("revoked");
/// Folded user name → (not before, Unix s; until, Unix ms).
const REVOKED_USERS: TableDefinition<&str, (u64, u64)> = TableDefinition::new("revoked_users");

/// How often the requests directory is looked at.
const POLL: Duration = Duration::from_millis(500);
/// How often expired entries are pruned from the file.
const PRUNE_EVERY: Duration = Duration::from_secs(60);
/// redb's page cache; the state is small.
const CACHE_BYTES: usize = 16 * 1024 * 1024;

/// A request `doorman sessions revoke` leaves for the running doorman.
#[derive(Debug, Serialize, Deserialize)]
pub struct UserRevocation {
    pub user: String,
    /// Sessions authenticated at or before this Unix second end.
    pub not_before: u64,
    /// Kept until this Unix second.
    pub keep_until: u64,
}

struct Inner {
    db: Database,
    revoked: Revocations,
    requests: PathBuf,
    /// The last disk operation succeeded.
    healthy: AtomicBool,
}

pub struct FileBackend {
    inner: Arc<Inner>,
}

/// The directory request files for the store at `path` go to.
pub fn requests_dir(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".requests");
    path.with_file_name(name)
}

/// Leaves `request` for the doorman that owns the store at `path`;
/// the request file's path (it disappears once applied).
pub fn queue_user_revocation(path: &Path, request: &UserRevocation) -> std::io::Result<PathBuf> {
    use std::io::Write;
    let dir = requests_dir(path);
    create_private_dir(&dir)?;
    let name = format!("{}-{}.json", unix_ms(), crate::crypto::random_hex(8));
    let temporary = dir.join(format!(".{name}.tmp"));
    let bytes = serde_json::to_vec(request).map_err(std::io::Error::other)?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&temporary)?;
    file.write_all(&bytes)?;
    file.sync_all()?;
    let target = dir.join(name);
    // Whole or not at all: the reader ignores dot-files.
    std::fs::rename(&temporary, &target)?;
    Ok(target)
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

fn storage(err: impl std::fmt::Display) -> Unavailable {
    Unavailable(format!("the store file: {err}"))
}

fn encode(value: &[u8], until: u64) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(8 + value.len());
    bytes.extend_from_slice(&until.to_be_bytes());
    bytes.extend_from_slice(value);
    bytes
}

/// The stored bytes, unless expired.
fn decode(bytes: &[u8], now: u64) -> Option<Vec<u8>> {
    let (until, value) = bytes.split_at_checked(8)?;
    let until = u64::from_be_bytes(until.try_into().ok()?);
    (until > now).then(|| value.to_vec())
}

impl FileBackend {
    /// Opens (or creates) the store at `path`; the error names the problem
    /// in words an operator can act on.
    pub fn open(path: &Path, capacity: usize) -> Result<FileBackend, String> {
        let shown = path.display();
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            create_private_dir(parent).map_err(|err| {
                format!(
                    "cannot create the directory of {shown}: {err}; make it writable for doorman"
                )
            })?;
        }
        let db = Database::builder()
            .set_cache_size(CACHE_BYTES)
            .create(path)
            .map_err(|err| match err {
                DatabaseError::DatabaseAlreadyOpen => format!(
                    "{shown} is in use by another doorman process; only one process can use a file \
                     store (several replicas need `kind: redis`)"
                ),
                other => {
                    format!("cannot open {shown}: {other}; it must be a writable file for doorman")
                }
            })?;
        let inner = Arc::new(Inner {
            db,
            revoked: Revocations::new(capacity),
            requests: requests_dir(path),
            healthy: AtomicBool::new(true),
        });
        inner
            .load()
            .map_err(|err| format!("cannot use {shown}: {}", err.0))?;
        create_private_dir(&inner.requests).map_err(|err| {
            format!(
                "cannot create {}: {err}; make it writable for doorman",
                inner.requests.display()
            )
        })?;
        inner.apply_requests();
        let weak = Arc::downgrade(&inner);
        std::thread::Builder::new()
            .name("doorman-store".into())
            .spawn(move || housekeeping(weak))
            .map_err(|err| format!("cannot start the store thread: {err}"))?;
        Ok(FileBackend { inner })
    }

    /// Prunes expired rows now (the store does so every minute by itself);
    /// how many it deleted.
    pub async fn prune_now(&self) -> StoreResult<u64> {
        self.blocking(Inner::prune).await
    }

    /// Runs `work` on the blocking pool: redb calls must not hold up a
    /// worker thread's event loop.
    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Inner) -> Result<T, Unavailable> + Send + 'static,
    ) -> StoreResult<T> {
        let inner = self.inner.clone();
        let outcome = tokio::task::spawn_blocking(move || work(&inner))
            .await
            .unwrap_or_else(|err| Err(storage(err)));
        self.inner.record(&outcome);
        outcome
    }
}

impl Inner {
    fn record<T>(&self, outcome: &StoreResult<T>) {
        let ok = outcome.is_ok();
        if self.healthy.swap(ok, Ordering::Relaxed) != ok {
            match outcome {
                Ok(_) => tracing::info!("the store file works again"),
                Err(err) => {
                    tracing::error!(error = %err.0, "the store file failed: new sign-ins fail until it works")
                }
            }
        }
    }

    /// Creates the tables, proves the file writable, and loads the
    /// revocations still in force into memory.
    fn load(&self) -> StoreResult<()> {
        let write = self.db.begin_write().map_err(storage)?;
        {
            write.open_table(ENTRIES).map_err(storage)?;
            write.open_table(REVOKED).map_err(storage)?;
            write.open_table(REVOKED_USERS).map_err(storage)?;
        }
        write.commit().map_err(storage)?;
        let now = unix_ms();
        let read = self.db.begin_read().map_err(storage)?;
        let revoked = read.open_table(REVOKED).map_err(storage)?;
        for row in revoked.iter().map_err(storage)? {
            let (id, until) = row.map_err(storage)?;
            if until.value() > now {
                self.revoked.revoke(id.value(), until.value());
            }
        }
        let users = read.open_table(REVOKED_USERS).map_err(storage)?;
        for row in users.iter().map_err(storage)? {
            let (user, value) = row.map_err(storage)?;
            let (not_before, until) = value.value();
            if until > now {
                self.revoked.revoke_user(user.value(), not_before, until);
            }
        }
        Ok(())
    }

    fn get(&self, key: &str) -> StoreResult<Option<Vec<u8>>> {
        let read = self.db.begin_read().map_err(storage)?;
        let table = read.open_table(ENTRIES).map_err(storage)?;
        let found = table.get(key).map_err(storage)?;
        Ok(found.and_then(|value| decode(value.value(), unix_ms())))
    }

    /// One write transaction: `change` sees the live value and returns
    /// what to store (`Some(None)`: remove; `None`: leave as is).
    fn change<R>(
        &self,
        key: &str,
        change: impl FnOnce(Option<Vec<u8>>) -> (Option<Option<Vec<u8>>>, R),
        ttl: Duration,
    ) -> StoreResult<R> {
        let write = self.db.begin_write().map_err(storage)?;
        let result = {
            let mut table = write.open_table(ENTRIES).map_err(storage)?;
            let current = table
                .get(key)
                .map_err(storage)?
                .and_then(|value| decode(value.value(), unix_ms()));
            let (new, result) = change(current);
            match new {
                Some(Some(value)) => {
                    table
                        .insert(key, encode(&value, until_ms(ttl)).as_slice())
                        .map_err(storage)?;
                }
                Some(None) => {
                    table.remove(key).map_err(storage)?;
                }
                None => {}
            }
            result
        };
        write.commit().map_err(storage)?;
        Ok(result)
    }

    fn persist_revocation(&self, id: &str, until: u64) -> StoreResult<()> {
        let write = self.db.begin_write().map_err(storage)?;
        {
            let mut table = write.open_table(REVOKED).map_err(storage)?;
            let held = table.get(id).map_err(storage)?.map(|v| v.value());
            table
                .insert(id, until.max(held.unwrap_or(0)))
                .map_err(storage)?;
        }
        write.commit().map_err(storage)
    }

    fn revoke_user(&self, user: &str, not_before: u64, until: u64) -> StoreResult<()> {
        self.revoked.revoke_user(user, not_before, until);
        let key = fold(user);
        let write = self.db.begin_write().map_err(storage)?;
        {
            let mut table = write.open_table(REVOKED_USERS).map_err(storage)?;
            let held = table.get(key.as_str()).map_err(storage)?.map(|v| v.value());
            let (not_before, until) = match held {
                Some((held_nb, held_until)) => (not_before.max(held_nb), until.max(held_until)),
                None => (not_before, until),
            };
            table
                .insert(key.as_str(), (not_before, until))
                .map_err(storage)?;
        }
        write.commit().map_err(storage)
    }

    /// Applies and removes the request files `doorman sessions revoke` left.
    fn apply_requests(&self) {
        let Ok(entries) = std::fs::read_dir(&self.requests) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with('.') || !name.ends_with(".json") {
                continue;
            }
            let request = std::fs::read(&path)
                .ok()
                .and_then(|bytes| serde_json::from_slice::<UserRevocation>(&bytes).ok());
            match request {
                Some(request) => {
                    let until = request.keep_until.saturating_mul(1000);
                    if let Err(err) = self.revoke_user(&request.user, request.not_before, until) {
                        // Kept in memory; left in place to be written next time.
                        tracing::error!(error = %err.0, user = %request.user, "cannot store a user revocation yet");
                        continue;
                    }
                    tracing::info!(event = "sessions_revoked", user = %request.user, "every session of the user is revoked");
                }
                None => {
                    tracing::warn!(file = %path.display(), "ignoring an unreadable revocation request")
                }
            }
            let _ = std::fs::remove_file(&path);
        }
    }

    /// Deletes what has expired, so the file does not grow without end;
    /// how many rows it deleted.
    fn prune(&self) -> StoreResult<u64> {
        let now = unix_ms();
        let write = self.db.begin_write().map_err(storage)?;
        let mut removed = 0;
        {
            let mut entries = write.open_table(ENTRIES).map_err(storage)?;
            let before = entries.len().map_err(storage)?;
            entries
                .retain(|_, value| decode(value, now).is_some())
                .map_err(storage)?;
            removed += before - entries.len().map_err(storage)?;
            let mut revoked = write.open_table(REVOKED).map_err(storage)?;
            let before = revoked.len().map_err(storage)?;
            revoked.retain(|_, until| until > now).map_err(storage)?;
            removed += before - revoked.len().map_err(storage)?;
            let mut users = write.open_table(REVOKED_USERS).map_err(storage)?;
            let before = users.len().map_err(storage)?;
            users.retain(|_, (_, until)| until > now).map_err(storage)?;
            removed += before - users.len().map_err(storage)?;
        }
        write.commit().map_err(storage)?;
        Ok(removed)
    }
}

/// Picks up revocation requests and prunes, for as long as the store is
/// in use; ends when it is dropped (so the file is closed and unlocked).
fn housekeeping(inner: Weak<Inner>) {
    let mut since_prune = Duration::ZERO;
    loop {
        std::thread::sleep(POLL);
        let Some(inner) = inner.upgrade() else {
            return;
        };
        inner.apply_requests();
        since_prune += POLL;
        if since_prune >= PRUNE_EVERY {
            since_prune = Duration::ZERO;
            let outcome = inner.prune();
            inner.record(&outcome);
        }
    }
}

impl Backend for FileBackend {
    async fn get(&self, key: &str) -> StoreResult<Option<Vec<u8>>> {
        let key = key.to_owned();
        self.blocking(move |inner| inner.get(&key)).await
    }

    async fn put(&self, key: &str, value: Vec<u8>, ttl: Duration) -> StoreResult<()> {
        let key = key.to_owned();
        self.blocking(move |inner| inner.change(&key, |_| (Some(Some(value)), ()), ttl))
            .await
    }

    async fn take(&self, key: &str) -> StoreResult<Option<Vec<u8>>> {
        let key = key.to_owned();
        self.blocking(move |inner| {
            inner.change(
                &key,
                |current| {
                    let change = current.is_some().then_some(None);
                    (change, current)
                },
                Duration::ZERO,
            )
        })
        .await
    }

    async fn remove(&self, key: &str) -> StoreResult<()> {
        let key = key.to_owned();
        self.blocking(move |inner| inner.change(&key, |_| (Some(None), ()), Duration::ZERO))
            .await
    }

    async fn compare_and_set(&self, swap: Swap<'_>) -> StoreResult<bool> {
        let key = swap.key.to_owned();
        let expected = swap.expected.map(<[u8]>::to_vec);
        let (new, ttl) = (swap.new, swap.ttl);
        self.blocking(move |inner| {
            inner.change(
                &key,
                |current| {
                    if current != expected {
                        return (None, false);
                    }
                    (Some(new), true)
                },
                ttl,
            )
        })
        .await
    }

    async fn revoke(&self, id: &str, ttl: Duration) -> StoreResult<()> {
        let until = until_ms(ttl);
        // In memory at once: this replica refuses the cookie from now on.
        self.inner.revoked.revoke(id, until);
        let id = id.to_owned();
        self.blocking(move |inner| inner.persist_revocation(&id, until))
            .await
    }

    fn is_revoked(&self, id: &str) -> bool {
        self.inner.revoked.is_revoked(id)
    }

    async fn revoke_user(&self, user: &str, not_before: u64, ttl: Duration) -> StoreResult<()> {
        let until = until_ms(ttl);
        let user = user.to_owned();
        self.blocking(move |inner| inner.revoke_user(&user, not_before, until))
            .await
    }

    fn user_revoked_at(&self, user: &str) -> Option<u64> {
        self.inner.revoked.user_revoked_at(user)
    }

    fn has_room(&self) -> StoreResult<()> {
        self.inner.revoked.has_room()
    }

    fn health(&self) -> Health {
        if self.inner.healthy.load(Ordering::Relaxed) {
            Health::Ok
        } else {
            Health::Degraded
        }
    }
}
