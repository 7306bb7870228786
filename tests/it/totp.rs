//! Authenticator-app codes on doorman's injected clock: which steps are
//! accepted, replays, the users file key, the enrollment page and the
//! `totp enroll` command.

use crate::support::factor::{config_dir, config_problems, factor_env, on_code_page, TOTP_AND_SMS};
use crate::support::process::assert_succeeded;
use crate::support::signed_in_by;
use crate::support::{password_hash, Browser, Env, Page};
use doorman::otp::totp::TotpSecret;
use std::time::Duration;

pub const SECRET: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";

fn secret() -> TotpSecret {
    TotpSecret::from_base32(SECRET).expect("a valid secret")
}

/// Users t0…t4 share one secret (replay protection is per user, so each
/// test of a time step gets a fresh user); `phoneonly` has none.
fn users() -> String {
    let mut users = String::from("users:\n");
    for n in 0..5 {
        users.push_str(&format!(
            "  t{n}:\n    password: \"{hash}\"\n    totp_secret: \"{SECRET}\"\n",
            hash = password_hash()
        ));
    }
    users.push_str(&format!(
        "  phoneonly:\n    password: \"{hash}\"\n    phone: \"+14155550100\"\n",
        hash = password_hash()
    ));
    users
}

async fn with_totp() -> Env {
    factor_env(TOTP_AND_SMS, &[], users(), "").await
}

/// Password, then "authenticator app": the browser is on the code page.
async fn at_the_code_page(env: &Env, user: &str) -> Browser {
    on_code_page(env, user, "totp", "authenticator app").await
}

/// The code the app shows `steps` time steps from doorman's now.
fn code(env: &Env, steps: i64) -> String {
    secret().code_at((env.now() as i64 + steps * 30) as u64)
}

#[tokio::test]
async fn the_current_step_and_one_either_side_are_accepted() {
    let env = with_totp().await;
    for (user, steps) in [("t0", -1), ("t1", 0), ("t2", 1)] {
        let mut browser = at_the_code_page(&env, user).await;
        let page = browser.enter_code(&code(&env, steps)).await;
        assert!(signed_in_by(&page), "{user} at {steps}: {page:?}");
        assert_eq!(browser.get("/private").await.status, 200);
    }
}

#[tokio::test]
async fn two_steps_away_either_side_is_refused() {
    let env = with_totp().await;
    for (user, steps) in [("t0", -2), ("t1", 2)] {
        let mut browser = at_the_code_page(&env, user).await;
        let page = browser.enter_code(&code(&env, steps)).await;
        assert_eq!(page.status, 401, "{user} at {steps}: {page:?}");
        page.assert_shows("not right");
    }
}

#[tokio::test]
async fn an_accepted_code_cannot_be_used_again_nor_an_earlier_one() {
    crate::support::logs::capture();
    let env = with_totp().await;
    let now = code(&env, 0);
    let mut first = at_the_code_page(&env, "t3").await;
    assert!(signed_in_by(&first.enter_code(&now).await));

    let mut second = at_the_code_page(&env, "t3").await;
    let page = second.enter_code(&now).await;
    assert_eq!(page.status, 401, "replayed: {page:?}");
    // Issue 17: told as used, not as wrong.
    page.assert_shows("That code was already used.");
    let page = second.enter_code(&code(&env, -1)).await;
    assert_eq!(page.status, 401, "an earlier step: {page:?}");

    // The next step's code is new, and works.
    env.advance(Duration::from_secs(30));
    second.assert_signs_in_with(&code(&env, 0)).await;

    let log = crate::support::logs::text();
    assert!(
        log.lines()
            .any(|line| line.contains("totp_replayed") && line.contains("t3")),
        "the replay was not logged:\n{log}"
    );
    assert!(!log.contains(SECRET), "the TOTP secret was logged");
}

#[tokio::test]
async fn wrong_codes_count_against_the_attempts() {
    let env = with_totp().await;
    let mut browser = at_the_code_page(&env, "t4").await;
    let wrong = format!(
        "{:06}",
        (code(&env, 0).parse::<u32>().unwrap() + 500_000) % 1_000_000
    );
    let page = browser.enter_code(&wrong).await;
    page.assert_shows("4 attempts left");
}

