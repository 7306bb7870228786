//! The enrollment page (issue 12, item 6): the users file is the truth
//! after a reload, replacing an authenticator takes a code from the current
//! one, changes are audited and notified, the secret never reaches a log,
//! and the users file is rewritten safely.

use crate::support::webhook::hook_signature;
use crate::support::{holds_within, logs, password_hash, Browser, Env, Page, Setup};
use doorman::otp::totp::TotpSecret;
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

/// alice's authenticator in the users file of [`replacing_env`].
const CURRENT: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";

fn delivery(webhook: &str) -> String {
    format!(
        "channels:\n  sms: {{ provider: webhook }}\n  totp: {{}}\nproviders:\n  webhook: {{ url: \"{webhook}\", secret: \"hook-secret\", timeout: \"2s\" }}\n"
    )
}

async fn env_with_users(users: String) -> Env {
    Env::with_delivery(|webhook| Setup {
        delivery: Some(delivery(&webhook)),
        users,
        ..Setup::default()
    })
    .await
}

/// The default users (none with an authenticator).
async fn enrollment_env() -> Env {
    env_with_users(crate::support::default_users()).await
}

/// alice has the authenticator [`CURRENT`] and a phone.
async fn replacing_env() -> Env {
    env_with_users(format!(
        "users:\n  alice:\n    password: \"{hash}\"\n    phone: \"+14155550100\"\n    totp_secret: \"{CURRENT}\"\n  bob:\n    password: \"{hash}\"\n    phone: \"+14155550199\"\n",
        hash = password_hash()
    ))
    .await
}

fn users_file(env: &Env) -> String {
    std::fs::read_to_string(env.dir.path().join("users.yaml")).expect("users file")
}

/// Re-reads the config from disk and applies it, as SIGHUP does.
fn reload(env: &Env) {
    let config =
        doorman::config::Config::load_from(Some(&env.config_path()), &|_| None).expect("valid");
    env.doorman.as_ref().expect("running").reload(config);
}

/// The enrollment page's secret and signature.
async fn enrollment_form(browser: &mut Browser) -> (TotpSecret, String, Page) {
    let page = browser.get("/.doorman/totp/enroll").await;
    assert_eq!(page.status, 200, "{page:?}");
    let base32 = page.field("secret").expect("a secret");
    let signature = page.field("signature").expect("a signature");
    (
        TotpSecret::from_base32(&base32).expect("a valid secret"),
        signature,
        page,
    )
}

async fn submit(
    browser: &mut Browser,
    secret: &TotpSecret,
    signature: &str,
    code: &str,
    current: Option<&str>,
) -> Page {
    let base32 = secret.to_base32();
    let mut fields = vec![
        ("secret", base32.as_str()),
        ("signature", signature),
        ("code", code),
    ];
    if let Some(current) = current {
        fields.push(("current_code", current));
    }
    browser.post("/.doorman/totp/enroll", &fields).await
}

/// Submits the enrollment form with `secret`'s code for now.
async fn submit_current(
    env: &Env,
    browser: &mut Browser,
    secret: &TotpSecret,
    signature: &str,
) -> Page {
    let code = secret.code_at(env.now());
    submit(browser, secret, signature, &code, None).await
}

/// alice, signed in, enrolls the authenticator the form offers her: its
/// secret and the answer.
async fn alice_enrolls(env: &Env) -> (TotpSecret, Page) {
    let mut browser = env.signed_in("alice").await;
    let (secret, signature, _) = enrollment_form(&mut browser).await;
    let page = submit_current(env, &mut browser, &secret, &signature).await;
    (secret, page)
}

/// Waits (bounded) until the webhook has `count` account notices.
async fn notices(env: &Env, count: usize) -> Vec<serde_json::Value> {
    holds_within(Duration::from_secs(10), async || {
        env.webhook.notices().len() >= count
    })
    .await;
    env.webhook.notices().into_iter().map(|n| n.json).collect()
}

