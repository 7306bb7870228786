//! doorman's one error type, and how each error reaches a client.

use http::StatusCode;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("malformed {0}")]
    BadRequest(&'static str),
    #[error("request body over the limit")]
    TooLarge,
    #[error("the request body stopped arriving")]
    BodyTimeout,
    #[error("missing or invalid CSRF token")]
    Csrf,
    #[error("no such page")]
    NotFound,
    #[error("{0}")]
    Unavailable(#[from] crate::store::Unavailable),
    #[error("cannot start: {0}")]
    Startup(String),
    #[error("denied by an access rule")]
    Forbidden,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("upstream unreachable: {0}")]
    Upstream(String),
    #[error("upstream did not answer in time")]
    UpstreamTimeout,
    #[error("template: {0:#}")]
    Template(#[from] minijinja::Error),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("TLS: {0}")]
    Tls(String),
}

impl Error {
    /// The one mapping from error to HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            Error::BadRequest(_) => StatusCode::BAD_REQUEST,
            Error::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Error::BodyTimeout => StatusCode::REQUEST_TIMEOUT,
            Error::Csrf => StatusCode::FORBIDDEN,
            Error::NotFound => StatusCode::NOT_FOUND,
            Error::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Error::Startup(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Error::Forbidden => StatusCode::FORBIDDEN,
            Error::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Error::Upstream(_) => StatusCode::BAD_GATEWAY,
            Error::UpstreamTimeout => StatusCode::GATEWAY_TIMEOUT,
            Error::Template(_) | Error::Bind { .. } | Error::Tls(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }

    /// What a person may read; internal detail stays in the log.
    pub fn public_message(&self) -> &'static str {
        match self {
            Error::BadRequest(_) => "The request could not be understood.",
            Error::TooLarge => "The request was too large.",
            Error::BodyTimeout => "The request took too long to arrive. Try again.",
            Error::Csrf => "The form expired or did not come from this site. Go back, reload the page and try again.",
            Error::NotFound => "There is no such page.",
            Error::Unavailable(_) => "Sign-in is temporarily unavailable. Try again in a minute.",
            Error::Startup(_) => "Something went wrong on our side.",
            Error::Forbidden => "You do not have access to this page.",
            Error::MethodNotAllowed => "This page does not accept that kind of request.",
            Error::Upstream(_) => "The application is not reachable right now. Try again in a moment.",
            Error::UpstreamTimeout => "The application did not answer in time. Try again in a moment.",
            Error::Template(_) | Error::Bind { .. } | Error::Tls(_) => "Something went wrong on our side.",
        }
    }

    /// A short machine-readable name for JSON answers.
    pub fn code(&self) -> &'static str {
        match self {
            Error::BadRequest(_) => "bad_request",
            Error::TooLarge => "too_large",
            Error::BodyTimeout => "request_timeout",
            Error::Csrf => "csrf",
            Error::NotFound => "not_found",
            Error::Unavailable(_) => "temporarily_unavailable",
            Error::Startup(_) => "internal",
            Error::Forbidden => "forbidden",
            Error::MethodNotAllowed => "method_not_allowed",
            Error::Upstream(_) => "upstream_unavailable",
            Error::UpstreamTimeout => "upstream_timeout",
            Error::Template(_) | Error::Bind { .. } | Error::Tls(_) => "internal",
        }
    }
}

/// An error and its causes, on one line (for logs).
pub fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
