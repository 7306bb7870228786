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

/// A provider's answer, read whole (they are small JSON documents).
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub retry_after: Option<Duration>,
    pub body: Bytes,
}

impl Answer {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    pub fn json<T: DeserializeOwned>(&self) -> Option<T> {
        serde_json::from_slice(&self.body).ok()
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
