//! API tokens for scripts: `doorman token create|list|revoke` writes them,
//! hashed, to `tokens_file`; requests bring them as `Authorization: Bearer`
//! (or as the password of HTTP Basic, for clients that can do only that).
//!
//! A token reads `dm_<id>_<secret>`: the id finds the entry, the secret is
//! compared (constant time) with the entry's SHA-256 — a 256-bit random
//! secret needs no slow hash. The file is the one truth, shared by every
//! replica that reads it; doorman re-reads it when it changes, so a
//! revoked token stops at its next request, without a reload.

pub mod check;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

/// One token as the file keeps it (never the secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Random, public: picks the entry without comparing secrets.
    pub id: String,
    pub user: String,
    /// The user's name for it (`ci`); unique per user.
    pub name: String,
    /// Hex SHA-256 of the secret part.
    pub hash: String,
    /// Unix seconds.
    pub created: u64,
    /// Unix seconds; `None` never expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<u64>,
}

impl Entry {
    /// Whether the token is past its expiry at `now`.
    pub fn expired(&self, now: u64) -> bool {
        self.expires.is_some_and(|expires| now >= expires)
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct File {
    #[serde(default)]
    tokens: Vec<Entry>,
}

/// A token a request brought.
#[derive(Debug, PartialEq, Eq)]
pub struct Presented {
    pub id: String,
    secret: String,
    /// The user name of HTTP Basic; it must be the token's user.
    pub basic_user: Option<String>,
}

const PREFIX: &str = "dm_";

/// The doorman token in `Authorization`, if there is one: `Bearer dm_…`, or
/// Basic whose password is one. Anything else is the app's business.
pub fn presented(headers: &http::HeaderMap) -> Option<Presented> {
    headers
        .get_all(http::header::AUTHORIZATION)
        .iter()
        .find_map(|value| parse(value.to_str().ok()?))
}

/// Whether this `Authorization` value carries a doorman token (then it is
/// never forwarded to an app).
pub fn carries_token(value: &http::HeaderValue) -> bool {
    value.to_str().ok().and_then(parse).is_some()
}

fn parse(value: &str) -> Option<Presented> {
    let (scheme, credentials) = value.trim().split_once(' ')?;
    let credentials = credentials.trim();
    let (token, basic_user) = if scheme.eq_ignore_ascii_case("bearer") {
        (credentials.to_owned(), None)
    } else if scheme.eq_ignore_ascii_case("basic") {
        use base64::Engine;
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(credentials)
            .ok()?;
        let text = String::from_utf8(decoded).ok()?;
        let (user, password) = text.split_once(':')?;
        (password.to_owned(), Some(user.to_owned()))
    } else {
        return None;
    };
    let (id, secret) = token.strip_prefix(PREFIX)?.split_once('_')?;
    let plausible = |part: &str| {
        !part.is_empty()
            && part
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    (plausible(id) && plausible(secret)).then(|| Presented {
        id: id.to_owned(),
        secret: secret.to_owned(),
        basic_user,
    })
}

fn digest(secret: &str) -> String {
    let mut hash = Sha256::new();
    hash.update(b"doorman api token");
    hash.update(secret.as_bytes());
    crate::crypto::hex(&hash.finalize())
}

/// Why a token was refused (for the audit trail; the client hears only 401).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    Unknown,
    Wrong,
    Expired,
    BasicUser,
}

impl Refused {
    pub fn reason(self) -> &'static str {
        match self {
            Refused::Unknown => "unknown",
            Refused::Wrong => "wrong_secret",
            Refused::Expired => "expired",
            Refused::BasicUser => "basic_user_mismatch",
        }
    }
}

/// Whether `presented` is `entry`'s token and still current at `now`.
pub fn verify(entry: &Entry, presented: &Presented, now: u64) -> Result<(), Refused> {
    let right = crate::crypto::equal(digest(&presented.secret).as_bytes(), entry.hash.as_bytes());
    if !right {
        return Err(Refused::Wrong);
    }
    if entry.expired(now) {
        return Err(Refused::Expired);
    }
    match &presented.basic_user {
        Some(user) if !user.eq_ignore_ascii_case(&entry.user) => Err(Refused::BasicUser),
        _ => Ok(()),
    }
}

/// A file's modification time and length: what says it changed.
type Stamp = (SystemTime, u64);

/// The tokens file, re-read whenever it changes on disk.
pub struct Tokens {
    path: Option<PathBuf>,
    /// The file's modification time and length when last read, and its tokens.
    cached: Mutex<(Option<Stamp>, Vec<Entry>)>,
}

impl Tokens {
    /// `None`: no `tokens_file`, so no token is ever accepted.
    pub fn new(path: Option<PathBuf>) -> Tokens {
        Tokens {
            path,
            cached: Mutex::new((None, Vec::new())),
        }
    }

