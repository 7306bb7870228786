//! Test support: doorman, a fake upstream and a fake webhook receiver, all
//! on 127.0.0.1:0, plus a cookie-keeping browser that reads forms.

#![allow(dead_code)]

pub mod certs;
pub mod duo;
pub mod factor;
pub mod fake_api;
pub mod gate;
pub mod logs;
pub mod ntfy;
pub mod poll;
pub mod process;
pub mod redis;
pub mod signin;
pub mod sms;
pub mod telnyx;
pub mod twilio;
pub mod upstream;
pub mod vonage;
pub mod webhook;
pub mod websocket;

use doorman::clock::{Clock, ManualClock};
use doorman::config::Config;
use doorman::Gateway;
pub use poll::{eventually, holds_within};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
pub use upstream::Upstream;
pub use webhook::Webhook;

pub const PASSWORD: &str = "correct horse battery staple";
pub const SECRET: &str = "test-secret-test-secret-test-secret-0123456789";

/// One argon2 hash for every test user (hashing is slow on purpose).
pub fn password_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| doorman::users::hash_password(PASSWORD).expect("hash"))
}

/// A running doorman with its upstream, webhook receiver, clock and files.
pub struct Env {
    pub doorman: Option<Gateway>,
    pub addr: SocketAddr,
    pub upstream: Upstream,
    pub webhook: Webhook,
    pub clock: Arc<ManualClock>,
    pub dir: tempfile::TempDir,
    /// The audit events doorman wrote, one JSON line each.
    pub audit: Arc<std::sync::Mutex<Vec<String>>>,
}

/// How a test wants doorman set up; `extra` is YAML appended to the config.
pub struct Setup {
    pub extra: String,
    pub users: String,
    /// Replaces the whole `channels:`/`providers:` block when set.
    pub delivery: Option<String>,
    /// `session.secret` (the config already has a `session:` block, so
    /// session keys cannot go in `extra`).
    pub secret: String,
    /// More keys under `session:`, one per line, written unindented
    /// (e.g. `"secure: true"`).
    pub session: String,
    /// `upstream:` instead of the fake upstream's `http://` address.
    pub upstream_url: Option<String>,
    /// An `apps:` block in place of the top-level `upstream:` and
    /// `public:`; `{upstream}` in it is the fake upstream's address.
    pub apps: Option<String>,
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            extra: String::new(),
            users: default_users(),
            delivery: None,
            secret: SECRET.to_owned(),
            session: String::new(),
            upstream_url: None,
            apps: None,
        }
    }
}

pub fn default_users() -> String {
    format!(
        r#"users:
  alice:
    password: "{hash}"
    display_name: "Alice Example"
    email: "alice@example.com"
    groups: ["admins", "ops"]
    phone: "+14155550100"
  bob:
    password: "{hash}"
    phone: "+14155550199"
  nophone:
    password: "{hash}"
"#,
        hash = password_hash()
    )
}

/// `extra` with `store: { kind: memory }` unless it names a store: tests
/// start on the memory store explicitly (`serve` defaults to the file one).
fn with_store(extra: &str) -> String {
    if extra.lines().any(|line| line.starts_with("store:")) {
        extra.to_owned()
    } else {
        format!("{extra}\nstore: {{ kind: memory }}\n")
    }
}

/// `text` with every line indented by two spaces, to nest it under a key.
fn indent(text: &str) -> String {
    text.lines().map(|line| format!("  {line}\n")).collect()
}

impl Env {
    pub async fn start() -> Env {
        Env::with(Setup::default()).await
    }

    pub async fn with(setup: Setup) -> Env {
        let webhook = Webhook::start().await;
        Env::start_with(webhook, setup).await
    }

    /// The default doorman, with alice signed in all the way: the env and
    /// her browser.
    pub async fn alice_signed_in() -> (Env, Browser) {
        let env = Env::start().await;
        let browser = env.signed_in("alice").await;
        (env, browser)
    }

