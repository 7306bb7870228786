//! CSRF tokens: an HMAC of the session id once there is a session, and of
//! a random per-browser nonce kept in a cookie before there is one.
//!
//! A form is accepted only when its token is the HMAC of what this browser
//! holds: another site can neither read the cookies nor compute the HMAC
//! without doorman's secret. Binding to the session once there is one
//! means a token is worth nothing in any other session, even if the nonce
//! cookie was planted or read (a sibling subdomain can set cookies).

use crate::crypto;
use crate::session::cookie_values;
use http::HeaderMap;

pub struct Csrf {
    /// Keys tokens bound to a nonce.
    key: [u8; 32],
    /// Keys tokens bound to a session id: apart from `key`, so a token of
    /// one kind can never pass as the other.
    session_key: [u8; 32],
    /// `<session cookie name>_csrf`, before any `__Host-` prefix.
    cookie_name: String,
}

/// What a token is bound to.
#[derive(Debug, Clone, Copy)]
pub enum Binding<'a> {
    /// The id of the browser's valid session.
    Session(&'a str),
    /// The nonce in the browser's CSRF cookie, before there is a session.
    Nonce(&'a str),
}

/// Hex characters in a nonce.
const NONCE_LEN: usize = 32;

fn well_formed(nonce: &str) -> bool {
    nonce.len() == NONCE_LEN && nonce.bytes().all(|b| b.is_ascii_hexdigit())
}

impl Csrf {
    pub fn new(key: [u8; 32], session_cookie: &str) -> Csrf {
        Csrf {
            session_key: crypto::derive(&key, b"doorman csrf session"),
            key,
            cookie_name: format!("{session_cookie}_csrf"),
        }
    }

    /// The CSRF cookie's base name; the name on a request may add `__Host-`
    /// ([`crate::session::SessionCodec::name_for`]).
    pub fn cookie_name(&self) -> &str {
        &self.cookie_name
    }

    /// The browser's nonce in cookie `name`, if it sent a well-formed one.
    pub fn nonce(&self, headers: &HeaderMap, name: &str) -> Option<String> {
        cookie_values(headers, name)
            .find(|value| well_formed(value))
            .map(str::to_owned)
    }

    pub fn new_nonce() -> String {
        crypto::random_hex(NONCE_LEN / 2)
    }

    pub fn token(&self, binding: Binding<'_>) -> String {
        let mac = match binding {
            Binding::Session(id) => crypto::hmac(&self.session_key, id.as_bytes()),
            Binding::Nonce(nonce) => crypto::hmac(&self.key, nonce.as_bytes()),
        };
        crypto::hex(&mac)
    }

    /// Whether `token` belongs to this browser: to `session` (the id of its
    /// valid session) when it has one, else to a nonce in its cookie `name`.
    pub fn verify(
        &self,
        headers: &HeaderMap,
        name: &str,
        session: Option<&str>,
        token: &str,
    ) -> bool {
        let matches = |binding| crypto::equal(self.token(binding).as_bytes(), token.as_bytes());
        match session {
            Some(id) => matches(Binding::Session(id)),
            None => cookie_values(headers, name)
                .filter(|nonce| well_formed(nonce))
                .any(|nonce| matches(Binding::Nonce(nonce))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::header::COOKIE;
    use http::HeaderValue;

    const NAME: &str = "doorman_session_csrf";

    fn with_nonce(nonce: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            COOKIE,
            HeaderValue::from_str(&format!("{NAME}={nonce}")).unwrap(),
        );
        headers
    }

    #[test]
    fn a_token_verifies_only_with_its_own_nonce() {
        let csrf = Csrf::new([1; 32], "doorman_session");
        let nonce = Csrf::new_nonce();
        let token = csrf.token(Binding::Nonce(&nonce));
        let headers = with_nonce(&nonce);
        assert!(csrf.verify(&headers, NAME, None, &token));
        let other = Csrf::new_nonce();
        assert!(!csrf.verify(&headers, NAME, None, &csrf.token(Binding::Nonce(&other))));
        assert!(!csrf.verify(&HeaderMap::new(), NAME, None, &token));
        assert!(!csrf.verify(&headers, "__Host-doorman_session_csrf", None, &token));
    }

    #[test]
    fn once_there_is_a_session_only_its_own_token_verifies() {
        let csrf = Csrf::new([1; 32], "doorman_session");
        let nonce = Csrf::new_nonce();
        let headers = with_nonce(&nonce);
        let mine = csrf.token(Binding::Session("session-a"));
        assert!(csrf.verify(&headers, NAME, Some("session-a"), &mine));
        assert!(!csrf.verify(&headers, NAME, Some("session-b"), &mine));
        // The nonce's token no longer passes once there is a session.
        let by_nonce = csrf.token(Binding::Nonce(&nonce));
        assert!(!csrf.verify(&headers, NAME, Some("session-a"), &by_nonce));
        // Nor does a session token without one.
        assert!(!csrf.verify(&headers, NAME, None, &mine));
    }

    #[test]
    fn a_token_made_over_a_nonce_equal_to_a_session_id_is_not_that_sessions_token() {
        let csrf = Csrf::new([1; 32], "doorman_session");
        let id = "0123456789abcdef0123456789abcdef";
        assert_ne!(
            csrf.token(Binding::Nonce(id)),
            csrf.token(Binding::Session(id))
        );
    }
}
