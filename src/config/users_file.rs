//! Writing a `totp_secret` into a users file while keeping the rest of the
//! file — comments, order, quoting — as it was.
//!
//! The edit is textual: the user's block is found by indentation, its
//! `totp_secret:` line replaced or a new one added after the user's name.
//! The result is parsed again and must give the same users plus the new
//! secret before it replaces the file. The whole read–edit–replace runs
//! under a lock (an in-process mutex and `flock` on a lock file beside the
//! users file, so `doorman totp enroll --write` and the page never
//! interleave), and the new text goes through a temp file created
//! exclusively with mode 0600, synced, then renamed over the file.
//!
//! No error here carries the secret or the edited text: these errors are
//! logged, and the secret is the one thing a log must never hold.

use super::raw::RawUsersFile;
use super::Problems;
use crate::otp::totp::TotpSecret;
use std::collections::HashMap;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

#[derive(Debug, thiserror::Error)]
pub enum EditError {
    #[error("cannot read {0}")]
    Read(String, #[source] std::io::Error),
    #[error("cannot write {0}")]
    Write(String, #[source] std::io::Error),
    #[error("cannot lock {0}")]
    Lock(String, #[source] std::io::Error),
    #[error("user `{0}` is not in the users file")]
    NoSuchUser(String),
    #[error("user `{0}` is written in a form this editor does not change (flow style or anchors); rewrite that user in block style, or add the secret by hand with `doorman totp enroll`")]
    Unsupported(String),
    #[error("the edited file would not read back the same: {0}")]
    Check(&'static str),
}

/// Whether doorman may write the users file.
pub fn is_writable(path: &Path) -> bool {
    std::fs::OpenOptions::new().append(true).open(path).is_ok()
        && std::fs::metadata(directory_of(path)).is_ok_and(|meta| !meta.permissions().readonly())
}

fn directory_of(path: &Path) -> &Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

/// What a users file looked like on disk right after doorman wrote it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    dev: u64,
    ino: u64,
    len: u64,
    mtime: (i64, i64),
}

fn stamp(path: &Path) -> Option<Stamp> {
    let meta = std::fs::metadata(path).ok()?;
    Some(Stamp {
        dev: meta.dev(),
        ino: meta.ino(),
        len: meta.len(),
        mtime: (meta.mtime(), meta.mtime_nsec()),
    })
}

/// Keeps the in-process writers of one process apart (`flock` does not
/// exclude two descriptors of one process from each other on every
/// system), and remembers each file as doorman last left it.
static WRITES: Mutex<Option<HashMap<PathBuf, Stamp>>> = Mutex::new(None);

/// Whether the file at `path` is still exactly as doorman's last write in
/// this process left it: then a users file loaded just now that lacks the
/// secret written was read before that write, not edited since.
pub fn unchanged_since_our_write(path: &Path) -> bool {
    let writes = WRITES
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let written = writes.as_ref().and_then(|writes| writes.get(path).copied());
    written.is_some_and(|written| stamp(path) == Some(written))
}

/// An exclusive `flock` on `.<users file>.doorman-lock` beside the file,
/// released when dropped (closing the descriptor releases it).
struct FileLock(#[allow(dead_code)] std::fs::File);

impl FileLock {
    fn acquire(path: &Path) -> std::io::Result<FileLock> {
        use std::os::fd::AsRawFd;
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let lock_path = directory_of(path).join(format!(".{name}.doorman-lock"));
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(lock_path)?;
        loop {
            // SAFETY: `file` owns a valid descriptor for the whole call.
            if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } == 0 {
                return Ok(FileLock(file));
            }
            let err = std::io::Error::last_os_error();
            if err.kind() != std::io::ErrorKind::Interrupted {
                return Err(err);
            }
        }
    }
}

/// Sets `user`'s `totp_secret` in the file at `path`. Blocking: call it
/// from the blocking pool.
pub fn set_totp_secret(path: &Path, user: &str, secret: &TotpSecret) -> Result<(), EditError> {
    let shown = path.display().to_string();
    let mut writes = WRITES
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let _lock = FileLock::acquire(path).map_err(|err| EditError::Lock(shown.clone(), err))?;
    let text = std::fs::read_to_string(path).map_err(|err| EditError::Read(shown.clone(), err))?;
    let edited = with_totp_secret(&text, user, &secret.to_base32())?;
    check(&text, &edited, directory_of(path), user, secret)?;
    replace(path, edited.as_bytes()).map_err(|err| EditError::Write(shown, err))?;
    if let Some(stamp) = stamp(path) {
        writes
            .get_or_insert_with(HashMap::new)
            .insert(path.to_owned(), stamp);
    }
    Ok(())
}

/// Replaces the file at `path` with `bytes`: a new temp file in the same
/// directory (created exclusively, mode 0600, so nobody else can have it
/// open or read it), synced, renamed over `path`, and the directory synced
/// so the rename survives a crash.
fn replace(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = directory_of(path);
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let tmp = dir.join(format!(
        ".{name}.doorman-{}.tmp",
        crate::crypto::random_hex(8)
    ));
    let written = (|| {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_CLOEXEC)
            .open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(err) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(err);
    }
    std::fs::File::open(dir)?.sync_all()
}

fn indent_of(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

fn is_blank_or_comment(line: &str) -> bool {
    let trimmed = line.trim();
    trimmed.is_empty() || trimmed.starts_with('#')
}

/// A YAML key line `name:` (quoted or not) with nothing after the colon
/// but a comment.
fn key_of(line: &str) -> Option<(String, &str)> {
    let trimmed = line.trim_start();
    let (key, rest) = if let Some(quoted) = trimmed.strip_prefix('"') {
        let end = quoted.find('"')?;
        (
            quoted[..end].to_owned(),
            quoted[end + 1..].strip_prefix(':')?,
        )
    } else if let Some(quoted) = trimmed.strip_prefix('\'') {
        let end = quoted.find('\'')?;
        (
            quoted[..end].to_owned(),
            quoted[end + 1..].strip_prefix(':')?,
        )
    } else {
        let colon = trimmed.find(':')?;
        (
            trimmed[..colon].trim_end().to_owned(),
            &trimmed[colon + 1..],
        )
    };
    Some((key, rest))
}

/// The text with `user`'s `totp_secret` set to `base32`.
pub fn with_totp_secret(text: &str, user: &str, base32: &str) -> Result<String, EditError> {
    let lines: Vec<&str> = text.lines().collect();
    let unsupported = || EditError::Unsupported(user.to_owned());
    // The top-level `users:` key.
    let users_at = lines
        .iter()
        .position(|line| {
            indent_of(line) == 0 && key_of(line).is_some_and(|(key, _)| key == "users")
        })
        .ok_or_else(|| EditError::NoSuchUser(user.to_owned()))?;
    // The user's key: the first key line below `users:` at the users' indent.
    let user_indent = lines[users_at + 1..]
        .iter()
        .find(|line| !is_blank_or_comment(line))
        .map(|line| indent_of(line))
        .filter(|indent| *indent > 0)
        .ok_or_else(|| EditError::NoSuchUser(user.to_owned()))?;
    let mut user_at = None;
    for (index, line) in lines.iter().enumerate().skip(users_at + 1) {
        if is_blank_or_comment(line) {
            continue;
        }
        let indent = indent_of(line);
        if indent == 0 {
            break;
        }
        if indent == user_indent {
            if let Some((key, rest)) = key_of(line) {
                if key == user {
                    let rest = rest.trim();
                    if !(rest.is_empty() || rest.starts_with('#')) {
                        return Err(unsupported());
                    }
                    user_at = Some(index);
                    break;
                }
            }
        }
    }
    let user_at = user_at.ok_or_else(|| EditError::NoSuchUser(user.to_owned()))?;
    // The user's block: the lines indented deeper than the user's key.
    let mut end = user_at + 1;
    let mut field_indent = None;
    let mut existing = None;
    while end < lines.len() {
        let line = lines[end];
        if !is_blank_or_comment(line) {
            let indent = indent_of(line);
            if indent <= user_indent {
                break;
            }
            let field = *field_indent.get_or_insert(indent);
            if indent == field && key_of(line).is_some_and(|(key, _)| key == "totp_secret") {
                existing = Some(end);
            }
        }
        end += 1;
    }
    let field_indent = field_indent.unwrap_or(user_indent + 2);
    let new_line = format!("{}totp_secret: \"{base32}\"", " ".repeat(field_indent));
    let mut out: Vec<String> = lines.iter().map(|line| (*line).to_owned()).collect();
    match existing {
        Some(at) => out[at] = new_line,
        None => {
            // After the user's last field, before trailing blank lines.
            let mut at = end;
            while at > user_at + 1 && lines[at - 1].trim().is_empty() {
                at -= 1;
            }
            out.insert(at, new_line);
        }
    }
    let mut joined = out.join("\n");
    if text.ends_with('\n') {
        joined.push('\n');
    }
    Ok(joined)
}

/// The edited text must read as the same users, with the new secret. The
/// parser's own messages are not kept: they may quote the edited text,
/// and with it the secret. `base` is the file's directory, where the
/// secret files it names are.
fn check(
    before: &str,
    after: &str,
    base: &Path,
    user: &str,
    secret: &TotpSecret,
) -> Result<(), EditError> {
    let parse = |text: &str| -> Option<crate::users::Users> {
        let mut problems = Problems::default();
        let raw: RawUsersFile = super::parse_yaml(text, "", base, &mut problems)?;
        let users = super::users::users(raw, "", &mut problems);
        problems.is_empty().then_some(users)
    };
    let old = parse(before);
    let new = parse(after).ok_or(EditError::Check("the edited file does not parse"))?;
    let got = new
        .get(user)
        .ok_or_else(|| EditError::NoSuchUser(user.to_owned()))?;
    if got.totp.as_ref() != Some(secret) {
        return Err(EditError::Check(
            "the user does not read back with the new secret",
        ));
    }
    if let Some(old) = old {
        if old.len() != new.len() {
            return Err(EditError::Check("the number of users changed"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "# our users\nusers:\n  alice:\n    password: \"x\"   # keep me\n    phone: \"+14155550100\"\n\n  bob:\n    password: \"y\"\n    totp_secret: \"OLDOLDOLDOLDOLDO\"\n";

    #[test]
    fn a_secret_is_added_to_the_user_block_and_nothing_else_changes() {
        let out = with_totp_secret(FILE, "alice", "JBSWY3DPEHPK3PXP").unwrap();
        assert_eq!(
            out,
            "# our users\nusers:\n  alice:\n    password: \"x\"   # keep me\n    phone: \"+14155550100\"\n    totp_secret: \"JBSWY3DPEHPK3PXP\"\n\n  bob:\n    password: \"y\"\n    totp_secret: \"OLDOLDOLDOLDOLDO\"\n"
        );
    }

    #[test]
    fn an_existing_secret_is_replaced_in_place() {
        let out = with_totp_secret(FILE, "bob", "JBSWY3DPEHPK3PXP").unwrap();
        assert!(
            out.ends_with("  bob:\n    password: \"y\"\n    totp_secret: \"JBSWY3DPEHPK3PXP\"\n"),
            "{out}"
        );
        assert!(!out.contains("OLDOLD"));
    }

    #[test]
    fn unknown_and_flow_style_users_are_refused() {
        assert!(matches!(
            with_totp_secret(FILE, "carol", "JBSWY3DPEHPK3PXP"),
            Err(EditError::NoSuchUser(_))
        ));
        let flow = "users:\n  alice: { password: \"x\" }\n";
        assert!(matches!(
            with_totp_secret(flow, "alice", "JBSWY3DPEHPK3PXP"),
            Err(EditError::Unsupported(..))
        ));
    }

    const SECRET: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";

    #[test]
    fn no_edit_error_carries_the_secret_or_a_yaml_line() {
        let cases = [
            "users:\n  alice: { password: \"x\" }\n",
            "users: { alice: { password: \"x\" } }\n",
            "users:\n  alice: &a\n    password: \"x\"\n",
            "users:\n  bob:\n    password: \"x\"\n",
            "nobody: here\n",
        ];
        for text in cases {
            let err = with_totp_secret(text, "alice", SECRET).expect_err(text);
            let shown = format!("{err} {err:?}");
            assert!(!shown.contains(SECRET), "{shown}");
            assert!(!shown.contains("totp_secret"), "{shown}");
        }
    }

    #[test]
    fn a_check_failure_does_not_quote_the_edited_text() {
        let secret = TotpSecret::from_base32(SECRET).unwrap();
        let broken = format!("users:\n  alice:\n    password: [\n    totp_secret: \"{SECRET}\"\n");
        let err = check("", &broken, Path::new("."), "alice", &secret).unwrap_err();
        assert!(!format!("{err} {err:?}").contains(SECRET));
    }

    fn users_dir(names: &[&str]) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users.yaml");
        let hash = crate::users::hash_password("pw").unwrap();
        let mut text = String::from("users:\n");
        for name in names {
            text.push_str(&format!("  {name}:\n    password: \"{hash}\"\n"));
        }
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    #[test]
    fn the_file_is_replaced_private_and_no_temp_file_remains() {
        use std::os::unix::fs::PermissionsExt;
        let (dir, path) = users_dir(&["alice"]);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let secret = TotpSecret::generate();
        set_totp_secret(&path, "alice", &secret).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert!(unchanged_since_our_write(&path));
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, [".users.yaml.doorman-lock", "users.yaml"]);
        // Someone else's edit is noticed.
        std::fs::write(&path, "users:\n  alice:\n    password: \"y\"\n").unwrap();
        assert!(!unchanged_since_our_write(&path));
    }

    #[test]
    fn writers_at_the_same_time_keep_every_secret() {
        let names = ["u0", "u1", "u2", "u3", "u4", "u5", "u6", "u7"];
        let (_dir, path) = users_dir(&names);
        let secrets: Vec<TotpSecret> = names.iter().map(|_| TotpSecret::generate()).collect();
        std::thread::scope(|scope| {
            for (name, secret) in names.iter().zip(&secrets) {
                let path = &path;
                scope.spawn(move || set_totp_secret(path, name, secret).unwrap());
            }
        });
        let text = std::fs::read_to_string(&path).unwrap();
        for secret in &secrets {
            assert!(text.contains(&secret.to_base32()), "{text}");
        }
    }
}
