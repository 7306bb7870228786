//! The access log (`log.access`, off by default): one JSON object per line
//! for every request, written when its response body has been sent (or
//! dropped, when the client went away). It names the path without the
//! query string, which can carry secrets. When it is off nothing here
//! runs: no clock read, no allocation.

use http::{Method, Request, Response};
use serde::Serialize;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, UNIX_EPOCH};

/// Where access lines go, as `log.access` says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Output {
    #[default]
    Off,
    Stdout,
    Stderr,
    /// Appended to this file (created when missing).
    File(PathBuf),
}

impl Output {
    /// `off`, `stdout`, `stderr` or a file path (with a `/`, so that a
    /// misspelt keyword is an error, not a file); `base` resolves a
    /// relative path.
    pub fn parse(text: &str, base: &std::path::Path) -> Result<Output, String> {
        match text {
            "off" => Ok(Output::Off),
            "stdout" => Ok(Output::Stdout),
            "stderr" => Ok(Output::Stderr),
            path if path.contains('/') => Ok(Output::File(base.join(path))),
            other => Err(format!(
                "expected `off`, `stdout`, `stderr` or a file path (like `./access.log`), not `{other}`"
            )),
        }
    }
}

enum Sink {
    Stdout,
    Stderr,
    /// The file, and its path to open again after a rotation.
    File(Mutex<std::fs::File>, PathBuf),
}

fn append_to(path: &std::path::Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
}

/// The open access log.
pub struct AccessLog {
    sink: Sink,
}

impl std::fmt::Debug for AccessLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AccessLog")
    }
}

impl AccessLog {
    /// The log `output` names, opened; `None` when it is off.
    pub fn open(output: &Output) -> std::io::Result<Option<Arc<AccessLog>>> {
        let sink = match output {
            Output::Off => return Ok(None),
            Output::Stdout => Sink::Stdout,
            Output::Stderr => Sink::Stderr,
            Output::File(path) => Sink::File(Mutex::new(append_to(path)?), path.clone()),
        };
        Ok(Some(Arc::new(AccessLog { sink })))
    }

    /// Opens the file at the log's path again (on a reload), so lines go
    /// to a new file once logrotate has moved the old one away. When it
    /// cannot be opened, lines keep going to the old one.
    pub fn reopen(&self) -> std::io::Result<()> {
        if let Sink::File(file, path) = &self.sink {
            let fresh = append_to(path)?;
            *file.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = fresh;
        }
        Ok(())
    }

    fn write(&self, line: &[u8]) {
        let _ = match &self.sink {
            Sink::Stdout => std::io::stdout().lock().write_all(line),
            Sink::Stderr => std::io::stderr().lock().write_all(line),
            Sink::File(file, _) => file
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .write_all(line),
        };
    }
}

/// Who a proxied request went through as, and to which upstream: put on
/// the response by the proxy step for the line to name.
#[derive(Debug, Clone)]
pub struct Who {
    user: Option<String>,
    upstream: String,
}

impl Who {
    /// `None` (nothing made) when the access log is off.
    pub fn of(
        log: Option<&Arc<AccessLog>>,
        user: Option<&str>,
        upstream: &dyn std::fmt::Display,
    ) -> Option<Who> {
        log.map(|_| Who {
            user: user.map(str::to_owned),
            upstream: upstream.to_string(),
        })
    }
}

/// Puts `who` on `response` for its access line.
pub fn note<B>(response: &mut Response<B>, who: Option<Who>) {
    if let Some(who) = who {
        response.extensions_mut().insert(who);
    }
}

/// One request's line, filled in as it goes and written when dropped.
pub struct Entry {
    log: Arc<AccessLog>,
    started: Instant,
    ts: u64,
    method: Method,
    host: String,
    path: String,
    request_id: String,
    status: u16,
    who: Option<Who>,
    bytes: u64,
    discarded: bool,
}

#[derive(Serialize)]
struct Line<'a> {
    ts: String,
    request_id: &'a str,
    user: &'a str,
    method: &'a str,
    host: &'a str,
    path: &'a str,
    status: u16,
    bytes: u64,
    duration_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    upstream: Option<&'a str>,
}

impl Entry {
    /// A line begun for `request` at `now` (Unix seconds).
    pub fn start<B>(log: &Arc<AccessLog>, request: &Request<B>, now: u64) -> Box<Entry> {
        let host = request
            .uri()
            .authority()
            .map(|authority| authority.as_str())
            .or_else(|| {
                request
                    .headers()
                    .get(http::header::HOST)
                    .and_then(|host| host.to_str().ok())
            })
            .unwrap_or("");
        Box::new(Entry {
            log: log.clone(),
            started: Instant::now(),
            ts: now,
            method: request.method().clone(),
            host: host.to_owned(),
            path: request.uri().path().to_owned(),
            request_id: String::new(),
            status: 0,
            who: None,
            bytes: 0,
            discarded: false,
        })
    }

    /// The response's status, request id and [`Who`] taken down.
    pub fn answered<B>(mut self: Box<Entry>, response: &mut Response<B>) -> Box<Entry> {
        self.status = response.status().as_u16();
        self.request_id = crate::request_id::of(response.headers())
            .unwrap_or("")
            .to_owned();
        self.who = response.extensions_mut().remove::<Who>();
        self
    }

    /// The status, request id and [`Who`] of an answer the HTTP/1 lane
    /// sends for a request it forwarded (the app's, or the error page when
    /// the app failed), taken down.
    pub fn relayed(&mut self, status: u16, request_id: &str, who: Option<Who>) {
        self.status = status;
        request_id.clone_into(&mut self.request_id);
        self.who = who;
    }

    /// Counts a frame of the response body that went out.
    pub fn sent<D: bytes::Buf, E>(&mut self, frame: &Option<Result<hyper::body::Frame<D>, E>>) {
        if let Some(Ok(frame)) = frame {
            if let Some(data) = frame.data_ref() {
                self.count(data.remaining());
            }
        }
    }

    /// Counts `bytes` of the response body that went out.
    pub fn count(&mut self, bytes: usize) {
        self.bytes += bytes as u64;
    }

    /// Drops the line unwritten: the request was not served here after all
    /// (the HTTP/1 lane handed it to hyper, which writes its own).
    pub fn discard(&mut self) {
        self.discarded = true;
    }
}

impl Drop for Entry {
    fn drop(&mut self) {
        if self.discarded {
            return;
        }
        let ts = humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(self.ts));
        let who = self.who.as_ref();
        let line = Line {
            ts: ts.to_string(),
            request_id: &self.request_id,
            user: who.and_then(|who| who.user.as_deref()).unwrap_or(""),
            method: self.method.as_str(),
            host: &self.host,
            path: &self.path,
            status: self.status,
            bytes: self.bytes,
            duration_ms: self.started.elapsed().as_millis() as u64,
            upstream: who.map(|who| who.upstream.as_str()),
        };
        if let Ok(mut text) = serde_json::to_vec(&line) {
            text.push(b'\n');
            self.log.write(&text);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn the_setting_reads_keywords_and_paths_and_refuses_the_rest() {
        let base = Path::new("/etc/doorman");
        assert_eq!(Output::parse("off", base), Ok(Output::Off));
        assert_eq!(Output::parse("stderr", base), Ok(Output::Stderr));
        assert_eq!(
            Output::parse("./access.log", base),
            Ok(Output::File(base.join("./access.log")))
        );
        assert_eq!(
            Output::parse("/var/log/a.log", base),
            Ok(Output::File(PathBuf::from("/var/log/a.log")))
        );
        assert!(Output::parse("stdot", base).unwrap_err().contains("stdot"));
    }
}
