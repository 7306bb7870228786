//! One conformance suite for every store backend: memory, file (redb, in
//! a temporary directory) and Redis (a real `redis-server`, started by the
//! test); then what each promises beyond it.

use crate::support::redis::redis_or_skip;
use crate::support::redis::{self, RedisServer};
use crate::support::{eventually, holds_within};
use doorman::store::backend::{Backend, Health};
use doorman::store::file_backend::FileBackend;
use doorman::store::memory::MemoryBackend;
use doorman::store::redis_backend::{RedisBackend, RedisSettings, SentinelSettings};
use std::sync::Arc;
use std::time::Duration;

/// How long a background change (a connection, a subscription) may take.
const WAIT: Duration = Duration::from_secs(5);

const TTL: Duration = Duration::from_secs(60);

fn settings(server: &RedisServer, prefix: &str) -> RedisSettings {
    RedisSettings {
        url: server.url(),
        sentinel: None,
        password: None,
        key_prefix: prefix.to_owned(),
        pool_size: 2,
        connect_timeout: Duration::from_secs(1),
        command_timeout: Duration::from_secs(1),
    }
}

/// What every backend must do.
async fn conformance<B: Backend + 'static>(backend: Arc<B>) {
    // get / put / remove
    assert_eq!(backend.get("a").await.expect("get"), None);
    backend.put("a", b"one".to_vec(), TTL).await.expect("put");
    assert_eq!(backend.get("a").await.expect("get"), Some(b"one".to_vec()));
    backend.put("a", b"two".to_vec(), TTL).await.expect("put");
    assert_eq!(backend.get("a").await.expect("get"), Some(b"two".to_vec()));
    backend.remove("a").await.expect("remove");
    assert_eq!(backend.get("a").await.expect("get"), None);
    backend.remove("a").await.expect("removing nothing is fine");

    // take: once
    backend.put("t", b"token".to_vec(), TTL).await.expect("put");
    assert_eq!(
        backend.take("t").await.expect("take"),
        Some(b"token".to_vec())
    );
    assert_eq!(backend.take("t").await.expect("take"), None);

    // take: of many at once, exactly one wins
    backend.put("race", b"x".to_vec(), TTL).await.expect("put");
    let mut takers = tokio::task::JoinSet::new();
    for _ in 0..16 {
        let backend = backend.clone();
        takers.spawn(async move { backend.take("race").await.expect("take").is_some() });
    }
    let mut winners = 0;
    while let Some(won) = takers.join_next().await {
        winners += usize::from(won.expect("task"));
    }
    assert_eq!(winners, 1);

    // swap: compare-and-set
    assert!(backend
        .swap("s", None, Some(b"1".to_vec()), TTL)
        .await
        .expect("swap"));
    assert!(!backend
        .swap("s", None, Some(b"9".to_vec()), TTL)
        .await
        .expect("swap"));
    assert!(!backend
        .swap("s", Some(b"0"), Some(b"9".to_vec()), TTL)
        .await
        .expect("swap"));
    assert!(backend
        .swap("s", Some(b"1"), Some(b"2".to_vec()), TTL)
        .await
        .expect("swap"));
    assert_eq!(backend.get("s").await.expect("get"), Some(b"2".to_vec()));
    assert!(backend
        .swap("s", Some(b"2"), None, TTL)
        .await
        .expect("swap"));
    assert_eq!(backend.get("s").await.expect("get"), None);
    assert!(!backend
        .swap("s", Some(b"2"), None, TTL)
        .await
        .expect("swap"));
    assert!(backend
        .swap("s", None, None, TTL)
        .await
        .expect("absent stays absent"));

    // swap under contention: 20 increments from 20 tasks, none lost
    let mut writers = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let backend = backend.clone();
        writers.spawn(async move {
            loop {
                let current = backend.get("n").await.expect("get");
                let value: u32 = current.as_deref().map_or(0, |bytes| {
                    String::from_utf8_lossy(bytes).parse().unwrap_or(0)
                });
                let next = (value + 1).to_string().into_bytes();
                if backend
                    .swap("n", current.as_deref(), Some(next), TTL)
                    .await
                    .expect("swap")
                {
                    return;
                }
            }
        });
    }
    while writers.join_next().await.is_some() {}
    assert_eq!(backend.get("n").await.expect("get"), Some(b"20".to_vec()));

    // revocations are answered from memory
    assert!(!backend.is_revoked("session-1"));
    backend.revoke("session-1", TTL).await.expect("revoke");
    assert!(backend.is_revoked("session-1"));
    assert!(!backend.is_revoked("session-2"));

    // a user's sessions, up to a second, letter case ignored; the latest wins
    assert_eq!(backend.user_revoked_at("Carol"), None);
    backend
        .revoke_user("Carol", 2_000, TTL)
        .await
        .expect("revoke user");
    backend
        .revoke_user("carol", 1_000, TTL)
        .await
        .expect("an earlier one");
    assert_eq!(backend.user_revoked_at("CAROL"), Some(2_000));
    assert_eq!(backend.user_revoked_at("dave"), None);
    assert!(backend.has_room().is_ok());
}

