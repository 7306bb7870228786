//! How a settings reader reports a problem under its key path, so that
//! readers outside `config` (each provider reads its own block) need not
//! know the config's problem list.

use std::time::Duration;

/// Where problems go: `config`'s `Problems` in doorman, anything in tests.
pub trait Report {
    fn report(&mut self, path: &str, message: String);
}

/// Parses `30s`, `5m`, `12h`, `1h30m`; zero is refused.
pub fn duration(
    text: Option<&str>,
    path: &str,
    default: &str,
    problems: &mut dyn Report,
) -> Duration {
    let text = text.unwrap_or(default);
    match humantime::parse_duration(text) {
        Ok(value) if !value.is_zero() => value,
        Ok(_) => {
            problems.report(path, "must be longer than zero".to_owned());
            humantime::parse_duration(default).unwrap_or(Duration::from_secs(1))
        }
        Err(_) => {
            problems.report(
                path,
                format!("`{text}` is not a duration like 30s, 5m or 12h"),
            );
            humantime::parse_duration(default).unwrap_or(Duration::from_secs(1))
        }
    }
}
