//! limits' keyspaces in the [`Store`]: failure and event logs, and cooldowns.

use super::{EventLog, FailureLog};
use crate::store::{Store, StoreResult, SLACK};
use std::time::Duration;

/// Failure and event logs: an entry idle for a day holds nothing any limit
/// still reads.
const COUNTER_TTL: Duration = Duration::from_secs(25 * 3600);

impl Store {
    /// The failure log under `key` (empty when there is none).
    pub async fn failures(&self, key: &str) -> StoreResult<FailureLog> {
        Ok(self
            .read(&format!("failures:{key}"))
            .await?
            .unwrap_or_default())
    }

    /// Runs `change` on the failure log under `key` (created empty).
    pub async fn update_failures<R>(
        &self,
        key: &str,
        mut change: impl FnMut(&mut FailureLog) -> R,
    ) -> StoreResult<R> {
        self.update(&format!("failures:{key}"), COUNTER_TTL, |value| {
            change(value.get_or_insert_with(FailureLog::default))
        })
        .await
    }

    /// Runs `change` on the event log under `key` (created empty).
    pub async fn update_events<R>(
        &self,
        key: &str,
        mut change: impl FnMut(&mut EventLog) -> R,
    ) -> StoreResult<R> {
        self.update(&format!("events:{key}"), COUNTER_TTL, |value| {
            change(value.get_or_insert_with(EventLog::default))
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
