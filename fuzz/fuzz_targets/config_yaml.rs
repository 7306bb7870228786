//! Config parsing: `Config::from_yaml_with_users` on any text.
//!
//! Invariants: it never panics, and a refused config names at least one
//! problem, each with a message; its report renders.
//!
//! The loader expands `${VAR}` from the environment (harmless) and replaces
//! every `NAME_file: PATH` with the file's contents. So that the fuzzer does
//! not block on a FIFO or `/dev/stdin`, or fill memory from `/dev/zero`, an
//! input is skipped when one of its `*_file` keys (other than `users_file`,
//! which `from_yaml_with_users` never reads) names something that is not a
//! small regular file outside `/proc` and `/sys`, or is built from `${...}`.
#![no_main]

use doorman::config::Config;
use doorman::users::Users;
use libfuzzer_sys::fuzz_target;
use serde_yaml::Value;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(value) = serde_yaml::from_str::<Value>(text) {
        if !file_reads_are_safe(&value) {
            return;
        }
    }
    match Config::from_yaml_with_users(text, Users::default()) {
        Ok(_config) => {}
        Err(problems) => {
            assert!(!problems.is_empty(), "refused without a problem: {text:?}");
            for (path, message) in problems.iter() {
                assert!(!message.is_empty(), "empty message for {path:?}");
            }
            let _ = problems.to_string();
        }
    }
});

/// Whether every `*_file` value in the tree (as the loader walks it) is a
/// plain string naming a small regular file, or nothing at all.
fn file_reads_are_safe(value: &Value) -> bool {
    match value {
        Value::Sequence(items) => items.iter().all(file_reads_are_safe),
        Value::Tagged(tagged) => file_reads_are_safe(&tagged.value),
        Value::Mapping(map) => map.iter().all(|(key, item)| {
            let reads = key
                .as_str()
                .is_some_and(|name| name.ends_with("_file") && name != "users_file");
            (!reads || safe_file(item)) && file_reads_are_safe(item)
        }),
        _ => true,
    }
}

fn safe_file(item: &Value) -> bool {
    let Some(name) = item.as_str() else {
        return true; // not a path: the loader reports it without reading
    };
    if name.contains('$') {
        return false;
    }
    let Ok(real) = std::fs::canonicalize(Path::new(name)) else {
        return true; // nothing there: the read fails at once
    };
    let special = real.starts_with("/proc") || real.starts_with("/sys") || real.starts_with("/dev");
    !special && std::fs::metadata(&real).is_ok_and(|meta| meta.is_file() && meta.len() < 1 << 20)
}
