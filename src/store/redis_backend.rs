//! The several-replica backend: Redis or Valkey.
//!
//! Commands go over a multiplexed connection that reconnects by itself. A
//! background task on a thread of its own keeps a subscription to the
//! revocation channel, so every replica's in-memory revocation cache learns
//! of a logout within moments; on every (re)connection it reloads the whole
//! revocation set, so nothing published while it was away is lost. The hot
//! path reads only that cache.

use super::backend::{Backend, Health, StoreResult, Swap, Unavailable};
use super::bounded::{unix_ms, Revocations, DEFAULT_CAPACITY};
use arc_swap::ArcSwapOption;
use futures_util::StreamExt;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands, Client, IntoConnectionInfo, Script};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use super::redis_settings::{check_url, RedisSettings, SentinelSettings};

/// Between reconnection attempts of the subscription.
const RETRY: Duration = Duration::from_millis(500);

/// Replaces `KEYS[1]` only if it still holds the expected value.
/// ARGV: expected present (1/0), expected value, new present (1/0), new
/// value, time to live in milliseconds.
const SWAP: &str = r"
local current = redis.call('GET', KEYS[1])
if ARGV[1] == '1' then
  if current ~= ARGV[2] then return 0 end
elseif current then
  return 0
end
if ARGV[3] == '1' then
  redis.call('SET', KEYS[1], ARGV[4], 'PX', ARGV[5])
else
  redis.call('DEL', KEYS[1])
end
return 1
";

/// Adds a revocation (member ARGV[1], until ARGV[2] in Unix ms), drops the
/// ones past, and tells every replica.
const REVOKE: &str = r"
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
redis.call('PUBLISH', KEYS[2], ARGV[1] .. ' ' .. ARGV[2])
return 1
";

/// Revokes a user's sessions: member "ARGV[2] ARGV[1]" (not-before second,
/// name) until ARGV[3] in Unix ms; drops the ones past ARGV[4]; tells every
/// replica ("u until not_before name": older replicas ignore it).
const REVOKE_USER: &str = r"
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[2] .. ' ' .. ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[4])
redis.call('PUBLISH', KEYS[2], 'u ' .. ARGV[3] .. ' ' .. ARGV[2] .. ' ' .. ARGV[1])
return 1
";

/// The server commands go to, and connections to it.
struct Target {
    client: Client,
    connections: Vec<ConnectionManager>,
    /// Its address, to notice when a failover moved the master.
    addr: String,
}

/// Where the server's address comes from.
enum Source {
    Direct(Client),
    Sentinel {
        sentinel: tokio::sync::Mutex<redis::sentinel::Sentinel>,
        master_name: String,
        /// Password, database and TLS for the master.
        node: redis::sentinel::SentinelNodeConnectionInfo,
    },
}

struct Inner {
    source: Source,
    /// `None` until Sentinel has named a master.
    target: ArcSwapOption<Target>,
    /// A command met a sign of failover: ask Sentinel again.
    resolve: AtomicBool,
    config: ConnectionManagerConfig,
    pool_size: usize,
    next: std::sync::atomic::AtomicUsize,
    prefix: String,
    command_timeout: Duration,
    /// Revoked session ids and users; never evicted (full: sign-ins wait).
    revoked: Revocations,
    /// Revocations made while Redis was away, sent when it is back.
    pending: Mutex<Vec<(String, u64)>>,
    /// The last command succeeded.
    reachable: AtomicBool,
    /// The revocation subscription is live.
    listening: AtomicBool,
    swap: Script,
    revoke: Script,
    revoke_user: Script,
}

pub struct RedisBackend {
    inner: Arc<Inner>,
}

impl RedisBackend {
    /// Connects (lazily: start-up does not wait for Redis) and starts the
    /// revocation listener on a thread of its own.
    pub fn start(settings: &RedisSettings) -> Result<RedisBackend, String> {
        RedisBackend::start_with_capacity(settings, DEFAULT_CAPACITY)
    }

