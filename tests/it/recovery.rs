//! Recovery codes (issue 15): made on a page after a fresh full sign-in,
//! each standing in for the second factor once, stored only as hashes,
//! audited with the count left, and counted in the limits like any code.

use crate::support::{Browser, Env, Page};
use std::time::Duration;

/// The codes a `recovery` page shows.
pub(crate) fn codes(page: &Page) -> Vec<String> {
    page.body
        .split("<code>")
        .skip(1)
        .filter_map(|rest| rest.split("</code>").next())
        .map(str::to_owned)
        .collect()
}

/// alice, fully signed in, makes a set of codes; then signs out.
async fn codes_for_alice(env: &Env) -> (Browser, Vec<String>) {
    let mut browser = env.browser();
    browser.sign_in(env, "alice").await;
    let page = browser.get("/.doorman/recovery").await;
    page.assert_says(200, "You have no recovery codes");
    let page = browser.post("/.doorman/recovery", &[]).await;
    assert_eq!(page.status, 200, "{page:?}");
    let codes = codes(&page);
    assert_eq!(codes.len(), 10, "{}", page.body);
    browser.sign_out().await;
    (browser, codes)
}

/// The password step, then the code typed into the choose page's form.
async fn use_code(browser: &mut Browser, code: &str) -> Page {
    browser.sign_in_password("alice").await;
    let page = browser.get("/.doorman/2fa").await;
    page.assert_shows("Use a recovery code");
    type_code(browser, code).await
}

/// The code typed into the recovery form of the page the browser is on.
async fn type_code(browser: &mut Browser, code: &str) -> Page {
    browser
        .post("/.doorman/2fa/recovery", &[("code", code)])
        .await
}

#[tokio::test]
async fn a_recovery_code_stands_in_for_the_second_factor_once_and_says_how_many_remain() {
    let env = Env::start().await;
    let (mut browser, codes) = codes_for_alice(&env).await;
    // Typed as people do: capitals, a space instead of the dash.
    let typed = codes[0].to_uppercase().replace('-', " ");
    let page = use_code(&mut browser, &typed).await;
    page.assert_says(200, "9 recovery codes are left.");
    let app = browser.get("/").await;
    assert_eq!(app.status, 200, "signed in: {app:?}");
    let used = env.audited("recovery_code_used");
    assert_eq!(used.len(), 1, "{used:?}");
    assert_eq!(used[0]["left"], 9);
    assert_eq!(used[0]["user"], "alice");
    let session = env
        .session(&browser.session_cookie().expect("a session"))
        .expect("valid");
    assert_eq!(session.level, doorman::session::FactorLevel::TwoFactor);
    browser.sign_out().await;

    // The same code again: refused, and the session stays at the password.
    let page = use_code(&mut browser, &codes[0]).await;
    page.assert_says(401, "not right, or was used before");
    let app = browser.get("/").await;
    assert_ne!(app.status, 200, "a used code signed in: {app:?}");
    // Another one still works, and no code reached the log or the audit.
    let page = type_code(&mut browser, &codes[1]).await;
    page.assert_shows("8 recovery codes are left.");
    let audit = env
        .audit_events()
        .iter()
        .map(|e| e.to_string())
        .collect::<String>();
    for code in &codes {
        assert!(!audit.contains(code.as_str()), "a code in the audit");
    }
}

