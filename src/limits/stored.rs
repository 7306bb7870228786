//! limits' keyspaces in the [`Store`]: failure and event logs, and cooldowns.

use super::{EventLog, FailureLog};
use crate::store::{Store, StoreResult, SLACK};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::time::Duration;

/// Failure and event logs: an entry idle for a day holds nothing any limit
/// still reads.
const COUNTER_TTL: Duration = Duration::from_secs(25 * 3600);

/// A kind of log a limit keeps, and the keyspace it lives in.
pub trait Log: Default + Serialize + DeserializeOwned {
    const KEYSPACE: &'static str;
}

impl Log for FailureLog {
    const KEYSPACE: &'static str = "failures";
}

impl Log for EventLog {
    const KEYSPACE: &'static str = "events";
}

impl Store {
    /// The failure log under `key` (empty when there is none).
    pub async fn failures(&self, key: &str) -> StoreResult<FailureLog> {
        Ok(self
            .read(&format!("failures:{key}"))
            .await?
            .unwrap_or_default())
    }

    /// Runs `change` on the log of its kind under `key` (created empty).
    pub async fn update_log<L: Log, R>(
        &self,
        key: &str,
        mut change: impl FnMut(&mut L) -> R,
    ) -> StoreResult<R> {
        self.update(&format!("{}:{key}", L::KEYSPACE), COUNTER_TTL, |value| {
            change(value.get_or_insert_with(L::default))
        })
        .await
    }

    /// Starts `cooldown` under `key` unless one is running; when it ends,
    /// if one is. One step, so of two at once one starts it.
    pub async fn take_cooldown(
        &self,
        key: &str,
        cooldown: Duration,
        now: u64,
    ) -> StoreResult<Result<(), u64>> {
        let ends = |at: u64| at.saturating_add(cooldown.as_secs());
        self.update(
            &format!("cooldown:{key}"),
            cooldown + SLACK,
            |last: &mut Option<u64>| match *last {
                Some(at) if ends(at) > now => Err(ends(at)),
                _ => {
                    *last = Some(now);
                    Ok(())
                }
            },
        )
        .await
    }
}