#[tokio::test]
async fn the_memory_backend_conforms() {
    let backend = Arc::new(MemoryBackend::default());
    assert_eq!(backend.health(), Health::Ok);
    conformance(backend).await;
}

#[tokio::test]
async fn the_file_backend_conforms() {
    let dir = tempfile::tempdir().expect("tempdir");
    let backend = Arc::new(
        FileBackend::open(&dir.path().join("state.redb"), 1_000).expect("open the file store"),
    );
    assert_eq!(backend.health(), Health::Ok);
    conformance(backend).await;
}

#[tokio::test]
async fn the_redis_backend_conforms() {
    let server = redis_or_skip!();
    let backend =
        Arc::new(RedisBackend::start(&settings(&server, "conformance:")).expect("backend"));
    eventually("a healthy connection", WAIT, async || {
        backend.health() == Health::Ok
    })
    .await;
    conformance(backend).await;
}

#[tokio::test]
async fn a_revocation_on_one_replica_reaches_the_others_and_prefixes_keep_deployments_apart() {
    let server = redis_or_skip!();
    let a = RedisBackend::start(&settings(&server, "one:")).expect("a");
    let b = RedisBackend::start(&settings(&server, "one:")).expect("b");
    let other = RedisBackend::start(&settings(&server, "two:")).expect("other");
    eventually("b subscribed", WAIT, async || b.health() == Health::Ok).await;
    eventually("other subscribed", WAIT, async || {
        other.health() == Health::Ok
    })
    .await;

    a.revoke("sid", TTL).await.expect("revoke");
    eventually("b hears of the revocation", WAIT, async || {
        b.is_revoked("sid")
    })
    .await;
    a.put("k", b"v".to_vec(), TTL).await.expect("put");
    assert_eq!(b.get("k").await.expect("get"), Some(b"v".to_vec()));
    assert_eq!(other.get("k").await.expect("get"), None);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        !other.is_revoked("sid"),
        "another deployment's logout is not ours"
    );

    // A replica that starts later loads the revocations already made.
    let late = RedisBackend::start(&settings(&server, "one:")).expect("late");
    eventually("the late replica loads revocations", WAIT, async || {
        late.is_revoked("sid")
    })
    .await;
}

#[tokio::test]
async fn when_redis_goes_away_calls_fail_cleanly_and_recover_by_themselves() {
    if !redis::available() {
        return;
    }
    let mut server = RedisServer::start().await;
    let a = RedisBackend::start(&settings(&server, "f:")).expect("a");
    let b = RedisBackend::start(&settings(&server, "f:")).expect("b");
    eventually("a connected", WAIT, async || a.health() == Health::Ok).await;
    eventually("b connected", WAIT, async || b.health() == Health::Ok).await;
    a.revoke("before", TTL).await.expect("revoke");
    eventually("b has it", WAIT, async || b.is_revoked("before")).await;

    server.stop();
    let failed = a.get("k").await;
    assert!(failed.is_err(), "{failed:?}");
    eventually("a reports degraded", WAIT, async || {
        a.health() == Health::Degraded
    })
    .await;
    // What is known stays known; a logout here holds here at once.
    assert!(a.is_revoked("before"));
    assert!(a.revoke("during", TTL).await.is_err());
    assert!(a.is_revoked("during"));

    server.resume().await;
    // The revocation made while Redis was away reaches the other replica.
    eventually("b hears of the queued revocation", WAIT, async || {
        b.is_revoked("during")
    })
    .await;
    eventually("a healthy again", WAIT, async || a.health() == Health::Ok).await;
    a.put("k", b"v".to_vec(), TTL)
        .await
        .expect("put after recovery");
    assert_eq!(b.get("k").await.expect("get"), Some(b"v".to_vec()));
}

