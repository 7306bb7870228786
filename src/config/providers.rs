//! `providers:`: each block is read by its provider's catalog row into
//! that provider's own settings, then given its start-up check.

use super::raw::RawProviders;
use super::Problems;
use crate::otp::providers::registry::{self, Block, Context};
use crate::otp::providers::{ProviderSettings, WebhookSettings};

pub(super) fn providers(
    raw: &RawProviders,
    app_name: &str,
    problems: &mut Problems,
) -> ProviderSettings {
    let context = Context {
        app_name: app_name.to_owned(),
    };
    let mut settings = ProviderSettings::default();
    for (name, value) in &raw.0 .0 {
        let path = format!("providers.{name}");
        let Some(entry) = registry::find(name) else {
            problems.push(&path, "unknown key");
            continue;
        };
        // `log:` with nothing after it: as if the block were absent.
        if value.is_null() {
            continue;
        }
        let Some(configured) = (entry.read)(value, &mut Block::new(&path, problems), &context)
        else {
            continue;
        };
        if let Err(message) = configured.startup_check() {
            problems.push(&path, message);
            continue;
        }
        if let Some(webhook) = configured.as_any().downcast_ref::<WebhookSettings>() {
            settings.webhook = Some(webhook.clone());
        }
        settings.configured.push((entry.name, configured));
    }
    settings
}
