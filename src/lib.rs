//! doorman: a two-factor reverse proxy.
//!
//! Module map, in the order a request meets them:
//! - [`server`]: listeners, HTTP/1.1 + HTTP/2, connection limits, graceful shutdown.
//! - [`gate`]: the per-request decision (pages, public, signed in, or stopped).
//! - [`pages`]: doorman's own routes: login, second factor, logout, forward-auth, health.
//! - [`proxy`]: forwarding to the upstream, streaming, upgrades, header rewrites.
//! - [`session`] and [`csrf`]: the encrypted session cookie and form tokens.
//! - [`users`]: the users file and password checks; [`users_file`] writes
//!   enrolled authenticator secrets back into it.
//! - [`otp`]: codes, challenges and the providers that deliver them.
//! - [`store`]: server-side state (challenges, revocations, cooldowns).
//! - [`config`]: the config file, read in two stages.
//! - [`clock`]: injectable time.

pub mod audit;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod csrf;
pub mod demo;
pub mod error;
pub mod gate;
pub mod limits;
pub mod net;
pub mod otp;
pub mod pages;
pub mod path;
pub mod proxy;
pub mod redirect;
pub mod rules;
pub mod server;
pub mod session;
pub mod store;
pub mod users;
pub mod users_file;

use bytes::Bytes;
use clock::SharedClock;
use config::{ChannelSettings, CodeSettings, Config, IdentityHeaders, Limits};
use http::HeaderMap;
use http_body_util::{Either, Full};
use session::{Session, SessionCodec};
use std::net::SocketAddr;
use std::sync::Arc;
use users::{PasswordChecker, User, Users};

pub use error::Error;

/// Every response doorman sends: the upstream's streamed body, or its own.
pub type Body = Either<hyper::body::Incoming, Full<Bytes>>;

/// Everything a request may need, built once at start-up.
pub struct App {
    /// Where doorman's pages live, e.g. `/.doorman`.
    pub prefix: String,
    pub app_name: String,
    /// Host for the WebOTP line and redirects when `public_url` is set.
    pub public_host: Option<String>,
    /// Access rules, `public:` first; first match wins.
    pub rules: rules::Rules,
    pub channels: Vec<ChannelSettings>,
    pub codes: CodeSettings,
    pub identity: IdentityHeaders,
    pub allowed_redirect_domains: Vec<String>,
    /// ISO codes of the countries codes may go to; empty: all.
    pub allowed_countries: Vec<String>,
    /// Peers whose `X-Forwarded-*` headers are believed.
    pub trusted_proxies: net::TrustedProxies,
    pub limits: Limits,
    /// Security decisions, one JSON line each.
    pub audit: audit::Audit,
    /// Brute-force and send limits, counted in `store`.
    pub limiter: limits::Limiter,
    pub users: Arc<Users>,
    pub passwords: PasswordChecker,
    pub sessions: SessionCodec,
    pub csrf: csrf::Csrf,
    pub store: Arc<store::Store>,
    pub providers: otp::providers::Providers,
    /// Where requests go; each worker thread builds its own pooled client.
    pub upstream: config::Upstream,
    pub templates: pages::Templates,
    pub clock: SharedClock,
    /// Keys code hashes; random per process, so a code never outlives a restart.
    pub code_key: [u8; 32],
    /// `scheme://host[:port]` of `public_url`: push answer links point here.
    pub public_origin: Option<String>,
    /// The users file, for the authenticator enrollment page.
    pub users_file: Option<std::path::PathBuf>,
    /// Authenticator secrets enrolled since start-up, by user; they win
    /// over the users file as loaded.
    pub enrolled: std::sync::RwLock<std::collections::HashMap<String, otp::totp::TotpSecret>>,
}

