//! Authenticator-app codes (RFC 6238 through `totp-rs`): SHA-1, 6 digits,
//! 30-second steps, one step of clock drift either way.

use crate::crypto;
use std::fmt;
use totp_rs::{Algorithm, Secret, TOTP};

pub const STEP_SECS: u64 = 30;
pub const DIGITS: usize = 6;
/// Bytes in a secret doorman makes (160 bits, RFC 4226's recommendation).
const GENERATED_BYTES: usize = 20;
/// The shortest secret accepted from a users file: 80 bits, what many
/// authenticator set-ups have handed out.
const MIN_BYTES: usize = 10;

/// A user's shared secret. Never printed by `Debug`, so never logged.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpSecret(Vec<u8>);

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpSecret(<redacted>)")
    }
}

impl TotpSecret {
    /// A new secret from the OS CSPRNG.
    pub fn generate() -> TotpSecret {
        TotpSecret(crypto::random_bytes::<GENERATED_BYTES>().to_vec())
    }

    /// Reads base32 as authenticator apps show it: case, spaces and `=`
    /// padding do not matter.
    pub fn from_base32(text: &str) -> Result<TotpSecret, &'static str> {
        let cleaned: String = text
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '=' && *c != '-')
            .map(|c| c.to_ascii_uppercase())
            .collect();
        if cleaned.is_empty() {
            return Err("is empty");
        }
        let bytes = Secret::Encoded(cleaned)
            .to_bytes()
            .map_err(|_| "is not base32 (letters A-Z and digits 2-7)")?;
        if bytes.len() < MIN_BYTES {
            return Err("is too short: at least 16 base32 characters (80 bits) are needed");
        }
        Ok(TotpSecret(bytes))
    }

    /// Unpadded upper-case base32, as `totp_secret` holds it.
    pub fn to_base32(&self) -> String {
        Secret::Raw(self.0.clone()).to_encoded().to_string()
    }

    fn totp(&self) -> TOTP {
        TOTP::new_unchecked(Algorithm::SHA1, DIGITS, 1, STEP_SECS, self.0.clone())
    }

    /// The code an app shows at `time` (Unix seconds).
    pub fn code_at(&self, time: u64) -> String {
        self.totp().generate(time)
    }

    /// The time step whose code `code` is, among the current step and one
    /// either side, compared in constant time; `None` when it is none of them.
    pub fn matching_step(&self, code: &str, now: u64) -> Option<u64> {
        if code.len() != DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let totp = self.totp();
        let current = now / STEP_SECS;
        let mut found = None;
        // Every candidate is computed and compared, whichever matches.
        for step in [current.saturating_sub(1), current, current + 1] {
            let candidate = totp.generate(step * STEP_SECS);
            if crypto::equal(candidate.as_bytes(), code.as_bytes()) && found.is_none() {
                found = Some(step);
            }
        }
        found
    }

    /// The `otpauth://` URI authenticator apps read from a QR code.
    pub fn otpauth_uri(&self, issuer: &str, account: &str) -> String {
        format!(
            "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECS}",
            percent(issuer),
            percent(account),
            self.to_base32(),
            percent(issuer),
        )
    }
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
pub fn percent(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B's SHA-1 seed, "12345678901234567890".
    fn rfc_secret() -> TotpSecret {
        TotpSecret(b"12345678901234567890".to_vec())
    }

    #[test]
    fn codes_match_rfc_6238_test_vectors() {
        // Appendix B gives 8 digits; six are their last six.
        for (time, eight) in [
            (59, "94287082"),
            (1111111109, "07081804"),
            (1111111111, "14050471"),
            (1234567890, "89005924"),
            (2000000000, "69279037"),
        ] {
            assert_eq!(rfc_secret().code_at(time), eight[2..], "at {time}");
        }
    }

    #[test]
    fn the_current_step_and_one_either_side_match_and_two_away_do_not() {
        let secret = rfc_secret();
        let now = 1_700_000_000;
        let step = now / STEP_SECS;
        for offset in [-1i64, 0, 1] {
            let at = ((step as i64 + offset) as u64) * STEP_SECS;
            assert_eq!(
                secret.matching_step(&secret.code_at(at), now),
                Some((step as i64 + offset) as u64)
            );
        }
        for offset in [-2i64, 2] {
            let at = ((step as i64 + offset) as u64) * STEP_SECS;
            assert_eq!(secret.matching_step(&secret.code_at(at), now), None);
        }
        assert_eq!(secret.matching_step("12345", now), None);
        assert_eq!(secret.matching_step("abcdef", now), None);
    }

    #[test]
    fn base32_round_trips_and_tolerates_how_people_type_it() {
        let secret = TotpSecret::generate();
        let text = secret.to_base32();
        assert_eq!(text.len(), 32);
        assert_eq!(TotpSecret::from_base32(&text), Ok(secret.clone()));
        let spaced: String = text
            .to_lowercase()
            .chars()
            .collect::<Vec<_>>()
            .chunks(4)
            .map(|c| c.iter().collect::<String>())
            .collect::<Vec<_>>()
            .join(" ");
        assert_eq!(TotpSecret::from_base32(&spaced), Ok(secret));
        assert!(TotpSecret::from_base32("JBSWY3DPEHPK3PXP").is_ok());
        assert!(TotpSecret::from_base32("JBSWY3DP").is_err());
        assert!(TotpSecret::from_base32("not base32!").is_err());
    }

    #[test]
    fn the_uri_names_issuer_and_account_and_the_secret_stays_out_of_debug() {
        let secret = TotpSecret::from_base32("JBSWY3DPEHPK3PXP").unwrap();
        assert_eq!(
            secret.otpauth_uri("Example Co", "alice"),
            "otpauth://totp/Example%20Co:alice?secret=JBSWY3DPEHPK3PXP&issuer=Example%20Co&algorithm=SHA1&digits=6&period=30"
        );
        assert!(!format!("{secret:?}").contains("JBSW"));
    }
}
