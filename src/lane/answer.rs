//! doorman's own answers on the lane — a forward-auth decision, an error
//! page — written as hyper writes them: the status line with its canonical
//! reason, the headers, `content-length`, `date`, and the body unless the
//! request was a `HEAD`.

use super::exchange::After;
use crate::access_log::Entry;
use bytes::Bytes;
use http::Response;
use http_body_util::BodyExt;
use std::cell::Cell;
use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncWrite, AsyncWriteExt};

/// Sends `response`, whose body is already whole, to the client.
pub async fn send<S, B>(
    response: Response<B>,
    head_only: bool,
    out: &mut Vec<u8>,
    client: &mut S,
    access: Option<&mut Entry>,
) -> After
where
    S: AsyncWrite + Unpin,
    B: hyper::body::Body<Data = Bytes>,
{
    let (parts, body) = response.into_parts();
    // Whole already: collecting it only takes it out.
    let body = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => Bytes::new(),
    };
    out.clear();
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(parts.status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(parts.status.canonical_reason().unwrap_or("").as_bytes());
    out.extend_from_slice(b"\r\n");
    for (name, value) in &parts.headers {
        if name == http::header::CONTENT_LENGTH || name == http::header::DATE {
            continue;
        }
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    let _ = write!(out, "content-length: {}\r\n", body.len());
    date(out);
    out.extend_from_slice(b"\r\n");
    if !head_only {
        out.extend_from_slice(&body);
    }
    match client.write_all(out).await {
        Ok(()) => {
            if let (Some(entry), false) = (access, head_only) {
                entry.count(body.len());
            }
            After::KeepAlive
        }
        Err(_) => After::Close,
    }
}

/// Appends `date: <IMF-fixdate>\r\n` for now, formatted once a second
/// per thread, as hyper caches it.
pub fn date(out: &mut Vec<u8>) {
    const LENGTH: usize = "Thu, 01 Jan 1970 00:00:00 GMT".len();
    thread_local! {
        static CACHED: Cell<(u64, [u8; LENGTH])> = const { Cell::new((u64::MAX, [0; LENGTH])) };
    }
    let now = SystemTime::now();
    let second = now
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    let text = CACHED.with(|cached| {
        let (at, mut text) = cached.get();
        if at != second {
            // Always exactly LENGTH bytes (years 1970–9999).
            let _ = write!(&mut text[..], "{}", httpdate::HttpDate::from(now));
            cached.set((second, text));
        }
        text
    });
    out.extend_from_slice(b"date: ");
    out.extend_from_slice(&text);
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_date_is_an_imf_fixdate_of_now() {
        let mut out = Vec::new();
        date(&mut out);
        let text = std::str::from_utf8(&out).expect("ascii");
        let value = text
            .strip_prefix("date: ")
            .and_then(|rest| rest.strip_suffix("\r\n"))
            .expect("one date line");
        let parsed = httpdate::parse_http_date(value).expect("an HTTP date");
        let apart = SystemTime::now().duration_since(parsed).unwrap_or_default();
        assert!(apart.as_secs() < 5, "{value}");
        assert!(value.ends_with(" GMT"), "{value}");
    }
}
