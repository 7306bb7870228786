//! What the config says about limits (every bound, the failure and rate
//! policies) and what a policy decides about a log of attempts.

use super::*;

/// `limits:`: every bound doorman keeps.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Threads serving requests, each with its own event loop.
    pub worker_threads: usize,
    /// Plain GET and HEAD requests the gate lets through go by the HTTP/1
    /// lane (see [`crate::lane`]) rather than through hyper.
    pub fast_lane: bool,
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

impl FailurePolicy {
    pub(super) fn standing(&self, log: &FailureLog, now: u64) -> Standing {
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
    pub(super) fn reserve(&self, log: &mut FailureLog, now: u64) -> Taken {
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
    pub(super) fn refund(&self, log: &mut FailureLog, taken: &Taken) {
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
    pub(super) fn fail(&self, log: &mut FailureLog, now: u64) -> Option<u64> {
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
    pub(super) fn lock_end(&self, log: &FailureLog, now: u64) -> Option<u64> {
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
    pub(super) fn take(&self, log: &mut EventLog, now: u64) -> Result<(), u64> {
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