impl App {
    pub fn new(config: Config, clock: SharedClock) -> Result<App, Error> {
        let users = Arc::new(config.users);
        let templates = pages::Templates::load(config.templates_dir.as_deref())?;
        let csrf = csrf::Csrf::new(config.session.csrf_key, &config.session.cookie_name);
        let store = store::Store::new(
            &config.store,
            store::Lifetimes {
                session: config.session.lifetime,
                code: config.codes.lifetime,
                cooldown: config.codes.resend_cooldown,
            },
        )
        .map_err(|err| Error::Startup(format!("store: {err}")))?;
        let public_origin = config
            .public_url
            .as_ref()
            .and_then(|url| Some(format!("{}://{}", url.scheme_str()?, url.authority()?)));
        Ok(App {
            public_origin,
            users_file: config.users_path,
            enrolled: Default::default(),
            prefix: config.auth_prefix,
            app_name: config.app_name,
            public_host: config
                .public_url
                .as_ref()
                .and_then(|url| url.host())
                .map(str::to_owned),
            rules: config.rules,
            channels: config.channels,
            codes: config.codes,
            identity: config.identity_headers,
            allowed_redirect_domains: config.allowed_redirect_domains,
            allowed_countries: config.allowed_countries,
            trusted_proxies: config.trusted_proxies,
            passwords: PasswordChecker::new(
                users.clone(),
                config.limits.concurrent_password_checks,
            ),
            upstream: config.upstream,
            audit: audit::Audit::new(config.log.audit.clone()),
            limiter: limits::Limiter {
                accounts: config.limits.failures.clone(),
                clients: config.limits.client_failures.clone(),
                sends_per_number: config.limits.sends_per_number,
                sends_per_account: config.limits.sends_per_account,
                push_prompts: config.limits.push_prompts,
            },
            limits: config.limits,
            users,
            sessions: SessionCodec::new(config.session),
            csrf,
            store: Arc::new(store),
            providers: otp::providers::Providers::from_settings(&config.providers),
            templates,
            clock,
            code_key: crypto::random_bytes::<32>(),
        })
    }

    /// Whether `ip` is a trusted proxy whose `X-Forwarded-*` is believed.
    pub fn trusts_proxy(&self, ip: std::net::IpAddr) -> bool {
        self.trusted_proxies.contains(ip)
    }

    /// The client's address: the peer, or what a trusted proxy reports.
    pub fn client_ip(&self, peer: std::net::IpAddr, headers: &HeaderMap) -> std::net::IpAddr {
        self.trusted_proxies.client_ip(peer, headers)
    }

    /// `user`'s authenticator secret: enrolled since start-up, or from the
    /// users file.
    pub fn totp_secret(&self, user: &User) -> Option<otp::totp::TotpSecret> {
        let enrolled = self
            .enrolled
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        enrolled
            .get(&user.name)
            .cloned()
            .or_else(|| user.totp.clone())
    }

    /// The session in `headers` if it decrypts, is current, is not revoked,
    /// and its user still exists.
    pub fn signed_in(&self, headers: &HeaderMap, now: u64) -> Option<(Session, Arc<User>)> {
        let session = self.sessions.read(headers, now).ok().flatten()?;
        if self.store.is_revoked(&session.id) {
            return None;
        }
        let user = self.users.get(&session.user)?.clone();
        Some((session, user))
    }
}

/// A running gateway: one worker thread per core, each with its own
/// event loop and upstream connection pool (no cross-thread wake-ups on the
/// hot path, as in nginx's worker model).
pub struct Gateway {
    addr: SocketAddr,
    /// Dropping it (or sending `true`) starts the graceful shutdown.
    shutdown: tokio::sync::watch::Sender<bool>,
    /// Each resolves when its worker has drained and stopped.
    workers: Vec<tokio::sync::oneshot::Receiver<()>>,
}

impl Gateway {
    /// Binds `config.listen` and starts serving.
    pub async fn start(config: Config) -> Result<Gateway, Error> {
        Gateway::start_with_clock(config, Arc::new(clock::SystemClock)).await
    }

    /// As [`Gateway::start`], reading time from `clock` (tests move it).
    pub async fn start_with_clock(config: Config, clock: SharedClock) -> Result<Gateway, Error> {
        let addr = config.listen;
        let bind_error = |source| Error::Bind { addr, source };
        let listener = std::net::TcpListener::bind(addr).map_err(bind_error)?;
        listener.set_nonblocking(true).map_err(bind_error)?;
        let addr = listener.local_addr().map_err(bind_error)?;
        let limits = config.limits.clone();
        let app = Arc::new(App::new(config, clock)?);
        let (shutdown, signal) = tokio::sync::watch::channel(false);
        let workers = server::spawn_workers(listener, app, limits, signal).map_err(bind_error)?;
        Ok(Gateway {
            addr,
            shutdown,
            workers,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, lets in-flight requests finish (bounded), returns.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        for worker in std::mem::take(&mut self.workers) {
            let _ = worker.await;
        }
    }
}