#[tokio::test]
async fn new_codes_need_a_fresh_sign_in_and_replace_the_old_ones() {
    let env = Env::start().await;
    let (mut browser, old) = codes_for_alice(&env).await;
    // Past the resend cooldown for the next SMS.
    env.advance(Duration::from_secs(31));
    browser.sign_in(&env, "alice").await;
    browser.get("/.doorman/recovery").await;
    env.advance(Duration::from_secs(16 * 60));
    let page = browser.get("/.doorman/recovery").await;
    page.assert_shows("sign in again first");
    let page = browser.post("/.doorman/recovery", &[]).await;
    page.assert_shows("sign in again first");
    assert!(codes(&page).is_empty());
    browser.sign_out().await;
    env.advance(Duration::from_secs(31));
    browser.sign_in(&env, "alice").await;
    let page = browser.get("/.doorman/recovery").await;
    page.assert_shows("<strong>10</strong> unused recovery codes");
    let page = browser.post("/.doorman/recovery", &[]).await;
    let new = codes(&page);
    assert_eq!(new.len(), 10);
    browser.sign_out().await;
    let page = use_code(&mut browser, &old[2]).await;
    assert_eq!(page.status, 401, "an old code still works: {page:?}");
    let page = type_code(&mut browser, &new[2]).await;
    assert_eq!(page.status, 200, "{page:?}");
}

#[tokio::test]
async fn wrong_recovery_codes_count_toward_the_account_lock() {
    let env = Env::with_extra("limits:\n  failures: { delay: \"0s\", lock_after: 3, lock_for: \"15m\" }\n  client_failures: { delay: \"0s\" }\n").await;
    let (mut browser, codes) = codes_for_alice(&env).await;
    browser.sign_in_password("alice").await;
    browser.get("/.doorman/2fa").await;
    for _ in 0..3 {
        let page = type_code(&mut browser, "aaaaa-bbbbb").await;
        assert_eq!(page.status, 401, "{page:?}");
    }
    // Locked now: even a right code is not looked at, nor used up.
    let page = type_code(&mut browser, &codes[0]).await;
    assert_eq!(page.status, 429, "{page:?}");
    // The lock over, the same level-1 session goes on.
    env.advance(Duration::from_secs(16 * 60));
    browser.get("/.doorman/2fa").await;
    let page = type_code(&mut browser, &codes[0]).await;
    page.assert_shows("9 recovery codes are left.");
}

#[tokio::test]
async fn recovery_codes_are_stored_only_as_hashes() {
    let env = Env::with_extra("store: { kind: file, path: \"state.redb\" }\n").await;
    let (_, codes) = codes_for_alice(&env).await;
    let bytes = std::fs::read(env.dir.path().join("state.redb")).expect("the store file");
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.contains("recovery:alice"), "the set is in the store");
    for code in &codes {
        assert!(!text.contains(code.as_str()), "a code in the clear");
        assert!(
            !text.contains(&code.replace('-', "")),
            "a code in the clear"
        );
    }
}

#[tokio::test]
async fn the_recovery_codes_command_makes_codes_the_gateway_accepts() {
    let mut env = Env::with_extra("store: { kind: file, path: \"state.redb\" }\n").await;
    let config = env.config_path();
    let command = || {
        crate::support::process::doorman()
            .args(["recovery-codes", "ALICE", "--config"])
            .arg(&config)
            .output()
            .expect("run recovery-codes")
    };
    // The running doorman holds the file store: the command says what to do.
    let output = command();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("stop doorman first"), "{stderr}");
    env.doorman.take().expect("running").shutdown().await;

    let output = command();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let printed: Vec<&str> = stdout
        .lines()
        .map(str::trim)
        .filter(|line| line.len() == 11 && line.as_bytes()[5] == b'-')
        .collect();
    assert_eq!(printed.len(), 10, "{stdout}");
    assert!(
        stdout.contains("every session of alice until now has ended"),
        "{stdout}"
    );
    // The command ended her sessions up to its own clock's now; the
    // gateway's clock is the test's, a moment behind: step past it.
    env.advance(std::time::Duration::from_secs(60));
    let doorman = env.replica().await;
    let mut browser = Browser::new(doorman.addr());
    browser.sign_in_password("alice").await;
    browser.get("/.doorman/2fa").await;
    let page = type_code(&mut browser, printed[4]).await;
    page.assert_shows("9 recovery codes are left.");
    doorman.shutdown().await;
}
