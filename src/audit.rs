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

/// A struct whose fields, each an `Option` of the type written, are left
/// out of the line when empty (serde_with's `skip_serializing_none`, for
/// one struct).
macro_rules! optional_fields {
    (
        $(#[$meta:meta])*
        pub struct $name:ident<$lt:lifetime> {
            $($(#[$doc:meta])* $field:ident: $ty:ty,)+
        }
    ) => {
        $(#[$meta])*
        pub struct $name<$lt> {
            $(
                $(#[$doc])*
                #[serde(skip_serializing_if = "Option::is_none")]
                pub $field: Option<$ty>,
            )+
        }
    };
}

optional_fields! {
    /// What an event is about; empty fields are left out.
    #[derive(Debug, Default, Clone, Copy, Serialize)]
    pub struct Record<'a> {
        user: &'a str,
        client: IpAddr,
        user_agent: &'a str,
        rule: &'a str,
        path: &'a str,
        channel: &'a str,
        provider: &'a str,
        reason: &'a str,
        /// Unix seconds a lock or a cap lasts until.
        until: u64,
        /// Recovery codes left after one was used.
        left: usize,
        /// The challenge's own id (a push's), never a code or a secret.
        challenge: &'a str,
        /// The name an API token was given (never its secret).
        token: &'a str,
        /// The `X-Request-Id` of the request that led to the event.
        request_id: &'a str,
    }
}

impl<'a> Record<'a> {
    /// A record about `user`, and nothing else.
    pub fn about(user: &'a str) -> Record<'a> {
        Record {
            user: Some(user),
            ..Record::default()
        }
    }
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