#[tokio::test]
async fn the_authenticator_is_offered_only_to_users_with_a_secret() {
    let env = with_totp().await;
    let mut browser = env.past_password("t0").await;
    let page = browser.get("/.doorman/2fa").await;
    page.assert_shows("value=\"totp\"");
    assert!(!page.body.contains("value=\"sms\""), "{}", page.body);

    let mut browser = env.past_password("phoneonly").await;
    let page = browser.get("/.doorman/2fa").await;
    assert!(!page.body.contains("value=\"totp\""), "{}", page.body);
    let page = browser.send_code("totp").await;
    assert_eq!(page.status, 400, "{page:?}");
}

#[tokio::test]
async fn a_bad_secret_in_the_users_file_names_the_user() {
    let users = format!(
        "users:\n  alice:\n    password: \"{}\"\n    totp_secret: \"not base32!\"\n    ntfy_topic: \"has spaces\"\n",
        password_hash()
    );
    let problems = config_problems(&users, "channels:\n  totp: {}\n");
    assert!(
        problems.contains("users.alice.totp_secret: is not base32 (letters A-Z and digits 2-7)"),
        "{problems}"
    );
    assert!(problems.contains("users.alice.ntfy_topic:"), "{problems}");
}

// The enrollment page.

/// The default users (none with a secret), with `sms` and `totp` offered.
async fn enrollment_env() -> Env {
    let channels = "  sms: { provider: webhook }\n  totp: {}\n";
    factor_env(channels, &[], crate::support::default_users(), "").await
}

/// Submits the enrollment form.
async fn enroll(browser: &mut Browser, secret: &str, signature: &str, code: &str) -> Page {
    browser
        .post(
            "/.doorman/totp/enroll",
            &[("secret", secret), ("signature", signature), ("code", code)],
        )
        .await
}

/// The hidden field `name` of the page.
fn hidden(page: &Page, name: &str) -> String {
    page.field(name)
        .unwrap_or_else(|| panic!("no {name} in {}", page.body))
}

#[tokio::test]
async fn a_signed_in_user_enrolls_after_one_correct_code_and_signs_in_with_the_app_next_time() {
    let env = enrollment_env().await;
    let mut browser = env.signed_in("alice").await;
    let page = browser.get("/.doorman/totp/enroll").await;
    page.assert_says(200, "<svg");
    let base32 = hidden(&page, "secret");
    let signature = hidden(&page, "signature");
    let secret = TotpSecret::from_base32(&base32).unwrap();

    // A wrong code saves nothing.
    let wrong = format!(
        "{:06}",
        (secret.code_at(env.now()).parse::<u32>().unwrap() + 1) % 1_000_000
    );
    let page = enroll(&mut browser, &base32, &signature, &wrong).await;
    assert_eq!(page.status, 401, "{page:?}");
    let users = std::fs::read_to_string(env.dir.path().join("users.yaml")).unwrap();
    assert!(!users.contains("totp_secret"), "{users}");

    // A secret the server did not hand out is refused.
    let other = TotpSecret::generate();
    let page = enroll(
        &mut browser,
        &other.to_base32(),
        &signature,
        &other.code_at(env.now()),
    )
    .await;
    assert_eq!(page.status, 400, "{page:?}");

    let now_code = secret.code_at(env.now());
    let page = enroll(&mut browser, &base32, &signature, &now_code).await;
    page.assert_says(200, "Authenticator added");
    let users = std::fs::read_to_string(env.dir.path().join("users.yaml")).unwrap();
    assert!(
        users.contains(&format!("totp_secret: \"{base32}\"")),
        "{users}"
    );
    assert!(users.contains("display_name: \"Alice Example\""), "{users}");

    // The same code does not sign in; the next one does.
    let mut next = env.past_password("alice").await;
    let page = next.ask_for_code("totp").await;
    assert_eq!(page.status, 303, "{page:?}");
    let page = next.enter_code(&secret.code_at(env.now())).await;
    assert_eq!(page.status, 401, "the enrollment code signed in: {page:?}");
    env.advance(Duration::from_secs(30));
    next.assert_signs_in_with(&secret.code_at(env.now())).await;
}

#[tokio::test]
async fn enrollment_needs_a_full_sign_in() {
    let env = enrollment_env().await;
    let mut browser = env.browser();
    let page = browser.get("/.doorman/totp/enroll").await;
    assert_eq!(page.status, 303, "{page:?}");
    assert!(
        page.location().unwrap().starts_with("/.doorman/login?rd="),
        "{page:?}"
    );
    browser.sign_in_password("alice").await;
    let page = browser.get("/.doorman/totp/enroll").await;
    assert_eq!(
        page.status, 303,
        "a password alone must not enroll: {page:?}"
    );
}

