//! The `log` provider: writes codes to doorman's log, for demos and trials.

use super::registry::{Block, Context, ProviderConfig};
use super::{BoxFuture, CodeMessage, Delivery, ProviderError, Providers};
use serde::Deserialize;

/// `providers.log: {}`: nothing to set.
#[derive(Debug, Clone)]
pub struct LogSettings;

/// `providers.log` as written: an empty block.
#[derive(Debug, Default, Deserialize)]
pub struct RawLog {}

impl ProviderConfig for LogSettings {
    type Raw = RawLog;

    fn read(_raw: RawLog, _block: &mut Block<'_>, _context: &Context) -> Option<Self> {
        Some(LogSettings)
    }

    fn build(&self, providers: &mut Providers) {
        tracing::warn!(
            "the `log` provider is configured: one-time codes are written to this log. \
             Use it only for trials, never in production"
        );
        providers.add_message(LogProvider);
    }
}

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
