//! Reading a YAML file into a raw struct: `${VAR}` expansion, `*_file`
//! secrets, and every unknown key and type error reported with its path.

use super::Problems;
use serde::de::DeserializeOwned;
use serde_yaml::Value;
use std::path::Path;

/// Keys that end in `_file` but name a file doorman reads itself, not a
/// secret whose contents replace the key.
const PATH_KEYS: &[&str] = &[
    "users_file",
    "cert_file",
    "key_file",
    "upstream_ca_file",
    "tokens_file",
];

/// Parses `text` (already read from `origin`) into `T`, reporting unknown keys,
/// type errors, unset variables and unreadable secret files into `problems`
/// with `prefix` in front of every key path; a type error does not hide the
/// problems after it. Returns `None` only when the document could not be
/// turned into a `T` at all; a `T` returned beside problems is for the
/// semantic checks, never to run with. A relative secret `*_file` path is
/// taken from `base`, the directory of the file the text came from.
pub fn parse<T: DeserializeOwned>(
    text: &str,
    prefix: &str,
    base: &Path,
    problems: &mut Problems,
) -> Option<T> {
    parse_with(text, prefix, base, problems, |_| ())
}

/// As [`parse`], letting `overlay` change the document (environment
/// variables laid over the file) before expansion and checking.
pub fn parse_with<T: DeserializeOwned>(
    text: &str,
    prefix: &str,
    base: &Path,
    problems: &mut Problems,
    overlay: impl FnOnce(&mut Value),
) -> Option<T> {
    let mut value: Value = match serde_yaml::from_str(text) {
        Ok(Value::Null) => Value::Mapping(Default::default()),
        Ok(value) => value,
        Err(err) => {
            problems.push(
                prefix.trim_end_matches('.'),
                format!("not valid YAML: {err}"),
            );
            return None;
        }
    };
    overlay(&mut value);
    resolve(&mut value, prefix, base, problems);

    // A type error stops serde at the first one; to report every problem,
    // the value it was in is taken out and the rest parsed again (its key
    // then reads as unset, and a problem already named under that key is
    // not repeated), until the rest parses or no value can be taken out.
    for _ in 0..MAX_TYPE_ERRORS {
        let mut unknown = Vec::new();
        let mut record = |path: serde_ignored::Path<'_>| unknown.push(path.to_string());
        let ignored = serde_ignored::Deserializer::new(value.clone(), &mut record);
        let parsed = serde_path_to_error::deserialize::<_, T>(ignored);
        for path in unknown {
            problems.push(&format!("{prefix}{}", indexed(&path)), "unknown key");
        }
        let err = match parsed {
            // After a type error, what parsed is still checked; the
            // problems recorded keep the config from passing.
            Ok(parsed) => return Some(parsed),
            Err(err) => err,
        };
        let path = err.path().to_string();
        let path = if path == "." {
            String::new()
        } else {
            indexed(&path)
        };
        let taken_out = take_out(&mut value, err.path());
        problems.push(&format!("{prefix}{path}"), err.into_inner().to_string());
        if !taken_out {
            return None;
        }
    }
    None
}

/// Most type errors one document reports before giving up.
const MAX_TYPE_ERRORS: usize = 64;

/// Removes the value under the deepest mapping key of `path` from
/// `value`. Whether there was one to remove.
fn take_out(value: &mut Value, path: &serde_path_to_error::Path) -> bool {
    use serde_path_to_error::Segment;
    // The segments down to the deepest mapping key.
    let segments: Vec<&Segment> = path.iter().collect();
    let Some(last_key) = segments
        .iter()
        .rposition(|segment| matches!(segment, Segment::Map { .. }))
    else {
        return false;
    };
    let mut at = value;
    for segment in &segments[..last_key] {
        let next = match (segment, at) {
            (Segment::Map { key }, Value::Mapping(map)) => map.get_mut(key.as_str()),
            (Segment::Seq { index }, Value::Sequence(items)) => items.get_mut(*index),
            _ => None,
        };
        match next {
            Some(next) => at = next,
            None => return false,
        }
    }
    match (segments[last_key], at) {
        (Segment::Map { key }, Value::Mapping(map)) => map.shift_remove(key.as_str()).is_some(),
        _ => false,
    }
}

