//! The users file, and password checks on the blocking pool behind a limit.

use crate::otp::totp::TotpSecret;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use http::header::HeaderName;
use http::{HeaderMap, HeaderValue};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// `identity_headers:`: the names of the headers the app reads the user from.
#[derive(Debug, Clone)]
pub struct IdentityHeaders {
    pub user: HeaderName,
    pub email: HeaderName,
    pub groups: HeaderName,
    pub name: HeaderName,
}

impl IdentityHeaders {
    pub fn all(&self) -> [&HeaderName; 4] {
        [&self.user, &self.email, &self.groups, &self.name]
    }
}

/// One person who may sign in.
#[derive(Debug)]
pub struct User {
    pub name: String,
    /// An argon2id PHC string; checked for form at load time.
    pub password_hash: String,
    pub display_name: Option<String>,
    pub email: Option<String>,
    pub groups: Vec<String>,
    /// E.164, with the leading `+`.
    pub phone: Option<String>,
    /// ISO 3166 code of the phone's country (`US`), for `allowed_countries`.
    pub country: Option<String>,
    /// The authenticator-app secret (`totp_secret`), if enrolled.
    pub totp: Option<TotpSecret>,
    /// The ntfy topic push approvals go to.
    pub ntfy_topic: Option<String>,
    /// The language of this user's text messages and calls (`locale`);
    /// `None`: `default_locale`.
    pub locale: Option<crate::i18n::Locale>,
    /// Identity header values, built once so the hot path only clones them.
    pub headers: IdentityValues,
}

/// Values for the identity headers; `None` where the user has no such field.
#[derive(Debug, Clone)]
pub struct IdentityValues {
    pub user: HeaderValue,
    pub email: Option<HeaderValue>,
    pub groups: Option<HeaderValue>,
    pub name: Option<HeaderValue>,
}

impl IdentityValues {
    /// Sets this user's identity headers, under the configured names.
    pub fn insert_into(&self, names: &IdentityHeaders, headers: &mut HeaderMap) {
        for (name, value) in self.pairs(names) {
            headers.insert(name, value.clone());
        }
    }

    /// Each identity header this user has, under its configured name.
    pub fn pairs<'a>(
        &'a self,
        names: &'a IdentityHeaders,
    ) -> impl Iterator<Item = (&'a HeaderName, &'a HeaderValue)> + 'a {
        let optional = [
            (&names.email, &self.email),
            (&names.groups, &self.groups),
            (&names.name, &self.name),
        ];
        let optional = optional
            .into_iter()
            .filter_map(|(name, value)| Some((name, value.as_ref()?)));
        std::iter::once((&names.user, &self.user)).chain(optional)
    }
}

/// Everyone in the users file, by name.
#[derive(Debug, Default)]
pub struct Users {
    by_name: HashMap<String, Arc<User>>,
    /// Lower-case name → name as written: sign-in ignores letter case.
    folded: HashMap<String, String>,
}

impl Users {
    /// Adds `user`; the name of one already there that differs from it
    /// only in letter case (which sign-in ignores), if any.
    pub fn insert(&mut self, user: User) -> Option<String> {
        let name = user.name.clone();
        let other = self.folded.insert(name.to_lowercase(), name.clone());
        self.by_name.insert(name, Arc::new(user));
        other
    }

    /// The user named exactly `name` (as sessions carry it).
    /// Every user, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<User>> {
        self.by_name.values()
    }

    pub fn get(&self, name: &str) -> Option<&Arc<User>> {
        self.by_name.get(name)
    }

    /// The user someone typed at sign-in, in any letter case.
    pub fn find(&self, typed: &str) -> Option<&Arc<User>> {
        self.by_name.get(typed).or_else(|| {
            self.folded
                .get(&typed.to_lowercase())
                .and_then(|name| self.by_name.get(name))
        })
    }

    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }
}

/// ntfy topic names: 1–64 of `A-Za-z0-9_-`. Anyone who knows a topic on a
/// public server can read it, so long random names are best.
pub fn valid_topic(topic: &str) -> bool {
    (1..=64).contains(&topic.len())
        && topic
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Validates an E.164 number with libphonenumber's metadata; its country.
pub fn phone_country(phone: &str) -> Result<Option<String>, &'static str> {
    if !phone.starts_with('+') || !phone[1..].bytes().all(|b| b.is_ascii_digit()) {
        return Err("is not in E.164 form like +14155550100 (a +, then digits only)");
    }
    let number = phonenumber::parse(None, phone).map_err(|_| "is not a phone number")?;
    if !phonenumber::is_valid(&number) {
        return Err("is not a valid number for its country code");
    }
    Ok(number.country().id().map(|id| id.as_ref().to_owned()))
}

/// Hashes a password into an argon2id PHC string with the crate's defaults
/// (m=19456 KiB, t=2, p=1, OWASP's recommendation).
pub fn hash_password(password: &str) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::encode_b64(&crate::crypto::random_bytes::<16>())?;
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)?
        .to_string())
}

