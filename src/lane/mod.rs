//! The HTTP/1 lane: the authenticated path without hyper in between.
//!
//! On a plain (non-TLS) connection, doorman first reads each request head
//! itself (httparse, as hyper does). A `GET` or `HEAD` with no body, no
//! upgrade and nothing unusual is judged by the same gate and readied by
//! the same header code as every other request ([`judge_for_lane`]); when
//! the gate lets it straight through to a plain-HTTP app, the lane sends it
//! on one of the worker's own upstream connections and relays the answer,
//! in this connection's task: no body channels, no second task, one write
//! for the head and the first bytes of the body. A front proxy's
//! forward-auth question (`GET {prefix}/auth`) is answered here too, by
//! the same [`crate::pages::forward_auth`] as on hyper's path, and so is a
//! request the gate refuses (sign in first, step up, denied), by the same
//! refusal code. With the access log on, the lane writes each line as
//! hyper's path would.
//!
//! Anything else — doorman's other pages, a re-issued cookie, a token, a body, an
//! upgrade, HTTP/1.0 or HTTP/2, a head the lane does not read exactly as
//! hyper would — leaves the lane before anything was done or counted:
//! hyper gets the connection with every byte read so far and serves it, as
//! it serves connections the lane never sees, until it closes. So there is
//! one judgement of each request, and a request only the lane could
//! mis-read never reaches the app.

mod answer;
mod chunked;
mod exchange;
mod rewind;

pub use rewind::Rewind;

use crate::limits::Limits;
use crate::metrics;
use crate::proxy::Proxies;
use crate::request::{judge_for_lane, LaneWork};
use crate::App;
use bytes::{Bytes, BytesMut};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Uri, Version};
use std::net::SocketAddr;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// The most headers the lane reads in one request; a request with more
/// (or a smaller `limits.max_headers`) is hyper's to judge.
const MAX_HEADERS: usize = 64;

/// The most headers doorman adds to a request it forwards (`X-Request-Id`,
/// the three `X-Forwarded-*`, the four identity headers): room for them
/// from the start, so the map is never grown and rehashed on the way.
const ADDED_HEADERS: usize = 8;

/// What the lane needs of its worker.
pub struct Lane<'w> {
    pub app: &'w App,
    pub proxies: &'w Proxies,
    pub limits: &'w Limits,
    /// Cancelled when the worker drains: the connection closes between
    /// requests.
    pub draining: &'w CancellationToken,
}

impl Lane<'_> {
    /// Serves `stream` while its requests are the lane's; returns it, with
    /// what was read and not served, when hyper must take over (`None`:
    /// the connection is over).
    pub async fn serve<S>(&self, mut stream: S, peer: SocketAddr) -> Option<Rewind<S>>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let mut read = BytesMut::with_capacity(4096);
        let mut scratch = exchange::Scratch::default();
        loop {
            let length = match self.read_head(&mut stream, &mut read).await {
                Head::Complete(length) => length,
                Head::Hyper => return Some(Rewind::new(read.freeze(), stream)),
                Head::Closed => return None,
            };
            let head = read.split_to(length).freeze();
            let max_headers = self.limits.max_headers.min(MAX_HEADERS);
            let parsed = parse(&head, max_headers, scratch.headers());
            let judged = parsed.and_then(|mut request| {
                // Begun on the request as it came, as hyper's path begins it.
                let access = self.app.access_log.as_ref().map(|log| {
                    crate::access_log::Entry::start(log, &request, self.app.clock.now())
                });
                match judge_for_lane(self.app, self.proxies, &mut request, peer) {
                    Some(LaneWork::Forward(pass)) if pass.proxy.raw().is_none() => {}
                    Some(work) => return Some((work, request, access)),
                    None => {}
                }
                if let Some(mut entry) = access {
                    entry.discard();
                }
                None
            });
            let after = match judged {
                Some((LaneWork::Forward(pass), request, mut access)) => {
                    let (app, scratch, access) = (self.app, &mut scratch, access.as_deref_mut());
                    exchange::forward(app, pass, request, peer, &mut stream, scratch, access).await
                }
                Some((LaneWork::Answer(mut reply), request, mut access)) => {
                    metrics::lane_request();
                    let head_only = request.method() == Method::HEAD;
                    access = access.map(|entry| entry.answered(&mut reply));
                    scratch.keep_headers(request);
                    let (out, access) = (scratch.answer(), access.as_deref_mut());
                    answer::send(reply, head_only, out, &mut stream, access).await
                }
                None => {
                    // Not the lane's: hyper reads this request again from its bytes.
                    let mut whole = BytesMut::with_capacity(head.len() + read.len());
                    whole.extend_from_slice(&head);
                    whole.extend_from_slice(&read);
                    return Some(Rewind::new(whole.freeze(), stream));
                }
            };
            if after == exchange::After::Close || self.draining.is_cancelled() {
                return None;
            }
        }
    }

    /// Reads until `read` holds a whole request head. As on hyper's
    /// connections, the whole head must come within `limits.idle_timeout`
    /// of the last answer (or before the worker drains), and within
    /// `limits.header_read_timeout` of its first byte.
    async fn read_head<S>(&self, stream: &mut S, read: &mut BytesMut) -> Head
    where
        S: AsyncRead + Unpin,
    {
        let idle_until = Instant::now() + self.limits.idle_timeout;
        let mut deadline = None;
        loop {
            if !read.is_empty() {
                if let Some(length) = head_length(read) {
                    return Head::Complete(length);
                }
                if read.len() > self.limits.max_header_bytes || !plausible(read) {
                    return Head::Hyper;
                }
            }
            if read.capacity() - read.len() < 1024 {
                read.reserve(4096);
            }
            let reading = stream.read_buf(read);
            let until = deadline.unwrap_or(idle_until);
            let got = tokio::select! {
                got = tokio::time::timeout_at(until, reading) => got.ok(),
                () = self.draining.cancelled() => None,
            };
            match got {
                Some(Ok(0)) | Some(Err(_)) | None => return Head::Closed,
                Some(Ok(_)) => {}
            }
            deadline.get_or_insert_with(|| {
                idle_until.min(Instant::now() + self.limits.header_read_timeout)
            });
        }
    }
}

