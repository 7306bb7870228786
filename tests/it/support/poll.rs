//! Waiting, bounded, for what doorman (or a server a test started) does in
//! the background: the one poll-until loop the tests share.

use std::time::{Duration, Instant};

/// How often a condition is asked again.
const POLL: Duration = Duration::from_millis(25);

/// Whether `check` holds within `within`, asked every [`POLL`].
pub async fn holds_within(within: Duration, mut check: impl AsyncFnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    loop {
        if check().await {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Waits until `check` holds; fails the test, naming `what`, when it does
/// not within `within`.
pub async fn eventually(what: &str, within: Duration, check: impl AsyncFnMut() -> bool) {
    assert!(
        holds_within(within, check).await,
        "{what} did not happen within {within:?}"
    );
}

/// Waits, blocking, until the server `child` started listens on `addr`;
/// fails the test with `log()` if it exits first or takes over 10 s.
pub fn wait_until_listening(
    name: &str,
    child: &mut std::process::Child,
    addr: std::net::SocketAddr,
    log: impl Fn() -> String,
) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(addr).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{name} exited ({status}):\n{}", log());
        }
        assert!(
            Instant::now() < deadline,
            "{name} did not listen in time:\n{}",
            log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
