//! The session cookie: what it carries, and its encrypted codec.

mod cache;
mod settings;
pub mod stored;

use cookie::{Cookie, CookieJar, SameSite};
use http::header::COOKIE;
use http::{HeaderMap, HeaderValue};
use serde::{Deserialize, Serialize};
pub use settings::{Secure, SessionSettings};
use std::sync::Arc;

/// How far a session has come through sign-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "u8", try_from = "u8")]
pub enum FactorLevel {
    /// The password is done; a second factor is still owed.
    Password = 1,
    /// Both factors are done: traffic may pass.
    TwoFactor = 2,
}

impl From<FactorLevel> for u8 {
    fn from(level: FactorLevel) -> u8 {
        level as u8
    }
}

impl TryFrom<u8> for FactorLevel {
    type Error = &'static str;
    fn try_from(value: u8) -> Result<Self, Self::Error> {
        match value {
            1 => Ok(FactorLevel::Password),
            2 => Ok(FactorLevel::TwoFactor),
            _ => Err("unknown factor level"),
        }
    }
}

/// What the cookie carries. Field names are short because every request
/// sends them; times are Unix seconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// Random; new at each level so a planted cookie cannot be promoted.
    #[serde(rename = "i")]
    pub id: String,
    #[serde(rename = "u")]
    pub user: String,
    #[serde(rename = "l")]
    pub level: FactorLevel,
    /// When the password was checked; the absolute lifetime counts from here.
    #[serde(rename = "a")]
    pub authenticated_at: u64,
    /// When the second factor was proven (0 before).
    #[serde(rename = "f")]
    pub second_factor_at: u64,
    /// Last activity, for the idle timeout.
    #[serde(rename = "s")]
    pub last_seen: u64,
    #[serde(rename = "e")]
    pub expires_at: u64,
    /// The user's credential epoch when the session began (see
    /// `App::credential_epoch`): a changed password, authenticator, phone
    /// or groups ends it. Cookies from before epochs carry none, so they
    /// are refused: the upgrade signs everyone out once.
    #[serde(rename = "c", default)]
    pub epoch: String,
}

/// Seconds between re-issues of a cookie for the sliding idle timeout.
const REFRESH_AFTER: u64 = 60;

/// Why a cookie was not accepted; for logs, never shown to a browser.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejected {
    Undecryptable,
    Expired,
    Idle,
}

/// Encrypts sessions into cookies and back.
pub struct SessionCodec {
    settings: SessionSettings,
    /// Every name doorman's cookies may carry (session, CSRF and device
    /// mark, each with and without `__Host-`), built once: none of them
    /// reaches the upstream.
    own_cookies: [String; 8],
    /// Tags this codec's entries in the [`cache`] of decrypted cookies.
    cache_id: u64,
}

impl SessionCodec {
    pub fn new(settings: SessionSettings) -> SessionCodec {
        let base = &settings.cookie_name;
        // The session, CSRF, device-mark and trusted-device cookies, each
        // with and without `__Host-`.
        let names = ["", "_csrf", "_device", "_trusted"].map(|end| format!("{base}{end}"));
        let own_cookies = std::array::from_fn(|i| prefixed_name(&names[i / 2], i % 2 == 1));
        SessionCodec {
            settings,
            own_cookies,
            cache_id: cache::next_codec_id(),
        }
    }

    /// The names of doorman's own cookies, to keep from the upstream.
    pub fn own_cookie_names(&self) -> [&str; 8] {
        self.own_cookies.each_ref().map(String::as_str)
    }

    pub fn settings(&self) -> &SessionSettings {
        &self.settings
    }

    pub fn cookie_name(&self) -> &str {
        &self.settings.cookie_name
    }

    /// A fresh session for `user` at `level`.
    pub fn start(
        &self,
        user: &str,
        level: FactorLevel,
        authenticated_at: u64,
        now: u64,
    ) -> Session {
        Session {
            id: crate::crypto::random_hex(16),
            user: user.to_owned(),
            level,
            authenticated_at,
            second_factor_at: if level == FactorLevel::TwoFactor {
                now
            } else {
                0
            },
            last_seen: now,
            expires_at: authenticated_at + self.settings.lifetime.as_secs(),
            epoch: String::new(),
        }
    }

    /// Whether `session` is within its lifetime: the one it was issued with
    /// and the one configured now (lowering `session.lifetime` shortens the
    /// sessions already out).
    pub fn current(&self, session: &Session, now: u64) -> bool {
        let configured = session
            .authenticated_at
            .saturating_add(self.settings.lifetime.as_secs());
        now < session.expires_at.min(configured)
    }

