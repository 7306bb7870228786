//! What the HTTP providers share: a client with a timeout, one way to send,
//! and the default reading of statuses a provider does not document.

use super::ProviderError;
use bytes::Bytes;
use serde::de::DeserializeOwned;
use std::time::Duration;

/// A client for one provider: its timeout, no redirects (a provider that
/// redirects is misconfigured, and credentials must not follow).
pub fn client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_default()
}

/// Where an HTTP provider is reached (`base_url`) and how long it may take
/// to answer (`timeout`): the two keys every HTTP provider's block has.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub base_url: reqwest::Url,
    pub timeout: Duration,
}

impl Endpoint {
    /// `path` under the base URL, whether or not that ends in `/`.
    pub fn url(&self, path: &str) -> String {
        let base = self.base_url.as_str().trim_end_matches('/');
        format!("{base}{path}")
    }

    /// A client with this endpoint's timeout.
    pub fn client(&self) -> reqwest::Client {
        client(self.timeout)
    }
}

/// A provider's answer, read whole (they are small JSON documents).
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub retry_after: Option<Duration>,
    pub body: Bytes,
}

impl Answer {
    /// An answer as a provider would give it, for unit tests of error mapping.
    #[cfg(test)]
    pub fn canned(status: u16, body: &str) -> Answer {
        Answer {
            status,
            retry_after: None,
            body: Bytes::from(body.to_owned()),
        }
    }

    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    pub fn json<T: DeserializeOwned>(&self) -> Option<T> {
        serde_json::from_slice(&self.body).ok()
    }

    /// The body of a 2xx answer as `T`; a body that does not read is not
    /// the provider's answer, so it is `Unavailable` with `what`.
    pub fn body<T: DeserializeOwned>(&self, what: &str) -> Result<T, ProviderError> {
        self.json()
            .ok_or_else(|| ProviderError::Unavailable(what.to_owned()))
    }

    /// The answer to a cancel: done, or already gone (404), is success;
    /// anything else reads through the provider's `error`.
    pub fn cancelled(&self, error: fn(&Answer) -> ProviderError) -> Result<(), ProviderError> {
        match self.status {
            200..=299 | 404 => Ok(()),
            _ => Err(error(self)),
        }
    }

    /// The id a 2xx answer's body must carry (`id` takes it out of `T`); an
    /// error status reads through the provider's `error`. A 2xx without an
    /// id is not the provider's answer (a proxy's, perhaps): what was asked
    /// may not have happened, so it is `Unavailable` with `missing`.
    pub fn id<T: DeserializeOwned>(
        &self,
        error: fn(&Answer) -> ProviderError,
        id: impl FnOnce(T) -> String,
        missing: &str,
    ) -> Result<String, ProviderError> {
        if !self.is_success() {
            return Err(error(self));
        }
        match self.json::<T>().map(id) {
            Some(id) if !id.is_empty() => Ok(id),
            _ => Err(ProviderError::Unavailable(missing.to_owned())),
        }
    }
}

/// Runs an error-mapping table: each `(status, body, variant)` answer,
/// read by `read`, must be the [`ProviderError`] variant named.
#[cfg(test)]
pub fn assert_errors<B: AsRef<str>>(
    read: impl Fn(&Answer) -> ProviderError,
    cases: impl IntoIterator<Item = (u16, B, &'static str)>,
) {
    for (status, body, expected) in cases {
        let body = body.as_ref();
        let got = format!("{:?}", read(&Answer::canned(status, body)));
        assert!(got.starts_with(expected), "{status} {body}: {got}");
    }
}

/// Sends `request`; transport failures and timeouts are `Unavailable`.
pub async fn send(request: reqwest::RequestBuilder) -> Result<Answer, ProviderError> {
    let response = request.send().await.map_err(|err| {
        if err.is_timeout() {
            ProviderError::Unavailable("no answer in time".into())
        } else {
            // Without the URL: a query string could carry credentials.
            ProviderError::Unavailable(err.without_url().to_string())
        }
    })?;
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get(http::header::RETRY_AFTER)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let body = response
        .bytes()
        .await
        .map_err(|err| ProviderError::Unavailable(err.without_url().to_string()))?;
    Ok(Answer {
        status,
        retry_after,
        body,
    })
}

/// The usual meaning of an error status, for answers a provider's own
/// mapping does not single out.
pub fn by_status(answer: &Answer, detail: impl Into<String>) -> ProviderError {
    let detail = detail.into();
    match answer.status {
        402 => ProviderError::LowBalance,
        429 => ProviderError::Throttled {
            retry_after: answer.retry_after,
        },
        500..=599 => ProviderError::Unavailable(format!("HTTP {}: {detail}", answer.status)),
        status => ProviderError::Refused(format!("HTTP {status}: {detail}")),
    }
}

/// A provider's own error text, fit for the log: every figure of four or
/// more digits is blanked, because some providers quote the number (Twilio's
/// 21211: "The 'To' number +1415… is not a valid phone number") and a log
/// must never hold a number or a code. A figure runs on through the
/// separators numbers are written with, so `(415) 555-0100` goes whole.
pub fn scrub(text: &str) -> String {
    let mut scrubbed = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(|c: char| c.is_ascii_digit()) {
        let (before, from) = rest.split_at(start);
        let (mut end, mut digits) = (0, 0);
        for (i, c) in from.char_indices() {
            if c.is_ascii_digit() {
                digits += 1;
                end = i + 1;
            } else if !matches!(c, ' ' | '-' | '.' | '(' | ')') {
                break;
            }
        }
        let (figure, after) = from.split_at(end);
        scrubbed.push_str(before);
        scrubbed.push_str(if digits >= 4 { "…" } else { figure });
        rest = after;
    }
    scrubbed.push_str(rest);
    scrubbed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrubbing_blanks_numbers_and_codes_however_written_but_keeps_short_figures() {
        assert_eq!(
            scrub("The 'To' number +14155550100 is not a valid phone number."),
            "The 'To' number +… is not a valid phone number."
        );
        assert_eq!(scrub("code 123456 for 3 tries"), "code … for 3 tries");
        assert_eq!(scrub("call (415) 555-0100 now"), "call (… now");
        assert_eq!(scrub("code 123 456"), "code …");
        assert_eq!(scrub("HTTP 503 after 2 tries."), "HTTP 503 after 2 tries.");
    }
}
