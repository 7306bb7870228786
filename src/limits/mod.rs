//! Brute-force and abuse limits: failed sign-ins per account and per client
//! address (a growing delay, then a lock), and caps on codes sent, push
//! prompts and authenticator-app challenges. Time comes from doorman's
//! clock, so tests drive it.
//!
//! The counters live in the [`Store`](crate::store::Store); this module
//! holds the policy: what is counted, when it locks, when to try again.
//!
//! An attempt is *reserved* before its password or code is looked at: one
//! compare-and-set checks the lock and counts the attempt as a failure, so
//! attempts in flight at the same time (on any replica) are counted before
//! any of them is checked, and none slips past a lock another one set. A
//! success hands its reservation back.

mod stored;

use crate::store::{Store, StoreResult};
use moka::sync::Cache;
use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// `limits:`: every bound doorman keeps.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Threads serving requests, each with its own event loop.
    pub worker_threads: usize,
    pub max_connections: usize,
    /// Open connections one client address (IPv6: one /64) may hold;
    /// trusted proxies are not capped.
    pub max_connections_per_client: usize,
    /// How long a connection may stay open with no request in flight.
    pub idle_timeout: Duration,
    /// How long a body (either way) or a client's socket may make no progress.
    pub body_idle_timeout: Duration,
    pub concurrent_password_checks: usize,
    pub header_read_timeout: Duration,
    pub auth_body_bytes: usize,
    pub upstream_connect_timeout: Duration,
    /// How long the upstream may take to send its response headers.
    pub upstream_timeout: Duration,
    /// Request head size and header count a client may send.
    pub max_header_bytes: usize,
    pub max_headers: usize,
    /// Failed sign-ins per account, and per client address.
    pub failures: FailurePolicy,
    pub client_failures: FailurePolicy,
    pub sends_per_number: RatePolicy,
    pub sends_per_account: RatePolicy,
    pub push_prompts: RatePolicy,
    /// Authenticator-app challenges started per account.
    pub totp_starts: RatePolicy,
}

/// How failed sign-ins (passwords and codes alike) are answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailurePolicy {
    /// Consecutive failures after which each attempt is slowed down.
    pub delay_after: u32,
    /// The first delay; it doubles with each further failure.
    pub delay: Duration,
    /// Failures within `window` that lock.
    pub lock_after: u32,
    pub window: Duration,
    pub lock_for: Duration,
    /// Failures an hour, beyond which attempts are refused however they are spread.
    pub per_hour: u32,
}

impl Default for FailurePolicy {
    fn default() -> Self {
        FailurePolicy {
            delay_after: 5,
            delay: Duration::from_secs(1),
            lock_after: 10,
            window: Duration::from_secs(15 * 60),
            lock_for: Duration::from_secs(15 * 60),
            per_hour: 100,
        }
    }
}

/// At most `max` events per sliding `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RatePolicy {
    pub max: u32,
    pub window: Duration,
}

/// The longest a single delay grows to.
const MAX_DELAY: Duration = Duration::from_secs(30);
const HOUR: u64 = 3600;

/// Failed attempts of one account or one client.
#[derive(Debug, Default, Clone, serde::Serialize, serde::Deserialize)]
pub struct FailureLog {
    /// Times of recent failures, oldest first (the last hour at most).
    times: VecDeque<u64>,
    /// Failures since the last complete sign-in.
    consecutive: u32,
    locked_until: u64,
}

/// Recent events under one key, oldest first.
pub type EventLog = VecDeque<u64>;

/// What a sign-in attempt meets before its password or code is looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Standing {
    /// Until when attempts are refused (answered as if wrong), if locked.
    pub locked_until: Option<u64>,
    /// How long to wait before answering.
    pub delay: Duration,
}

/// A refused send or prompt, and when the next one may go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    pub retry_at: u64,
    /// Which cap it was, for logs and audit.
    pub cap: &'static str,
}

/// One attempt taken from a failure log: what it met, and what it changed
/// (so that a success can hand it back).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Taken {
    /// The standing before this attempt: its delay, and the lock that
    /// refused it (a refused attempt changes nothing).
    pub standing: Standing,
    /// The lock this attempt set, counted as a failure.
    pub locked: Option<u64>,
    /// When it was counted; `None` when it was refused and not counted.
    counted_at: Option<u64>,
    /// The lock's end before this attempt set a new one.
    previous_lock: u64,
}