    /// Whether doorman's cookies are `Secure` on this request.
    pub fn secure(&self, tls: bool) -> bool {
        match self.settings.secure {
            Secure::Auto => tls,
            Secure::Always => true,
            Secure::Never => false,
        }
    }

    /// The name doorman's cookie `base` carries on this request: with the
    /// `__Host-` prefix whenever the cookie is `Secure` and host-only, so a
    /// sibling subdomain can neither set nor shadow it (browsers refuse such
    /// a cookie unless it is `Secure`, `Path=/` and without `Domain`).
    pub fn name_for(&self, base: &str, tls: bool) -> String {
        prefixed_name(base, self.secure(tls) && self.settings.domain.is_none())
    }

    /// The session cookie's name on this request.
    pub fn session_cookie_name(&self, tls: bool) -> String {
        self.name_for(&self.settings.cookie_name, tls)
    }

    /// The session in the request's cookies, if one decrypts and is neither
    /// expired nor idle; when several do, the newest. Revocation is the
    /// caller's check (and the caller must choose among survivors with
    /// [`choose`]; this is for tests and tools that hold one cookie).
    pub fn read(&self, headers: &HeaderMap, now: u64) -> Result<Option<Session>, Rejected> {
        let mut rejected = None;
        let mut found = Vec::new();
        for value in cookie_values(headers, &self.settings.cookie_name) {
            match self.decode(value, now) {
                Ok(session) => found.push(session),
                Err(why) => rejected = Some(why),
            }
        }
        match choose(found) {
            Choice::One(session) => Ok(Some(Arc::unwrap_or_clone(session))),
            Choice::Conflict => Ok(None),
            Choice::None => rejected.map_or(Ok(None), Err),
        }
    }

    /// Every session cookie of this request's name that decrypts and is
    /// current, in the order sent. Only the name doorman sets on this
    /// request is read: over TLS with the `__Host-` prefix in use, a plain
    /// `doorman_session` can only have been planted, and is ignored.
    pub fn candidates<'a>(
        &'a self,
        headers: &'a HeaderMap,
        now: u64,
        tls: bool,
    ) -> impl Iterator<Item = Arc<Session>> + 'a {
        // The session cookie's plain and `__Host-` names, built once.
        let prefixed = self.secure(tls) && self.settings.domain.is_none();
        let name = &self.own_cookies[usize::from(prefixed)];
        cookie_values(headers, name).filter_map(move |value| self.decode(value, now).ok())
    }

    /// `value`'s session, if it decrypts (see [`cache`]), is current and not idle.
    fn decode(&self, value: &str, now: u64) -> Result<Arc<Session>, Rejected> {
        let keys = &self.settings.keys;
        let decrypt = || cache::open(keys, &self.settings.cookie_name, value);
        let session =
            cache::decrypted(self.cache_id, value, decrypt).ok_or(Rejected::Undecryptable)?;
        if !self.current(&session, now) {
            return Err(Rejected::Expired);
        }
        if now.saturating_sub(session.last_seen) > self.settings.idle_timeout.as_secs() {
            return Err(Rejected::Idle);
        }
        Ok(session)
    }

    /// A re-issued cookie that slides the idle window, when activity now
    /// calls for one (at most once a minute).
    pub fn refreshed_cookie(&self, session: &Session, now: u64, tls: bool) -> Option<HeaderValue> {
        if now.saturating_sub(session.last_seen) < REFRESH_AFTER {
            return None;
        }
        let mut refreshed = session.clone();
        refreshed.last_seen = now;
        Some(self.set_cookie(&refreshed, tls))
    }

    /// A `Set-Cookie` value carrying `session`, encrypted with the newest key.
    /// (The name inside the encryption is the base name, whatever name the
    /// cookie travels under, so the prefix never changes what decrypts.)
    pub fn set_cookie(&self, session: &Session, tls: bool) -> HeaderValue {
        let json = serde_json::to_string(session).unwrap_or_default();
        let mut jar = CookieJar::new();
        if let Some(key) = self.settings.keys.first() {
            jar.private_mut(key)
                .add(Cookie::new(self.settings.cookie_name.clone(), json));
        }
        let value = jar
            .get(&self.settings.cookie_name)
            .map(|cookie| cookie.value().to_owned())
            .unwrap_or_default();
        let max_age = session.expires_at.saturating_sub(session.last_seen);
        self.build(value, Some(max_age), tls)
    }

    /// A `Set-Cookie` value that removes the session cookie.
    pub fn clear_cookie(&self, tls: bool) -> HeaderValue {
        self.build(String::new(), Some(0), tls)
    }

    fn build(&self, value: String, max_age: Option<u64>, tls: bool) -> HeaderValue {
        let mut cookie = Cookie::new(self.session_cookie_name(tls), value);
        self.attributes(&mut cookie, tls);
        if let Some(seconds) = max_age {
            cookie.set_max_age(cookie::time::Duration::seconds(
                seconds.min(i64::MAX as u64) as i64,
            ));
        }
        header_value(&cookie)
    }

    /// The attributes every doorman cookie carries.
    pub fn attributes(&self, cookie: &mut Cookie<'static>, tls: bool) {
        cookie.set_http_only(true);
        cookie.set_same_site(SameSite::Lax);
        cookie.set_path("/");
        cookie.set_secure(self.secure(tls));
        if let Some(domain) = &self.settings.domain {
            cookie.set_domain(domain.clone());
        }
    }
}