    /// As [`RedisBackend::start`], holding at most `capacity` revocations
    /// in memory before new sign-ins are refused.
    pub fn start_with_capacity(
        settings: &RedisSettings,
        capacity: usize,
    ) -> Result<RedisBackend, String> {
        let mut info = settings
            .url
            .as_str()
            .into_connection_info()
            .map_err(|err| err.to_string())?;
        if let Some(password) = &settings.password {
            let redis = info
                .redis_settings()
                .clone()
                .set_password(password.expose());
            info = info.set_redis_settings(redis);
        }
        let source = match &settings.sentinel {
            None => Source::Direct(Client::open(info).map_err(|err| err.to_string())?),
            Some(sentinel) => {
                let nodes: Vec<&str> = sentinel.nodes.iter().map(String::as_str).collect();
                let mut node = redis::sentinel::SentinelNodeConnectionInfo::default()
                    .set_redis_connection_info(info.redis_settings().clone());
                if settings.url.starts_with("rediss://") {
                    node = node.set_tls_mode(redis::TlsMode::Secure);
                }
                Source::Sentinel {
                    sentinel: tokio::sync::Mutex::new(
                        redis::sentinel::Sentinel::build(nodes).map_err(|err| err.to_string())?,
                    ),
                    master_name: sentinel.master_name.clone(),
                    node,
                }
            }
        };
        let inner = Arc::new(Inner {
            source,
            target: ArcSwapOption::empty(),
            resolve: AtomicBool::new(false),
            config: ConnectionManagerConfig::new()
                .set_connection_timeout(Some(settings.connect_timeout))
                .set_response_timeout(Some(settings.command_timeout))
                .set_number_of_retries(1)
                .set_max_delay(Duration::from_secs(2)),
            pool_size: settings.pool_size.max(1),
            next: Default::default(),
            command_timeout: settings.command_timeout,
            revoked: Revocations::new(capacity),
            pending: Mutex::new(Vec::new()),
            reachable: AtomicBool::new(true),
            listening: AtomicBool::new(false),
            swap: Script::new(SWAP),
            revoke: Script::new(REVOKE),
            revoke_user: Script::new(REVOKE_USER),
            prefix: settings.key_prefix.clone(),
        });
        let (ready, started) = std::sync::mpsc::channel();
        let listener = inner.clone();
        // The connections' drivers live on this thread's runtime.
        crate::threads::spawn_thread("doorman-redis".into(), move || async move {
            if let Source::Direct(client) = &listener.source {
                if let Err(err) = listener.connect_to(client.clone()) {
                    let _ = ready.send(Err(err));
                    return;
                }
            }
            let _ = ready.send(Ok(()));
            listen(listener).await;
        })
        .map_err(|err| err.to_string())?;
        started
            .recv()
            .map_err(|_| "the Redis thread did not start".to_owned())??;
        Ok(RedisBackend { inner })
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.inner.prefix)
    }
}

impl Inner {
    /// Makes `client`'s server the one commands go to (lazily connected).
    fn connect_to(&self, client: Client) -> Result<(), String> {
        let addr = client.get_connection_info().addr().to_string();
        let connections = (0..self.pool_size)
            .map(|_| {
                ConnectionManager::new_lazy_with_config(client.clone(), self.config.clone())
                    .map_err(|err| err.to_string())
            })
            .collect::<Result<Vec<_>, String>>()?;
        self.target.store(Some(Arc::new(Target {
            client,
            connections,
            addr,
        })));
        Ok(())
    }

    fn connection(&self) -> Option<ConnectionManager> {
        let target = self.target.load();
        let target = target.as_ref()?;
        let index = self.next.fetch_add(1, Ordering::Relaxed) % target.connections.len();
        Some(target.connections[index].clone())
    }

