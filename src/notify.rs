//! Account notices: an authenticator added, replaced or removed is written
//! to the audit trail and, when a webhook provider is configured, POSTed
//! to it as signed JSON with an `event` field (never a secret or a code).

use crate::audit::Record;
use crate::App;
use serde::Serialize;
use std::net::IpAddr;
use std::time::{Duration, UNIX_EPOCH};

/// What happened to whose authenticator, and how.
#[derive(Debug, Clone, Serialize)]
pub struct Notice {
    /// `totp_enrolled`, `totp_replaced` or `totp_removed`.
    pub event: &'static str,
    pub user: String,
    /// `page` (the enrollment page) or `users_file` (a reload found it so).
    pub source: &'static str,
    /// The browser's address, for changes made on the page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client: Option<IpAddr>,
    /// RFC 3339, UTC.
    pub at: String,
}

impl Notice {
    pub fn new(
        event: &'static str,
        user: &str,
        source: &'static str,
        client: Option<IpAddr>,
        now: u64,
    ) -> Notice {
        Notice {
            event,
            user: user.to_owned(),
            source,
            client,
            at: humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(now))
                .to_string(),
        }
    }

    /// The audit line, with `reason` naming the source.
    pub fn audit(&self, app: &App, now: u64, user_agent: Option<&str>) {
        app.audit.event(
            now,
            self.event,
            Record {
                user: Some(&self.user),
                client: self.client,
                user_agent,
                reason: Some(self.source),
                ..Record::default()
            },
        );
        tracing::info!(event = self.event, user = %self.user, source = self.source, "authenticator changed");
    }

    /// Tells the webhook, if one is configured; a failure is logged (the
    /// change itself stands: it is already in the users file).
    pub async fn send(self, app: &App) {
        if let Some(webhook) = app.providers.webhook() {
            deliver(&webhook, &self).await;
        }
    }

    /// As [`Notice::send`], in the background (for callers that cannot
    /// wait, such as a reload).
    pub fn send_later(self, app: &App) {
        let Some(webhook) = app.providers.webhook() else {
            return;
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move { deliver(&webhook, &self).await });
            }
            Err(_) => tracing::warn!(
                event = self.event,
                user = %self.user,
                "no runtime to send the account notice to the webhook"
            ),
        }
    }
}

async fn deliver(webhook: &crate::otp::providers::WebhookProvider, notice: &Notice) {
    if let Err(err) = webhook.notify(notice).await {
        tracing::warn!(event = notice.event, user = %notice.user, error = %err, "the webhook did not take an account notice");
    }
}
