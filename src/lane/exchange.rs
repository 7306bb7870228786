//! One request of the lane's, to the upstream and back: the head written
//! on an idle connection of the worker's (once more on a new one when a
//! reused connection turns out closed before it answered), the answer's
//! head read with httparse, its hop-by-hop headers dropped by the same
//! rule as hyper's path ([`headers::is_hop_by_hop_field`]), and its body
//! relayed exactly as long as its framing says — `Content-Length`,
//! chunked, or until the upstream closes. A connection goes back to the
//! worker only after an answer read whole with not a byte more.

use super::chunked::Chunked;
use crate::access_log::Entry;
use crate::error::Error;
use crate::metrics::{self, RequestOutcome};
use crate::proxy::headers;
use crate::proxy::raw::{ConnectFailed, RawPool};
use crate::request::LanePass;
use crate::request_id::X_REQUEST_ID;
use crate::{gate, pages, App};
use bytes::{Buf, BytesMut};
use http::header::{HeaderValue, HOST};
use http::{HeaderMap, Method, Request, StatusCode};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

/// The largest response head read from the upstream.
const MAX_RESPONSE_HEAD: usize = 64 * 1024;

/// The most headers in an upstream's response head.
const MAX_RESPONSE_HEADERS: usize = 100;

/// The most bytes of chunk trailers relayed.
const MAX_TRAILERS: usize = 16 * 1024;

/// Buffers a connection reuses from request to request.
#[derive(Default)]
pub struct Scratch {
    /// The request head for the upstream.
    out: Vec<u8>,
    /// The answer's head for the client, and the first of its body.
    answer: Vec<u8>,
    /// What the upstream sent.
    upstream: BytesMut,
    /// The last forwarded request's header map, cleared, for the next.
    headers: HeaderMap,
}

impl Scratch {
    /// An empty header map for the next request (one used before, when
    /// the last request was forwarded).
    pub fn headers(&mut self) -> HeaderMap {
        std::mem::take(&mut self.headers)
    }

    /// Keeps `request`'s header map, cleared, for the next request.
    pub fn keep_headers(&mut self, request: Request<()>) {
        let (parts, ()) = request.into_parts();
        self.keep(parts.headers);
    }

    fn keep(&mut self, mut headers: HeaderMap) {
        headers.clear();
        self.headers = headers;
    }

    /// The buffer for an answer to the client.
    pub fn answer(&mut self) -> &mut Vec<u8> {
        &mut self.answer
    }
}

/// Whether the client's connection may carry another request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum After {
    KeepAlive,
    Close,
}

/// How the upstream's answer says where its body ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    /// No body: an answer to `HEAD`, a 204 or a 304.
    Empty,
    Length(u64),
    Chunked,
    /// Until the upstream closes.
    Close,
}

/// Carries out a request the gate let through; `request` is readied for
/// the app already, but for its addressing.
pub async fn forward<S>(
    app: &App,
    pass: LanePass<'_>,
    request: Request<()>,
    peer: SocketAddr,
    client: &mut S,
    scratch: &mut Scratch,
    mut access: Option<&mut Entry>,
) -> After
where
    S: AsyncWrite + Unpin,
{
    let (parts, ()) = request.into_parts();
    let proxy = pass.proxy;
    let Some(raw) = proxy.raw() else {
        return After::Close;
    };
    let head_only = parts.method == Method::HEAD;
    let addressing = proxy.addressing(&parts, peer.ip(), pass.trusted, false);
    write_request_head(&mut scratch.out, &parts, app, &pass, addressing);
    let (upstream_timeout, body_idle) = proxy.timeouts();
    let started = Instant::now();
    let id = pass.request_id.as_bytes();
    let answered = exchange(raw, scratch, upstream_timeout, head_only, id).await;
    metrics::upstream_latency(started.elapsed());
    let (upstream, status, head_length, framing) = match answered {
        Ok(answered) => answered,
        Err(err) => {
            let browser = browser(app, &parts);
            return failed(
                app, &err, browser, pass, peer, head_only, scratch, client, access,
            )
            .await;
        }
    };
    scratch.keep(parts.headers);
    metrics::request(pass.outcome);
    metrics::lane_request();
    if let Some(entry) = access.as_deref_mut() {
        let id = pass.request_id.to_str().unwrap_or("");
        entry.relayed(status.as_u16(), id, pass.who);
    }
    let relayed = relay(
        raw,
        upstream,
        head_length,
        framing,
        scratch,
        body_idle,
        client,
        access,
    );
    match relayed.await {
        Ok(after) => after,
        Err(err) => {
            // As hyper's connections say it.
            tracing::debug!(error = %err, %peer, "connection ended with an error");
            After::Close
        }
    }
}

