//! Writing a `totp_secret` into a users file while keeping the rest of the
//! file — comments, order, quoting — as it was.
//!
//! The edit is textual: the user's block is found by indentation, its
//! `totp_secret:` line replaced or a new one added after the user's name.
//! The result is parsed again and must give the same users plus the new
//! secret before it replaces the file (atomically, by rename).

use crate::config::raw::RawUsersFile;
use crate::config::Problems;
use crate::otp::totp::TotpSecret;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum EditError {
    #[error("cannot read {0}")]
    Read(String, #[source] std::io::Error),
    #[error("cannot write {0}")]
    Write(String, #[source] std::io::Error),
    #[error("user `{0}` is not in the users file")]
    NoSuchUser(String),
    #[error("user `{0}` is written in a form this editor does not change (flow style or anchors); add `totp_secret: \"{1}\"` by hand")]
    Unsupported(String, String),
    #[error("the edited file would not read back the same: {0}")]
    Check(String),
}

/// Whether doorman may write the users file.
pub fn is_writable(path: &Path) -> bool {
    std::fs::OpenOptions::new().append(true).open(path).is_ok()
        && path
            .parent()
            .map(|dir| {
                if dir.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    dir
                }
            })
            .and_then(|dir| std::fs::metadata(dir).ok())
            .is_some_and(|meta| !meta.permissions().readonly())
}

/// Sets `user`'s `totp_secret` in the file at `path`.
pub fn set_totp_secret(path: &Path, user: &str, secret: &TotpSecret) -> Result<(), EditError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|err| EditError::Read(shown.clone(), err))?;
    let edited = with_totp_secret(&text, user, &secret.to_base32())?;
    check(&text, &edited, user, secret)?;
    let tmp = path.with_extension("yaml.doorman-tmp");
    std::fs::write(&tmp, &edited).map_err(|err| EditError::Write(shown.clone(), err))?;
    if let Ok(meta) = std::fs::metadata(path) {
        let _ = std::fs::set_permissions(&tmp, meta.permissions());
    }
    std::fs::rename(&tmp, path).map_err(|err| {
        let _ = std::fs::remove_file(&tmp);
        EditError::Write(shown, err)
    })
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
    let unsupported = || EditError::Unsupported(user.to_owned(), base32.to_owned());
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

/// The edited text must read as the same users, with the new secret.
fn check(before: &str, after: &str, user: &str, secret: &TotpSecret) -> Result<(), EditError> {
    let parse = |text: &str| -> Result<crate::users::Users, EditError> {
        let mut problems = Problems::default();
        let raw: Option<RawUsersFile> = crate::config::parse_yaml(text, "", &mut problems);
        let raw = raw.ok_or_else(|| EditError::Check(problems.to_string()))?;
        let users = crate::users::Users::from_raw(raw, "", &mut problems);
        if problems.is_empty() {
            Ok(users)
        } else {
            Err(EditError::Check(problems.to_string()))
        }
    };
    let old = parse(before).ok();
    let new = parse(after)?;
    let got = new
        .get(user)
        .ok_or_else(|| EditError::NoSuchUser(user.to_owned()))?;
    if got.totp.as_ref() != Some(secret) {
        return Err(EditError::Check(format!(
            "`{user}` does not read back with the new secret"
        )));
    }
    if let Some(old) = old {
        if old.len() != new.len() {
            return Err(EditError::Check("the number of users changed".into()));
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
}