enum Head {
    /// `read` starts with a request head this long.
    Complete(usize),
    /// Not a head the lane reads: hyper's.
    Hyper,
    Closed,
}

/// Where the head at the start of `bytes` ends (after its empty line,
/// CRLF or, as httparse also reads it, a bare LF), if it does yet.
fn head_length(bytes: &[u8]) -> Option<usize> {
    memchr::memchr_iter(b'\n', bytes).find_map(|at| match bytes.get(at + 1..) {
        Some([b'\n', ..]) => Some(at + 2),
        Some([b'\r', b'\n', ..]) => Some(at + 3),
        _ => None,
    })
}

/// Whether the bytes so far can begin a request the lane takes (`GET ` or
/// `HEAD `): anything else goes to hyper at once, an HTTP/2 preface too.
fn plausible(bytes: &[u8]) -> bool {
    let fits = |method: &[u8]| {
        let n = bytes.len().min(method.len());
        bytes[..n] == method[..n]
    };
    fits(b"GET ") || fits(b"HEAD ")
}

/// The request in `head` (exactly one whole head), when it is one the
/// lane may carry: HTTP/1.1, `GET` or `HEAD`, an origin-form target, one
/// `Host`, no body (neither `Content-Length` nor `Transfer-Encoding`), no
/// `Expect`, no `Upgrade`, and a `Connection` that neither closes nor
/// upgrades. Every name and value as hyper would read them; the values
/// share `head`'s bytes. The headers go into `headers` (empty; an earlier
/// request's map, so its memory is used again).
fn parse(head: &Bytes, max_headers: usize, mut headers: HeaderMap) -> Option<Request<()>> {
    let mut storage = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Request::new(&mut storage[..max_headers]);
    match parsed.parse(head) {
        Ok(httparse::Status::Complete(length)) if length == head.len() => {}
        _ => return None,
    }
    if parsed.version != Some(1) {
        return None;
    }
    let method = match parsed.method? {
        "GET" => Method::GET,
        "HEAD" => Method::HEAD,
        _ => return None,
    };
    let target = parsed.path?;
    if !target.starts_with('/') {
        return None;
    }
    let uri = Uri::from_maybe_shared(head.slice_ref(target.as_bytes())).ok()?;
    headers.reserve(parsed.headers.len() + ADDED_HEADERS);
    let mut hosts = 0;
    for header in parsed.headers.iter() {
        let name = header_name(header.name.as_bytes())?;
        let value = HeaderValue::from_maybe_shared(head.slice_ref(header.value)).ok()?;
        match name.as_str() {
            "content-length" | "transfer-encoding" | "expect" | "upgrade" => return None,
            "host" => hosts += 1,
            "connection" if !keeps_alive(header.value) => return None,
            _ => {}
        }
        headers.append(name, value);
    }
    if hosts != 1 {
        return None;
    }
    let mut request = Request::new(());
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    *request.version_mut() = Version::HTTP_11;
    *request.headers_mut() = headers;
    Some(request)
}

/// Names front proxies send that are not among `http`'s standard ones,
/// each made once: `HeaderName::from_bytes` copies such a name into an
/// allocation of its own every time it reads one.
static SHARED_NAMES: [HeaderName; 9] = [
    HeaderName::from_static("x-forwarded-for"),
    HeaderName::from_static("x-forwarded-proto"),
    HeaderName::from_static("x-forwarded-host"),
    HeaderName::from_static("x-real-ip"),
    HeaderName::from_static("x-request-id"),
    HeaderName::from_static("x-original-url"),
    HeaderName::from_static("x-original-method"),
    HeaderName::from_static("x-forwarded-uri"),
    HeaderName::from_static("x-forwarded-method"),
];

/// The header name `bytes` spell, as `HeaderName::from_bytes` reads it
/// (in any case); one of [`SHARED_NAMES`] is shared, not copied.
fn header_name(bytes: &[u8]) -> Option<HeaderName> {
    // Every shared name begins with `x-`; the standard ones seldom do.
    let maybe_shared = bytes
        .first()
        .is_some_and(|first| first.eq_ignore_ascii_case(&b'x'));
    let mut shared = SHARED_NAMES.iter().filter(|_| maybe_shared);
    let shared = shared.find(|name| {
        let name = name.as_str().as_bytes();
        name.len() == bytes.len() && name.eq_ignore_ascii_case(bytes)
    });
    match shared {
        Some(name) => Some(name.clone()),
        None => HeaderName::from_bytes(bytes).ok(),
    }
}

/// Whether a `Connection` value lets the connection go on as it is:
/// neither `close` nor `upgrade` among its tokens.
fn keeps_alive(value: &[u8]) -> bool {
    value.split(|&byte| byte == b',').all(|token| {
        let token = token.trim_ascii();
        !token.eq_ignore_ascii_case(b"close") && !token.eq_ignore_ascii_case(b"upgrade")
    })
}

#[cfg(test)]
mod tests;
