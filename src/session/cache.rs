//! A per-thread cache of decrypted session cookies, so a browser's every
//! request does not pay for AES-GCM, base64 and JSON again.
//!
//! It caches only what is a pure function of the cookie's bytes and the
//! codec's keys — the decrypted [`Session`] — and only for cookies that did
//! decrypt (a flood of made-up cookies never fills it). Everything that
//! changes with time or state is still checked on every request, after the
//! cache: lifetime and idle timeout (by the codec, against `now`),
//! revocation and the credential epoch (by the gate). So a cached cookie is
//! refused exactly when a freshly decrypted one would be: the cache adds no
//! delay to a logout, a `doorman sessions revoke` or an expiry.
//!
//! Each worker thread has its own cache (no lock, no sharing between
//! cores); entries are tagged with the codec that decrypted them, so two
//! gateways in one process (tests) never read each other's. It holds at
//! most [`CAPACITY`] cookies per thread and starts over when full.

use super::Session;
use cookie::{Cookie, CookieJar, Key};
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Cookies kept per thread; about 400 bytes each.
pub const CAPACITY: usize = 1024;

/// A number for each codec made, so entries never cross codecs (keys).
pub(super) fn next_codec_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

#[derive(Default)]
struct Decoded {
    /// The codec the entries belong to; another one empties the cache.
    codec: u64,
    /// Cookie value as sent (by its [`tail`]) → what it decrypts to.
    sessions: HashMap<u64, (Box<str>, Arc<Session>)>,
}

/// A cookie's key in the cache: its last eight bytes and its length. A
/// cookie doorman sealed ends in its AES-GCM tag, so the key is as good as
/// random, and cheaper to hash than a few hundred bytes. Only cookies that
/// decrypted are kept, so a forged one can match an entry's key at most,
/// never its cookie, which is compared whole.
fn tail(value: &str) -> u64 {
    let bytes = value.as_bytes();
    let last = &bytes[bytes.len().saturating_sub(8)..];
    let mut word = [0; 8];
    word[..last.len()].copy_from_slice(last);
    u64::from_le_bytes(word) ^ (bytes.len() as u64).rotate_left(56)
}

thread_local! {
    static DECODED: RefCell<Decoded> = RefCell::new(Decoded::default());
}

/// The session cookie `value` decrypts to under codec `codec`: from this
/// thread's cache, or from `decrypt` (then remembered when it succeeds).
pub(super) fn decrypted(
    codec: u64,
    value: &str,
    decrypt: impl FnOnce() -> Option<Session>,
) -> Option<Arc<Session>> {
    let cached = DECODED.with(|cache| {
        let cache = cache.borrow();
        (cache.codec == codec)
            .then(|| cache.sessions.get(&tail(value)))
            .flatten()
            .filter(|(cookie, _)| **cookie == *value)
            .map(|(_, session)| session.clone())
    });
    if cached.is_some() {
        return cached;
    }
    let session = Arc::new(decrypt()?);
    DECODED.with(|cache| {
        let mut cache = cache.borrow_mut();
        if cache.codec != codec || cache.sessions.len() >= CAPACITY {
            cache.sessions.clear();
            cache.codec = codec;
        }
        let cached = (value.into(), session.clone());
        cache.sessions.insert(tail(value), cached);
    });
    Some(session)
}

/// The session in the sealed cookie `value` (named `name` inside the
/// encryption), if one of `keys` opens it: AES-256-GCM, then JSON.
pub(super) fn open(keys: &[Key], name: &str, value: &str) -> Option<Session> {
    let jar = CookieJar::new();
    let sealed = || Cookie::new(name.to_owned(), value.to_owned());
    let cookie = keys
        .iter()
        .find_map(|key| jar.private(key).decrypt(sealed()))?;
    serde_json::from_str(cookie.value()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::FactorLevel;

    fn session(id: &str) -> Session {
        Session {
            id: id.into(),
            user: "alice".into(),
            level: FactorLevel::TwoFactor,
            authenticated_at: 1,
            second_factor_at: 1,
            last_seen: 1,
            expires_at: 100,
            epoch: "e".into(),
        }
    }

    #[test]
    fn a_cookie_is_decrypted_once_per_codec() {
        let (one, two) = (next_codec_id(), next_codec_id());
        let mut calls = 0;
        for _ in 0..3 {
            let got = decrypted(one, "cookie", || {
                calls += 1;
                Some(session("a"))
            });
            assert_eq!(got.as_deref(), Some(&session("a")));
        }
        assert_eq!(calls, 1);
        // Another codec (other keys) decrypts for itself.
        let got = decrypted(two, "cookie", || {
            calls += 1;
            None
        });
        assert_eq!(got, None);
        assert_eq!(calls, 2);
    }

    #[test]
    fn a_cookie_that_does_not_decrypt_is_not_remembered() {
        let codec = next_codec_id();
        let mut calls = 0;
        for _ in 0..2 {
            assert_eq!(
                decrypted(codec, "forged", || {
                    calls += 1;
                    None
                }),
                None
            );
        }
        assert_eq!(calls, 2);
    }

    #[test]
    fn a_cached_cookie_still_expires_and_goes_idle() {
        use crate::session::{Rejected, Secure, SessionCodec, SessionSettings};
        let codec = SessionCodec::new(SessionSettings {
            keys: vec![Key::derive_from(b"0123456789abcdef0123456789abcdef-cache")],
            csrf_key: [0; 32],
            cookie_name: "doorman_session".into(),
            secure: Secure::Never,
            domain: None,
            lifetime: std::time::Duration::from_secs(3600),
            idle_timeout: std::time::Duration::from_secs(600),
            remember_device: None,
        });
        let session = codec.start("alice", FactorLevel::TwoFactor, 1000, 1000);
        let set_cookie = codec.set_cookie(&session, false);
        let pair = set_cookie.to_str().unwrap().split(';').next().unwrap();
        let mut headers = http::HeaderMap::new();
        headers.insert(http::header::COOKIE, pair.parse().unwrap());
        // Read (and so cached) while current; then too late, from the cache.
        assert_eq!(codec.read(&headers, 1001), Ok(Some(session)));
        assert_eq!(codec.read(&headers, 1601), Err(Rejected::Idle));
        assert_eq!(codec.read(&headers, 4600), Err(Rejected::Expired));
        assert_eq!(codec.candidates(&headers, 1601, false).count(), 0);
    }

    #[test]
    fn the_cache_stays_within_its_capacity() {
        let codec = next_codec_id();
        for n in 0..CAPACITY * 2 + 1 {
            decrypted(codec, &format!("cookie-{n}"), || Some(session("a")));
        }
        let held = DECODED.with(|cache| cache.borrow().sessions.len());
        assert!((1..=CAPACITY).contains(&held), "{held}");
    }
}