#[tokio::test]
async fn without_a_writable_users_file_the_page_says_to_ask_an_administrator() {
    let env = enrollment_env().await;
    let mut browser = env.signed_in("alice").await;
    std::fs::remove_file(env.dir.path().join("users.yaml")).unwrap();
    let page = browser.get("/.doorman/totp/enroll").await;
    page.assert_says(200, "Ask an administrator");
    assert!(!page.body.contains("<svg"));
}

// `doorman totp enroll`.

fn doorman() -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_doorman"));
    command.env_remove("DOORMAN_CONFIG").env_remove("RUST_LOG");
    command
}

/// A config and users file in a temp dir; the users file as written.
fn enroll_dir() -> (tempfile::TempDir, std::path::PathBuf, String) {
    let users = format!(
        "# the team\nusers:\n  alice:\n    password: \"{hash}\"   # argon2id\n    phone: \"+14155550100\"\n\n  bob:\n    password: \"{hash}\"\n",
        hash = password_hash()
    );
    let (dir, config) = config_dir(&users, "app_name: \"Example\"\nchannels:\n  totp: {}\n");
    (dir, config, users)
}

/// Runs `doorman <args> <config>`, which must succeed; its output.
fn enroll_command(args: &[&str], config: &std::path::Path) -> String {
    let output = doorman().args(args).arg(config).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

fn printed_secret(stdout: &str) -> String {
    let start = stdout.find("secret=").expect("a secret in the URI") + "secret=".len();
    stdout[start..].split('&').next().unwrap().to_owned()
}

#[test]
fn totp_enroll_prints_the_uri_a_qr_code_and_the_users_file_line() {
    let (_dir, config, users) = enroll_dir();
    let stdout = enroll_command(&["totp", "enroll", "alice", "--config"], &config);
    assert!(
        stdout.contains("otpauth://totp/Example:alice?secret="),
        "{stdout}"
    );
    assert!(
        stdout.contains('█') || stdout.contains('▀') || stdout.contains('▄'),
        "{stdout}"
    );
    let secret = printed_secret(&stdout);
    assert!(TotpSecret::from_base32(&secret).is_ok());
    assert!(
        stdout.contains(&format!("totp_secret: \"{secret}\"")),
        "{stdout}"
    );
    // Without --write the file is untouched.
    let after = std::fs::read_to_string(config.with_file_name("users.yaml")).unwrap();
    assert_eq!(after, users);
}

#[test]
fn totp_enroll_write_stores_the_secret_and_keeps_the_rest_of_the_file() {
    let (_dir, config, users) = enroll_dir();
    let stdout = enroll_command(&["totp", "enroll", "alice", "--write", "--config"], &config);
    let secret = printed_secret(&stdout);
    let after = std::fs::read_to_string(config.with_file_name("users.yaml")).unwrap();
    let expected = users.replace(
        "    phone: \"+14155550100\"\n",
        &format!("    phone: \"+14155550100\"\n    totp_secret: \"{secret}\"\n"),
    );
    assert_eq!(after, expected);
    let check = doorman()
        .args(["check-config", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert_succeeded(&check);
}

#[test]
fn totp_enroll_refuses_an_unknown_user() {
    let (_dir, config, _) = enroll_dir();
    let output = doorman()
        .args(["totp", "enroll", "carol", "--write", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("no user `carol`"));
}

#[tokio::test]
async fn enrollment_asks_for_a_fresh_sign_in_after_fifteen_minutes() {
    let env = enrollment_env().await;
    let mut browser = env.signed_in("alice").await;
    env.advance(Duration::from_secs(14 * 60));
    let page = browser.get("/.doorman/totp/enroll").await;
    page.assert_shows("<svg");
    let (base32, signature) = (hidden(&page, "secret"), hidden(&page, "signature"));
    env.advance(Duration::from_secs(2 * 60));
    let page = browser.get("/.doorman/totp/enroll").await;
    page.assert_shows("Sign in again");
    assert!(!page.body.contains("<svg"));
    let secret = TotpSecret::from_base32(&base32).unwrap();
    let now_code = secret.code_at(env.now());
    let page = enroll(&mut browser, &base32, &signature, &now_code).await;
    page.assert_shows("Sign in again");
    let users = std::fs::read_to_string(env.dir.path().join("users.yaml")).unwrap();
    assert!(!users.contains("totp_secret"), "{users}");
}
