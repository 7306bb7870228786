//! The limiter against an in-memory store on a manual clock.

use super::*;

const MIN: u64 = 60;

#[test]
fn delays_grow_from_the_fifth_failure_and_ten_in_the_window_lock() {
    let policy = FailurePolicy::default();
    let mut log = FailureLog::default();
    let t0 = 1_000_000;
    for n in 0..4 {
        assert_eq!(policy.fail(&mut log, t0 + n), None);
    }
    assert_eq!(policy.standing(&log, t0 + 4).delay, Duration::ZERO);
    assert_eq!(policy.fail(&mut log, t0 + 4), None);
    assert_eq!(policy.standing(&log, t0 + 5).delay, Duration::from_secs(1));
    assert_eq!(policy.fail(&mut log, t0 + 5), None);
    assert_eq!(policy.standing(&log, t0 + 6).delay, Duration::from_secs(2));
    for n in 6..9 {
        assert_eq!(policy.fail(&mut log, t0 + n), None);
    }
    assert_eq!(policy.fail(&mut log, t0 + 9), Some(t0 + 9 + 15 * MIN));
    let standing = policy.standing(&log, t0 + 10);
    assert_eq!(standing.locked_until, Some(t0 + 9 + 15 * MIN));
    // Failures during the lock do not extend it.
    assert_eq!(policy.fail(&mut log, t0 + 10 * MIN), None);
    assert_eq!(policy.standing(&log, t0 + 9 + 15 * MIN).locked_until, None);
}

#[test]
fn failures_spread_wider_than_the_window_do_not_lock() {
    let policy = FailurePolicy::default();
    let mut log = FailureLog::default();
    for n in 0..30 {
        assert_eq!(policy.fail(&mut log, n * 2 * MIN), None, "failure {n}");
        log.consecutive = 0;
    }
}

#[test]
fn the_hourly_cap_holds_however_failures_are_spread() {
    let policy = FailurePolicy {
        lock_after: 1000,
        per_hour: 100,
        ..FailurePolicy::default()
    };
    let mut log = FailureLog::default();
    for n in 0..99 {
        assert_eq!(policy.fail(&mut log, n * 30), None);
    }
    let until = policy.fail(&mut log, 99 * 30).expect("the 100th locks");
    assert_eq!(until, HOUR, "until the first of the hour ages out");
}

#[test]
fn a_rate_refuses_past_its_max_and_says_when() {
    let policy = RatePolicy {
        max: 3,
        window: Duration::from_secs(10 * MIN),
    };
    let mut log = EventLog::new();
    for n in 0..3 {
        assert_eq!(policy.take(&mut log, 100 + n), Ok(()));
    }
    assert_eq!(policy.take(&mut log, 200), Err(100 + 10 * MIN));
    assert_eq!(policy.take(&mut log, 100 + 10 * MIN), Ok(()));
}

fn limiter() -> Limiter {
    let rate = RatePolicy {
        max: 3,
        window: Duration::from_secs(10 * MIN),
    };
    Limiter::new(
        FailurePolicy::default(),
        FailurePolicy::default(),
        (rate, rate),
        rate,
        rate,
        b"a secret for device marks",
    )
}

fn store() -> Store {
    Store::memory(crate::store::Lifetimes {
        session: Duration::from_secs(HOUR),
        code: Duration::from_secs(5 * MIN),
        cooldown: Duration::from_secs(30),
    })
}

fn ip(text: &str) -> IpAddr {
    text.parse().expect("an address")
}

/// The delays twelve failed attempts meet, one after another.
async fn delays(limiter: &Limiter, store: &Store, account: Account<'_>) -> Vec<Duration> {
    let mut delays = Vec::new();
    for n in 0..12 {
        let reservation = limiter
            .reserve(store, account, None, 1_000 + n)
            .await
            .expect("reserved");
        delays.push(reservation.delay);
    }
    delays
}