    /// The default doorman, with alice past her password only (no code
    /// yet): the env and her browser.
    pub async fn alice_past_password() -> (Env, Browser) {
        let env = Env::start().await;
        let browser = env.past_password("alice").await;
        (env, browser)
    }

    /// doorman with `extra` appended to the default config.
    pub async fn with_extra(extra: &str) -> Env {
        Env::with(Setup {
            extra: extra.to_owned(),
            ..Setup::default()
        })
        .await
    }

    /// doorman with more keys under `session:` (see [`Setup::session`]).
    pub async fn with_session(session: &str) -> Env {
        Env::with(Setup {
            session: session.to_owned(),
            ..Setup::default()
        })
        .await
    }

    /// As [`Env::with`], for a setup that needs the webhook receiver's URL.
    pub async fn with_delivery(setup: impl FnOnce(String) -> Setup) -> Env {
        let webhook = Webhook::start().await;
        let setup = setup(format!("http://{}/send", webhook.addr));
        Env::start_with(webhook, setup).await
    }

    /// doorman with `channels` (lines under `channels:`), the provider
    /// `blocks` (one line each under `providers:`) and a `webhook` provider
    /// at the env's receiver, for channels to fall back to.
    pub async fn with_providers(channels: &str, blocks: &[String], extra: &str) -> Env {
        let blocks: String = blocks.iter().map(|block| format!("  {block}\n")).collect();
        Env::with_delivery(|webhook| Setup {
            delivery: Some(format!(
                "channels:\n{channels}\nproviders:\n{blocks}  webhook: {{ url: \"{webhook}\", timeout: \"2s\" }}\n"
            )),
            extra: extra.to_owned(),
            ..Setup::default()
        })
        .await
    }

