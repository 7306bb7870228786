//! Every request's id (`X-Request-Id`): the one a trusted front proxy
//! sent, when it is short and tidy, or a fresh one — a per-process
//! random prefix and a counter, so making one costs a format, not a
//! random draw. It goes to the app, back on the response, and into the
//! access log and the audit events of that request.

use bytes::{Bytes, BytesMut};
use http::header::HeaderName;
use http::{HeaderMap, HeaderValue};
use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};

/// `X-Request-Id`.
pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The longest id taken from a front proxy.
pub const MAX_LEN: usize = 128;

/// The ids this process hands out: `<prefix>-<counter in hex>`.
#[derive(Debug)]
pub struct RequestIds {
    prefix: [u8; 12],
    counter: AtomicU64,
}

impl Default for RequestIds {
    fn default() -> Self {
        RequestIds::new()
    }
}

impl RequestIds {
    /// A fresh random prefix: two processes (replicas) do not share ids.
    pub fn new() -> RequestIds {
        let mut prefix = [0u8; 12];
        prefix.copy_from_slice(&crate::crypto::random_hex(6).as_bytes()[..12]);
        RequestIds {
            prefix,
            counter: AtomicU64::new(0),
        }
    }

    /// The next id.
    pub fn next(&self) -> HeaderValue {
        let count = self.counter.fetch_add(1, Ordering::Relaxed);
        let mut buffer = [0u8; 12 + 1 + 16];
        buffer[..12].copy_from_slice(&self.prefix);
        buffer[12] = b'-';
        // The counter in lower-case hex, without leading zeros.
        let digits = (u64::BITS - count.leading_zeros()).div_ceil(4).max(1) as usize;
        for (at, slot) in buffer[13..13 + digits].iter_mut().enumerate() {
            let nibble = (count >> (4 * (digits - 1 - at))) & 0xf;
            *slot = b"0123456789abcdef"[nibble as usize];
        }
        // Hex digits and a dash: always a valid header value.
        HeaderValue::from_maybe_shared(carve(&buffer[..13 + digits]))
            .unwrap_or_else(|_| HeaderValue::from_static("doorman"))
    }

    /// The request's id, put into `headers` (replacing what the client
    /// sent): the sender's own when `trusted`, sent once and
    /// [`acceptable`], else a fresh one. Returns it for the response.
    pub fn assign(&self, headers: &mut HeaderMap, trusted: bool) -> HeaderValue {
        let id = self.choose(headers, trusted);
        headers.insert(X_REQUEST_ID, id.clone());
        id
    }

    /// The id [`RequestIds::assign`] gives a request with these headers,
    /// without putting it there (the HTTP/1 lane writes it out itself).
    pub fn choose(&self, headers: &HeaderMap, trusted: bool) -> HeaderValue {
        // Two ids are no id: which one the proxy meant is anybody's guess.
        let mut sent = headers.get_all(&X_REQUEST_ID).iter();
        let sent = match (sent.next(), sent.next()) {
            (Some(value), None) => Some(value).filter(|value| trusted && acceptable(value)),
            _ => None,
        };
        match sent {
            Some(value) => value.clone(),
            None => self.next(),
        }
    }
}

/// `id` copied into this thread's slab of ids: one allocation for a few
/// hundred of them, and an id (sent to the app, on the response, in the
/// log) is shared by counting, not copied. A slab is freed when the last
/// id in it is.
fn carve(id: &[u8]) -> Bytes {
    const SLAB: usize = 4096;
    thread_local! {
        static IDS: RefCell<BytesMut> = RefCell::new(BytesMut::new());
    }
    IDS.with_borrow_mut(|slab| {
        if slab.capacity() < id.len() {
            *slab = BytesMut::with_capacity(SLAB);
        }
        slab.extend_from_slice(id);
        slab.split().freeze()
    })
}

