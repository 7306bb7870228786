//! The end-to-end sign-in in headless Chromium: `tests/browser/e2e.mjs`
//! (playwright-core, installed with `npm ci`) against a real doorman in
//! front of the demo app, with the webhook receiver and the ntfy emulation.
//!
//! Needs Node and Chromium (`/usr/bin/chromium`, or `CHROMIUM`). Skipped
//! only when `DOORMAN_SKIP_BROWSER=1` says so; anything missing otherwise
//! fails the test.

use crate::support::fake_api::{FakeApi, Reply};
use crate::support::ntfy::Ntfy;
use crate::support::{password_hash, Webhook, PASSWORD, SECRET};
use doorman::clock::{Clock, ManualClock};
use doorman::config::Config;
use doorman::Gateway;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

const TOTP_SECRET: &str = "KRSXG5CTMVRXEZLUKRSXG5CTMVRXEZLU";
const TOPIC: &str = "alice-e2e-4b1d9f";

fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

/// Runs `command` to its end, failing the test with its output if it fails.
fn run(command: &mut Command, what: &str) -> String {
    let output = command
        .output()
        .unwrap_or_else(|err| panic!("{what}: cannot run: {err}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{text}",
        output.status
    );
    text
}

/// A port nothing listens on right now, so `public_url` can name it.
pub(crate) fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// Chromium's path, with playwright-core installed; `None` (the test is
/// skipped, and says so) only when `DOORMAN_SKIP_BROWSER=1`.
pub(crate) fn chromium_and_playwright(what: &str) -> Option<String> {
    if std::env::var("DOORMAN_SKIP_BROWSER").as_deref() == Ok("1") {
        eprintln!("SKIPPED: {what} (DOORMAN_SKIP_BROWSER=1)");
        return None;
    }
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&chromium).exists(),
        "Chromium is not at {chromium}: install it (apt-get install -y chromium), set CHROMIUM, or set DOORMAN_SKIP_BROWSER=1 to skip this test"
    );
    if !browser_dir().join("node_modules/playwright-core").exists() {
        run(
            Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund"])
                .env("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
                .current_dir(browser_dir()),
            "npm ci in tests/browser",
        );
    }
    Some(chromium)
}

/// The emulations a browser test signs in with: the webhook SMS receiver,
/// ntfy, and a control server the script asks for the last SMS code and
/// the push's answer links, and that moves the clock of a doorman started
/// on it ([`Phones::doorman_on_clock`]).
struct Phones {
    webhook: Webhook,
    ntfy: Ntfy,
    control: FakeApi,
    clock: Arc<ManualClock>,
}

impl Phones {
    async fn start() -> Phones {
        let webhook = Webhook::start().await;
        let ntfy = Ntfy::start().await;
        let clock = ManualClock::new();
        let control = {
            let (webhook, ntfy, clock) = (webhook.clone(), ntfy.clone(), clock.clone());
            FakeApi::start(move |request| match request.path.as_str() {
                "/sms" => Reply::json(200, json!({ "code": webhook.last_code() })),
                // `?seconds=N`: N seconds pass for doorman.
                "/advance" => {
                    let seconds: Option<u64> = request
                        .query
                        .strip_prefix("seconds=")
                        .and_then(|n| n.parse().ok());
                    match seconds {
                        Some(seconds) => {
                            clock.advance(Duration::from_secs(seconds));
                            Reply::json(200, json!({ "now": clock.now() }))
                        }
                        None => Reply::empty(400),
                    }
                }
                "/ntfy" => {
                    let actions: Vec<_> = ntfy
                        .actions()
                        .into_iter()
                        .map(|(label, url)| json!({ "label": label, "url": url }))
                        .collect();
                    Reply::json(200, json!({ "actions": actions }))
                }
                _ => Reply::empty(404),
            })
            .await
        };
        Phones {
            webhook,
            ntfy,
            control,
            clock,
        }
    }

    /// doorman in front of the demo app with these `users`, on a port the
    /// config names (push links need `public_url`).
    /// `cooldown`: `codes.resend_cooldown`.
    async fn doorman(&self, dir: &Path, users: &str, cooldown: &str) -> Gateway {
        let config = self.config(dir, users, cooldown, false, "").await;
        Gateway::start(config).await.expect("doorman")
    }