/// Whether `user` is offered the authenticator app and `secret`'s current
/// code signs them in.
async fn signs_in_with(env: &Env, user: &str, secret: &TotpSecret) -> bool {
    let mut browser = env.browser();
    browser.sign_in_password(user).await;
    let page = browser.ask_for_code("totp").await;
    if page.status != 303 {
        return false;
    }
    let page = browser.enter_code(&secret.code_at(env.now())).await;
    page.status == 303 && browser.get("/private").await.status == 200
}

#[tokio::test]
async fn an_authenticator_added_on_the_page_is_gone_once_the_file_no_longer_has_it() {
    let env = enrollment_env().await;
    let before = users_file(&env);
    let (secret, page) = alice_enrolls(&env).await;
    assert_eq!(page.status, 200, "{page:?}");
    assert!(users_file(&env).contains(&secret.to_base32()));

    // The administrator takes it out again and reloads.
    std::fs::write(env.dir.path().join("users.yaml"), &before).expect("users file");
    reload(&env);
    env.advance(Duration::from_secs(30));
    assert!(
        !signs_in_with(&env, "alice", &secret).await,
        "a removed authenticator still works"
    );
    let removed = env.audited("totp_removed");
    assert_eq!(removed.len(), 1, "{removed:?}");
    assert_eq!(removed[0]["user"], "alice");
    assert_eq!(removed[0]["reason"], "users_file");
    let notices = notices(&env, 2).await;
    assert_eq!(notices[1]["event"], "totp_removed", "{notices:?}");
    assert_eq!(notices[1]["user"], "alice");
}

#[tokio::test]
async fn a_reload_that_read_the_file_before_the_enrollment_keeps_the_new_authenticator() {
    let env = enrollment_env().await;
    let mut browser = env.signed_in("alice").await;
    let (secret, signature, _) = enrollment_form(&mut browser).await;
    // A SIGHUP's read of the file, just before the page writes it...
    let stale =
        doorman::config::Config::load_from(Some(&env.config_path()), &|_| None).expect("valid");
    let page = submit_current(&env, &mut browser, &secret, &signature).await;
    assert_eq!(page.status, 200, "{page:?}");
    // ...applied just after: the file is untouched since, so it stays.
    env.doorman.as_ref().expect("running").reload(stale);
    env.advance(Duration::from_secs(30));
    assert!(signs_in_with(&env, "alice", &secret).await);
    assert!(env.audited("totp_removed").is_empty());
}

#[tokio::test]
async fn replacing_an_authenticator_takes_a_code_from_the_current_one() {
    let env = replacing_env().await;
    let current = TotpSecret::from_base32(CURRENT).expect("secret");
    let mut browser = env.signed_in("alice").await;
    let (secret, signature, page) = enrollment_form(&mut browser).await;
    page.assert_shows("name=\"current_code\"");
    let new_code = secret.code_at(env.now());
    let wrong = format!(
        "{:06}",
        (current.code_at(env.now()).parse::<u32>().unwrap() + 1) % 1_000_000
    );
    // No current code, a wrong one, the new app's code twice over, and the
    // current app's code from two steps ago: all refused.
    let stale = current.code_at(env.now() - 90);
    for attempt in [
        None,
        Some(""),
        Some(wrong.as_str()),
        Some(new_code.as_str()),
        Some(stale.as_str()),
    ] {
        let page = submit(&mut browser, &secret, &signature, &new_code, attempt).await;
        assert_eq!(page.status, 401, "{attempt:?}: {page:?}");
        assert!(users_file(&env).contains(CURRENT), "{attempt:?}");
    }
    assert_eq!(env.audited("totp_enroll_failed").len(), 5);
    assert!(env.webhook.notices().is_empty());

    let page = submit(
        &mut browser,
        &secret,
        &signature,
        &new_code,
        Some(&current.code_at(env.now())),
    )
    .await;
    page.assert_says(200, "Authenticator replaced");
    let file = users_file(&env);
    assert!(
        file.contains(&secret.to_base32()) && !file.contains(CURRENT),
        "{file}"
    );
    let replaced = env.audited("totp_replaced");
    assert_eq!(replaced.len(), 1, "{replaced:?}");
    assert_eq!(replaced[0]["reason"], "page");
    assert_eq!(notices(&env, 1).await[0]["event"], "totp_replaced");

    env.advance(Duration::from_secs(30));
    assert!(!signs_in_with(&env, "alice", &current).await, "the old app");
    env.advance(Duration::from_secs(30));
    assert!(signs_in_with(&env, "alice", &secret).await, "the new app");
}