    async fn start_with(webhook: Webhook, setup: Setup) -> Env {
        let upstream = Upstream::start().await;
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("users.yaml"), &setup.users).expect("users file");
        let delivery = setup.delivery.clone().unwrap_or_else(|| {
            format!(
                r#"channels:
  sms: {{ provider: webhook }}
  voice: {{ provider: webhook }}
providers:
  webhook: {{ url: "http://{}/send", secret: "hook-secret", timeout: "2s" }}
"#,
                webhook.addr
            )
        });
        let upstream_url = setup
            .upstream_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", upstream.addr));
        let app = match &setup.apps {
            Some(apps) => apps.replace("{upstream}", &upstream_url),
            None => format!(
                "upstream: \"{upstream_url}\"\npublic:\n  - path_prefix: \"/assets/\"\n    methods: [\"GET\", \"HEAD\"]\n"
            ),
        };
        let yaml = format!(
            r#"listen: "127.0.0.1:0"
users_file: "users.yaml"
app_name: "Example"
session:
  secret: "{secret}"
{session}
{app}
{delivery}
{extra}
"#,
            secret = setup.secret,
            session = indent(&setup.session),
            extra = with_store(&setup.extra),
        );
        let path = dir.path().join("doorman.yaml");
        std::fs::write(&path, yaml).expect("config file");
        // Without the DOORMAN_* overlay: other tests set variables in this
        // shared process environment.
        let mut config = Config::load_from(Some(&path), &|_| None)
            .unwrap_or_else(|problems| panic!("test config is invalid:\n{problems}"));
        let audit = Arc::new(std::sync::Mutex::new(Vec::new()));
        config.log.audit = doorman::audit::Output::Memory(audit.clone());
        let clock = ManualClock::new();
        let doorman = Gateway::start_with_clock(config, clock.clone())
            .await
            .expect("start doorman");
        let addr = doorman.addr();
        Env {
            doorman: Some(doorman),
            addr,
            upstream,
            webhook,
            clock,
            dir,
            audit,
        }
    }

    /// A second doorman from the same config file and on the same clock:
    /// another replica, sharing whatever the config's store shares. Its
    /// audit events go to the same list.
    pub async fn replica(&self) -> Gateway {
        let mut config = Config::load_from(Some(&self.config_path()), &|_| None)
            .unwrap_or_else(|problems| panic!("test config is invalid:\n{problems}"));
        config.log.audit = doorman::audit::Output::Memory(self.audit.clone());
        Gateway::start_with_clock(config, self.clock.clone())
            .await
            .expect("start the second replica")
    }

    /// The audit events so far, parsed.
    pub fn audit_events(&self) -> Vec<serde_json::Value> {
        self.audit
            .lock()
            .expect("audit lines")
            .iter()
            .map(|line| serde_json::from_str(line).expect("an audit line is JSON"))
            .collect()
    }

    /// The audit events named `event`.
    pub fn audited(&self, event: &str) -> Vec<serde_json::Value> {
        self.audit_events()
            .into_iter()
            .filter(|line| line["event"] == event)
            .collect()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn browser(&self) -> Browser {
        Browser::new(self.addr)
    }

    pub fn advance(&self, by: Duration) {
        self.clock.advance(by);
    }

    /// doorman's time, in Unix seconds.
    pub fn now(&self) -> u64 {
        self.clock.now()
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("doorman.yaml")
    }

    /// Signs `user` in all the way (password, SMS code) and returns the browser.
    pub async fn signed_in(&self, user: &str) -> Browser {
        let mut browser = self.browser();
        browser.sign_in(self, user).await;
        browser
    }

    /// A browser past `user`'s password: a level-1 session, no code yet.
    pub async fn past_password(&self, user: &str) -> Browser {
        let mut browser = self.browser();
        browser.sign_in_password(user).await;
        browser
    }

    /// The session cookie of `user`, signed in all the way in a browser
    /// of its own.
    pub async fn session_of(&self, user: &str) -> String {
        self.signed_in(user)
            .await
            .session_cookie()
            .unwrap_or_else(|| panic!("a session cookie for {user}"))
    }

    /// A new browser whose only cookie is `value` as the session cookie: a
    /// replayed or forged cookie, sent from somewhere else.
    pub fn browser_with_session(&self, value: &str) -> Browser {
        let browser = self.browser();
        browser.set_cookie(SESSION_COOKIE, value);
        browser
    }

    /// GETs `path` as a script: no `Accept: text/html`, no redirects, and
    /// `session` (when given) as the only cookie.
    pub async fn api_get(&self, path: &str, session: Option<&str>) -> Page {
        let mut request = api_client().get(self.url(path));
        if let Some(value) = session {
            request = request.header("cookie", format!("{SESSION_COOKIE}={value}"));
        }
        into_page(request.send().await.expect("GET")).await
    }

    /// GETs `path` as a script (see [`Env::api_get`]) with `cookies` as the
    /// whole `Cookie` header: the response as it came.
    pub async fn api_get_with_cookies(&self, path: &str, cookies: &str) -> reqwest::Response {
        api_client()
            .get(self.url(path))
            .header("cookie", cookies)
            .send()
            .await
            .expect("GET")
    }

    /// What the session cookie `value` holds, decrypted with the default
    /// test secret; `None` when it does not decrypt or is no longer current.
    pub fn session(&self, value: &str) -> Option<doorman::session::Session> {
        decrypt_session(value, SECRET, self.now())
    }
}

/// The session cookie's default name, and the CSRF cookie's, as doorman
/// sets them over plain http; a `Secure` cookie carries the `__Host-`
/// prefix as well ([`host_prefixed`]).
pub const SESSION_COOKIE: &str = "doorman_session";
pub const CSRF_COOKIE: &str = "doorman_session_csrf";

/// `name` as doorman names a `Secure`, host-only cookie.
pub fn host_prefixed(name: &str) -> String {
    format!("__Host-{name}")
}

/// Decrypts a session cookie value the way doorman does, with `secret`.
pub fn decrypt_session(value: &str, secret: &str, now: u64) -> Option<doorman::session::Session> {
    use doorman::session::{Secure, SessionSettings};
    let codec = doorman::session::SessionCodec::new(SessionSettings {
        keys: vec![cookie::Key::derive_from(secret.as_bytes())],
        csrf_key: [0; 32],
        remember_device: None,
        cookie_name: SESSION_COOKIE.to_owned(),
        secure: Secure::Auto,
        domain: None,
        lifetime: Duration::from_secs(12 * 3600),
        idle_timeout: Duration::from_secs(12 * 3600),
    });
    let mut headers = http::HeaderMap::new();
    let cookie = http::HeaderValue::from_str(&format!("{SESSION_COOKIE}={value}")).ok()?;
    headers.insert(http::header::COOKIE, cookie);
    codec.read(&headers, now).ok().flatten()
}