impl FailurePolicy {
    fn standing(&self, log: &FailureLog, now: u64) -> Standing {
        let locked_until = (log.locked_until > now).then_some(log.locked_until);
        let delay = if self.delay.is_zero() {
            Duration::ZERO
        } else if locked_until.is_some() {
            // Locked: every answer as slow as they get.
            MAX_DELAY
        } else if log.consecutive >= self.delay_after {
            let doublings = (log.consecutive - self.delay_after).min(16);
            self.delay.saturating_mul(1 << doublings).min(MAX_DELAY)
        } else {
            Duration::ZERO
        };
        Standing {
            locked_until,
            delay,
        }
    }

    /// Takes one attempt in one step: refused while locked (and then not
    /// counted), otherwise counted as a failure at once, before anything is
    /// checked, so that concurrent attempts see each other.
    fn reserve(&self, log: &mut FailureLog, now: u64) -> Taken {
        let standing = self.standing(log, now);
        if standing.locked_until.is_some() {
            return Taken {
                standing,
                locked: None,
                counted_at: None,
                previous_lock: log.locked_until,
            };
        }
        let previous_lock = log.locked_until;
        let locked = self.fail(log, now);
        Taken {
            standing,
            locked,
            counted_at: Some(now),
            previous_lock,
        }
    }

    /// Hands back a reservation that turned out a success (or was never
    /// checked): its failure is uncounted, and a lock it set is lifted
    /// unless the failures left still call for it. Nothing else changes: a
    /// success never lifts a lock that other failures set.
    fn refund(&self, log: &mut FailureLog, taken: &Taken) {
        let Some(at) = taken.counted_at else {
            return;
        };
        if let Some(index) = log.times.iter().rposition(|&t| t == at) {
            log.times.remove(index);
            log.consecutive = log.consecutive.saturating_sub(1);
        }
        if taken.locked.is_some_and(|until| log.locked_until == until)
            && self.lock_end(log, at).is_none()
        {
            log.locked_until = taken.previous_lock;
        }
    }

    /// Counts a failure; the new lock's end when this one locks.
    fn fail(&self, log: &mut FailureLog, now: u64) -> Option<u64> {
        if log.locked_until > now {
            // Attempts during a lock neither count nor extend it: the lock
            // delays an attacker, it must not keep the owner out forever.
            return None;
        }
        let keep = self.window.as_secs().max(HOUR);
        while log.times.front().is_some_and(|&t| t + keep <= now) {
            log.times.pop_front();
        }
        log.times.push_back(now);
        log.consecutive = log.consecutive.saturating_add(1);
        let bound = (self.lock_after.max(self.per_hour) as usize) + 1;
        while log.times.len() > bound {
            log.times.pop_front();
        }
        let until = self.lock_end(log, now);
        if let Some(until) = until {
            log.locked_until = until;
        }
        until
    }

    /// The end of the lock that the failures in `log` call for at `now`.
    fn lock_end(&self, log: &FailureLog, now: u64) -> Option<u64> {
        let in_window = log
            .times
            .iter()
            .filter(|&&t| t + self.window.as_secs() > now)
            .count();
        let in_hour = log.times.iter().filter(|&&t| t + HOUR > now).count();
        if in_hour >= self.per_hour as usize {
            // Until the oldest failure of the hour ages out.
            log.times
                .iter()
                .rev()
                .nth(self.per_hour.saturating_sub(1) as usize)
                .map(|&t| t + HOUR)
                .filter(|&until| until > now)
        } else if in_window >= self.lock_after as usize {
            Some(now + self.lock_for.as_secs())
        } else {
            None
        }
    }
}

impl RatePolicy {
    /// Takes one event, or says when the oldest in the window ages out.
    fn take(&self, log: &mut EventLog, now: u64) -> Result<(), u64> {
        let window = self.window.as_secs();
        while log.front().is_some_and(|&t| t + window <= now) {
            log.pop_front();
        }
        if log.len() >= self.max as usize {
            let oldest = log.front().copied().unwrap_or(now);
            return Err(oldest + window);
        }
        log.push_back(now);
        Ok(())
    }
}

/// The limits doorman enforces, with the store that counts.
#[derive(Debug, Clone)]
pub struct Limiter {
    pub accounts: FailurePolicy,
    pub clients: FailurePolicy,
    pub sends_per_number: RatePolicy,
    pub sends_per_account: RatePolicy,
    pub push_prompts: RatePolicy,
    /// Authenticator-app challenges started per account.
    pub totp_starts: RatePolicy,
    /// Failures for names no account has, by folded name: the same delays
    /// as a real account's, so the delay tells nobody which names exist.
    /// Kept here, bounded, so a flood of made-up names never reaches the
    /// store.
    unknown: Cache<String, FailureLog>,
    /// Signs the device marks that spare a browser the address counter.
    device_key: [u8; 32],
    /// Whether the "behind a proxy nobody trusts" warning was given.
    proxy_warned: Arc<AtomicBool>,
}