/// Checks passwords without letting a flood of them starve proxied traffic:
/// argon2 runs on a few dedicated threads at the lowest scheduling priority
/// ([`lower_priority`]), so when logins and proxied requests compete for a
/// core, requests win.
pub struct PasswordChecker {
    /// The current users; a reload swaps them.
    users: Arc<arc_swap::ArcSwap<Users>>,
    /// Work for the hashing threads; a flood queues here, bounded.
    jobs: mpsc::Sender<Job>,
    /// Verified against for unknown users, so they cost the same time.
    dummy_hash: String,
}

/// One password to check, and where the answer goes.
struct Job {
    hash: String,
    password: String,
    answer: oneshot::Sender<bool>,
}

/// Logins waiting for a hashing thread before the next waits to enqueue.
const QUEUED_CHECKS: usize = 256;

impl PasswordChecker {
    /// Starts `threads` hashing threads; they end when the checker is dropped.
    pub fn new(users: Arc<arc_swap::ArcSwap<Users>>, threads: usize) -> PasswordChecker {
        hand_back_large_blocks();
        let dummy_hash = hash_password(&crate::crypto::random_hex(16)).unwrap_or_default();
        let (jobs, queue) = mpsc::channel::<Job>(QUEUED_CHECKS);
        let queue = Arc::new(std::sync::Mutex::new(queue));
        for index in 0..threads.max(1) {
            let queue = queue.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("doorman-argon2-{index}"))
                .spawn(move || {
                    lower_priority();
                    loop {
                        // One thread waits for the next job at a time; the
                        // others wait for the lock. Drop it before hashing.
                        let job = match queue.lock() {
                            Ok(mut queue) => queue.blocking_recv(),
                            Err(_) => None,
                        };
                        let Some(job) = job else { break };
                        let _ = job.answer.send(verify(&job.hash, &job.password));
                    }
                });
            if let Err(err) = spawned {
                tracing::error!(error = %err, "cannot start a password-check thread");
            }
        }
        PasswordChecker {
            users,
            jobs,
            dummy_hash,
        }
    }

    /// The user when `password` is theirs; `None` for a wrong password, an
    /// unknown user and a `refused` attempt (a locked account) alike, after
    /// the same amount of work.
    pub async fn check(&self, name: &str, password: &str, refused: bool) -> Option<Arc<User>> {
        let user = self.users.load().find(name).cloned().filter(|_| !refused);
        let hash = user.as_ref().map_or_else(
            || self.dummy_hash.clone(),
            |user| user.password_hash.clone(),
        );
        let (answer, answered) = oneshot::channel();
        let job = Job {
            hash,
            password: password.to_owned(),
            answer,
        };
        self.jobs.send(job).await.ok()?;
        let matches = answered.await.unwrap_or(false);
        user.filter(|_| matches)
    }
}

/// Makes every allocation of 1 MiB or more its own mapping, unmapped when
/// freed. Each Argon2 check allocates its 19 MiB of working memory at
/// once; glibc, left to itself, raises its mapping threshold after the
/// first such block is freed and keeps the next ones in each hashing
/// thread's arena, so a few sign-ins left doorman at 80 MiB for good where
/// it idles at 22. A fixed threshold turns that adaptation off (musl and
/// other allocators map large blocks anyway).
fn hand_back_large_blocks() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; it is safe to
    // call at any time, from any thread.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}

/// Makes the calling thread yield to every other thread on the machine
/// (Linux scheduling policies and nice values are per thread; elsewhere a
/// no-op). `SCHED_IDLE`: the thread runs when a core has nothing else to
/// run, and a request thread that wakes up takes the core from it at once,
/// where a nice thread would finish its time slice first. It is never
/// starved: the scheduler still gives it a sliver of a busy core, and a
/// whole idle one. Where the policy is refused, the lowest nice value (19).
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: both calls only read their arguments (`param` lives across
    // the call); pid `0` names the calling thread, the only one changed.
    unsafe {
        let param = libc::sched_param { sched_priority: 0 };
        if libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) != 0 {
            libc::setpriority(libc::PRIO_PROCESS, 0, 19);
        }
    }
}

fn verify(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_must_be_valid_e164_and_know_their_country() {
        assert_eq!(phone_country("+14155550100"), Ok(Some("US".to_owned())));
        assert_eq!(phone_country("+442079460000"), Ok(Some("GB".to_owned())));
        assert!(phone_country("14155550100").is_err());
        assert!(phone_country("+1 415 555 0100").is_err());
        assert!(phone_country("+1234567").is_err());
        assert!(phone_country("+10005550100").is_err());
    }

    #[test]
    fn a_hash_verifies_its_password_only() {
        let hash = hash_password("correct horse").unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify(&hash, "correct horse"));
        assert!(!verify(&hash, "battery staple"));
    }

    /// The hashing threads' policy: `SCHED_IDLE`, on that thread only.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_hashing_thread_runs_only_when_nothing_else_would() {
        // SAFETY: sched_getscheduler only reads its argument (0: this thread).
        let policy = || unsafe { libc::sched_getscheduler(0) };
        let before = policy();
        let lowered = std::thread::spawn(move || {
            lower_priority();
            policy()
        })
        .join()
        .unwrap();
        assert_eq!(lowered, libc::SCHED_IDLE);
        assert_eq!(policy(), before, "only the hashing thread is lowered");
        assert_ne!(before, libc::SCHED_IDLE);
    }
}
