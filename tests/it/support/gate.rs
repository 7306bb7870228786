//! Shared checks and steps for the gate's tests (security, proxy, limits,
//! replicas, ...): one place for the assertions they repeat.

use super::Page;

/// The answer set no session cookie (a refused login, a too-large form).
#[track_caller]
pub fn assert_no_session_cookie(page: &Page, context: &str) {
    assert!(
        page.set_cookies()
            .iter()
            .all(|c| !c.starts_with("doorman_session=")),
        "{context}: a session cookie was set: {page:?}"
    );
}