    /// The entry with `id`, from the file as it is now.
    pub fn find(&self, id: &str) -> Option<Entry> {
        let path = self.path.as_deref()?;
        // Time and length: a revocation shortens the file even within one
        // tick of a coarse clock.
        let modified = std::fs::metadata(path)
            .and_then(|m| Ok((m.modified()?, m.len())))
            .ok();
        let mut cached = self.cached.lock().unwrap_or_else(|p| p.into_inner());
        if modified.is_none() || cached.0 != modified {
            // Unreadable or gone: no tokens (fail closed), said once per change.
            cached.1 = read(path).unwrap_or_else(|err| {
                tracing::warn!(file = %path.display(), error = %err, "cannot read tokens_file: no token is accepted");
                Vec::new()
            });
            cached.0 = modified;
        }
        cached.1.iter().find(|entry| entry.id == id).cloned()
    }
}

/// Every token in the file at `path` (none when it does not exist yet).
pub fn read(path: &Path) -> Result<Vec<Entry>, String> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_yaml::from_str::<File>(&text)
            .map(|file| file.tokens)
            .map_err(|err| err.to_string()),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(err) => Err(err.to_string()),
    }
}

fn write(path: &Path, tokens: Vec<Entry>) -> Result<(), String> {
    let text = serde_yaml::to_string(&File { tokens }).map_err(|err| err.to_string())?;
    let text = format!("# doorman API tokens, hashed; written by `doorman token`.\n{text}");
    // Written beside and renamed, so a reader never sees half a file.
    let temporary = path.with_extension("tmp");
    std::fs::write(&temporary, text).map_err(|err| err.to_string())?;
    std::fs::rename(&temporary, path).map_err(|err| err.to_string())
}

/// Adds a token for `user` called `name` and returns it (shown once).
pub fn create(
    path: &Path,
    user: &str,
    name: &str,
    lifetime: Option<u64>,
    now: u64,
) -> Result<String, String> {
    let mut tokens = read(path)?;
    if tokens.iter().any(|t| t.user == user && t.name == name) {
        return Err(format!(
            "{user} already has a token named `{name}`; revoke it first"
        ));
    }
    let id = crate::crypto::hex(&crate::crypto::random_bytes::<6>());
    use base64::Engine;
    let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(crate::crypto::random_bytes::<32>())
        .replace('_', "-");
    tokens.push(Entry {
        id: id.clone(),
        user: user.to_owned(),
        name: name.to_owned(),
        hash: digest(&secret),
        created: now,
        expires: lifetime.map(|lifetime| now.saturating_add(lifetime)),
    });
    write(path, tokens)?;
    Ok(format!("{PREFIX}{id}_{secret}"))
}

/// Removes `user`'s token `name`; whether there was one.
pub fn revoke(path: &Path, user: &str, name: &str) -> Result<bool, String> {
    let mut tokens = read(path)?;
    let before = tokens.len();
    tokens.retain(|t| !(t.user == user && t.name == name));
    let removed = tokens.len() != before;
    if removed {
        write(path, tokens)?;
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bearer(value: &str) -> http::HeaderMap {
        let mut headers = http::HeaderMap::new();
        headers.insert(http::header::AUTHORIZATION, value.parse().unwrap());
        headers
    }

    #[test]
    fn a_created_token_verifies_and_the_file_holds_only_its_hash() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens.yaml");
        let token = create(&path, "alice", "ci", Some(60), 1_000).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let secret = token.rsplit('_').next().unwrap();
        assert!(!text.contains(secret), "{text}");
        let presented = presented(&bearer(&format!("Bearer {token}"))).unwrap();
        let entry = Tokens::new(Some(path.clone())).find(&presented.id).unwrap();
        assert_eq!(verify(&entry, &presented, 1_059), Ok(()));
        assert_eq!(verify(&entry, &presented, 1_060), Err(Refused::Expired));
        let mut wrong = presented;
        wrong.secret.push('x');
        assert_eq!(verify(&entry, &wrong, 1_000), Err(Refused::Wrong));
        assert!(create(&path, "alice", "ci", None, 1_000).is_err());
        assert_eq!(revoke(&path, "alice", "ci"), Ok(true));
        assert_eq!(revoke(&path, "alice", "ci"), Ok(false));
    }

    #[test]
    fn basic_carries_a_token_as_its_password_and_other_credentials_are_not_ours() {
        use base64::Engine;
        let basic = base64::engine::general_purpose::STANDARD.encode("alice:dm_ab12_s3cret");
        let found = presented(&bearer(&format!("Basic {basic}"))).unwrap();
        assert_eq!(found.basic_user.as_deref(), Some("alice"));
        assert_eq!(found.id, "ab12");
        let theirs = base64::engine::general_purpose::STANDARD.encode("alice:hunter2");
        assert_eq!(presented(&bearer(&format!("Basic {theirs}"))), None);
        assert_eq!(presented(&bearer("Bearer eyJhbGciOi.x.y")), None);
        assert!(carries_token(&"bearer dm_ab12_s3cret".parse().unwrap()));
    }
}
