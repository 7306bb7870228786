//! doorman's log as tests see it: one process-wide subscriber writing into
//! memory, so a test can look for a warning or make sure a secret is absent.
//! Every test's lines land in the same buffer; look for something unique.

use std::io::Write;
use std::sync::{Mutex, OnceLock};

static LINES: Mutex<Vec<u8>> = Mutex::new(Vec::new());

struct Buffer;

impl Write for Buffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        LINES
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Starts capturing (once per test binary); later events are recorded.
pub fn capture() {
    static STARTED: OnceLock<()> = OnceLock::new();
    STARTED.get_or_init(|| {
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("doorman=debug"))
            .with_ansi(false)
            .without_time()
            .with_writer(|| Buffer)
            .finish();
        let _ = tracing::subscriber::set_global_default(subscriber);
    });
}

/// Everything logged so far.
pub fn text() -> String {
    String::from_utf8_lossy(&LINES.lock().unwrap_or_else(|p| p.into_inner())).into_owned()
}
