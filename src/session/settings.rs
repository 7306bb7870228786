//! What the config says about the session cookie.

use cookie::Key;
use std::fmt;
use std::time::Duration;

/// `session:`: the cookie's keys, name and lifetimes.
pub struct SessionSettings {
    /// Newest first: the first encrypts, all of them decrypt.
    pub keys: Vec<Key>,
    /// Derived from the newest secret: signs CSRF tokens.
    pub csrf_key: [u8; 32],
    pub cookie_name: String,
    pub secure: Secure,
    pub domain: Option<String>,
    pub lifetime: Duration,
    pub idle_timeout: Duration,
    /// How long "Remember this device" spares the second factor; `None`:
    /// not offered.
    pub remember_device: Option<Duration>,
}

impl fmt::Debug for SessionSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionSettings")
            .field("keys", &format_args!("[{} redacted]", self.keys.len()))
            .field("cookie_name", &self.cookie_name)
            .field("secure", &self.secure)
            .field("domain", &self.domain)
            .field("lifetime", &self.lifetime)
            .field("idle_timeout", &self.idle_timeout)
            .finish()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Secure {
    /// `Secure` when the request arrived over TLS.
    Auto,
    Always,
    Never,
}
