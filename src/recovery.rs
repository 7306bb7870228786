//! Recovery codes: ten single-use codes that stand in for the second
//! factor once each, for whoever lost their phone or security key. Only
//! salted SHA-256 hashes are kept (the codes are random, 50 bits each, so
//! a slow hash adds nothing), in the store under the user, so every
//! replica sees a code used on any of them.

use crate::limits::fold;
use crate::store::{Store, StoreResult};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::time::Duration;

/// How many codes one set has.
pub const COUNT: usize = 10;

/// Letters and digits that cannot be misread for one another.
const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
/// Characters in a code, shown as two groups of five.
const LENGTH: usize = 10;

/// Kept until replaced; the store wants a lifetime.
const KEEP: Duration = Duration::from_secs(20 * 365 * 24 * 3600);

/// A user's set, as stored: no code in it.
#[derive(Clone, Serialize, Deserialize)]
pub struct RecoveryCodes {
    pub created_at: u64,
    salt: String,
    /// Hex SHA-256 of salt and code, one per unused code.
    hashes: Vec<String>,
}

impl RecoveryCodes {
    /// A new set: the codes to show once, and what to store.
    pub fn generate(now: u64) -> (Vec<String>, RecoveryCodes) {
        use rand::Rng;
        let mut rng = rand::rngs::OsRng;
        let salt = crate::crypto::hex(&crate::crypto::random_bytes::<16>());
        let codes: Vec<String> = (0..COUNT)
            .map(|_| {
                let raw: String = (0..LENGTH)
                    .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
                    .collect();
                format!("{}-{}", &raw[..5], &raw[5..])
            })
            .collect();
        let hashes = codes.iter().map(|code| hash(&salt, code)).collect();
        (
            codes,
            RecoveryCodes {
                created_at: now,
                salt,
                hashes,
            },
        )
    }

    /// Codes not used yet.
    pub fn left(&self) -> usize {
        self.hashes.len()
    }

    /// Uses `typed` up if it is one of the unused codes; whether it was.
    /// Every stored hash is compared, in constant time each.
    fn use_code(&mut self, typed: &str) -> bool {
        let typed = hash(&self.salt, typed);
        let mut found = None;
        for (index, stored) in self.hashes.iter().enumerate() {
            if crate::crypto::equal(stored.as_bytes(), typed.as_bytes()) {
                found = Some(index);
            }
        }
        match found {
            Some(index) => {
                self.hashes.remove(index);
                true
            }
            None => false,
        }
    }
}

/// The code as typed, without spaces, dashes or letter case.
fn normalize(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

fn hash(salt: &str, code: &str) -> String {
    let mut digest = Sha256::new();
    digest.update(b"doorman recovery code\0");
    digest.update(salt.as_bytes());
    digest.update(b"\0");
    digest.update(normalize(code).as_bytes());
    crate::crypto::hex(&digest.finalize())
}

fn key(user: &str) -> String {
    format!("recovery:{}", fold(user))
}

impl Store {
    /// `user`'s recovery codes, if they have a set.
    pub async fn recovery_codes(&self, user: &str) -> StoreResult<Option<RecoveryCodes>> {
        self.read(&key(user)).await
    }

    /// Replaces `user`'s set (the old codes stop working).
    pub async fn put_recovery_codes(&self, user: &str, codes: &RecoveryCodes) -> StoreResult<()> {
        self.write(&key(user), codes, KEEP).await
    }

    /// Uses `typed` up, atomically against every replica (a code raced in
    /// twice works once); the codes left when it was right.
    pub async fn use_recovery_code(&self, user: &str, typed: &str) -> StoreResult<Option<usize>> {
        self.update(&key(user), KEEP, |codes: &mut Option<RecoveryCodes>| {
            let codes = codes.as_mut()?;
            codes.use_code(typed).then(|| codes.left())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_works_once_in_any_letter_case_and_grouping() {
        let (codes, mut set) = RecoveryCodes::generate(0);
        assert_eq!(codes.len(), COUNT);
        let spaced = codes[3].to_uppercase().replace('-', " ");
        assert!(set.use_code(&spaced));
        assert!(!set.use_code(&codes[3]));
        assert_eq!(set.left(), COUNT - 1);
    }

    #[test]
    fn a_wrong_code_uses_nothing_up() {
        let (_, mut set) = RecoveryCodes::generate(0);
        assert!(!set.use_code("aaaaa-aaaaa"));
        assert!(!set.use_code(""));
        assert_eq!(set.left(), COUNT);
    }

    #[test]
    fn no_code_is_stored_in_the_clear() {
        let (codes, set) = RecoveryCodes::generate(0);
        let stored = serde_json::to_string(&set).unwrap();
        for code in &codes {
            assert!(!stored.contains(code.as_str()));
            assert!(!stored.contains(&normalize(code)));
        }
    }
}