#[tokio::test]
async fn with_sentinel_the_store_follows_the_master_through_a_failover() {
    if !redis::available() {
        return;
    }
    let mut master = RedisServer::start().await;
    let replica = RedisServer::replica_of(&master).await;
    let sentinel = RedisServer::sentinel_for(&master).await;
    let through_sentinel = || RedisSettings {
        url: "redis://ignored/0".into(),
        sentinel: Some(SentinelSettings {
            master_name: "mymaster".into(),
            nodes: vec![sentinel.url()],
        }),
        ..settings(&master, "s:")
    };
    let a = RedisBackend::start(&through_sentinel()).expect("a");
    let b = RedisBackend::start(&through_sentinel()).expect("b");
    eventually("a finds the master", WAIT, async || {
        a.health() == Health::Ok
    })
    .await;
    eventually("b finds the master", WAIT, async || {
        b.health() == Health::Ok
    })
    .await;
    a.put("k", b"before".to_vec(), TTL)
        .await
        .expect("put on the master");

    master.stop();
    // Sentinel promotes the replica; both replicas of doorman move there.
    let within = Duration::from_secs(15);
    let moved = holds_within(within, async || {
        a.put("k", b"after".to_vec(), TTL).await.is_ok()
    })
    .await;
    assert!(
        moved,
        "no write succeeded within 15 s of the master going away"
    );
    assert_eq!(
        b.get("k").await.expect("get via the new master"),
        Some(b"after".to_vec())
    );
    let client = ::redis::Client::open(replica.url()).expect("client");
    let mut connection = client
        .get_multiplexed_async_connection()
        .await
        .expect("connect to the former replica");
    let replication: String = ::redis::cmd("INFO")
        .arg("replication")
        .query_async(&mut connection)
        .await
        .expect("INFO");
    assert!(
        replication.contains("role:master"),
        "the replica was promoted: {replication}"
    );
    eventually("b listens on the new master", WAIT, async || {
        b.health() == Health::Ok
    })
    .await;
    a.revoke("after-failover", TTL).await.expect("revoke");
    eventually(
        "b hears of a revocation on the new master",
        WAIT,
        async || b.is_revoked("after-failover"),
    )
    .await;
}

#[tokio::test]
async fn the_file_backend_keeps_everything_across_a_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("nested/state.redb");
    {
        let backend = FileBackend::open(&path, 1_000).expect("open");
        backend.put("k", b"v".to_vec(), TTL).await.expect("put");
        backend.revoke("sid", TTL).await.expect("revoke");
        backend
            .revoke_user("alice", 77, TTL)
            .await
            .expect("revoke user");
        backend
            .put("gone", b"x".to_vec(), Duration::from_millis(1))
            .await
            .expect("put");
    }
    let backend = FileBackend::open(&path, 1_000).expect("reopen once the first is closed");
    assert_eq!(backend.get("k").await.expect("get"), Some(b"v".to_vec()));
    assert!(backend.is_revoked("sid"));
    assert!(!backend.is_revoked("other"));
    assert_eq!(backend.user_revoked_at("Alice"), Some(77));
    assert_eq!(backend.get("gone").await.expect("get"), None, "expired");
    assert_eq!(
        backend.prune_now().await.expect("prune"),
        1,
        "the expired row is deleted"
    );
    assert_eq!(backend.get("k").await.expect("get"), Some(b"v".to_vec()));
}

