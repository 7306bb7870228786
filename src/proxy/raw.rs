//! A worker's idle plain TCP connections to a plain-HTTP upstream, for the
//! HTTP/1 lane ([`crate::lane`]), which speaks HTTP/1.1 on them itself.
//! A connection is put back only after its response was read whole with
//! nothing after it; the most recently used is taken first; one idle for
//! [`IDLE_TIMEOUT`] is closed instead of used.

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;

/// Idle connections a worker keeps; past this, one put back is closed.
const MAX_IDLE: usize = 256;

/// Unused this long, a connection is closed (nginx's own keep-alive
/// timeout is 75 s: doorman gives up first as a rule, and retries once
/// when it did not).
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

pub struct RawPool {
    address: String,
    connect_timeout: Duration,
    idle: Mutex<Vec<(TcpStream, Instant)>>,
}

/// Why no connection could be had.
#[derive(Debug)]
pub enum ConnectFailed {
    Io(std::io::Error),
    TimedOut,
}

impl RawPool {
    pub fn new(address: String, connect_timeout: Duration) -> RawPool {
        RawPool {
            address,
            connect_timeout,
            idle: Mutex::new(Vec::new()),
        }
    }

    fn idle(&self) -> MutexGuard<'_, Vec<(TcpStream, Instant)>> {
        // Nothing panics while holding it; a poisoned lock is still whole.
        self.idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The most recently used idle connection still fresh, if any.
    pub fn take(&self) -> Option<TcpStream> {
        let now = Instant::now();
        let mut idle = self.idle();
        while let Some((stream, used)) = idle.pop() {
            if now.duration_since(used) < IDLE_TIMEOUT {
                return Some(stream);
            }
            // The rest are older still.
            idle.clear();
        }
        None
    }

    /// A new connection.
    pub async fn connect(&self) -> Result<TcpStream, ConnectFailed> {
        let connect = TcpStream::connect(self.address.as_str());
        let stream = tokio::time::timeout(self.connect_timeout, connect)
            .await
            .map_err(|_| ConnectFailed::TimedOut)?
            .map_err(ConnectFailed::Io)?;
        let _ = stream.set_nodelay(true);
        Ok(stream)
    }

    /// Puts a connection whose last response was read whole back.
    pub fn put(&self, stream: TcpStream) {
        let mut idle = self.idle();
        if idle.len() < MAX_IDLE {
            idle.push((stream, Instant::now()));
        }
    }
}
