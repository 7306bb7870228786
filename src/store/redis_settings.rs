//! How to reach Redis or Valkey: the `store.*` settings of the Redis
//! backend, and the URL check `check-config` runs.

use redis::IntoConnectionInfo;
use std::time::Duration;

/// How to reach Redis.
#[derive(Debug, Clone)]
pub struct RedisSettings {
    /// `redis://` or `rediss://` (TLS): the server, or with `sentinel` the
    /// database and TLS to use on whichever server is master (its host is
    /// not used).
    pub url: String,
    /// Ask these Sentinels which server is master, again after a failover.
    pub sentinel: Option<SentinelSettings>,
    pub password: Option<crate::secret::Secret>,
    /// Prepended to every key, so several deployments can share a server.
    pub key_prefix: String,
    /// Multiplexed connections commands are spread over.
    pub pool_size: usize,
    pub connect_timeout: Duration,
    pub command_timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct SentinelSettings {
    /// The name the Sentinels monitor the master under.
    pub master_name: String,
    /// `redis://host:26379` of each Sentinel.
    pub nodes: Vec<String>,
}

/// Checks that the URL can be used, for `check-config`.
pub fn check_url(url: &str) -> Result<(), String> {
    url.into_connection_info()
        .map(|_| ())
        .map_err(|err| err.to_string())
}