/// The language of the error page for a request a browser navigates
/// with (`None`: not a browser's, a plain answer). Only asked when the
/// request failed. (`prepare` leaves `Accept` and the language headers as
/// the client sent them.)
fn browser(app: &App, parts: &http::request::Parts) -> Option<crate::i18n::Locale> {
    gate::is_browser_navigation(&parts.method, &parts.headers)
        .then(|| pages::page_locale(app, &parts.headers))
}

/// `METHOD target HTTP/1.1` (the target as [`crate::proxy::Proxy::prepare`]
/// sends it on a plain connection), the client's headers but any doorman
/// sets, then doorman's own — `Host` and `X-Forwarded-*` (`addressing`),
/// the request's id, the user's identity — and the empty line: the head
/// hyper's path sends, with no header map built for doorman's values.
fn write_request_head(
    out: &mut Vec<u8>,
    parts: &http::request::Parts,
    app: &App,
    pass: &LanePass<'_>,
    (host, forwarded): (HeaderValue, headers::Forwarded),
) {
    out.clear();
    out.extend_from_slice(parts.method.as_str().as_bytes());
    out.push(b' ');
    let target = parts
        .uri
        .path_and_query()
        .map_or("/", |target| target.as_str());
    out.extend_from_slice(target.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    let (owned, id_name) = (app.identity.all(), X_REQUEST_ID);
    let client = parts.headers.iter();
    let client = client.filter(|(name, _)| !headers::set_by_doorman(name, &owned));
    let identity = pass
        .user
        .as_ref()
        .map(|user| user.headers.pairs(&app.identity));
    let set = [(&HOST, &host), (&id_name, &pass.request_id)];
    let set = set.into_iter().chain(forwarded.pairs());
    for (name, value) in client.chain(set).chain(identity.into_iter().flatten()) {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

/// Sends the request head in `scratch.out` and reads the answer's head
/// into `scratch.upstream`: the connection, the head's length and how the
/// body is framed.
async fn exchange(
    raw: &RawPool,
    scratch: &mut Scratch,
    timeout: Duration,
    head_only: bool,
    request_id: &[u8],
) -> Result<(TcpStream, StatusCode, usize, Framing), Error> {
    let mut reused = raw.take();
    loop {
        let fresh = reused.is_none();
        let mut upstream = match reused.take() {
            Some(upstream) => upstream,
            None => raw.connect().await.map_err(|err| match err {
                ConnectFailed::Io(err) => {
                    Error::Upstream(format!("cannot connect to the upstream: {err}"))
                }
                ConnectFailed::TimedOut => {
                    Error::Upstream("connecting to the upstream timed out".into())
                }
            })?,
        };
        scratch.upstream.clear();
        let sent = upstream.write_all(&scratch.out).await;
        let read = match sent {
            Ok(()) => {
                let read = &mut scratch.upstream;
                let answer = &mut scratch.answer;
                let reading =
                    read_response_head(&mut upstream, read, head_only, request_id, answer);
                tokio::time::timeout(timeout, reading)
                    .await
                    .map_err(|_| Error::UpstreamTimeout)?
            }
            Err(err) => Err(Error::Upstream(format!("cannot send the request: {err}"))),
        };
        match read {
            Ok((status, length, framing)) => return Ok((upstream, status, length, framing)),
            // A kept-alive connection the upstream had closed: not a byte
            // of an answer came, and GET and HEAD may be sent again.
            Err(_) if !fresh && scratch.upstream.is_empty() => continue,
            Err(err) => return Err(err),
        }
    }
}

/// Reads the answer's head (skipping informational ones), writes the head
/// the client gets into `answer`, and says how long the upstream's head is
/// and how its body is framed.
async fn read_response_head(
    upstream: &mut TcpStream,
    read: &mut BytesMut,
    head_only: bool,
    request_id: &[u8],
    answer: &mut Vec<u8>,
) -> Result<(StatusCode, usize, Framing), Error> {
    loop {
        if !read.is_empty() {
            let mut storage = [httparse::EMPTY_HEADER; MAX_RESPONSE_HEADERS];
            let mut parsed = httparse::Response::new(&mut storage);
            match parsed.parse(read) {
                Ok(httparse::Status::Complete(length)) => {
                    let status = parsed.code.and_then(|code| StatusCode::from_u16(code).ok());
                    let status = status.ok_or_else(|| bad("an invalid status"))?;
                    if status == StatusCode::SWITCHING_PROTOCOLS {
                        return Err(bad("an upgrade nobody asked for"));
                    }
                    if status.is_informational() {
                        // 100, 102, 103: not passed on (as hyper's client does).
                        read.advance(length);
                        continue;
                    }
                    let framing = framing(status, parsed.headers, head_only)?;
                    write_response_head(answer, read, &parsed, status, framing, request_id);
                    return Ok((status, length, framing));
                }
                Ok(httparse::Status::Partial) if read.len() < MAX_RESPONSE_HEAD => {}
                Ok(httparse::Status::Partial) => return Err(bad("a response head too large")),
                Err(err) => return Err(bad(&format!("a malformed response head ({err})"))),
            }
        }
        read.reserve(8192);
        match upstream.read_buf(read).await {
            Ok(0) => return Err(Error::Upstream("the upstream closed the connection".into())),
            Ok(_) => {}
            Err(err) => return Err(Error::Upstream(format!("reading the answer: {err}"))),
        }
    }
}

fn bad(what: &str) -> Error {
    Error::Upstream(format!("the upstream sent {what}"))
}

/// How the body of an answer with these headers ends (RFC 9112 §6.3).
/// An answer that frames itself two ways, or with a length or coding
/// doorman cannot be sure of, is refused: reading it one way when the app
/// meant another would mix the next answer into this one.
fn framing(
    status: StatusCode,
    fields: &[httparse::Header<'_>],
    head_only: bool,
) -> Result<Framing, Error> {
    let mut length: Option<u64> = None;
    let mut chunked = false;
    for field in fields {
        if field.name.eq_ignore_ascii_case("content-length") {
            for part in field.value.split(|&byte| byte == b',') {
                let part = part.trim_ascii();
                let valid =
                    !part.is_empty() && part.len() <= 18 && part.iter().all(u8::is_ascii_digit);
                let value = std::str::from_utf8(part).ok().filter(|_| valid);
                let value = value.and_then(|value| value.parse::<u64>().ok());
                match (value, length) {
                    (None, _) => return Err(bad("an invalid Content-Length")),
                    (Some(value), Some(known)) if value != known => {
                        return Err(bad("two Content-Lengths"))
                    }
                    (Some(value), _) => length = Some(value),
                }
            }
        } else if field.name.eq_ignore_ascii_case("transfer-encoding") {
            if chunked || !field.value.trim_ascii().eq_ignore_ascii_case(b"chunked") {
                return Err(bad("a transfer coding other than chunked"));
            }
            chunked = true;
        }
    }
    if head_only || status == StatusCode::NO_CONTENT || status == StatusCode::NOT_MODIFIED {
        return Ok(Framing::Empty);
    }
    match (length, chunked) {
        (Some(_), true) => Err(bad("both Content-Length and Transfer-Encoding")),
        (Some(length), false) => Ok(Framing::Length(length)),
        (None, true) => Ok(Framing::Chunked),
        (None, false) => Ok(Framing::Close),
    }
}

/// Writes the answer's head, as hyper's path would send it, into `out`:
/// the upstream's status line and headers without the hop-by-hop ones or
/// its `X-Request-Id`, then the request's id, and the framing the relay
/// keeps.
fn write_response_head(
    out: &mut Vec<u8>,
    head: &[u8],
    parsed: &httparse::Response<'_, '_>,
    status: StatusCode,
    framing: Framing,
    request_id: &[u8],
) {
    out.clear();
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(parsed.reason.unwrap_or("").as_bytes());
    out.extend_from_slice(b"\r\n");
    let listed = headers::connection_listed(
        parsed
            .headers
            .iter()
            .filter(|field| field.name.eq_ignore_ascii_case("connection"))
            .map(|field| field.value),
    );
    let mut dated = false;
    // Lines the upstream wrote exactly as they go out are copied a run at a time.
    let mut run = 0..0;
    for field in parsed.headers.iter() {
        let name = field.name.as_bytes();
        if headers::is_hop_by_hop_field(name, &listed) || name.eq_ignore_ascii_case(b"x-request-id")
        {
            continue;
        }
        dated |= name.eq_ignore_ascii_case(b"date");
        match written_as_sent(head, field) {
            Some(line) if line.start == run.end && !run.is_empty() => run.end = line.end,
            Some(line) => {
                out.extend_from_slice(&head[std::mem::replace(&mut run, line)]);
            }
            None => {
                out.extend_from_slice(&head[std::mem::replace(&mut run, 0..0)]);
                out.extend_from_slice(name);
                out.extend_from_slice(b": ");
                out.extend_from_slice(field.value);
                out.extend_from_slice(b"\r\n");
            }
        }
    }
    out.extend_from_slice(&head[run]);
    // A proxy adds the `Date` an answer came without (RFC 9110 §6.6.1),
    // as hyper's path does.
    if !dated {
        super::answer::date(out);
    }
    out.extend_from_slice(b"x-request-id: ");
    out.extend_from_slice(request_id);
    out.extend_from_slice(b"\r\n");
    match framing {
        Framing::Chunked => out.extend_from_slice(b"transfer-encoding: chunked\r\n"),
        Framing::Close => out.extend_from_slice(b"connection: close\r\n"),
        Framing::Empty | Framing::Length(_) => {}
    }
    out.extend_from_slice(b"\r\n");
}

/// Where in `head` this field's line is, when the upstream wrote it just
/// as it goes out: `name: value` and CRLF, nothing else between.
fn written_as_sent(head: &[u8], field: &httparse::Header<'_>) -> Option<std::ops::Range<usize>> {
    let start = offset_in(head, field.name.as_bytes())?;
    let colon = start + field.name.len();
    let value = offset_in(head, field.value)?;
    let end = value + field.value.len();
    let separated = value == colon + 2 && head.get(colon..value) == Some(b": ");
    (separated && head.get(end..end + 2) == Some(b"\r\n")).then_some(start..end + 2)
}

/// Where `part` starts in `head`, if it is a part of it.
fn offset_in(head: &[u8], part: &[u8]) -> Option<usize> {
    let at = (part.as_ptr() as usize).checked_sub(head.as_ptr() as usize)?;
    (at.checked_add(part.len())? <= head.len()).then_some(at)
}

/// Sends the answer to the client and its body after it; the upstream
/// connection goes back to `raw` when the body ended exactly where its
/// framing said. An error is the client's: its connection is over.
#[allow(clippy::too_many_arguments)]
async fn relay<S>(
    raw: &RawPool,
    mut upstream: TcpStream,
    head_length: usize,
    framing: Framing,
    scratch: &mut Scratch,
    body_idle: Duration,
    client: &mut S,
    mut access: Option<&mut Entry>,
) -> std::io::Result<After>
where
    S: AsyncWrite + Unpin,
{
    let Scratch {
        answer: out,
        upstream: read,
        ..
    } = scratch;
    read.advance(head_length);
    let mut body = Body::new(framing);
    let (first, mut done) = body.take(read);
    // Bytes past the end of the answer: the connection is not to be
    // trusted with another request.
    let mut extra = done && read.len() > first;
    out.extend_from_slice(&read[..first]);
    client.write_all(out).await?;
    let mut sent = |bytes| {
        if let Some(entry) = access.as_deref_mut() {
            entry.count(bytes);
        }
    };
    sent(first);
    while !done {
        read.clear();
        read.reserve(16 * 1024);
        match tokio::time::timeout(body_idle, upstream.read_buf(read)).await {
            Ok(Ok(0)) if framing == Framing::Close => return Ok(After::Close),
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => {
                tracing::warn!(
                    "the upstream's answer was cut off; closing the client's connection"
                );
                return Ok(After::Close);
            }
            Ok(Ok(_)) => {}
        }
        let (take, ended) = body.take(read);
        done = ended;
        extra = done && read.len() > take;
        client.write_all(&read[..take]).await?;
        sent(take);
    }
    if !body.whole() {
        return Ok(After::Close);
    }
    if !extra {
        raw.put(upstream);
    }
    Ok(After::KeepAlive)
}

/// How much of the body is still to come.
enum Body {
    Empty,
    Left(u64),
    Chunked(Chunked),
    Close,
    /// Chunked and malformed: cut off.
    Broken,
}

impl Body {
    fn new(framing: Framing) -> Body {
        match framing {
            Framing::Empty => Body::Empty,
            Framing::Length(length) => Body::Left(length),
            Framing::Chunked => Body::Chunked(Chunked::new(MAX_TRAILERS)),
            Framing::Close => Body::Close,
        }
    }

    /// Of `bytes` just read: how many belong to the body, and whether it
    /// has ended with them.
    fn take(&mut self, bytes: &[u8]) -> (usize, bool) {
        match self {
            Body::Empty => (0, true),
            Body::Left(left) => {
                let take = (*left).min(bytes.len() as u64);
                *left -= take;
                (take as usize, *left == 0)
            }
            Body::Chunked(chunked) => match chunked.scan(bytes) {
                Ok(Some(end)) => (end, true),
                Ok(None) => (bytes.len(), false),
                Err(err) => {
                    tracing::warn!(error = err.0, "upstream sent broken chunked coding");
                    *self = Body::Broken;
                    (0, true)
                }
            },
            Body::Close => (bytes.len(), false),
            Body::Broken => (0, true),
        }
    }

    /// Whether the body ended where its framing said (not cut off for
    /// broken coding).
    fn whole(&self) -> bool {
        !matches!(self, Body::Broken)
    }
}

/// An error page for a request the lane could not carry out.
#[allow(clippy::too_many_arguments)]
async fn failed<S>(
    app: &App,
    err: &Error,
    browser: Option<crate::i18n::Locale>,
    pass: LanePass<'_>,
    peer: SocketAddr,
    head_only: bool,
    scratch: &mut Scratch,
    client: &mut S,
    mut access: Option<&mut Entry>,
) -> After
where
    S: AsyncWrite + Unpin,
{
    metrics::request(RequestOutcome::UpstreamError);
    tracing::warn!(error = %err, %peer, "upstream request failed");
    let mut response = pages::error_response(app, err, browser);
    if let Some(entry) = access.as_deref_mut() {
        let id = pass.request_id.to_str().unwrap_or("");
        entry.relayed(response.status().as_u16(), id, pass.who);
    }
    let headers = response.headers_mut();
    headers.insert(crate::request_id::X_REQUEST_ID, pass.request_id);
    super::answer::send(response, head_only, &mut scratch.answer, client, access).await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The head `write_response_head` makes of `upstream`, and the head
    /// made field by field (`name: value`, CRLF) of the same fields.
    fn both(upstream: &str) -> (String, String) {
        let head = upstream.as_bytes();
        let mut storage = [httparse::EMPTY_HEADER; 16];
        let mut parsed = httparse::Response::new(&mut storage);
        assert!(parsed.parse(head).expect("a head").is_complete());
        let mut out = Vec::new();
        write_response_head(
            &mut out,
            head,
            &parsed,
            StatusCode::OK,
            Framing::Length(0),
            b"id-1",
        );
        let mut expected = String::from("HTTP/1.1 200 OK\r\n");
        for field in parsed.headers.iter() {
            let name = field.name.to_ascii_lowercase();
            if ["connection", "keep-alive", "x-hop", "x-request-id", "te"].contains(&name.as_str())
            {
                continue;
            }
            let value = String::from_utf8_lossy(field.value);
            expected.push_str(&format!("{}: {value}\r\n", field.name));
        }
        expected.push_str("x-request-id: id-1\r\n\r\n");
        (String::from_utf8(out).expect("text"), expected)
    }

    #[test]
    fn the_answers_head_is_the_same_however_the_upstream_spaced_its_lines() {
        for upstream in [
            "HTTP/1.1 200 OK\r\nDate: x\r\nContent-Length: 0\r\nETag: \"a\"\r\n\r\n",
            "HTTP/1.1 200 OK\r\nDate: x\r\nConnection: keep-alive, X-Hop\r\nX-Hop: 1\r\nA: b\r\n\r\n",
            "HTTP/1.1 200 OK\r\nDate:x\r\nA:  b\r\nB: c \r\nC:\td\r\nD: e\r\n\r\n",
            "HTTP/1.1 200 OK\nDate: x\nA: b\nB: c\n\n",
            "HTTP/1.1 200 OK\r\nDate: x\r\nE:\r\nF: \r\nG: g\r\nX-Request-Id: theirs\r\nH: h\r\n\r\n",
            "HTTP/1.1 200 OK\r\nDate: x\r\nKeep-Alive: 5\r\nTE: x\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\n",
        ] {
            let (made, expected) = both(upstream);
            assert_eq!(made, expected, "{upstream:?}");
        }
    }
}