    /// [`Phones::doorman`] with passkeys (`rp_id: localhost`) and `extra`
    /// config, on the clock the control server's `/advance` moves.
    async fn doorman_on_clock(
        &self,
        dir: &Path,
        users: &str,
        cooldown: &str,
        extra: &str,
    ) -> Gateway {
        let config = self.config(dir, users, cooldown, true, extra).await;
        Gateway::start_with_clock(config, self.clock.clone())
            .await
            .expect("doorman")
    }

    /// The config of [`Phones::doorman`]; `extra` is added at its end, and
    /// when it starts with `codes:` its lines under it join that block.
    async fn config(
        &self,
        dir: &Path,
        users: &str,
        cooldown: &str,
        passkeys: bool,
        extra: &str,
    ) -> Config {
        let (codes, extra) = match extra.strip_prefix("codes:\n") {
            Some(rest) => {
                let end: usize = rest
                    .lines()
                    .take_while(|line| line.starts_with("  "))
                    .map(|line| line.len() + 1)
                    .sum();
                rest.split_at(end.min(rest.len()))
            }
            None => ("", extra),
        };
        let extra = if passkeys {
            format!("webauthn:\n  rp_id: \"localhost\"\n  origins: [\"http://localhost\"]\n{extra}")
        } else {
            extra.to_owned()
        };
        let channel = if passkeys { "  webauthn: {}\n" } else { "" };
        let app = doorman::demo::start_app().await.expect("the demo app");
        std::fs::write(dir.join("users.yaml"), users).expect("users file");
        let port = free_port();
        let yaml = format!(
            r#"listen: "127.0.0.1:{port}"
upstream: "http://{app}"
users_file: "users.yaml"
app_name: "Example"
public_url: "http://127.0.0.1:{port}"
session:
  secret: "{SECRET}"
codes:
  resend_cooldown: "{cooldown}"
{codes}store: {{ kind: memory }}
channels:
  sms: {{ provider: webhook }}
  totp: {{}}
  push: {{ provider: ntfy }}
{channel}providers:
  webhook: {{ url: "http://{hook}/send", timeout: "2s" }}
  {ntfy}
{extra}"#,
            hook = self.webhook.addr,
            ntfy = self.ntfy.config(),
        );
        let path = dir.join("doorman.yaml");
        std::fs::write(&path, yaml).expect("config");
        // Without the DOORMAN_* overlay: other tests set variables in this
        // shared process environment.
        Config::load_from(Some(&path), &|_| None).unwrap_or_else(|problems| panic!("{problems}"))
    }
}

