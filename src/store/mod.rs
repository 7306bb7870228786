//! Server-side state: pending challenges, revoked sessions, send cooldowns,
//! the counters behind [`crate::limits`], push answer tokens and the last authenticator-app step used per user.
//!
//! Memory only for now (moka caches, bounded in size and time). Entries carry
//! their own expiry times, checked against doorman's clock; the caches' TTLs
//! only reclaim memory, so an injected clock in tests stays authoritative.

pub mod backend;
pub mod memory;
pub mod redis_backend;

use crate::limits::{EventLog, FailureLog};
use crate::otp::push::PushToken;
use crate::otp::Challenge;
use moka::ops::compute::{CompResult, Op};
use moka::sync::Cache;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// Upper bounds on what the store keeps, so a flood cannot exhaust memory.
const MAX_CHALLENGES: u64 = 100_000;
const MAX_REVOKED: u64 = 1_000_000;
const MAX_COOLDOWNS: u64 = 100_000;
/// Failure logs (accounts and client addresses) and event logs (sends,
/// prompts). An entry idle for a day holds nothing any limit still reads.
const MAX_COUNTERS: u64 = 200_000;
const COUNTER_IDLE: Duration = Duration::from_secs(25 * 3600);
const MAX_PUSH_TOKENS: u64 = 400_000;
const MAX_TOTP_STEPS: u64 = 100_000;
/// How long a used TOTP step is remembered: past it, the step is outside
/// the accepted window (one step either side) anyway.
const TOTP_STEP_MEMORY: Duration = Duration::from_secs(5 * 60);

pub type SharedChallenge = Arc<Mutex<Challenge>>;

/// Locks a challenge. A panic elsewhere while it was held cannot leave it
/// half-updated (every change is a single field write), so poison is ignored.
pub fn lock(challenge: &SharedChallenge) -> MutexGuard<'_, Challenge> {
    challenge
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

pub struct Store {
    /// Pending challenges by the id of the level-1 session they belong to.
    challenges: Cache<String, SharedChallenge>,
    /// Session ids signed out before their cookie expires: id → expiry.
    revoked: Cache<String, u64>,
    /// Last time a code was sent, by user: cooldown for resends.
    last_sent: Cache<String, u64>,
    failures: Cache<String, Arc<Mutex<FailureLog>>>,
    events: Cache<String, Arc<Mutex<EventLog>>>,
    /// One-time push answers by token id.
    push_tokens: Cache<String, PushToken>,
    /// The last authenticator-app time step accepted, by user: a code is
    /// good once.
    totp_steps: Cache<String, u64>,
}

impl Store {
    /// `session_lifetime` bounds how long a revocation must be remembered;
    /// `code_lifetime` how long a challenge can matter.
    pub fn new(session_lifetime: Duration, code_lifetime: Duration, cooldown: Duration) -> Store {
        // A little slack past each lifetime so a clock a few seconds off
        // never drops an entry early.
        let slack = Duration::from_secs(60);
        Store {
            challenges: Cache::builder()
                .max_capacity(MAX_CHALLENGES)
                .time_to_live(code_lifetime + slack)
                .build(),
            revoked: Cache::builder()
                .max_capacity(MAX_REVOKED)
                .time_to_live(session_lifetime + slack)
                .build(),
            last_sent: Cache::builder()
                .max_capacity(MAX_COOLDOWNS)
                .time_to_live(cooldown + slack)
                .build(),
            failures: Cache::builder()
                .max_capacity(MAX_COUNTERS)
                .time_to_idle(COUNTER_IDLE)
                .build(),
            events: Cache::builder()
                .max_capacity(MAX_COUNTERS)
                .time_to_idle(COUNTER_IDLE)
                .build(),
            push_tokens: Cache::builder()
                .max_capacity(MAX_PUSH_TOKENS)
                .time_to_live(code_lifetime + slack)
                .build(),
            totp_steps: Cache::builder()
                .max_capacity(MAX_TOTP_STEPS)
                .time_to_live(TOTP_STEP_MEMORY)
                .build(),
        }
    }

    pub fn challenge(&self, session_id: &str) -> Option<SharedChallenge> {
        self.challenges.get(session_id)
    }

    /// Stores `challenge` for the session, replacing (and so invalidating)
    /// any earlier one.
    pub fn put_challenge(&self, session_id: &str, challenge: Challenge) {
        self.challenges
            .insert(session_id.to_owned(), Arc::new(Mutex::new(challenge)));
    }

    pub fn remove_challenge(&self, session_id: &str) {
        self.challenges.invalidate(session_id);
    }

    pub fn revoke(&self, session_id: &str, expires_at: u64) {
        self.revoked.insert(session_id.to_owned(), expires_at);
    }

    pub fn is_revoked(&self, session_id: &str) -> bool {
        self.revoked.contains_key(session_id)
    }

    pub fn last_sent(&self, user: &str) -> Option<u64> {
        self.last_sent.get(user)
    }

    pub fn record_sent(&self, user: &str, at: u64) {
        self.last_sent.insert(user.to_owned(), at);
    }

    /// Runs `f` on the failure log under `key` (created empty), locked.
    pub fn with_failures<T>(&self, key: &str, f: impl FnOnce(&mut FailureLog) -> T) -> T {
        let log = self.failures.get_with_by_ref(key, Default::default);
        let mut guard = log.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        f(&mut guard)
    }

    /// Runs `f` on the event log under `key` (created empty), locked.
    pub fn with_events<T>(&self, key: &str, f: impl FnOnce(&mut EventLog) -> T) -> T {
        let log = self.events.get_with_by_ref(key, Default::default);
        let mut guard = log.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        f(&mut guard)
    }

    /// Keeps a push answer token until it is used or expires.
    pub fn put_push_token(&self, id: &str, token: PushToken) {
        self.push_tokens.insert(id.to_owned(), token);
    }

    /// Removes and returns a push answer token: of two concurrent uses,
    /// one gets it.
    pub fn take_push_token(&self, id: &str) -> Option<PushToken> {
        self.push_tokens.remove(id)
    }

    /// Records `step` as `user`'s last accepted authenticator-app step, only
    /// if it is later than the last one; whether it was. Atomic per user, so
    /// a code raced in twice is accepted once.
    pub fn accept_totp_step(&self, user: &str, step: u64) -> bool {
        let result = self
            .totp_steps
            .entry_by_ref(user)
            .and_compute_with(|last| match last {
                Some(entry) if *entry.value() >= step => Op::Nop,
                _ => Op::Put(step),
            });
        matches!(
            result,
            CompResult::Inserted(_) | CompResult::ReplacedWith(_)
        )
    }
}