/// Walks the YAML tree: expands `${VAR}` in every string and replaces each
/// `name_file: PATH` with `name: <contents of PATH>` (a relative PATH
/// taken from `dir`).
fn resolve(value: &mut Value, path: &str, dir: &Path, problems: &mut Problems) {
    match value {
        Value::String(text) => {
            if let Some(expanded) = expand_env(text, path, problems) {
                *text = expanded;
            }
        }
        Value::Sequence(items) => {
            for (index, item) in items.iter_mut().enumerate() {
                resolve(item, &format!("{path}[{index}]"), dir, problems);
            }
        }
        Value::Mapping(map) => {
            let keys: Vec<Value> = map.keys().cloned().collect();
            for key in keys {
                let Some(name) = key.as_str().map(str::to_owned) else {
                    continue;
                };
                let child = join(path, &name);
                // shift_remove, not remove (a swap): keys keep the order
                // they were written in, which is the order channels are offered.
                let Some(mut item) = map.shift_remove(&key) else {
                    continue;
                };
                resolve(&mut item, &child, dir, problems);
                match name.strip_suffix("_file") {
                    Some(base) if !PATH_KEYS.contains(&name.as_str()) => {
                        if map.contains_key(base) {
                            problems
                                .push(&child, format!("set both `{base}` and `{name}`; keep one"));
                        }
                        let contents = read_secret_file(&item, &child, dir, problems);
                        map.insert(Value::String(base.to_owned()), contents);
                    }
                    _ => {
                        map.insert(key, item);
                    }
                }
            }
        }
        _ => {}
    }
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() || path.ends_with('.') {
        format!("{path}{name}")
    } else {
        format!("{path}.{name}")
    }
}

fn read_secret_file(item: &Value, path: &str, base: &Path, problems: &mut Problems) -> Value {
    let Some(file) = item.as_str() else {
        problems.push(path, "expected a file path");
        return Value::Null;
    };
    // Named as read, so a relative path shows where it was looked for.
    let file = base.join(file);
    match std::fs::read_to_string(&file) {
        Ok(contents) => Value::String(contents.trim_end_matches(['\r', '\n']).to_owned()),
        Err(err) => {
            problems.push(path, format!("cannot read {}: {err}", file.display()));
            Value::Null
        }
    }
}

/// `${NAME}` is replaced by the environment variable; `$$` is a literal `$`.
fn expand_env(text: &str, path: &str, problems: &mut Problems) -> Option<String> {
    if !text.contains('$') {
        return None;
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        if let Some(after) = rest.strip_prefix("$$") {
            out.push('$');
            rest = after;
        } else if let Some(after) = rest.strip_prefix("${") {
            let Some(end) = after.find('}') else {
                problems.push(path, "unclosed `${` in value");
                return None;
            };
            let name = &after[..end];
            match std::env::var(name) {
                Ok(value) => out.push_str(&value),
                Err(_) => problems.push(path, format!("environment variable {name} is not set")),
            }
            rest = &after[end + 1..];
        } else {
            out.push('$');
            rest = &rest[1..];
        }
    }
    out.push_str(rest);
    Some(out)
}

/// `rules.7.color` as `rules[7].color`, the way validation names list items.
fn indexed(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for (index, part) in path.split('.').enumerate() {
        if index > 0 && !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()) {
            out.push_str(&format!("[{part}]"));
        } else {
            if index > 0 {
                out.push('.');
            }
            out.push_str(part);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_variables_are_expanded_and_double_dollar_is_literal() {
        std::env::set_var("DOORMAN_TEST_EXPAND", "abc");
        let mut problems = Problems::default();
        let out = expand_env("x${DOORMAN_TEST_EXPAND}y$$z", "k", &mut problems);
        assert_eq!(out.as_deref(), Some("xabcy$z"));
        assert!(problems.is_empty());
    }

    #[test]
    fn an_unset_variable_is_a_problem_naming_the_key() {
        let mut problems = Problems::default();
        expand_env(
            "${DOORMAN_TEST_SURELY_UNSET}",
            "session.secret",
            &mut problems,
        );
        assert_eq!(
            problems.to_string(),
            "session.secret: environment variable DOORMAN_TEST_SURELY_UNSET is not set"
        );
    }
}
