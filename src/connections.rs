//! Connection slots: the process-wide `limits.max_connections`, the
//! per-client `limits.max_connections_per_client`, what holds a slot (a
//! connection, then the tunnel it may become), and when a connection with
//! nothing in flight counts as idle.

use crate::net::TrustedProxies;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Refusals are logged at most this often, with a count: a client
/// hammering the cap must not flood the log.
const REFUSAL_LOG_EVERY: Duration = Duration::from_secs(10);

/// Every worker's view of the connection limits.
pub struct Slots {
    /// One permit per open connection or tunnel, shared by all workers.
    total: Arc<Semaphore>,
    /// Open connections per client key (an address; IPv6 by /64).
    per_client: Mutex<HashMap<String, usize>>,
    per_client_max: usize,
    /// Front proxies carry many people's requests over their connections,
    /// so they are not capped per client.
    exempt: TrustedProxies,
    refusals: Mutex<Refusals>,
}

/// Why a connection was turned away.
#[derive(Debug, PartialEq, Eq)]
pub struct Refused {
    pub client: String,
}

impl Slots {
    pub fn new(max: usize, per_client_max: usize, exempt: TrustedProxies) -> Arc<Slots> {
        Arc::new(Slots {
            total: Arc::new(Semaphore::new(max)),
            per_client: Mutex::new(HashMap::new()),
            per_client_max,
            exempt,
            refusals: Mutex::new(Refusals::default()),
        })
    }

    /// Waits for a free slot. The accept loop waits here with the one
    /// connection it just accepted; later ones stay in the kernel's backlog.
    pub async fn vacancy(&self) -> OwnedSemaphorePermit {
        loop {
            // The semaphore is never closed; the loop only satisfies the type.
            if let Ok(permit) = self.total.clone().acquire_owned().await {
                return permit;
            }
        }
    }

    /// Gives the connection from `peer` its slot, unless that client
    /// already holds `max_connections_per_client`.
    pub fn admit(
        self: &Arc<Self>,
        permit: OwnedSemaphorePermit,
        peer: IpAddr,
    ) -> Result<Slot, Refused> {
        let client = (!self.exempt.contains(peer)).then(|| crate::net::client_key(peer));
        if let Some(client) = &client {
            let mut counts = self.per_client.lock().unwrap_or_else(|p| p.into_inner());
            let count = counts.entry(client.clone()).or_insert(0);
            if *count >= self.per_client_max {
                return Err(Refused {
                    client: client.clone(),
                });
            }
            *count += 1;
        }
        Ok(Slot {
            _held: Arc::new(Held {
                _permit: permit,
                client,
                slots: self.clone(),
            }),
        })
    }

    /// Counts a refusal for metrics, and logs now and then.
    pub fn note(&self, refused: &Refused) {
        crate::metrics::limit_hit("connections_per_client");
        let due = self
            .refusals
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .count(Instant::now());
        if let Some(refused_since) = due {
            tracing::warn!(
                event = "connection_refused",
                client = %refused.client,
                refused = refused_since,
                limit = self.per_client_max,
                "a client holds limits.max_connections_per_client connections; its new ones are closed (logged at most every 10s)"
            );
        }
    }

    fn release(&self, client: &str) {
        let mut counts = self.per_client.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(count) = counts.get_mut(client) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                counts.remove(client);
            }
        }
    }
}

/// One connection's place in both limits. Clones share it: a connection
/// lends it to the tunnel it becomes, and the place frees when the last
/// holder ends.
#[derive(Clone)]
pub struct Slot {
    _held: Arc<Held>,
}

struct Held {
    _permit: OwnedSemaphorePermit,
    /// The client key counted, `None` for an exempt proxy.
    client: Option<String>,
    slots: Arc<Slots>,
}

impl Drop for Held {
    fn drop(&mut self) {
        if let Some(client) = &self.client {
            self.slots.release(client);
        }
    }
}

/// Refusals since the last log line, and when the next may be written.
#[derive(Default)]
struct Refusals {
    unlogged: u64,
    next_log: Option<Instant>,
}

impl Refusals {
    /// Counts one at `now`; when a line is due, how many it reports.
    fn count(&mut self, now: Instant) -> Option<u64> {
        self.unlogged += 1;
        if self.next_log.is_some_and(|next| now < next) {
            return None;
        }
        self.next_log = Some(now + REFUSAL_LOG_EVERY);
        Some(std::mem::take(&mut self.unlogged))
    }
}

/// How many requests one connection has in flight: from the service call
/// to the end of the response body. A connection with none is idle —
/// whatever bytes (HTTP/2 pings, settings, half a request head) it sends.
#[derive(Clone, Default)]
pub struct Activity(Arc<Counted>);

/// What [`Activity`] counts: plain atomics, so a request costs two atomic
/// steps and a clock read, and the idle watch wakes only at its deadlines.
struct Counted {
    in_flight: AtomicUsize,
    /// When the last request ended (or the connection began), as
    /// nanoseconds after `since`.
    last_end: AtomicU64,
    since: tokio::time::Instant,
}

