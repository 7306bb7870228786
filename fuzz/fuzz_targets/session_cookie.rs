//! The session cookie decoder, `SessionCodec::read`.
//!
//! The first byte picks what the rest is:
//! - `H` (and any byte not listed): raw `Cookie` header bytes, several header
//!   lines separated by `\n`. Tampering, truncation, odd separators, other
//!   cookies under the session name. Seeds hold real encrypted cookies, so
//!   mutations start from a value that decrypts.
//! - `P`: a plaintext, encrypted with the codec's key through the `cookie`
//!   crate's private jar, so the JSON decoding behind the encryption is
//!   fuzzed as if the key had leaked.
//! - `F`: a session built from the bytes field by field, encrypted the same
//!   way: the round trip must give it back exactly when it is current.
//!
//! Invariants: `read` never panics; an accepted session has level 1 or 2,
//! is neither expired nor idle at `now`, and carries exactly the user (and
//! id and level) its plaintext JSON holds; a plaintext that is a valid
//! session is accepted, or refused as expired or idle, exactly when its times
//! say so.
#![no_main]

use cookie::{Cookie, CookieJar, Key};
use doorman::session::{Secure, SessionSettings};
use doorman::session::{FactorLevel, Rejected, Session, SessionCodec};
use http::header::COOKIE;
use http::{HeaderMap, HeaderValue};
use libfuzzer_sys::arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use std::time::Duration;

const NAME: &str = "doorman_session";
const SECRET: &str = "fuzz-secret-0123456789abcdef0123456789abcdef";
const NOW: u64 = 1_700_000_000;
const LIFETIME: u64 = 12 * 3600;
const IDLE: u64 = 3600;

struct Fixture {
    codec: SessionCodec,
    key: Key,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let key = Key::derive_from(SECRET.as_bytes());
        let codec = SessionCodec::new(SessionSettings {
            keys: vec![
                Key::derive_from(b"an-older-secret-0123456789abcdef-rotated"),
                key.clone(),
            ],
            csrf_key: [0; 32],
            remember_device: None,
            cookie_name: NAME.to_owned(),
            secure: Secure::Auto,
            domain: None,
            lifetime: Duration::from_secs(LIFETIME),
            idle_timeout: Duration::from_secs(IDLE),
        });
        Fixture { codec, key }
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode {
        b'P' => plaintext(&String::from_utf8_lossy(rest)),
        b'F' => fields(rest),
        _ => header(rest),
    }
});

fn header(bytes: &[u8]) {
    let mut headers = HeaderMap::new();
    for line in bytes.split(|&b| b == b'\n') {
        if let Ok(value) = HeaderValue::from_bytes(line) {
            headers.append(COOKIE, value);
        }
    }
    if let Ok(Some(session)) = fixture().codec.read(&headers, NOW) {
        check_current(&session, NOW);
    }
}

fn seal(plaintext: &str) -> HeaderMap {
    let mut jar = CookieJar::new();
    jar.private_mut(&fixture().key)
        .add(Cookie::new(NAME, plaintext.to_owned()));
    let sealed = jar.get(NAME).expect("just added").value().to_owned();
    let mut headers = HeaderMap::new();
    let line = format!("other=1; {NAME}={sealed}");
    headers.insert(
        COOKIE,
        HeaderValue::from_str(&line).expect("base64 is header-safe"),
    );
    headers
}

fn expected(session: Session, now: u64) -> Result<Option<Session>, Rejected> {
    // Past its own expiry, or past the configured lifetime from the password.
    if now >= session.expires_at.min(session.authenticated_at.saturating_add(LIFETIME)) {
        Err(Rejected::Expired)
    } else if now.saturating_sub(session.last_seen) > IDLE {
        Err(Rejected::Idle)
    } else {
        Ok(Some(session))
    }
}

fn plaintext(text: &str) {
    let read = fixture().codec.read(&seal(text), NOW);
    if let Ok(Some(session)) = &read {
        check_current(session, NOW);
        // The user, id and level are what the JSON says, read independently.
        let json: serde_json::Value = serde_json::from_str(text).expect("accepted, so JSON");
        assert_eq!(json["u"].as_str(), Some(session.user.as_str()), "{text:?}");
        assert_eq!(json["i"].as_str(), Some(session.id.as_str()), "{text:?}");
        assert_eq!(
            json["l"].as_u64(),
            Some(u8::from(session.level).into()),
            "{text:?}"
        );
    }
    let want = match serde_json::from_str::<Session>(text) {
        Ok(session) => expected(session, NOW),
        Err(_) => Err(Rejected::Undecryptable),
    };
    assert_eq!(read, want, "{text:?}");
}

fn fields(bytes: &[u8]) {
    let mut input = Unstructured::new(bytes);
    let Ok((id, user, level, times, now, epoch)) =
        <(String, String, bool, [u64; 4], u64, String)>::arbitrary(&mut input)
    else {
        return;
    };
    // Times near `now` are the interesting ones.
    let now = NOW + now % (2 * LIFETIME);
    let [authenticated_at, second_factor_at, last_seen, expires_at] =
        times.map(|t| NOW.wrapping_add(t % (4 * LIFETIME)).wrapping_sub(LIFETIME));
    let session = Session {
        id,
        user,
        level: if level {
            FactorLevel::TwoFactor
        } else {
            FactorLevel::Password
        },
        authenticated_at,
        second_factor_at,
        last_seen,
        expires_at,
        epoch,
    };
    let json = serde_json::to_string(&session).expect("a session serializes");
    let read = fixture().codec.read(&seal(&json), now);
    assert_eq!(read, expected(session, now), "{json}");
}

fn check_current(session: &Session, now: u64) {
    let level = u8::from(session.level);
    assert!(level == 1 || level == 2, "level {level}");
    assert!(
        now < session.expires_at && now < session.authenticated_at.saturating_add(LIFETIME),
        "expired session accepted: {session:?}"
    );
    assert!(
        now.saturating_sub(session.last_seen) <= IDLE,
        "idle session accepted: {session:?}"
    );
}
