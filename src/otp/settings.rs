//! What the config says about the second-factor channels and codes.

use super::Channel;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct ChannelSettings {
    pub channel: Channel,
    /// The provider first, then its fallbacks, each at most once.
    pub providers: Vec<String>,
    /// Codes this channel may send in any 24 hours, across all users: a
    /// ceiling on the bill. `None`: no ceiling.
    pub max_per_day: Option<u32>,
}

/// `codes:`: the codes doorman makes itself.
#[derive(Debug, Clone)]
pub struct CodeSettings {
    pub length: u32,
    pub lifetime: Duration,
    pub max_attempts: u32,
    pub resend_cooldown: Duration,
}