impl Default for Counted {
    fn default() -> Self {
        Counted {
            in_flight: AtomicUsize::new(0),
            last_end: AtomicU64::new(0),
            since: tokio::time::Instant::now(),
        }
    }
}

impl Counted {
    fn now(&self) -> u64 {
        let elapsed = tokio::time::Instant::now().saturating_duration_since(self.since);
        u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX)
    }
}

/// One request in flight; dropping it ends the request.
pub struct Busy(Arc<Counted>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.last_end.fetch_max(self.0.now(), Ordering::Relaxed);
        self.0.in_flight.fetch_sub(1, Ordering::Release);
    }
}

impl Activity {
    pub fn busy(&self) -> Busy {
        self.0.in_flight.fetch_add(1, Ordering::Acquire);
        Busy(self.0.clone())
    }

    /// Resolves once nothing has been in flight for `timeout` straight.
    /// It looks at the counts only at its deadlines: a busy connection is
    /// looked at again `timeout` later, an idle one at `timeout` after its
    /// last request ended.
    pub async fn idle(&self, timeout: Duration) {
        let counted = &self.0;
        loop {
            let look_again = if counted.in_flight.load(Ordering::Acquire) > 0 {
                tokio::time::Instant::now() + timeout
            } else {
                let last_end = Duration::from_nanos(counted.last_end.load(Ordering::Relaxed));
                let deadline = counted.since + last_end + timeout;
                if tokio::time::Instant::now() >= deadline {
                    return;
                }
                deadline
            };
            tokio::time::sleep_until(look_again).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slots(max: usize, per_client: usize, exempt: &[&str]) -> Arc<Slots> {
        let exempt = TrustedProxies::new(exempt.iter().map(|n| n.parse().unwrap()).collect());
        Slots::new(max, per_client, exempt)
    }

    fn take(slots: &Arc<Slots>, peer: &str) -> Result<Slot, Refused> {
        let permit = slots
            .total
            .clone()
            .try_acquire_owned()
            .expect("a free slot");
        slots.admit(permit, peer.parse().unwrap())
    }

    #[test]
    fn a_client_at_its_cap_is_refused_while_another_client_gets_in() {
        let slots = slots(10, 2, &[]);
        let held = [
            take(&slots, "192.0.2.1").unwrap(),
            take(&slots, "192.0.2.1").unwrap(),
        ];
        assert_eq!(
            take(&slots, "192.0.2.1").err(),
            Some(Refused {
                client: "192.0.2.1".into()
            })
        );
        // A refused connection gives its global slot straight back.
        assert_eq!(slots.total.available_permits(), 8);
        assert!(take(&slots, "192.0.2.2").is_ok());
        drop(held);
        assert!(take(&slots, "192.0.2.1").is_ok());
    }

    #[test]
    fn one_ipv6_slash_64_counts_as_one_client_and_mapped_v4_as_its_v4() {
        let slots = slots(10, 1, &[]);
        let _held = take(&slots, "2001:db8:1:2::1").unwrap();
        assert!(take(&slots, "2001:db8:1:2:ffff::9").is_err());
        assert!(take(&slots, "2001:db8:1:3::1").is_ok());
        let _v4 = take(&slots, "192.0.2.7").unwrap();
        assert!(take(&slots, "::ffff:192.0.2.7").is_err());
    }

    #[test]
    fn a_trusted_proxy_is_not_capped_per_client() {
        let slots = slots(10, 1, &["10.0.0.0/8"]);
        let held: Vec<_> = (0..5).map(|_| take(&slots, "10.1.2.3").unwrap()).collect();
        assert_eq!(held.len(), 5);
    }

    #[test]
    fn a_slot_lent_to_a_tunnel_frees_when_the_last_holder_ends() {
        let slots = slots(10, 1, &[]);
        let connection = take(&slots, "192.0.2.1").unwrap();
        let tunnel = connection.clone();
        drop(connection);
        assert!(take(&slots, "192.0.2.1").is_err());
        assert_eq!(slots.total.available_permits(), 9);
        drop(tunnel);
        assert_eq!(slots.total.available_permits(), 10);
        assert!(take(&slots, "192.0.2.1").is_ok());
    }

    #[test]
    fn refusals_are_logged_at_most_every_ten_seconds_with_a_count() {
        let mut refusals = Refusals::default();
        let start = Instant::now();
        assert_eq!(refusals.count(start), Some(1));
        for _ in 0..99 {
            assert_eq!(refusals.count(start + Duration::from_secs(1)), None);
        }
        assert_eq!(refusals.count(start + REFUSAL_LOG_EVERY), Some(100));
        assert_eq!(refusals.count(start + REFUSAL_LOG_EVERY), None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_connection_is_idle_only_after_the_timeout_with_nothing_in_flight() {
        let activity = Activity::default();
        let timeout = Duration::from_secs(10);
        let busy = activity.busy();
        // In flight far past the timeout: never idle.
        assert!(
            tokio::time::timeout(Duration::from_secs(60), activity.idle(timeout))
                .await
                .is_err()
        );
        drop(busy);
        let started = tokio::time::Instant::now();
        activity.idle(timeout).await;
        assert!(started.elapsed() >= timeout);
    }
}