#[test]
fn a_file_store_in_use_or_not_writable_is_refused_with_a_reason() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("state.redb");
    let _first = FileBackend::open(&path, 10).expect("open");
    let err = FileBackend::open(&path, 10)
        .err()
        .expect("a second open fails");
    assert!(err.contains("in use by another doorman process"), "{err}");

    let blocker = dir.path().join("a-file");
    std::fs::write(&blocker, "not a directory").expect("file");
    let err = FileBackend::open(&blocker.join("state.redb"), 10)
        .err()
        .expect("no directory can be made under a file");
    assert!(err.contains("make it writable for doorman"), "{err}");
    let err = FileBackend::open(&blocker, 10)
        .err()
        .expect("not a database");
    assert!(err.contains("cannot open"), "{err}");
}

/// What a full in-memory map must do: keep every revocation, refuse room.
async fn fills_up_without_forgetting<B: Backend>(backend: &B, capacity: usize) {
    assert!(backend.has_room().is_ok());
    let ids: Vec<String> = (0..capacity + 3).map(|n| format!("full-{n}")).collect();
    for id in &ids {
        backend
            .revoke(id, TTL)
            .await
            .expect("a revocation is always kept");
    }
    assert!(
        ids.iter().all(|id| backend.is_revoked(id)),
        "none forgotten"
    );
    let refused = backend.has_room().expect_err("full");
    assert!(refused.0.contains("store.max_entries"), "{}", refused.0);
}

#[tokio::test]
async fn a_full_memory_store_refuses_new_keys_and_forgets_nothing() {
    let backend = MemoryBackend::with_capacity(3);
    for key in ["a", "b", "c"] {
        backend.put(key, b"1".to_vec(), TTL).await.expect("room");
    }
    let refused = backend
        .put("d", b"1".to_vec(), TTL)
        .await
        .expect_err("full");
    assert!(refused.0.contains("store.max_entries"), "{}", refused.0);
    assert!(!backend
        .swap("e", None, Some(b"1".to_vec()), TTL)
        .await
        .is_ok_and(|swapped| swapped));
    assert!(backend.has_room().is_err());
    // What is held stays held and can still change.
    assert!(backend
        .swap("a", Some(b"1"), Some(b"2".to_vec()), TTL)
        .await
        .expect("swap"));
    for key in ["a", "b", "c"] {
        assert!(backend.get(key).await.expect("get").is_some(), "{key} kept");
    }
    backend.remove("c").await.expect("remove");
    backend
        .put("d", b"1".to_vec(), TTL)
        .await
        .expect("room again");

    fills_up_without_forgetting(&MemoryBackend::with_capacity(3), 3).await;
}

#[tokio::test]
async fn a_full_revocation_list_refuses_room_on_the_file_and_redis_stores() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = FileBackend::open(&dir.path().join("state.redb"), 3).expect("open");
    fills_up_without_forgetting(&file, 3).await;
    drop(file);
    let reopened = FileBackend::open(&dir.path().join("state.redb"), 3).expect("reopen");
    assert!(
        reopened.is_revoked("full-5"),
        "loaded past the capacity too"
    );
    assert!(reopened.has_room().is_err());

    let server = redis_or_skip!();
    let backend =
        RedisBackend::start_with_capacity(&settings(&server, "full:"), 3).expect("backend");
    eventually("a healthy connection", WAIT, async || {
        backend.health() == Health::Ok
    })
    .await;
    fills_up_without_forgetting(&backend, 3).await;
}

#[tokio::test]
async fn a_user_revocation_on_one_redis_replica_reaches_the_others() {
    let server = redis_or_skip!();
    let a = RedisBackend::start(&settings(&server, "users:")).expect("a");
    let b = RedisBackend::start(&settings(&server, "users:")).expect("b");
    eventually("b subscribed", WAIT, async || b.health() == Health::Ok).await;
    a.revoke_user("Alice", 1234, TTL)
        .await
        .expect("revoke user");
    eventually("b hears of it", WAIT, async || {
        b.user_revoked_at("alice") == Some(1234)
    })
    .await;
    let late = RedisBackend::start(&settings(&server, "users:")).expect("late");
    eventually("a later replica loads it", WAIT, async || {
        late.user_revoked_at("ALICE") == Some(1234)
    })
    .await;
    assert!(!late.is_revoked("nothing-else"));
}
