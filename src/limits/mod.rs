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

mod settings;
mod stored;

use crate::store::{Store, StoreResult};
use moka::sync::Cache;
pub use settings::{FailurePolicy, Limits, RatePolicy};
use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

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

impl Refusal {
    /// A refusal by `cap`, counted in the metrics.
    fn hit(cap: &'static str, retry_at: u64) -> Refusal {
        crate::metrics::limit_hit(cap);
        Refusal { retry_at, cap }
    }
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
                    .update_log(&key, |log| self.accounts.reserve(log, now))
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
                    .update_log(&key, |log| self.clients.reserve(log, now))
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
                    .update_log(key, |log| self.accounts.refund(log, taken))
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
                .update_log(key, |log| self.clients.refund(log, taken))
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
            .update_log(&account_key(account), |log: &mut FailureLog| {
                log.consecutive = 0
            })
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
            return Ok(Err(Refusal::hit("totp_cooldown", retry_at)));
        }
        let key = format!("totp_starts:{}", fold(user));
        let took = store
            .update_log(&key, |log| self.totp_starts.take(log, now))
            .await?;
        Ok(took.map_err(|retry_at| Refusal::hit("totp_starts", retry_at)))
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
            let took = store.update_log(key, |log| policy.take(log, now)).await?;
            if let Err(retry_at) = took {
                for key in taken {
                    store
                        .update_log(key, |log: &mut EventLog| {
                            log.pop_back();
                        })
                        .await?;
                }
                return Ok(Err(Refusal::hit(cap, retry_at)));
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
            .update_log(&key, |log| self.push_prompts.take(log, now))
            .await?;
        Ok(took.map_err(|retry_at| Refusal::hit("push_prompts", retry_at)))
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

#[cfg(test)]
mod tests;