#[tokio::test]
async fn an_unknown_name_meets_exactly_the_delays_of_a_real_account() {
    let (limiter, store) = (limiter(), store());
    let real = delays(&limiter, &store, Account::Known("alice")).await;
    let unknown = delays(&limiter, &store, Account::Unknown("nobody")).await;
    assert_eq!(real, unknown);
    let seconds: Vec<u64> = real.iter().map(Duration::as_secs).collect();
    assert_eq!(seconds, [0, 0, 0, 0, 0, 1, 2, 4, 8, 16, 30, 30]);
    // The name is folded: spaces and case make no new name.
    let again = limiter
        .reserve(&store, Account::Unknown("  NoBody "), None, 1_020)
        .await
        .expect("reserved");
    assert_eq!(again.delay, MAX_DELAY);
    assert!(again.refused.is_some(), "locked like a real account");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attempts_reserved_at_the_same_time_never_pass_the_lock() {
    let limiter = Arc::new(limiter());
    let store = Arc::new(store());
    let tasks: Vec<_> = (0..150)
        .map(|_| {
            let (limiter, store) = (limiter.clone(), store.clone());
            tokio::spawn(async move {
                limiter
                    .reserve(
                        &store,
                        Account::Known("alice"),
                        Some(ip("192.0.2.1")),
                        5_000,
                    )
                    .await
                    .expect("reserved")
            })
        })
        .collect();
    let mut allowed = 0;
    let mut locks = Vec::new();
    for task in tasks {
        let reservation = task.await.expect("task");
        allowed += usize::from(reservation.refused.is_none());
        locks.extend(reservation.locked);
    }
    assert_eq!(allowed, 10, "lock_after attempts, not one more");
    let scopes: Vec<&str> = locks.iter().map(|lock| lock.scope).collect();
    assert_eq!(scopes.iter().filter(|s| **s == "account").count(), 1);
    assert_eq!(scopes.iter().filter(|s| **s == "client").count(), 1);
}

#[tokio::test]
async fn a_success_hands_its_attempt_back_and_lifts_only_the_lock_it_set() {
    let (limiter, store) = (limiter(), store());
    let alice = Account::Known("alice");
    for n in 0..9 {
        let _failed = limiter.reserve(&store, alice, None, 100 + n).await;
    }
    // The tenth attempt locks at once, before it is checked...
    let tenth = limiter.reserve(&store, alice, None, 110).await.expect("ok");
    assert_eq!(tenth.locked.len(), 1);
    let meanwhile = limiter.reserve(&store, alice, None, 110).await.expect("ok");
    assert!(
        meanwhile.refused.is_some(),
        "no attempt while it is in flight"
    );
    // ...and a right password hands it back: nine failures do not lock.
    limiter.refund(&store, &tenth).await.expect("refunded");
    let after = limiter.reserve(&store, alice, None, 111).await.expect("ok");
    assert_eq!(after.refused, None);
    assert_eq!(after.locked.len(), 1, "this one is the tenth failure now");

    // A success reserved before another attempt locked does not lift
    // that lock.
    let carol = Account::Known("carol");
    for n in 0..8 {
        let _failed = limiter.reserve(&store, carol, None, 100 + n).await;
    }
    let right = limiter.reserve(&store, carol, None, 110).await.expect("ok");
    let wrong = limiter.reserve(&store, carol, None, 110).await.expect("ok");
    assert!(right.locked.is_empty() && wrong.locked.len() == 1);
    limiter.refund(&store, &right).await.expect("refunded");
    let still = limiter.reserve(&store, carol, None, 112).await.expect("ok");
    assert!(still.refused.is_some());
}

#[tokio::test]
async fn an_address_lock_slows_but_never_refuses() {
    let (limiter, store) = (limiter(), store());
    let crowd = ip("203.0.113.9");
    for n in 0..10 {
        let name = format!("made-up-{n}");
        let _failed = limiter
            .reserve(&store, Account::Unknown(&name), Some(crowd), 200)
            .await;
    }
    let bob = limiter
        .reserve(&store, Account::Known("bob"), Some(crowd), 201)
        .await
        .expect("reserved");
    assert_eq!(bob.refused, None, "bob's password is still checked");
    assert_eq!(bob.delay, MAX_DELAY, "but slowly");
    // A browser bob signed in with before skips the address counter.
    let marked = limiter
        .reserve(&store, Account::Known("bob"), None, 201)
        .await
        .expect("reserved");
    assert_eq!((marked.refused, marked.delay), (None, Duration::ZERO));
}

#[test]
fn a_device_mark_names_its_user_until_it_expires_and_cannot_be_forged() {
    let limiter = limiter();
    let mark = limiter.device_mark("Alice", 1_000);
    assert_eq!(
        limiter.device_mark_user(&mark, 1_000).as_deref(),
        Some("alice")
    );
    let lifetime = DEVICE_MARK_LIFETIME.as_secs();
    assert!(limiter.device_mark_user(&mark, 1_000 + lifetime).is_none());
    let (signed, mac) = mark.rsplit_once('.').expect("three parts");
    let (issued, _) = signed.split_once('.').expect("issued");
    use base64::Engine;
    let bob = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("bob");
    for forged in [
        format!("{issued}.{bob}.{mac}"),
        format!("99999.{}", &mark[mark.find('.').map_or(0, |i| i + 1)..]),
        format!("{signed}.{}", "0".repeat(64)),
        signed.to_owned(),
        String::new(),
        "...".to_owned(),
    ] {
        assert!(
            limiter.device_mark_user(&forged, 1_000).is_none(),
            "{forged}"
        );
    }
    let other = Limiter::new(
        FailurePolicy::default(),
        FailurePolicy::default(),
        (limiter.sends_per_number, limiter.sends_per_account),
        limiter.push_prompts,
        limiter.totp_starts,
        b"another secret",
    );
    assert!(other.device_mark_user(&mark, 1_000).is_none());
}

#[test]
fn a_private_peer_that_forwards_for_someone_reads_as_an_untrusted_proxy() {
    for peer in [
        "10.0.0.5",
        "172.16.3.4",
        "192.168.1.1",
        "127.0.0.1",
        "100.64.0.1",
        "::1",
        "fd00::1",
        "::ffff:10.1.2.3",
    ] {
        assert!(looks_proxied(true, ip(peer), true), "{peer}");
        assert!(!looks_proxied(false, ip(peer), true), "{peer} trusted");
        assert!(
            !looks_proxied(true, ip(peer), false),
            "{peer} without the header"
        );
    }
    for peer in ["203.0.113.7", "100.128.0.1", "2001:db8::1", "8.8.8.8"] {
        assert!(!looks_proxied(true, ip(peer), true), "{peer}");
    }
}
