//! The `log` provider: writes codes to doorman's log, for demos and trials.

use super::{BoxFuture, CodeMessage, Delivery, ProviderError};

pub struct LogProvider;

impl Delivery for LogProvider {
    fn name(&self) -> &'static str {
        "log"
    }

    fn deliver<'a>(&'a self, message: &'a CodeMessage) -> BoxFuture<'a, Result<(), ProviderError>> {
        Box::pin(async move {
            // The one place a code is logged, on purpose: this provider exists
            // so a person can read it here.
            tracing::warn!(
                target: "doorman::code",
                user = %message.user,
                channel = message.channel.name(),
                to = %message.to,
                "one-time code {} (log provider)",
                message.code
            );
            Ok(())
        })
    }
}
