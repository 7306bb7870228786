//! Shared steps of the second-factor tests: page checks that name the case
//! they belong to, doorman with an authenticator app beside the webhook,
//! the walk from the password to a code page, and config checks.

use super::fake_api::{FakeApi, Recorded, FORM};
use super::{Browser, Env, Page, Setup};

/// Page checks for a case of a table-driven test: a failure says `name`.
pub trait CaseChecks {
    /// Asserts that the body shows `text`.
    fn shows_for(&self, name: &str, text: &str);
    /// Asserts the status and that the body shows `text`.
    fn says_for(&self, name: &str, status: u16, text: &str);
}

impl CaseChecks for Page {
    #[track_caller]
    fn shows_for(&self, name: &str, text: &str) {
        assert!(self.body.contains(text), "{name}: {}", self.body);
    }

    #[track_caller]
    fn says_for(&self, name: &str, status: u16, text: &str) {
        assert_eq!(self.status, status, "{name}: {self:?}");
        self.shows_for(name, text);
    }
}

/// doorman offering `channels` (the lines under `channels:`) over the
/// provider `blocks` (one line each under `providers:`) and a `webhook`
/// provider at the env's receiver; these `users` and `extra` top-level keys.
pub async fn factor_env(channels: &str, blocks: &[String], users: String, extra: &str) -> Env {
    let blocks: String = blocks.iter().map(|block| format!("  {block}\n")).collect();
    Env::with_delivery(|webhook| Setup {
        delivery: Some(format!(
            "channels:\n{channels}providers:\n{blocks}  webhook: {{ url: \"{webhook}\", timeout: \"2s\" }}\n"
        )),
        users,
        extra: extra.to_owned(),
        ..Setup::default()
    })
    .await
}

/// The `channels:` lines of an authenticator app with SMS on the webhook.
pub const TOTP_AND_SMS: &str = "  totp: {}\n  sms: { provider: webhook }\n";

/// The password step for `user`, then a code on `channel`: the browser is
/// left on the code page, which is returned (it answered 200).
pub async fn to_code_page(browser: &mut Browser, user: &str, channel: &str) -> Page {
    browser.sign_in_password(user).await;
    let page = browser.ask_for_code(channel).await;
    assert_eq!(page.status, 303, "{page:?}");
    let page = browser.get("/.doorman/2fa").await;
    assert_eq!(page.status, 200, "{page:?}");
    page
}

/// A browser of `env`'s past `user`'s password and on the code page for
/// `channel`, which shows `text`.
pub async fn on_code_page(env: &Env, user: &str, channel: &str, text: &str) -> Browser {
    let mut browser = env.browser();
    to_code_page(&mut browser, user, channel)
        .await
        .assert_shows(text);
    browser
}

/// What `Config::from_yaml` says about the config that `yaml` (lines after
/// `upstream`, `users_file` and `session`) completes, with `users` as the
/// users file.
pub fn config_problems(users: &str, yaml: &str) -> String {
    let (dir, path) = config_dir(users, yaml);
    let yaml = std::fs::read_to_string(path).unwrap();
    doorman::config::Config::from_yaml(&yaml, dir.path())
        .expect_err("problems")
        .to_string()
}

/// A temp dir with `users` as `users.yaml`, and a `doorman.yaml` that
/// `yaml` completes (after `upstream`, `users_file` and `session`): the
/// dir and the config's path.
pub fn config_dir(users: &str, yaml: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("users.yaml"), users).unwrap();
    let config = dir.path().join("doorman.yaml");
    let yaml = format!(
        "upstream: \"http://127.0.0.1:3000\"\nusers_file: \"users.yaml\"\nsession:\n  secret: \"{}\"\n{yaml}",
        super::SECRET
    );
    std::fs::write(&config, yaml).unwrap();
    (dir, config)
}

/// The one request `api` got.
#[track_caller]
pub fn only_request(api: &FakeApi) -> Recorded {
    let requests = api.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    requests[0].clone()
}

/// Asserts that `request` is a POST to `path`.
#[track_caller]
pub fn assert_post_to(request: &Recorded, path: &str) {
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, path);
}

/// Asserts that doorman sent no code of its own: the webhook got nothing.
#[track_caller]
pub fn assert_no_own_code(env: &Env) {
    assert!(
        env.webhook.deliveries().is_empty(),
        "doorman sent no code of its own"
    );
}

/// Asserts that `request` is a form POST to `path` whose credentials go in
/// the form: no `authorization` header.
#[track_caller]
pub fn assert_form_post_with_keys_in_it(request: &Recorded, path: &str) {
    assert_post_to(request, path);
    assert_eq!(request.header("content-type"), Some(FORM));
    assert_eq!(
        request.header("authorization"),
        None,
        "credentials go in the form"
    );
}

/// Asserts each of the `fields` (key, value) of the request's form.
#[track_caller]
pub fn assert_form_fields(request: &Recorded, fields: &[(&str, &str)]) {
    let form = request.form();
    for (key, value) in fields {
        assert_eq!(form.get(*key).map(String::as_str), Some(*value), "{key}");
    }
}