/// 1 to [`MAX_LEN`] ASCII letters, digits and `-._~:+/=@` — what UUIDs,
/// hex, base64 and the usual trace ids are made of; nothing that quotes,
/// escapes, separates a list or ends a field in a log of any format.
pub fn acceptable(value: &HeaderValue) -> bool {
    let bytes = value.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= MAX_LEN
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~:+/=@".contains(b))
}

/// The request id in `headers` (doorman put it there), as text.
pub fn of(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(&X_REQUEST_ID)
        .and_then(|value| value.to_str().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_ids_share_a_prefix_and_differ() {
        let ids = RequestIds::new();
        let (a, b) = (ids.next(), ids.next());
        assert_ne!(a, b);
        let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
        assert_eq!(a.len(), 14);
        assert_eq!(a[..13], b[..13]);
        assert!(a.ends_with("-0") && b.ends_with("-1"));
        assert_ne!(RequestIds::new().next().to_str().unwrap(), a);
    }

    #[test]
    fn the_counter_is_written_in_hex_without_leading_zeros() {
        let ids = RequestIds::new();
        for count in [
            0,
            1,
            9,
            10,
            15,
            16,
            255,
            256,
            0xabcdef,
            1 << 32,
            u64::MAX - 1,
            u64::MAX,
        ] {
            ids.counter.store(count, Ordering::Relaxed);
            let id = ids.next();
            let (prefix, hex) = id.to_str().unwrap().split_at(13);
            assert_eq!(prefix.as_bytes(), [&ids.prefix[..], b"-"].concat());
            assert_eq!(hex, format!("{count:x}"));
        }
    }

    #[test]
    fn only_a_trusted_short_tidy_id_is_kept() {
        let ids = RequestIds::new();
        let long = "a".repeat(MAX_LEN + 1);
        let max = "b".repeat(MAX_LEN);
        let cases = [
            ("abc-123", true, true),
            ("abc-123", false, false),
            (max.as_str(), true, true),
            (long.as_str(), true, false),
            ("has space", true, false),
            ("tab\there", true, false),
            ("0f1e2d3c-aaaa-4bbb-8ccc-0123456789ab", true, true),
            ("b64+/=_~.:@id", true, true),
        ];
        // Visible, but what quotes, escapes or separates in some log.
        let refused = [
            "quote\"d",
            "back\\slash",
            "{brace}",
            "list,of",
            "semi;colon",
            "<tag>",
            "per%cent",
            "ba`ck",
            "it's",
        ];
        let refused = refused.iter().map(|sent| (*sent, true, false));
        for (sent, trusted, kept) in cases.into_iter().chain(refused) {
            let mut headers = HeaderMap::new();
            headers.insert(X_REQUEST_ID, HeaderValue::from_str(sent).unwrap());
            let id = ids.assign(&mut headers, trusted);
            assert_eq!(id == sent, kept, "{sent} {trusted}");
            assert_eq!(headers.get_all(&X_REQUEST_ID).iter().count(), 1);
            assert_eq!(headers.get(&X_REQUEST_ID), Some(&id));
        }
        let mut garbled = HeaderMap::new();
        garbled.insert(
            X_REQUEST_ID,
            HeaderValue::from_bytes(b"caf\xc3\xa9").unwrap(),
        );
        assert_ne!(ids.assign(&mut garbled, true).as_bytes(), b"caf\xc3\xa9");
        // Sent twice, even by a trusted proxy and each tidy: neither is kept.
        let mut twice = HeaderMap::new();
        twice.append(X_REQUEST_ID, HeaderValue::from_static("first"));
        twice.append(X_REQUEST_ID, HeaderValue::from_static("second"));
        let id = ids.assign(&mut twice, true);
        assert!(id != "first" && id != "second", "{id:?}");
        assert_eq!(
            twice.get_all(&X_REQUEST_ID).iter().collect::<Vec<_>>(),
            [&id]
        );
    }
}