/// Whether `page` finished a sign-in: a redirect that sets a live session cookie.
pub fn signed_in_by(page: &Page) -> bool {
    page.status == 303
        && page
            .set_cookies()
            .iter()
            .any(|c| c.starts_with("doorman_session=") && !c.contains("Max-Age=0"))
}

/// The attributes of a `Set-Cookie` value after its `name=value`, trimmed
/// and lower-cased.
pub fn cookie_attributes(set_cookie: &str) -> Vec<String> {
    set_cookie
        .split(';')
        .skip(1)
        .map(|a| a.trim().to_ascii_lowercase())
        .collect()
}

/// Asks `GET /.doorman/auth` through `client` as a front proxy would, with
/// `headers` and the session cookie `session` (the proxy copies the
/// browser's cookies).
pub async fn ask_auth(
    client: &reqwest::Client,
    env: &Env,
    headers: &[(&str, &str)],
    session: Option<&str>,
) -> Page {
    let mut request = client.get(env.url("/.doorman/auth"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if let Some(value) = session {
        // Under both names: a front proxy that says https (X-Forwarded-Proto
        // from a trusted peer) makes doorman read the `__Host-` one.
        request = request.header(
            "cookie",
            format!("{SESSION_COOKIE}={value}; __Host-{SESSION_COOKIE}={value}"),
        );
    }
    into_page(request.send().await.expect("auth request")).await
}

/// Reads a response into a [`Page`].
pub async fn into_page(response: reqwest::Response) -> Page {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.text().await.unwrap_or_default();
    Page {
        status,
        headers,
        body,
    }
}

/// A page as a test sees it.
#[derive(Debug)]
pub struct Page {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Page {
    pub fn location(&self) -> Option<&str> {
        self.headers.get("location").and_then(|v| v.to_str().ok())
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect()
    }

    /// The first `Set-Cookie` that starts with `prefix` (a cookie's
    /// `name=`).
    pub fn set_cookie_starting(&self, prefix: &str) -> Option<String> {
        self.set_cookies()
            .into_iter()
            .find(|cookie| cookie.starts_with(prefix))
    }

    /// The value of the hidden form field `name`, from the first form that has it.
    pub fn field(&self, name: &str) -> Option<String> {
        let marker = format!("name=\"{name}\" value=\"");
        let start = self.body.find(&marker)? + marker.len();
        let end = self.body[start..].find('"')? + start;
        Some(html_unescape(&self.body[start..end]))
    }

    /// Asserts that the body shows `text` (the body is the message).
    #[track_caller]
    pub fn assert_shows(&self, text: &str) {
        assert!(self.body.contains(text), "{}", self.body);
    }

    /// Asserts the status (the page is the message) and that the body
    /// shows `text`.
    #[track_caller]
    pub fn assert_says(&self, status: u16, text: &str) {
        assert_eq!(self.status, status, "{self:?}");
        self.assert_shows(text);
    }

    /// The upstream's echo of the request, when the upstream answered.
    pub fn echo(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|_| panic!("not an upstream echo: {self:?}"))
    }
}

fn html_unescape(text: &str) -> String {
    text.replace("&#x2f;", "/")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// A browser: keeps cookies, follows no redirects, sends `Accept: text/html`,
/// and remembers the last CSRF token it saw in a page.
pub struct Browser {
    pub client: reqwest::Client,
    pub jar: Arc<reqwest::cookie::Jar>,
    pub base: String,
    pub csrf: Option<String>,
}

impl Browser {
    pub fn new(addr: SocketAddr) -> Browser {
        let jar = Arc::new(reqwest::cookie::Jar::default());
        let client = reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        Browser {
            client,
            jar,
            base: format!("http://{addr}"),
            csrf: None,
        }
    }

    /// A browser that reaches each of `hosts` at `addr` (as DNS would send
    /// it there), starting at the first; cookies follow the host names.
    pub fn for_hosts(addr: SocketAddr, hosts: &[&str]) -> Browser {
        let jar = Arc::new(reqwest::cookie::Jar::default());
        let mut builder = reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .redirect(reqwest::redirect::Policy::none());
        for host in hosts {
            builder = builder.resolve(host, addr);
        }
        Browser {
            client: builder.build().expect("client"),
            jar,
            base: format!("http://{}:{}", hosts[0], addr.port()),
            csrf: None,
        }
    }

    /// Sends this browser's next requests to `host` (see [`Browser::for_hosts`]).
    pub fn switch_to_host(&mut self, host: &str) {
        let port = self.base.rsplit(':').next().unwrap_or("80").to_owned();
        self.base = format!("http://{host}:{port}");
    }

    /// Sends this browser's next requests to `addr` (another replica), with
    /// the same cookies: both listen on 127.0.0.1, and cookies ignore ports.
    pub fn switch_to(&mut self, addr: SocketAddr) {
        self.base = format!("http://{addr}");
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let response = self
            .client
            .get(self.url(path))
            .header("accept", "text/html,application/xhtml+xml")
            .send()
            .await
            .expect("GET");
        self.read(response).await
    }

    /// POSTs a form; the remembered CSRF token is added unless `fields` has one.
    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        self.post_with(path, fields, &[]).await
    }

    /// As [`Browser::post`], with more request headers.
    pub async fn post_with(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> Page {
        let mut form: Vec<(String, String)> = fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        if !fields.iter().any(|(k, _)| *k == "csrf") {
            if let Some(token) = &self.csrf {
                form.push(("csrf".into(), token.clone()));
            }
        }
        let request = self
            .client
            .post(self.url(path))
            .header("accept", "text/html")
            .form(&form);
        self.send_with(request, headers).await
    }

    /// Sends `request` with `headers` added: the page, read as this
    /// browser reads pages.
    async fn send_with(
        &mut self,
        mut request: reqwest::RequestBuilder,
        headers: &[(&str, &str)],
    ) -> Page {
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.expect("request");
        self.read(response).await
    }

    async fn read(&mut self, response: reqwest::Response) -> Page {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.text().await.unwrap_or_default();
        let page = Page {
            status,
            headers,
            body,
        };
        if let Some(token) = page.field("csrf") {
            self.csrf = Some(token);
        }
        page
    }

    /// GETs `path` with this browser's cookies and only `headers` (no
    /// `Accept`): the response as it came.
    pub async fn get_plain(&self, path: &str, headers: &[(&str, &str)]) -> reqwest::Response {
        let mut request = self.client.get(self.url(path));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await.expect("GET")
    }

    /// As [`Browser::get`], with more request headers.
    pub async fn get_with(&mut self, path: &str, headers: &[(&str, &str)]) -> Page {
        let request = self
            .client
            .get(self.url(path))
            .header("accept", "text/html,application/xhtml+xml");
        self.send_with(request, headers).await
    }

    /// POSTs exactly `fields`: no CSRF token is added.
    pub async fn post_exact(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let response = self
            .client
            .post(self.url(path))
            .header("accept", "text/html")
            .form(fields)
            .send()
            .await
            .expect("POST");
        self.read(response).await
    }

    /// Stores cookie `name=value` for doorman's address, as if doorman had
    /// set it (over https, under its `__Host-` name).
    pub fn set_cookie(&self, name: &str, value: &str) {
        let url = self.base.parse().expect("base URL");
        let cookie = if self.base.starts_with("https:") {
            format!("{}={value}; Path=/; Secure", host_prefixed(name))
        } else {
            format!("{name}={value}; Path=/")
        };
        self.jar.add_cookie_str(&cookie, &url);
    }

    /// Signs out the way a person does: the confirmation page at `path`
    /// (`/.doorman/logout`, perhaps with `?rd=`), then its form. Returns
    /// the answer to the form.
    pub async fn sign_out_from(&mut self, path: &str) -> Page {
        let page = self.get(path).await;
        assert_eq!(page.status, 200, "the sign-out confirmation: {page:?}");
        let rd = page.field("rd").unwrap_or_default();
        self.post("/.doorman/logout", &[("rd", &rd)]).await
    }

    /// Signs out through the confirmation page.
    pub async fn sign_out(&mut self) -> Page {
        self.sign_out_from("/.doorman/logout").await
    }

    /// The CSRF token of the last page with a form.
    pub fn csrf_token(&self) -> String {
        self.csrf.clone().unwrap_or_default()
    }

    /// The session cookie this browser holds, if any.
    pub fn session_cookie(&self) -> Option<String> {
        self.cookie(SESSION_COOKIE)
            .filter(|value| !value.is_empty())
    }

    /// POSTs the login form with `user` and `password` (and the CSRF
    /// token): the answer.
    pub async fn post_password(&mut self, user: &str, password: &str) -> Page {
        self.post(
            "/.doorman/login",
            &[("username", user), ("password", password)],
        )
        .await
    }

    /// Opens the login page and submits `user` and `password`: the answer.
    pub async fn try_password(&mut self, user: &str, password: &str) -> Page {
        self.get("/.doorman/login").await;
        self.post_password(user, password).await
    }

    /// The password step only: ends with a level-1 session (no code yet).
    pub async fn sign_in_password(&mut self, user: &str) {
        let page = self.get("/.doorman/login").await;
        assert_eq!(page.status, 200, "{page:?}");
        let page = self.post_password(user, PASSWORD).await;
        assert_eq!(page.status, 303, "password step: {page:?}");
    }

    /// From the 2FA page, asks for a code on `channel`: the answer, whatever
    /// it is (for a provider other than the webhook, or one that fails).
    pub async fn ask_for_code(&mut self, channel: &str) -> Page {
        self.get("/.doorman/2fa").await;
        self.post("/.doorman/2fa/send", &[("channel", channel)])
            .await
    }

    /// Asks for a code on `channel` and returns the code the webhook got;
    /// the browser is left on the code page.
    pub async fn request_code(&mut self, env: &Env, channel: &str) -> String {
        let before = env.webhook.deliveries().len();
        let page = self.get("/.doorman/2fa").await;
        assert_eq!(page.status, 200, "{page:?}");
        let page = self
            .post("/.doorman/2fa/send", &[("channel", channel)])
            .await;
        assert_eq!(page.status, 303, "send step: {page:?}");
        assert_eq!(
            env.webhook.deliveries().len(),
            before + 1,
            "one delivery per send"
        );
        let page = self.get("/.doorman/2fa").await;
        assert_eq!(page.status, 200, "{page:?}");
        env.webhook.last_code().expect("a code was delivered")
    }

    /// Asks, from the 2FA page, for a code on `channel`: the answer.
    pub async fn send_code(&mut self, channel: &str) -> Page {
        self.post("/.doorman/2fa/send", &[("channel", channel)])
            .await
    }

    /// Asks, from the code page, for a new code on `channel`: the answer.
    pub async fn resend_code(&mut self, channel: &str) -> Page {
        self.post("/.doorman/2fa/resend", &[("channel", channel)])
            .await
    }

    /// Types `code` into the code page: it finishes the sign-in.
    pub async fn assert_signs_in_with(&mut self, code: &str) {
        let page = self.enter_code(code).await;
        assert!(signed_in_by(&page), "{page:?}");
    }

    /// Types `code` into the code page.
    pub async fn enter_code(&mut self, code: &str) -> Page {
        self.post("/.doorman/2fa/verify", &[("code", code)]).await
    }

    /// Signs in as a browser would after following a link to `login_path`
    /// (which may carry `?rd=`): each form's hidden `rd` is sent back as the
    /// page gave it. Returns the answer to the code; its `Location` is where
    /// the browser goes next.
    pub async fn sign_in_from(&mut self, env: &Env, user: &str, login_path: &str) -> Page {
        let page = self.get(login_path).await;
        assert_eq!(page.status, 200, "{page:?}");
        let rd = page.field("rd").unwrap_or_default();
        let page = self
            .post(
                "/.doorman/login",
                &[("username", user), ("password", PASSWORD), ("rd", &rd)],
            )
            .await;
        assert_eq!(page.status, 303, "password step: {page:?}");
        let page = self
            .get(page.location().expect("to the second factor"))
            .await;
        assert_eq!(page.status, 200, "{page:?}");
        let rd = page.field("rd").unwrap_or_default();
        let page = self
            .post("/.doorman/2fa/send", &[("channel", "sms"), ("rd", &rd)])
            .await;
        assert_eq!(page.status, 303, "send step: {page:?}");
        let code = env.webhook.last_code().expect("a code was delivered");
        let page = self.get(page.location().expect("to the code page")).await;
        assert_eq!(page.status, 200, "{page:?}");
        let rd = page.field("rd").unwrap_or_default();
        self.post("/.doorman/2fa/verify", &[("code", &code), ("rd", &rd)])
            .await
    }

    /// The value of cookie `name` as this browser would send it, under
    /// its plain or its `__Host-` name.
    pub fn cookie(&self, name: &str) -> Option<String> {
        use reqwest::cookie::CookieStore;
        let url = self.base.parse().ok()?;
        let header = self.jar.cookies(&url)?;
        header.to_str().ok()?.split("; ").find_map(|pair| {
            let pair = pair.strip_prefix("__Host-").unwrap_or(pair);
            pair.strip_prefix(&format!("{name}=")).map(str::to_owned)
        })
    }

    /// Password, then an SMS code from the webhook; ends fully signed in.
    pub async fn sign_in(&mut self, env: &Env, user: &str) {
        self.sign_in_password(user).await;
        let page = self.get("/.doorman/2fa").await;
        assert_eq!(page.status, 200, "{page:?}");
        let page = self.post("/.doorman/2fa/send", &[("channel", "sms")]).await;
        assert_eq!(page.status, 303, "send step: {page:?}");
        let code = env.webhook.last_code().expect("a code was delivered");
        self.get("/.doorman/2fa").await;
        let page = self.post("/.doorman/2fa/verify", &[("code", &code)]).await;
        assert_eq!(page.status, 303, "verify step: {page:?}");
    }
}

/// A plain client: no cookies, no redirects, no Accept header.
pub fn api_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// An answer read off a raw socket.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    /// Header lines as sent, names in their original case.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl RawResponse {
    /// Every value of header `name`, compared without regard to case.
    pub fn header_values(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
            .collect()
    }
}

/// Sends `head` (request line and headers, without the blank line) as
/// written — letter case and all — on a new connection, with
/// `Connection: close`, and reads the whole answer.
pub async fn raw_request(addr: SocketAddr, head: &str) -> RawResponse {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let request = format!(
        "{}\r\nConnection: close\r\n\r\n",
        head.trim_end().replace('\n', "\r\n")
    );
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes).await.expect("read");
    parse_raw_response(&String::from_utf8_lossy(&bytes))
}

/// Parses an HTTP/1.1 answer read off a socket up to its end.
pub fn parse_raw_response(text: &str) -> RawResponse {
    let (head, body) = text.split_once("\r\n\r\n").expect("a complete answer");
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|code| code.parse().ok())
        .expect("a status line");
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.to_owned(), value.trim().to_owned()))
        .collect();
    let chunked = headers.iter().any(|(name, value)| {
        name.eq_ignore_ascii_case("transfer-encoding") && value.contains("chunked")
    });
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_owned()
    };
    RawResponse {
        status,
        headers,
        body,
    }
}

fn dechunk(mut rest: &str) -> String {
    let mut body = String::new();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let size =
            usize::from_str_radix(size.split(';').next().unwrap_or("0").trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        body.push_str(&after[..size]);
        rest = after[size..].strip_prefix("\r\n").unwrap_or(&after[size..]);
    }
    body
}
