//! Passkeys in headless Chromium: `tests/browser/passkeys.mjs` with the
//! DevTools virtual authenticator against a real doorman on
//! `http://localhost:PORT` (`webauthn.rp_id: localhost`) in front of the
//! demo app. Needs what `browser.rs` needs; `DOORMAN_SKIP_BROWSER=1` skips.

use crate::browser::{chromium_and_playwright, free_port};
use crate::support::{password_hash, PASSWORD, SECRET};
use doorman::config::Config;
use doorman::Gateway;
use std::path::Path;
use std::time::Duration;

const TOTP_SECRET: &str = "KRSXG5CTMVRXEZLUKRSXG5CTMVRXEZLU";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_browser_enrols_a_passkey_signs_in_with_it_and_passwordless_and_is_refused_a_replay_a_stranger_and_another_origin(
) {
    let Some(chromium) = chromium_and_playwright("the passkey browser test") else {
        return;
    };
    let app = doorman::demo::start_app().await.expect("the demo app");
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("users.yaml"),
        format!(
            "users:\n  alice:\n    password: \"{}\"\n    display_name: \"Alice Example\"\n    totp_secret: \"{TOTP_SECRET}\"\n",
            password_hash()
        ),
    )
    .expect("users file");
    let port = free_port();
    let yaml = format!(
        r#"listen: "127.0.0.1:{port}"
upstream: "http://{app}"
users_file: "users.yaml"
app_name: "Example"
session:
  secret: "{SECRET}"
codes:
  resend_cooldown: "1s"
store: {{ kind: memory }}
channels:
  webauthn: {{}}
  totp: {{}}
webauthn:
  rp_id: "localhost"
  origins: ["http://localhost:{port}"]
  passwordless: true
"#
    );
    let path = dir.path().join("doorman.yaml");
    std::fs::write(&path, yaml).expect("config");
    let config =
        Config::load_from(Some(&path), &|_| None).unwrap_or_else(|problems| panic!("{problems}"));
    let doorman = Gateway::start(config).await.expect("doorman");

    let shots = match std::env::var_os("DOORMAN_SCREENSHOTS_DIR") {
        Some(dir) => Path::new(env!("CARGO_MANIFEST_DIR")).join(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots"),
    };
    std::fs::create_dir_all(&shots).expect("screenshot directory");
    let mut node = tokio::process::Command::new("node");
    node.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser/passkeys.mjs"))
        .env("DOORMAN_URL", format!("http://localhost:{port}"))
        .env("TOTP_SECRET", TOTP_SECRET)
        .env("PASSWORD", PASSWORD)
        .env("SCREENSHOT_DIR", &shots)
        .env("CHROMIUM", &chromium)
        .kill_on_drop(true);
    let output = tokio::time::timeout(Duration::from_secs(180), node.output())
        .await
        .expect("the passkey browser test took over 3 minutes")
        .expect("cannot run node (is Node.js installed?)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    eprintln!("{text}");
    assert!(
        output.status.success(),
        "the passkey browser test failed:\n{text}"
    );
    assert!(
        text.contains("browser passkeys: all steps passed"),
        "{text}"
    );
    for refusal in [
        "refused: a replayed assertion",
        "refused: an unknown credential",
        "refused: an assertion made on another origin",
        "signed in passwordless",
    ] {
        assert!(text.contains(refusal), "missing `{refusal}` in:\n{text}");
    }
    for page in ["8-passkeys", "9-choose-passkey", "10-login-passkey"] {
        let shot = shots.join(format!("{page}.png"));
        assert!(
            std::fs::metadata(&shot).is_ok_and(|meta| meta.len() > 1000),
            "no screenshot at {}",
            shot.display()
        );
    }
    doorman.shutdown().await;
}
