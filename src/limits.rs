//! Brute-force and abuse limits: failed sign-ins per account and per client
//! address (a growing delay, then a lock), and caps on codes sent and push
//! prompts. Time comes from doorman's clock, so tests drive it.
//!
//! The counters live in the [`Store`](crate::store::Store); this module
//! holds the policy: what is counted, when it locks, when to try again.

use crate::store::{Store, StoreResult};
use std::collections::VecDeque;
use std::net::IpAddr;
use std::time::Duration;

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

impl FailurePolicy {
    fn standing(&self, log: &FailureLog, now: u64) -> Standing {
        let locked_until = (log.locked_until > now).then_some(log.locked_until);
        let delay = if log.consecutive >= self.delay_after && self.delay > Duration::ZERO {
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
        let in_window = log
            .times
            .iter()
            .filter(|&&t| t + self.window.as_secs() > now)
            .count();
        let in_hour = log.times.iter().filter(|&&t| t + HOUR > now).count();
        let until = if in_hour >= self.per_hour as usize {
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
        };
        if let Some(until) = until {
            log.locked_until = until;
        }
        until
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
}

/// A lock that a failure just set, for the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Locked {
    /// `account` or `client`.
    pub scope: &'static str,
    pub until: u64,
}

fn account_key(user: &str) -> String {
    format!("account:{}", user.to_lowercase())
}

fn client_key(client: IpAddr) -> String {
    format!("client:{}", crate::net::client_key(client))
}

impl Limiter {
    /// Where a sign-in attempt stands: the stricter of its account (when it
    /// names one that exists) and its client address.
    pub async fn standing(
        &self,
        store: &Store,
        account: Option<&str>,
        client: IpAddr,
        now: u64,
    ) -> StoreResult<Standing> {
        let by_client = self
            .clients
            .standing(&store.failures(&client_key(client)).await?, now);
        let by_account = match account {
            Some(name) => self
                .accounts
                .standing(&store.failures(&account_key(name)).await?, now),
            None => Standing::default(),
        };
        let standing = Standing {
            locked_until: by_client.locked_until.max(by_account.locked_until),
            delay: by_client.delay.max(by_account.delay),
        };
        if standing.locked_until.is_some() {
            crate::metrics::limit_hit("locked");
        } else if !standing.delay.is_zero() {
            crate::metrics::limit_hit("delayed");
        }
        Ok(standing)
    }

    /// Counts a failed password or code; the locks it set.
    pub async fn failed(
        &self,
        store: &Store,
        account: Option<&str>,
        client: IpAddr,
        now: u64,
    ) -> StoreResult<Vec<Locked>> {
        let mut locked = Vec::new();
        let by_client = store
            .update_failures(&client_key(client), |log| self.clients.fail(log, now))
            .await?;
        if let Some(until) = by_client {
            crate::metrics::limit_hit("lock_client");
            locked.push(Locked {
                scope: "client",
                until,
            });
        }
        if let Some(name) = account {
            let by_account = store
                .update_failures(&account_key(name), |log| self.accounts.fail(log, now))
                .await?;
            if let Some(until) = by_account {
                crate::metrics::limit_hit("lock_account");
                locked.push(Locked {
                    scope: "account",
                    until,
                });
            }
        }
        Ok(locked)
    }

    /// A complete sign-in ends the account's run of failures (not a lock,
    /// and never a client's count).
    pub async fn signed_in(&self, store: &Store, account: &str) -> StoreResult<()> {
        store
            .update_failures(&account_key(account), |log| log.consecutive = 0)
            .await
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

    #[test]
    fn waits_read_naturally() {
        assert_eq!(wait_text(0, 1), "1 second");
        assert_eq!(wait_text(0, 90), "90 seconds");
        assert_eq!(wait_text(0, 600), "10 minutes");
        assert_eq!(wait_text(0, 20 * HOUR), "20 hours");
    }
}
