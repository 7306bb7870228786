//! The audit trail: one JSON object per line for every security decision,
//! on standard output by default (the log goes to standard error), so it
//! can be shipped apart from the log. It never carries a secret or a code.

use serde::Serialize;
use std::io::Write;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

/// Where audit events go.
#[derive(Debug, Clone, Default)]
pub enum Output {
    #[default]
    Stdout,
    Stderr,
    Off,
    /// Kept in memory, for tests.
    Memory(Arc<Mutex<Vec<String>>>),
}

/// What an event is about; empty fields are left out.
#[derive(Debug, Default, Clone, Copy, Serialize)]
pub struct Record<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client: Option<IpAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'a str>,
    /// Unix seconds a lock or a cap lasts until.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until: Option<u64>,
    /// Recovery codes left after one was used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub left: Option<usize>,
    /// The challenge's own id (a push's), never a code or a secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub challenge: Option<&'a str>,
    /// The name an API token was given (never its secret).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<&'a str>,
    /// The `X-Request-Id` of the request that led to the event.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<&'a str>,
}

#[derive(Serialize)]
struct Line<'a> {
    ts: String,
    event: &'a str,
    #[serde(flatten)]
    record: Record<'a>,
}

#[derive(Debug, Clone, Default)]
pub struct Audit {
    output: Output,
}

impl Audit {
    pub fn new(output: Output) -> Audit {
        Audit { output }
    }

    /// Writes `event` at `now` (Unix seconds).
    pub fn event(&self, now: u64, event: &str, record: Record<'_>) {
        if matches!(self.output, Output::Off) {
            return;
        }
        let ts = humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(now));
        let line = Line {
            ts: ts.to_string(),
            event,
            record,
        };
        let Ok(mut text) = serde_json::to_string(&line) else {
            return;
        };
        match &self.output {
            Output::Off => {}
            Output::Memory(lines) => {
                lines
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .push(text);
            }
            Output::Stdout => {
                text.push('\n');
                let _ = std::io::stdout().lock().write_all(text.as_bytes());
            }
            Output::Stderr => {
                text.push('\n');
                let _ = std::io::stderr().lock().write_all(text.as_bytes());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_is_one_json_line_without_empty_fields() {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let audit = Audit::new(Output::Memory(lines.clone()));
        audit.event(
            1_700_000_000,
            "signin_failed",
            Record {
                user: Some("alice"),
                client: "192.0.2.1".parse().ok(),
                ..Record::default()
            },
        );
        let lines = lines.lock().unwrap();
        assert_eq!(
            lines[0],
            r#"{"ts":"2023-11-14T22:13:20Z","event":"signin_failed","user":"alice","client":"192.0.2.1"}"#
        );
    }
}