/// Unknown names remembered at most (each a few hundred bytes).
const UNKNOWN_NAMES: u64 = 100_000;
/// Open challenges one account may hold; starting another ends the oldest.
pub const OPEN_CHALLENGES: usize = 5;
/// How long a device mark spares its browser the address counter.
pub const DEVICE_MARK_LIFETIME: Duration = Duration::from_secs(90 * 24 * 3600);

/// A lock that a failure just set, for the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Locked {
    /// `account` or `client`.
    pub scope: &'static str,
    pub until: u64,
}

/// Who a sign-in attempt is for.
#[derive(Debug, Clone, Copy)]
pub enum Account<'a> {
    /// An account that exists, by its name.
    Known(&'a str),
    /// A name no account has, as typed.
    Unknown(&'a str),
}

/// An attempt reserved before its password or code is checked. Dropping
/// it keeps it counted as a failure; [`Limiter::refund`] hands it back.
#[derive(Debug, Clone)]
#[must_use = "a reservation is a failure unless it is refunded"]
pub struct Reservation {
    /// Until when the account is locked: the attempt must be answered as a
    /// failure without looking at what was typed.
    pub refused: Option<u64>,
    /// How long to wait before answering.
    pub delay: Duration,
    /// The locks this attempt set.
    pub locked: Vec<Locked>,
    account: Option<(AccountKey, Taken)>,
    client: Option<(String, Taken)>,
}

#[derive(Debug, Clone)]
enum AccountKey {
    Store(String),
    Unknown(String),
}

/// A name as the counters know it: trimmed, lower-cased.
pub fn fold(name: &str) -> String {
    name.trim().to_lowercase()
}

fn account_key(user: &str) -> String {
    format!("account:{}", fold(user))
}

fn client_key(client: IpAddr) -> String {
    format!("client:{}", crate::net::client_key(client))
}

impl Limiter {
    /// The limits of `config`, with marks signed by a key from `secret`.
    pub fn new(
        accounts: FailurePolicy,
        clients: FailurePolicy,
        sends: (RatePolicy, RatePolicy),
        push_prompts: RatePolicy,
        totp_starts: RatePolicy,
        secret: &[u8],
    ) -> Limiter {
        let idle = accounts.window.max(Duration::from_secs(HOUR));
        Limiter {
            unknown: Cache::builder()
                .max_capacity(UNKNOWN_NAMES)
                .time_to_idle(idle)
                .build(),
            accounts,
            clients,
            sends_per_number: sends.0,
            sends_per_account: sends.1,
            push_prompts,
            totp_starts,
            device_key: crate::crypto::derive(secret, b"doorman device marks"),
            proxy_warned: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Reserves one sign-in attempt for `account` and, unless the browser
    /// is exempt (`None`), its client address, before the password or code
    /// is looked at. The account's lock refuses; the address's lock only
    /// slows: a crowd behind one address must not lock each other out.
    pub async fn reserve(
        &self,
        store: &Store,
        account: Account<'_>,
        client: Option<IpAddr>,
        now: u64,
    ) -> StoreResult<Reservation> {
        let (key, by_account) = match account {
            Account::Known(name) => {
                let key = account_key(name);
                let taken = store
                    .update_failures(&key, |log| self.accounts.reserve(log, now))
                    .await?;
                (AccountKey::Store(key), taken)
            }
            Account::Unknown(typed) => {
                let name = fold(typed);
                let taken = self.reserve_unknown(&name, now);
                (AccountKey::Unknown(name), taken)
            }
        };
        let mut locked = Vec::new();
        if let (AccountKey::Store(_), Some(until)) = (&key, by_account.locked) {
            crate::metrics::limit_hit("lock_account");
            locked.push(Locked {
                scope: "account",
                until,
            });
        }
        let by_client = match client {
            Some(client) => {
                let key = client_key(client);
                let taken = store
                    .update_failures(&key, |log| self.clients.reserve(log, now))
                    .await?;
                if let Some(until) = taken.locked {
                    crate::metrics::limit_hit("lock_client");
                    locked.push(Locked {
                        scope: "client",
                        until,
                    });
                }
                Some((key, taken))
            }
            None => None,
        };
        let refused = by_account.standing.locked_until;
        let delay = by_account.standing.delay.max(
            by_client
                .as_ref()
                .map_or(Duration::ZERO, |(_, taken)| taken.standing.delay),
        );
        if refused.is_some() {
            crate::metrics::limit_hit("locked");
        } else if !delay.is_zero() {
            crate::metrics::limit_hit("delayed");
        }
        Ok(Reservation {
            refused,
            delay,
            locked,
            account: Some((key, by_account)),
            client: by_client,
        })
    }

    /// The unknown-name counterpart of a store reservation, in one step on
    /// the local cache.
    fn reserve_unknown(&self, name: &str, now: u64) -> Taken {
        let mut taken = None;
        self.unknown.entry_by_ref(name).and_compute_with(|entry| {
            let mut log = entry.map(|entry| entry.into_value()).unwrap_or_default();
            taken = Some(self.accounts.reserve(&mut log, now));
            moka::ops::compute::Op::Put(log)
        });
        taken.unwrap_or_else(|| self.accounts.reserve(&mut FailureLog::default(), now))
    }

    /// Hands a reservation back: the password or code was right, or was
    /// never checked (a provider that could not be asked).
    pub async fn refund(&self, store: &Store, reservation: &Reservation) -> StoreResult<()> {
        match &reservation.account {
            Some((AccountKey::Store(key), taken)) => {
                store
                    .update_failures(key, |log| self.accounts.refund(log, taken))
                    .await?
            }
            Some((AccountKey::Unknown(name), taken)) => {
                if let Some(mut log) = self.unknown.get(name) {
                    self.accounts.refund(&mut log, taken);
                    self.unknown.insert(name.clone(), log);
                }
            }
            None => {}
        }
        if let Some((key, taken)) = &reservation.client {
            store
                .update_failures(key, |log| self.clients.refund(log, taken))
                .await?;
        }
        Ok(())
    }

    /// Where an account stands, without taking an attempt (for pages that
    /// only show it).
    pub async fn account_standing(
        &self,
        store: &Store,
        account: &str,
        now: u64,
    ) -> StoreResult<Standing> {
        let log = store.failures(&account_key(account)).await?;
        Ok(self.accounts.standing(&log, now))
    }

    /// A complete sign-in ends the account's run of failures (not a lock,
    /// and never a client's count).
    pub async fn signed_in(&self, store: &Store, account: &str) -> StoreResult<()> {
        store
            .update_failures(&account_key(account), |log| log.consecutive = 0)
            .await
    }

    /// Takes the start of an authenticator-app challenge by `user` in
    /// session `session_id`: one per session per `cooldown`, and
    /// `totp_starts` per window for the account, so restarting a challenge
    /// (for fresh attempts) is slow and bounded however many sessions ask.
    pub async fn take_totp_start(
        &self,
        store: &Store,
        user: &str,
        session_id: &str,
        cooldown: Duration,
        now: u64,
    ) -> StoreResult<Result<(), Refusal>> {
        let session_key = format!("totp_start:{session_id}");
        if let Err(retry_at) = store.take_cooldown(&session_key, cooldown, now).await? {
            crate::metrics::limit_hit("totp_cooldown");
            return Ok(Err(Refusal {
                retry_at,
                cap: "totp_cooldown",
            }));
        }
        let key = format!("totp_starts:{}", fold(user));
        let took = store
            .update_events(&key, |log| self.totp_starts.take(log, now))
            .await?;
        Ok(took.map_err(|retry_at| {
            crate::metrics::limit_hit("totp_starts");
            Refusal {
                retry_at,
                cap: "totp_starts",
            }
        }))
    }

    /// A device mark for `user`'s browser, valid from `now`.
    pub fn device_mark(&self, user: &str, now: u64) -> String {
        use base64::Engine;
        let user = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(fold(user));
        let signed = format!("{now}.{user}");
        let mac = crate::crypto::hex(&crate::crypto::hmac(&self.device_key, signed.as_bytes()));
        format!("{signed}.{mac}")
    }

    /// The (folded) user a device mark stands for, if it is ours and not
    /// older than [`DEVICE_MARK_LIFETIME`].
    pub fn device_mark_user(&self, mark: &str, now: u64) -> Option<String> {
        use base64::Engine;
        let (signed, mac) = mark.rsplit_once('.')?;
        let expected =
            crate::crypto::hex(&crate::crypto::hmac(&self.device_key, signed.as_bytes()));
        if !crate::crypto::equal(expected.as_bytes(), mac.as_bytes()) {
            return None;
        }
        let (issued, user) = signed.split_once('.')?;
        let issued: u64 = issued.parse().ok()?;
        if issued > now.saturating_add(300)
            || now.saturating_sub(issued) >= DEVICE_MARK_LIFETIME.as_secs()
        {
            return None;
        }
        let user = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(user)
            .ok()?;
        String::from_utf8(user).ok()
    }

    /// Warns, once, when a request looks proxied but no proxy is trusted:
    /// then every client has the proxy's address, and the address counter
    /// slows all of them together.
    pub fn notice_proxy(&self, trusted_proxies_empty: bool, peer: IpAddr, forwarded: bool) {
        if looks_proxied(trusted_proxies_empty, peer, forwarded)
            && !self.proxy_warned.swap(true, Ordering::Relaxed)
        {
            tracing::warn!(
                event = "untrusted_proxy",
                %peer,
                "requests come through a proxy (X-Forwarded-For from a private address) but trusted_proxies is empty: every client is counted as {peer}; set trusted_proxies to the proxy's address"
            );
        }
    }

    /// Takes a send of a code to `number` for `user` on `channel`, whose
    /// daily cap is `channel_cap`; each cap is checked, and nothing is
    /// counted unless all allow it.
    pub async fn take_send(
        &self,
        store: &Store,
        user: &str,
        number: &str,
        channel: &str,
        channel_cap: Option<u32>,
        now: u64,
    ) -> StoreResult<Result<(), Refusal>> {
        let mut caps = vec![
            (
                "per_number",
                format!("number:{number}"),
                self.sends_per_number,
            ),
            (
                "per_account",
                format!("sends:{}", user.to_lowercase()),
                self.sends_per_account,
            ),
        ];
        if let Some(max) = channel_cap {
            let day = Duration::from_secs(24 * HOUR);
            let policy = RatePolicy { max, window: day };
            caps.push(("channel_per_day", format!("channel:{channel}"), policy));
        }
        let mut taken: Vec<&str> = Vec::new();
        for (cap, key, policy) in &caps {
            let took = store
                .update_events(key, |log| policy.take(log, now))
                .await?;
            if let Err(retry_at) = took {
                for key in taken {
                    store
                        .update_events(key, |log| {
                            log.pop_back();
                        })
                        .await?;
                }
                crate::metrics::limit_hit(cap);
                return Ok(Err(Refusal { retry_at, cap }));
            }
            taken.push(key);
        }
        Ok(Ok(()))
    }

    /// Takes a push prompt for `user`.
    pub async fn take_push(
        &self,
        store: &Store,
        user: &str,
        now: u64,
    ) -> StoreResult<Result<(), Refusal>> {
        let key = format!("push:{}", user.to_lowercase());
        let took = store
            .update_events(&key, |log| self.push_prompts.take(log, now))
            .await?;
        Ok(took.map_err(|retry_at| {
            crate::metrics::limit_hit("push_prompts");
            Refusal {
                retry_at,
                cap: "push_prompts",
            }
        }))
    }
}

/// Whether a request from `peer` reads as sent by a proxy doorman does not
/// trust: none is trusted, the peer is a private (or loopback, or CGNAT)
/// address, and it says whom it forwards for.
pub fn looks_proxied(trusted_proxies_empty: bool, peer: IpAddr, forwarded: bool) -> bool {
    if !trusted_proxies_empty || !forwarded {
        return false;
    }
    match crate::net::canonical(peer) {
        IpAddr::V4(v4) => {
            let cgnat = v4.octets()[0] == 100 && (v4.octets()[1] & 0xc0) == 64;
            v4.is_private() || v4.is_loopback() || v4.is_link_local() || cgnat
        }
        IpAddr::V6(v6) => {
            let unique_local = (v6.segments()[0] & 0xfe00) == 0xfc00;
            let link_local = (v6.segments()[0] & 0xffc0) == 0xfe80;
            v6.is_loopback() || unique_local || link_local
        }
    }
}

/// "N seconds" / "N minutes" / "N hours" until `at`, for people.
pub fn wait_text(now: u64, at: u64) -> String {
    let seconds = at.saturating_sub(now).max(1);
    let (n, unit) = if seconds < 120 {
        (seconds, "second")
    } else if seconds < 2 * HOUR {
        (seconds.div_ceil(60), "minute")
    } else {
        (seconds.div_ceil(HOUR), "hour")
    };
    if n == 1 {
        format!("1 {unit}")
    } else {
        format!("{n} {unit}s")
    }
}

#[cfg(test)]
mod tests {
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

    #[test]
    fn waits_read_naturally() {
        assert_eq!(wait_text(0, 1), "1 second");
        assert_eq!(wait_text(0, 90), "90 seconds");
        assert_eq!(wait_text(0, 600), "10 minutes");
        assert_eq!(wait_text(0, 20 * HOUR), "20 hours");
    }
}