/// What a browser is taken to be signed in as, from the valid, unrevoked
/// sessions its cookies carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice<T = Session> {
    /// No session.
    None,
    /// One person's session: the newest of theirs.
    One(T),
    /// Sessions of different people: a cookie was planted (cookie tossing,
    /// from a sibling subdomain or a more specific path). Neither is
    /// believed, since the planted one may be the newer or the older.
    Conflict,
}

/// Chooses among the valid sessions a request carries. Several cookies of
/// one name come from different paths or domains, and a browser sends the
/// most specific and then the oldest first: taking the first would let a
/// planted or stale cookie win. So the newest session wins among one
/// person's, and sessions of different people are refused together.
pub fn choose<T: AsRef<Session>>(candidates: impl IntoIterator<Item = T>) -> Choice<T> {
    let mut candidates = candidates.into_iter();
    let Some(mut best) = candidates.next() else {
        return Choice::None;
    };
    let age = |s: &Session| (s.authenticated_at, s.second_factor_at, s.last_seen);
    for candidate in candidates {
        let (session, chosen) = (candidate.as_ref(), best.as_ref());
        if session.user != chosen.user {
            return Choice::Conflict;
        }
        if age(session) > age(chosen) {
            best = candidate;
        }
    }
    Choice::One(best)
}

impl AsRef<Session> for Session {
    fn as_ref(&self) -> &Session {
        self
    }
}

/// The `__Host-` prefix: a browser keeps a cookie so named only when it is
/// `Secure`, has `Path=/` and no `Domain`.
pub const HOST_PREFIX: &str = "__Host-";

/// `base`, with the `__Host-` prefix when `prefixed`.
pub fn prefixed_name(base: &str, prefixed: bool) -> String {
    if prefixed {
        format!("{HOST_PREFIX}{base}")
    } else {
        base.to_owned()
    }
}

/// A cookie rendered as a header value; cookie names and values doorman
/// writes are always header-safe, so the fallback is never taken.
pub fn header_value(cookie: &Cookie<'_>) -> HeaderValue {
    HeaderValue::try_from(cookie.to_string()).unwrap_or(HeaderValue::from_static(""))
}

/// Every value sent for cookie `name`, in order (a browser may send several
/// when cookies were set for different paths or domains).
pub fn cookie_values<'a>(
    headers: &'a HeaderMap,
    name: &'a str,
) -> impl Iterator<Item = &'a str> + 'a {
    headers
        .get_all(COOKIE)
        .iter()
        .flat_map(|line| cookie_pairs(line.as_bytes()))
        .filter_map(move |pair| {
            let split = memchr::memchr(b'=', pair)?;
            let (key, value) = (&pair[..split], &pair[split + 1..]);
            (key == name.as_bytes())
                .then(|| std::str::from_utf8(value).ok())
                .flatten()
        })
}

/// The `name=value` pairs of one `Cookie` line, trimmed, empty ones
/// skipped: the one reading of a cookie line, for the gate and for the
/// proxy that strips doorman's cookies. Bytes, not text: a long line is
/// scanned once (`memchr`), not validated first.
pub fn cookie_pairs(line: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = Some(line);
    std::iter::from_fn(move || loop {
        let line = rest?;
        let (pair, after) = match memchr::memchr(b';', line) {
            Some(at) => (&line[..at], Some(&line[at + 1..])),
            None => (line, None),
        };
        rest = after;
        let pair = pair.trim_ascii();
        if !pair.is_empty() {
            return Some(pair);
        }
    })
}

#[cfg(test)]
mod tests;