#[tokio::test]
async fn an_enrollment_is_audited_and_notified_without_the_secret() {
    let env = enrollment_env().await;
    let (secret, page) = alice_enrolls(&env).await;
    assert_eq!(page.status, 200, "{page:?}");
    let enrolled = env.audited("totp_enrolled");
    assert_eq!(enrolled.len(), 1, "{enrolled:?}");
    assert_eq!(enrolled[0]["user"], "alice");
    assert_eq!(enrolled[0]["reason"], "page");
    assert_eq!(enrolled[0]["client"], "127.0.0.1");

    let notice = env
        .webhook
        .notices()
        .pop()
        .expect("a notice, sent before the answer");
    assert_eq!(notice.json["event"], "totp_enrolled");
    assert_eq!(notice.json["user"], "alice");
    assert_eq!(notice.json["source"], "page");
    assert!(notice.json.get("code").is_none(), "{:?}", notice.json);
    let expected = hook_signature(&notice.body);
    assert_eq!(notice.signature, Some(format!("sha256={expected}")));
    let body = String::from_utf8_lossy(&notice.body).to_string();
    let audit = env.audit.lock().unwrap().join("\n");
    for text in [body, audit] {
        assert!(!text.contains(&secret.to_base32()), "{text}");
    }
}

/// Users files that the editor cannot change for alice.
fn unwritable_users() -> Vec<String> {
    let hash = password_hash();
    vec![
        // alice in flow style.
        format!("users:\n  alice: {{ password: \"{hash}\", phone: \"+14155550100\" }}\n  bob:\n    password: \"{hash}\"\n"),
        // The whole file in flow style.
        format!("users: {{ alice: {{ password: \"{hash}\", phone: \"+14155550100\" }} }}\n"),
        // alice's block behind an anchor.
        format!("users:\n  alice: &alice\n    password: \"{hash}\"\n    phone: \"+14155550100\"\n"),
    ]
}

#[tokio::test]
async fn a_failed_enrollment_logs_no_secret_whatever_the_users_file_looks_like() {
    logs::capture();
    for users in unwritable_users() {
        let env = env_with_users(users.clone()).await;
        let (secret, page) = alice_enrolls(&env).await;
        assert_eq!(page.status, 500, "{users}: {page:?}");
        page.assert_shows("Not saved");
        assert!(!page.body.contains(&secret.to_base32()));
        assert_eq!(users_file(&env), users, "the file is unchanged");
        let failed = env.audited("totp_enroll_failed");
        assert_eq!(failed.len(), 1, "{failed:?}");
        assert_eq!(failed[0]["reason"], "not_saved");
        assert!(env.webhook.notices().is_empty());

        let log = logs::text();
        assert!(
            log.contains("cannot save an authenticator secret"),
            "the failure is logged"
        );
        let base32 = secret.to_base32();
        let grouped: Vec<String> = base32
            .as_bytes()
            .chunks(4)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect();
        for form in [base32.clone(), base32.to_lowercase(), grouped.join(" ")] {
            assert!(!log.contains(&form), "the secret is in the log");
        }
        assert!(!log.contains("totp_secret: \""), "a YAML line in the log");
        // Nothing changed: the page offers to try again, and sign-in
        // with the unsaved secret does not work.
        env.advance(Duration::from_secs(30));
        assert!(!signs_in_with(&env, "alice", &secret).await);
    }
}

#[tokio::test]
async fn the_users_file_is_rewritten_private_and_leaves_no_temp_file() {
    let env = enrollment_env().await;
    let path = env.dir.path().join("users.yaml");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (_, page) = alice_enrolls(&env).await;
    assert_eq!(page.status, 200, "{page:?}");
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "{mode:o}");
    let mut names: Vec<String> = std::fs::read_dir(env.dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [".users.yaml.doorman-lock", "doorman.yaml", "users.yaml"],
        "no temp file is left"
    );
}
