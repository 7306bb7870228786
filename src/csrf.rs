//! CSRF tokens: an HMAC of a random per-browser nonce kept in a cookie.
//!
//! A form is accepted only when its token is the HMAC of the nonce in the
//! same browser's cookie; another site can neither read the cookie nor
//! compute the HMAC without doorman's secret.

use crate::crypto;
use crate::session::cookie_values;
use http::HeaderMap;

pub struct Csrf {
    key: [u8; 32],
    /// `<session cookie name>_csrf`.
    cookie_name: String,
}

/// Hex characters in a nonce.
const NONCE_LEN: usize = 32;

impl Csrf {
    pub fn new(key: [u8; 32], session_cookie: &str) -> Csrf {
        Csrf {
            key,
            cookie_name: format!("{session_cookie}_csrf"),
        }
    }

    pub fn cookie_name(&self) -> &str {
        &self.cookie_name
    }

    /// The browser's nonce, if it sent a well-formed one.
    pub fn nonce(&self, headers: &HeaderMap) -> Option<String> {
        cookie_values(headers, &self.cookie_name)
            .find(|value| value.len() == NONCE_LEN && value.bytes().all(|b| b.is_ascii_hexdigit()))
            .map(str::to_owned)
    }

    pub fn new_nonce() -> String {
        crypto::random_hex(NONCE_LEN / 2)
    }

    pub fn token(&self, nonce: &str) -> String {
        crypto::hex(&crypto::hmac(&self.key, nonce.as_bytes()))
    }

    /// Whether `token` belongs to the nonce in `headers`.
    pub fn verify(&self, headers: &HeaderMap, token: &str) -> bool {
        cookie_values(headers, &self.cookie_name)
            .any(|nonce| crypto::equal(self.token(nonce).as_bytes(), token.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::header::COOKIE;
    use http::HeaderValue;

    #[test]
    fn a_token_verifies_only_with_its_own_nonce() {
        let csrf = Csrf::new([1; 32], "doorman_session");
        let nonce = Csrf::new_nonce();
        let token = csrf.token(&nonce);
        let mut headers = HeaderMap::new();
        headers.insert(
            COOKIE,
            HeaderValue::from_str(&format!("doorman_session_csrf={nonce}")).unwrap(),
        );
        assert!(csrf.verify(&headers, &token));
        assert!(!csrf.verify(&headers, &csrf.token(&Csrf::new_nonce())));
        assert!(!csrf.verify(&HeaderMap::new(), &token));
    }
}