/// Where screenshots go: into target/ by default, so a test run leaves the
/// tree clean; DOORMAN_SCREENSHOTS_DIR=docs/screenshots refreshes the
/// README's.
fn screenshot_dir() -> PathBuf {
    let shots = match std::env::var_os("DOORMAN_SCREENSHOTS_DIR") {
        Some(dir) => Path::new(env!("CARGO_MANIFEST_DIR")).join(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots"),
    };
    std::fs::create_dir_all(&shots).expect("screenshot directory");
    shots
}

/// Runs `script` with node and `env` to its end; its output, once it has
/// printed `passed`. The limit only keeps a hung browser from hanging the
/// suite: the languages run takes under a minute on an idle 2-core machine
/// and several times that while other builds share the cores.
async fn run_script(script: &str, env: &[(&str, &std::ffi::OsStr)], passed: &str) -> String {
    let mut node = tokio::process::Command::new("node");
    node.arg(browser_dir().join(script)).kill_on_drop(true);
    for (name, value) in env {
        node.env(name, value);
    }
    let output = tokio::time::timeout(Duration::from_secs(600), node.output())
        .await
        .expect("the browser test took over 10 minutes")
        .expect("cannot run node (is Node.js installed?)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    eprintln!("{text}");
    assert!(
        output.status.success(),
        "the browser test {script} failed ({}):\n{text}",
        output.status
    );
    assert!(text.contains(passed), "{text}");
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_browser_signs_in_with_sms_totp_and_push() {
    let Some(chromium) = chromium_and_playwright("a browser test") else {
        return;
    };
    let phones = Phones::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let users = format!(
        "users:\n  alice:\n    password: \"{}\"\n    display_name: \"Alice Example\"\n    phone: \"+14155550100\"\n    totp_secret: \"{TOTP_SECRET}\"\n    ntfy_topic: \"{TOPIC}\"\n",
        password_hash()
    );
    // Three sign-ins in a few seconds.
    let doorman = phones.doorman(dir.path(), &users, "1s").await;
    let shots = screenshot_dir();
    let started = Instant::now();
    let url = format!("http://{}", doorman.addr());
    let control = phones.control.base_url();
    run_script(
        "e2e.mjs",
        &[
            ("DOORMAN_URL", url.as_ref()),
            ("CONTROL_URL", control.as_ref()),
            ("TOTP_SECRET", TOTP_SECRET.as_ref()),
            ("PASSWORD", PASSWORD.as_ref()),
            ("SCREENSHOT_DIR", shots.as_os_str()),
            ("CHROMIUM", chromium.as_ref()),
        ],
        "browser e2e: all steps passed",
    )
    .await;
    for page in ["1-login", "3-sms-code", "5-push-waiting", "7-app"] {
        let shot = shots.join(format!("{page}.png"));
        assert!(
            std::fs::metadata(&shot).is_ok_and(|meta| meta.len() > 1000),
            "no screenshot at {}",
            shot.display()
        );
    }
    eprintln!("browser e2e took {:?}", started.elapsed());
    // One publish for the one push, and it carried three numbers.
    assert_eq!(phones.ntfy.publishes().len(), 1);
    doorman.shutdown().await;
}

/// Issue 17: each shipped language on every page, chosen by
/// `Accept-Language` (two users per language, so no send waits on another).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_speaks_each_shipped_language() {
    let Some(chromium) = chromium_and_playwright("a browser test") else {
        return;
    };
    let phones = Phones::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut users = String::from("users:\n");
    for (n, tag) in ["en", "de", "fr", "es", "pt-BR"].iter().enumerate() {
        // One to get a text, one a push: each sends once, with no wait.
        users.push_str(&format!(
            "  u-{tag}:\n    password: \"{hash}\"\n    phone: \"+1415555010{n}\"\n  p-{tag}:\n    password: \"{hash}\"\n    ntfy_topic: \"{TOPIC}-{n}\"\n",
            hash = password_hash()
        ));
    }
    // The passkeys page needs a relying party; nobody here has a passkey,
    // so no other page changes. Three wrong passwords lock a name (and no
    // answer is slowed: a locked name's would wait 30 s), two wrong codes
    // end a challenge; the client address (every language's browser is
    // 127.0.0.1) is not locked.
    let limits = "codes:\n  max_attempts: 2\nlimits:\n  failures: { delay: 0s, lock_after: 3 }\n  client_failures: { delay: 0s, lock_after: 1000, per_hour: 100000 }\n";
    let doorman = phones
        .doorman_on_clock(dir.path(), &users, "1s", limits)
        .await;
    let shots = screenshot_dir();
    let url = format!("http://{}", doorman.addr());
    let control = phones.control.base_url();
    let locales = Path::new(env!("CARGO_MANIFEST_DIR")).join("locales");
    run_script(
        "languages.mjs",
        &[
            ("DOORMAN_URL", url.as_ref()),
            ("CONTROL_URL", control.as_ref()),
            ("PASSWORD", PASSWORD.as_ref()),
            ("SCREENSHOT_DIR", shots.as_os_str()),
            ("LOCALES_DIR", locales.as_os_str()),
            ("CHROMIUM", chromium.as_ref()),
        ],
        "browser languages: all pages in de, en, es, fr, pt-BR",
    )
    .await;
    for shot in [
        "i18n-de-login",
        "i18n-pt-BR-code",
        "i18n-fr-recovery",
        "i18n-es-passkeys",
    ] {
        let shot = shots.join(format!("{shot}.png"));
        assert!(
            std::fs::metadata(&shot).is_ok_and(|meta| meta.len() > 1000),
            "no screenshot at {}",
            shot.display()
        );
    }
    doorman.shutdown().await;
}
