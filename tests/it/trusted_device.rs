//! Trusted devices (issue 15, `session.remember_device`): "Remember this
//! device" on the code page spares that browser the second factor at the
//! next sign-in, never the password; `max_age` rules still ask; it expires,
//! and a changed credential or `doorman sessions revoke` ends it.

use crate::support::{Browser, Env, Page, Setup, PASSWORD};
use std::time::Duration;

const REMEMBER: &str = "remember_device: \"30d\"";

async fn remembering_env(extra: &str) -> Env {
    Env::with(Setup {
        session: REMEMBER.into(),
        extra: extra.into(),
        ..Setup::default()
    })
    .await
}

/// Types `code` into the code page with "Remember this device" ticked.
async fn remember_with(browser: &mut Browser, code: &str) -> Page {
    let fields = [("code", code), ("remember", "1")];
    browser.post("/.doorman/2fa/verify", &fields).await
}

/// A full sign-in by SMS with "Remember this device" ticked; then sign-out.
async fn remembered(env: &Env) -> Browser {
    let mut browser = env.browser();
    browser.sign_in_password("alice").await;
    let code = browser.request_code(env, "sms").await;
    let page = browser.get("/.doorman/2fa").await;
    page.assert_shows("Remember this device for 30 days");
    let page = remember_with(&mut browser, &code).await;
    assert_eq!(page.status, 303, "{page:?}");
    assert!(
        page.set_cookies()
            .iter()
            .any(|c| c.starts_with("doorman_session_trusted=")),
        "{:?}",
        page.set_cookies()
    );
    browser.sign_out().await;
    browser
}

/// The password step; where it sends the browser.
async fn password(browser: &mut Browser, password: &str) -> (u16, String) {
    let page = browser.try_password("alice", password).await;
    (page.status, page.location().unwrap_or("").to_owned())
}

#[tokio::test]
async fn a_remembered_browser_skips_the_second_factor_but_not_the_password() {
    let env = remembering_env("").await;
    let mut browser = remembered(&env).await;
    let (status, _) = password(&mut browser, "not the password").await;
    assert_eq!(status, 401, "the password is still asked");
    let (status, location) = password(&mut browser, PASSWORD).await;
    assert_eq!((status, location.as_str()), (303, "/"));
    assert_eq!(browser.get("/").await.status, 200, "signed in");
    assert_eq!(env.audited("trusted_device_used").len(), 1);
    // Another browser, and another user in this one, still need a code.
    let mut other = env.browser();
    assert_eq!(password(&mut other, PASSWORD).await.1, "/.doorman/2fa");
    browser.sign_out().await;
    let page = browser.try_password("bob", PASSWORD).await;
    assert_eq!(page.location(), Some("/.doorman/2fa"), "bob is not alice");
}

#[tokio::test]
async fn the_device_is_forgotten_after_its_lifetime() {
    let env = remembering_env("").await;
    let mut browser = remembered(&env).await;
    env.advance(Duration::from_secs(29 * 24 * 3600));
    assert_eq!(password(&mut browser, PASSWORD).await.1, "/");
    browser.sign_out().await;
    env.advance(Duration::from_secs(2 * 24 * 3600));
    assert_eq!(password(&mut browser, PASSWORD).await.1, "/.doorman/2fa");
}

#[tokio::test]
async fn a_max_age_rule_still_asks_for_a_fresh_second_factor() {
    let rules = "rules:\n  - { path_prefix: \"/admin/\", policy: two_factor, max_age: \"10m\" }\n";
    let env = remembering_env(rules).await;
    let mut browser = remembered(&env).await;
    env.advance(Duration::from_secs(11 * 60));
    assert_eq!(password(&mut browser, PASSWORD).await.1, "/");
    assert_eq!(browser.get("/reports").await.status, 200);
    let page = browser.get("/admin/users").await;
    let to_2fa = page.location().is_some_and(|l| l.contains("/.doorman/2fa"));
    assert!(page.status == 302 && to_2fa, "{page:?}");
}

#[tokio::test]
async fn a_changed_credential_ends_the_trusted_device() {
    let env = remembering_env("").await;
    let mut browser = remembered(&env).await;
    let users = std::fs::read_to_string(env.dir.path().join("users.yaml")).expect("users");
    std::fs::write(
        env.dir.path().join("users.yaml"),
        users.replace("+14155550100", "+14155550111"),
    )
    .expect("users");
    let config =
        doorman::config::Config::load_from(Some(&env.config_path()), &|_| None).expect("valid");
    env.doorman.as_ref().expect("running").reload(config);
    assert_eq!(password(&mut browser, PASSWORD).await.1, "/.doorman/2fa");
}

#[tokio::test]
async fn sessions_revoke_ends_the_trusted_device() {
    let env = Env::with(Setup {
        session: REMEMBER.into(),
        extra: "store: { kind: file, path: \"state.redb\" }\n".into(),
        ..Setup::default()
    })
    .await;
    let mut browser = remembered(&env).await;
    let output = crate::support::process::doorman()
        .args(["sessions", "revoke", "--user", "alice", "--config"])
        .arg(env.config_path())
        .output()
        .expect("run sessions revoke");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // Revocation is "not before now": a sign-in in a later second counts.
    env.advance(Duration::from_secs(1));
    assert_eq!(password(&mut browser, PASSWORD).await.1, "/.doorman/2fa");
}

#[tokio::test]
async fn without_remember_device_nothing_is_offered_or_honoured() {
    let env = Env::start().await;
    let mut browser = env.browser();
    browser.sign_in_password("alice").await;
    browser.request_code(&env, "sms").await;
    let page = browser.get("/.doorman/2fa").await;
    assert!(!page.body.contains("Remember this device"), "{}", page.body);
    let code = env.webhook.last_code().expect("code");
    let page = remember_with(&mut browser, &code).await;
    assert_eq!(page.status, 303);
    assert!(!page.set_cookies().iter().any(|c| c.contains("_trusted=")));
}