    /// With Sentinel: asks which server is master now, and moves there if it
    /// is not the one in use. Whether a master is known.
    async fn follow_master(&self) -> bool {
        let Source::Sentinel {
            sentinel,
            master_name,
            node,
        } = &self.source
        else {
            return self.target.load().is_some();
        };
        let asked = async {
            let mut sentinel = sentinel.lock().await;
            sentinel.async_master_for(master_name, Some(node)).await
        };
        match tokio::time::timeout(self.command_timeout * 2, asked).await {
            Ok(Ok(client)) => {
                self.resolve.store(false, Ordering::Relaxed);
                let addr = client.get_connection_info().addr().to_string();
                let current = self
                    .target
                    .load()
                    .as_ref()
                    .map(|target| target.addr.clone());
                if current.as_deref() != Some(addr.as_str()) {
                    tracing::info!(master = %addr, name = %master_name, "Sentinel names the Redis master");
                    if let Err(err) = self.connect_to(client) {
                        tracing::warn!(error = %err, "cannot use the Redis master");
                    }
                }
            }
            Ok(Err(err)) => {
                tracing::warn!(error = %err, name = %master_name, "Sentinel did not name a Redis master");
            }
            Err(_) => tracing::warn!(name = %master_name, "no Sentinel answered in time"),
        }
        self.target.load().is_some()
    }

    fn revoked_key(&self) -> String {
        format!("{}revoked", self.prefix)
    }

    fn revoked_users_key(&self) -> String {
        format!("{}revoked_users", self.prefix)
    }

    fn channel(&self) -> String {
        format!("{}revocations", self.prefix)
    }

    /// Runs a command with the command timeout; records reachability. A
    /// command that meets a connection broken while Redis was away is sent
    /// once more on the fresh connection the manager makes.
    async fn run<T, F, Fut>(&self, command: F) -> StoreResult<T>
    where
        F: Fn(ConnectionManager) -> Fut,
        Fut: std::future::Future<Output = redis::RedisResult<T>>,
    {
        let mut outcome = self.attempt(&command).await;
        if let Err(Some(err)) = &outcome {
            if err.is_connection_dropped() || err.is_io_error() {
                outcome = self.attempt(&command).await;
            }
        }
        let outcome = outcome.map_err(|err| {
            Unavailable(
                err.map_or_else(|| "Redis did not answer in time".into(), |e| e.to_string()),
            )
        });
        let ok = outcome.is_ok();
        if self.reachable.swap(ok, Ordering::Relaxed) != ok {
            if ok {
                tracing::info!("Redis is reachable again");
            } else if let Err(err) = &outcome {
                tracing::warn!(error = %err.0, "Redis is unreachable: new sign-ins fail until it is back");
            }
        }
        outcome
    }

