//! Test support: doorman, a fake upstream and a fake webhook receiver, all
//! on 127.0.0.1:0, plus a cookie-keeping browser that reads forms.

#![allow(dead_code)]

pub mod upstream;
pub mod webhook;

use doorman::clock::ManualClock;
use doorman::config::Config;
use doorman::Gateway;
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
}

/// How a test wants doorman set up; `extra` is YAML appended to the config.
pub struct Setup {
    pub extra: String,
    pub users: String,
    /// Replaces the whole `channels:`/`providers:` block when set.
    pub delivery: Option<String>,
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            extra: String::new(),
            users: default_users(),
            delivery: None,
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

impl Env {
    pub async fn start() -> Env {
        Env::with(Setup::default()).await
    }

    pub async fn with(setup: Setup) -> Env {
        let upstream = Upstream::start().await;
        let webhook = Webhook::start().await;
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
        let yaml = format!(
            r#"listen: "127.0.0.1:0"
upstream: "http://{upstream}"
users_file: "users.yaml"
app_name: "Example"
session:
  secret: "{SECRET}"
public:
  - path_prefix: "/assets/"
    methods: ["GET", "HEAD"]
{delivery}
{extra}
"#,
            upstream = upstream.addr,
            extra = setup.extra,
        );
        let path = dir.path().join("doorman.yaml");
        std::fs::write(&path, yaml).expect("config file");
        let config = Config::load(&path).unwrap_or_else(|problems| panic!("test config is invalid:\n{problems}"));
        let clock = ManualClock::new();
        let doorman = Gateway::start_with_clock(config, clock.clone()).await.expect("start doorman");
        let addr = doorman.addr();
        Env {
            doorman: Some(doorman),
            addr,
            upstream,
            webhook,
            clock,
            dir,
        }
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

    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("doorman.yaml")
    }

    /// Signs `user` in all the way (password, SMS code) and returns the browser.
    pub async fn signed_in(&self, user: &str) -> Browser {
        let mut browser = self.browser();
        browser.sign_in(self, user).await;
        browser
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

    /// The value of the hidden form field `name`, from the first form that has it.
    pub fn field(&self, name: &str) -> Option<String> {
        let marker = format!("name=\"{name}\" value=\"");
        let start = self.body.find(&marker)? + marker.len();
        let end = self.body[start..].find('"')? + start;
        Some(html_unescape(&self.body[start..end]))
    }

    /// The upstream's echo of the request, when the upstream answered.
    pub fn echo(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|_| panic!("not an upstream echo: {self:?}"))
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
        let mut form: Vec<(String, String)> = fields.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        if !fields.iter().any(|(k, _)| *k == "csrf") {
            if let Some(token) = &self.csrf {
                form.push(("csrf".into(), token.clone()));
            }
        }
        let response = self
            .client
            .post(self.url(path))
            .header("accept", "text/html")
            .form(&form)
            .send()
            .await
            .expect("POST");
        self.read(response).await
    }

    async fn read(&mut self, response: reqwest::Response) -> Page {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.text().await.unwrap_or_default();
        let page = Page { status, headers, body };
        if let Some(token) = page.field("csrf") {
            self.csrf = Some(token);
        }
        page
    }

    /// The value of cookie `name` as this browser would send it.
    pub fn cookie(&self, name: &str) -> Option<String> {
        use reqwest::cookie::CookieStore;
        let url = self.base.parse().ok()?;
        let header = self.jar.cookies(&url)?;
        header
            .to_str()
            .ok()?
            .split("; ")
            .find_map(|pair| pair.strip_prefix(&format!("{name}=")).map(str::to_owned))
    }

    /// Password, then an SMS code from the webhook; ends fully signed in.
    pub async fn sign_in(&mut self, env: &Env, user: &str) {
        let page = self.get("/.doorman/login").await;
        assert_eq!(page.status, 200, "{page:?}");
        let page = self.post("/.doorman/login", &[("username", user), ("password", PASSWORD)]).await;
        assert_eq!(page.status, 303, "password step: {page:?}");
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