    /// One try: the error, or `None` for a timeout or no server yet.
    async fn attempt<T, F, Fut>(&self, command: &F) -> Result<T, Option<redis::RedisError>>
    where
        F: Fn(ConnectionManager) -> Fut,
        Fut: std::future::Future<Output = redis::RedisResult<T>>,
    {
        let Some(connection) = self.connection() else {
            return Err(None);
        };
        let outcome = match tokio::time::timeout(self.command_timeout, command(connection)).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(err)) => Err(Some(err)),
            Err(_) => Err(None),
        };
        if outcome.is_err() {
            // A former master answers READONLY, a dead one not at all: with
            // Sentinel, ask again where the master is.
            self.resolve.store(true, Ordering::Relaxed);
        }
        outcome
    }

    async fn send_revocation(&self, id: &str, until_ms: u64) -> StoreResult<()> {
        let mut script = self.revoke.prepare_invoke();
        script
            .key(self.revoked_key())
            .key(self.channel())
            .arg(id)
            .arg(until_ms)
            .arg(unix_ms());
        let script = &script;
        self.run(|mut connection| async move { script.invoke_async::<i64>(&mut connection).await })
            .await
            .map(|_| ())
    }

    /// Loads every current revocation, and sends the ones made while away.
    async fn resync(&self) -> StoreResult<()> {
        let pending = std::mem::take(
            &mut *self
                .pending
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        );
        for (index, (id, until_ms)) in pending.iter().enumerate() {
            if let Err(err) = self.send_revocation(id, *until_ms).await {
                let mut queue = self
                    .pending
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                queue.extend(pending[index..].iter().cloned());
                return Err(err);
            }
        }
        let key = &self.revoked_key();
        let now = unix_ms();
        let all: Vec<(String, u64)> = self
            .run(|mut connection| async move {
                connection.zrangebyscore_withscores(key, now, "+inf").await
            })
            .await?;
        for (id, until_ms) in all {
            self.revoked.revoke(&id, until_ms);
        }
        let key = &self.revoked_users_key();
        let users: Vec<(String, u64)> = self
            .run(|mut connection| async move {
                connection.zrangebyscore_withscores(key, now, "+inf").await
            })
            .await?;
        for (member, until_ms) in users {
            if let Some((not_before, user)) = member.split_once(' ') {
                if let Ok(not_before) = not_before.parse() {
                    self.revoked.revoke_user(user, not_before, until_ms);
                }
            }
        }
        Ok(())
    }

    /// Applies a revocation another replica published.
    fn heard(&self, payload: &str) {
        if let Some(rest) = payload.strip_prefix("u ") {
            let mut parts = rest.splitn(3, ' ');
            let (Some(until), Some(not_before), Some(user)) =
                (parts.next(), parts.next(), parts.next())
            else {
                return;
            };
            if let (Ok(until_ms), Ok(not_before)) = (until.parse(), not_before.parse()) {
                self.revoked.revoke_user(user, not_before, until_ms);
            }
        } else if let Some((id, until)) = payload.split_once(' ') {
            if let Ok(until_ms) = until.parse::<u64>() {
                self.revoked.revoke(id, until_ms);
            }
        }
    }
}

/// Keeps the revocation subscription alive for as long as doorman runs,
/// and with Sentinel follows the master through failovers.
async fn listen(inner: Arc<Inner>) {
    let sentinel = matches!(inner.source, Source::Sentinel { .. });
    loop {
        if !inner.follow_master().await {
            inner.listening.store(false, Ordering::Relaxed);
            tokio::time::sleep(RETRY).await;
            continue;
        }
        let Some(target) = inner.target.load_full() else {
            continue;
        };
        let subscribed = async {
            let mut pubsub = target.client.get_async_pubsub().await?;
            pubsub.subscribe(inner.channel()).await?;
            Ok::<_, redis::RedisError>(pubsub)
        };
        let pubsub = match tokio::time::timeout(inner.command_timeout * 4, subscribed).await {
            Ok(Ok(pubsub)) => pubsub,
            _ => {
                inner.listening.store(false, Ordering::Relaxed);
                inner.resolve.store(true, Ordering::Relaxed);
                tokio::time::sleep(RETRY).await;
                continue;
            }
        };
        // Subscribed first, then loaded: nothing falls in between.
        if inner.resync().await.is_err() {
            tokio::time::sleep(RETRY).await;
            continue;
        }
        if !inner.listening.swap(true, Ordering::Relaxed) {
            tracing::info!(server = %target.addr, "listening for revocations from other replicas");
        }
        let mut messages = pubsub.into_on_message();
        let mut check = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                message = messages.next() => {
                    let Some(message) = message else { break };
                    let payload: String = message.get_payload().unwrap_or_default();
                    inner.heard(&payload);
                }
                _ = check.tick() => {
                    // A failover can leave the old master up, as a replica:
                    // move when Sentinel names another.
                    if sentinel && inner.resolve.load(Ordering::Relaxed) {
                        let before = inner.target.load().as_ref().map(|t| t.addr.clone());
                        inner.follow_master().await;
                        let after = inner.target.load().as_ref().map(|t| t.addr.clone());
                        if before != after {
                            break;
                        }
                    }
                }
            }
        }
        inner.listening.store(false, Ordering::Relaxed);
        tracing::warn!("lost the revocation subscription; reconnecting");
        tokio::time::sleep(RETRY).await;
    }
}

impl Backend for RedisBackend {
    async fn get(&self, key: &str) -> StoreResult<Option<Vec<u8>>> {
        let key = &self.key(key);
        self.inner
            .run(|mut connection| async move { connection.get(key).await })
            .await
    }

    async fn put(&self, key: &str, value: Vec<u8>, ttl: Duration) -> StoreResult<()> {
        let key = &self.key(key);
        let value = &value;
        let ms = ttl.as_millis().max(1) as u64;
        self.inner
            .run(|mut connection| async move { connection.pset_ex::<_, _, ()>(key, value, ms).await })
            .await
    }

    async fn take(&self, key: &str) -> StoreResult<Option<Vec<u8>>> {
        let key = &self.key(key);
        self.inner
            .run(|mut connection| async move { connection.get_del(key).await })
            .await
    }

    async fn remove(&self, key: &str) -> StoreResult<()> {
        let key = &self.key(key);
        self.inner
            .run(|mut connection| async move { connection.del::<_, ()>(key).await })
            .await
    }

    async fn compare_and_set(&self, swap: Swap<'_>) -> StoreResult<bool> {
        let mut script = self.inner.swap.prepare_invoke();
        script
            .key(self.key(swap.key))
            .arg(if swap.expected.is_some() { "1" } else { "0" })
            .arg(swap.expected.unwrap_or(b""))
            .arg(if swap.new.is_some() { "1" } else { "0" })
            .arg(swap.new.as_deref().unwrap_or(b""))
            .arg(swap.ttl.as_millis().max(1) as u64);
        let script = &script;
        self.inner
            .run(|mut connection| async move { script.invoke_async::<i64>(&mut connection).await })
            .await
            .map(|swapped| swapped == 1)
    }

    async fn revoke(&self, id: &str, ttl: Duration) -> StoreResult<()> {
        let until_ms = unix_ms() + ttl.as_millis() as u64;
        // Here at once, whatever Redis says.
        self.inner.revoked.revoke(id, until_ms);
        let sent = self.inner.send_revocation(id, until_ms).await;
        if sent.is_err() {
            self.inner
                .pending
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .push((id.to_owned(), until_ms));
        }
        sent
    }

    fn is_revoked(&self, id: &str) -> bool {
        self.inner.revoked.is_revoked(id)
    }

    async fn revoke_user(&self, user: &str, not_before: u64, ttl: Duration) -> StoreResult<()> {
        let now = unix_ms();
        let until_ms = now + ttl.as_millis() as u64;
        self.inner.revoked.revoke_user(user, not_before, until_ms);
        let mut script = self.inner.revoke_user.prepare_invoke();
        script
            .key(self.inner.revoked_users_key())
            .key(self.inner.channel())
            .arg(super::bounded::fold(user))
            .arg(not_before)
            .arg(until_ms)
            .arg(now);
        let script = &script;
        self.inner
            .run(|mut connection| async move { script.invoke_async::<i64>(&mut connection).await })
            .await
            .map(|_| ())
    }

    fn user_revoked_at(&self, user: &str) -> Option<u64> {
        self.inner.revoked.user_revoked_at(user)
    }

    fn has_room(&self) -> StoreResult<()> {
        self.inner.revoked.has_room()
    }

    fn health(&self) -> Health {
        if self.inner.reachable.load(Ordering::Relaxed)
            && self.inner.listening.load(Ordering::Relaxed)
        {
            Health::Ok
        } else {
            Health::Degraded
        }
    }
}
