//! doorman: a two-factor reverse proxy.
//!
//! Module map, in the order a request meets them:
//! - [`server`]: listeners, HTTP/1.1 + HTTP/2, idle connections, graceful shutdown;
//!   [`connections`] holds the connection slots and [`stall`] the stall timeouts.
//! - [`gate`]: the per-request decision (pages, public, signed in, or stopped).
//! - [`path`] and [`rules`]: the canonical and lenient readings of a path,
//!   and the access rules judged on both; [`path_readings`]: how other
//!   servers read a path, for the differential test and the fuzzer.
//! - [`pages`]: doorman's own routes: login, second factor, logout, forward-auth, health.
//! - [`proxy`]: forwarding to the upstream, streaming, upgrades, header rewrites.
//! - [`session`] and [`csrf`]: the encrypted session cookie and form tokens.
//! - [`users`]: the users file and password checks; [`users_file`] writes
//!   enrolled authenticator secrets back into it.
//! - [`otp`]: codes, challenges and the providers that deliver them.
//! - [`store`]: server-side state (challenges, revocations, cooldowns).
//! - [`config`]: the config file, read in two stages.
//! - [`clock`]: injectable time.
//! - [`tls`]: certificates for the listener and `https://` upstreams.
//! - [`metrics`]: Prometheus counters and their exposition.
//! - [`control`]: the side thread serving metrics and watching certificates.
//! - [`notify`]: account notices (authenticator changes) to audit and webhook.

pub mod audit;
pub mod clock;
pub mod config;
pub mod connections;
pub mod control;
pub mod crypto;
pub mod csrf;
pub mod demo;
pub mod error;
pub mod gate;
pub mod healthcheck;
pub mod limits;
pub mod metrics;
pub mod net;
pub mod notify;
pub mod otp;
pub mod pages;
pub mod path;
pub mod path_readings;
pub mod proxy;
pub mod redirect;
pub mod report;
pub mod rules;
pub mod secret;
pub mod server;
pub mod session;
pub mod stall;
pub mod store;
pub mod tls;
pub mod users;
pub mod users_file;

use arc_swap::ArcSwap;
use bytes::Bytes;
use clock::SharedClock;
use config::Config;
use http::{HeaderMap, HeaderValue};
use http_body_util::{Either, Full};
use limits::Limits;
use otp::{ChannelSettings, CodeSettings};
use session::{Session, SessionCodec};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use users::IdentityHeaders;
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
    /// Access rules, `public:` first; first match wins. SIGHUP swaps them.
    pub rules: ArcSwap<rules::Rules>,
    pub channels: Vec<ChannelSettings>,
    pub codes: CodeSettings,
    pub identity: IdentityHeaders,
    pub allowed_redirect_domains: Vec<String>,
    /// ISO codes of the countries codes may go to; empty: all.
    pub allowed_countries: Vec<String>,
    /// Peers whose `X-Forwarded-*` headers are believed.
    pub trusted_proxies: net::TrustedProxies,
    /// Upgrades tunnelled and client headers passed to the upstream.
    pub forwarding: proxy::ForwardingSettings,
    /// The client headers removed before forwarding (built from
    /// `identity` and `forwarding`).
    pub client_headers: proxy::headers::ClientHeaders,
    pub limits: Limits,
    /// Security decisions, one JSON line each.
    pub audit: audit::Audit,
    /// Brute-force and send limits, counted in `store`.
    pub limiter: limits::Limiter,
    /// The users file as last (re)loaded; SIGHUP swaps it.
    pub users: Arc<ArcSwap<Users>>,
    pub passwords: PasswordChecker,
    pub sessions: SessionCodec,
    pub csrf: csrf::Csrf,
    pub store: Arc<store::Store>,
    pub providers: otp::providers::Providers,
    /// Where requests go; each worker thread builds its own pooled client.
    pub upstream: proxy::Upstream,
    pub templates: pages::Templates,
    pub clock: SharedClock,
    /// Keys code hashes and push answer tokens: random per process with the
    /// memory store; from the session secret with a file or shared store.
    pub code_key: [u8; 32],
    /// `Strict-Transport-Security` for answers sent over TLS, when configured.
    pub hsts: Option<HeaderValue>,
    /// Set when shutdown begins: health answers 503 so load balancers stop
    /// sending work while in-flight requests drain.
    pub draining: AtomicBool,
    /// `scheme://host[:port]` of `public_url`: push answer links and
    /// forward-auth's sign-in redirects point here.
    pub public_origin: Option<String>,
    /// The users file, for the authenticator enrollment page.
    pub users_file: Option<std::path::PathBuf>,
    /// Authenticator secrets enrolled since start-up, by user; they win
    /// over the users file as loaded.
    pub enrolled: std::sync::RwLock<std::collections::HashMap<String, otp::totp::TotpSecret>>,
}

impl App {
    pub fn new(config: Config, clock: SharedClock) -> Result<App, Error> {
        let users = Arc::new(ArcSwap::from_pointee(config.users));
        let templates = pages::Templates::load(config.templates_dir.as_deref())?;
        let csrf = csrf::Csrf::new(config.session.csrf_key, &config.session.cookie_name);
        // Replicas sharing a store must agree on it (a code sent by one is
        // checked by another), and a file store keeps pending codes across
        // a restart, so then it comes from the session secret; in memory, a
        // random key means no code outlives a restart.
        let code_key = match config.store {
            store::StoreSettings::Memory => crypto::random_bytes::<32>(),
            store::StoreSettings::File(_) | store::StoreSettings::Redis(_) => {
                crypto::derive(&config.session.csrf_key, b"doorman code hashes")
            }
        };
        let store = store::Store::new(
            &config.store,
            store::Lifetimes {
                session: config.session.lifetime,
                code: config.codes.lifetime,
                cooldown: config.codes.resend_cooldown,
            },
            config.store_max_entries,
        )
        .map_err(Error::Startup)?;
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
            rules: ArcSwap::from_pointee(config.rules),
            channels: config.channels,
            codes: config.codes,
            client_headers: proxy::headers::ClientHeaders::new(
                &config.identity_headers.all(),
                config.forwarding.pass_headers.clone(),
            ),
            forwarding: config.forwarding,
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
            limiter: limits::Limiter::new(
                config.limits.failures.clone(),
                config.limits.client_failures.clone(),
                (
                    config.limits.sends_per_number,
                    config.limits.sends_per_account,
                ),
                config.limits.push_prompts,
                config.limits.totp_starts,
                &config.session.csrf_key,
            ),
            limits: config.limits,
            users,
            sessions: SessionCodec::new(config.session),
            csrf,
            store: Arc::new(store),
            providers: otp::providers::Providers::from_settings(&config.providers),
            templates,
            clock,
            code_key,
            hsts: config.tls.and_then(|tls| tls.hsts),
            draining: AtomicBool::new(false),
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

    /// Swaps in a reloaded users file, which is the truth about
    /// authenticators from now on: a page-enrolled secret the file does not
    /// have is dropped (an administrator removed it), unless the file is
    /// still exactly as the page's write left it (then `users` was read
    /// before that write, and dropping would bring back the old secret).
    /// Every authenticator added, replaced or removed is audited and sent
    /// to the webhook as an account notice.
    fn replace_users(&self, users: Users, same_file: bool) {
        let now = self.clock.now();
        let pending_write = same_file
            && self
                .users_file
                .as_deref()
                .is_some_and(users_file::unchanged_since_our_write);
        let mut enrolled = self
            .enrolled
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let before: std::collections::HashMap<String, Option<otp::totp::TotpSecret>> = self
            .users
            .load()
            .iter()
            .map(|user| {
                let secret = enrolled.get(&user.name).cloned().or(user.totp.clone());
                (user.name.clone(), secret)
            })
            .collect();
        enrolled.retain(|name, secret| {
            let in_file = users.get(name).and_then(|user| user.totp.as_ref());
            pending_write && users.get(name).is_some() && in_file != Some(secret)
        });
        let mut notices = Vec::new();
        for user in users.iter() {
            let Some(old) = before.get(&user.name) else {
                continue;
            };
            let new = enrolled.get(&user.name).or(user.totp.as_ref());
            let event = match (old, new) {
                (None, Some(_)) => "totp_enrolled",
                (Some(old), Some(new)) if old != new => "totp_replaced",
                (Some(_), None) => "totp_removed",
                _ => continue,
            };
            notices.push(notify::Notice::new(
                event,
                &user.name,
                "users_file",
                None,
                now,
            ));
        }
        self.users.store(Arc::new(users));
        drop(enrolled);
        for notice in notices {
            notice.audit(self, now, None);
            notice.send_later(self);
        }
    }

    /// The session in `headers` if it decrypts, is current, is not revoked,
    /// and its user still exists with the credentials it signed in with
    /// ([`App::session_holds`]). Of several such cookies the newest of one
    /// person's wins; cookies of different people are all refused
    /// ([`session::choose`]). `tls` picks the cookie's name (`__Host-`).
    pub fn signed_in(
        &self,
        headers: &HeaderMap,
        now: u64,
        tls: bool,
    ) -> Option<(Session, Arc<User>)> {
        let valid = self
            .sessions
            .candidates(headers, now, tls)
            .into_iter()
            .filter(|session| self.session_holds(session).is_some())
            .collect();
        match session::choose(valid) {
            session::Choice::One(session) => {
                let user = self.session_holds(&session)?;
                Some((session, user))
            }
            session::Choice::None => None,
            session::Choice::Conflict => {
                tracing::warn!(
                    event = "session_cookie_conflict",
                    "a request carries session cookies of different users (one was planted, \
                     e.g. from a sibling subdomain): none is believed"
                );
                None
            }
        }
    }

    /// `session`'s user, if the session was not revoked (by itself or with
    /// all of its user's) and the user's credentials have not changed since.
    /// Memory only: it runs on every authenticated request.
    pub fn session_holds(&self, session: &Session) -> Option<Arc<User>> {
        if self.store.is_revoked(&session.id)
            || self
                .store
                .is_user_revoked(&session.user, session.authenticated_at)
        {
            return None;
        }
        let user = self.users.load().get(&session.user)?.clone();
        let current = self.credential_epoch(&user);
        crypto::equal(session.epoch.as_bytes(), current.as_bytes()).then_some(user)
    }

    /// A short digest of what `user` signs in with: password hash,
    /// authenticator secret (page-enrolled or from the file), phone, push
    /// topic and groups. Any change to them ends the user's sessions.
    pub fn credential_epoch(&self, user: &User) -> String {
        let totp = self.totp_secret(user).map(|secret| secret.to_base32());
        let mut groups: Vec<&str> = user.groups.iter().map(String::as_str).collect();
        groups.sort_unstable();
        let fields = [
            user.password_hash.as_str(),
            totp.as_deref().unwrap_or(""),
            user.phone.as_deref().unwrap_or(""),
            user.ntfy_topic.as_deref().unwrap_or(""),
            &groups.join(","),
        ];
        // Unkeyed: it travels only inside the encrypted cookie, and must
        // stay the same when the session secret rotates.
        use sha2::{Digest, Sha256};
        let mut digest = Sha256::new();
        digest.update(b"doorman credential epoch");
        for field in fields {
            // Length-prefixed, so no two lists of fields read the same.
            digest.update((field.len() as u64).to_be_bytes());
            digest.update(field.as_bytes());
        }
        crypto::hex(&digest.finalize()[..8])
    }

    /// A fresh session for `user` at `level`, carrying their credential epoch.
    pub fn start_session(
        &self,
        user: &User,
        level: session::FactorLevel,
        authenticated_at: u64,
        now: u64,
    ) -> Session {
        let mut session = self
            .sessions
            .start(&user.name, level, authenticated_at, now);
        session.epoch = self.credential_epoch(user);
        session
    }
}

/// A running gateway: one worker thread per core, each with its own
/// event loop and upstream connection pool (no cross-thread wake-ups on the
/// hot path, as in nginx's worker model), and a control thread for metrics
/// and certificate reloads.
pub struct Gateway {
    addr: SocketAddr,
    /// Where metrics are served, when `metrics_listen` is set.
    metrics_addr: Option<SocketAddr>,
    app: Arc<App>,
    /// The listener's certificate, when serving TLS; reloads swap it.
    certs: Option<Arc<tls::CertStore>>,
    /// How long health says "draining" before the listener closes.
    shutdown_delay: Duration,
    /// The running values of the settings only a restart changes.
    restart_only: Vec<(&'static str, String)>,
    /// Dropping it (or sending `true`) starts the graceful shutdown.
    shutdown: tokio::sync::watch::Sender<bool>,
    /// Each resolves when its worker (or the control thread) has stopped.
    workers: Vec<tokio::sync::oneshot::Receiver<()>>,
}

/// What a reload changed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Reloaded {
    pub users: usize,
    pub rules: usize,
    pub certificate: bool,
    /// Keys whose new values only a restart applies; they keep their old
    /// values until then.
    pub needs_restart: Vec<&'static str>,
}

/// The settings only a restart applies, each as text to compare across
/// reloads. Users, access rules and the TLS certificate reload live; a
/// key missing here is neither reloaded nor reported.
fn restart_only(config: &Config) -> Vec<(&'static str, String)> {
    use sha2::{Digest, Sha256};
    let upstream = &config.upstream;
    let mut secrets = Sha256::new();
    for key in &config.session.keys {
        secrets.update(key.master());
    }
    vec![
        ("listen", config.listen.to_string()),
        (
            "upstream",
            format!(
                "{}://{} {:?} {}",
                upstream.scheme,
                upstream.authority,
                upstream.host_header,
                upstream.insecure_skip_verify
            ),
        ),
        ("auth_prefix", config.auth_prefix.clone()),
        ("app_name", config.app_name.clone()),
        ("public_url", format!("{:?}", config.public_url)),
        ("templates_dir", format!("{:?}", config.templates_dir)),
        (
            "session",
            format!("{:?} {:x}", config.session, secrets.finalize()),
        ),
        ("channels", format!("{:?}", config.channels)),
        ("providers", format!("{:?}", config.providers)),
        ("codes", format!("{:?}", config.codes)),
        ("identity_headers", format!("{:?}", config.identity_headers)),
        (
            "allowed_redirect_domains",
            format!("{:?}", config.allowed_redirect_domains),
        ),
        (
            "allowed_countries",
            format!("{:?}", config.allowed_countries),
        ),
        ("trusted_proxies", format!("{:?}", config.trusted_proxies)),
        ("forwarding", format!("{:?}", config.forwarding)),
        ("limits", format!("{:?}", config.limits)),
        (
            "log",
            format!("{} {:?}", config.log.level, config.log.format),
        ),
        (
            "tls",
            format!("{:?}", config.tls.as_ref().map(|tls| &tls.hsts)),
        ),
        ("metrics_listen", format!("{:?}", config.metrics_listen)),
        ("shutdown_delay", format!("{:?}", config.shutdown_delay)),
    ]
}

impl Gateway {
    /// Binds `config.listen` and starts serving.
    pub async fn start(config: Config) -> Result<Gateway, Error> {
        Gateway::start_with_clock(config, Arc::new(clock::SystemClock)).await
    }

    /// As [`Gateway::start`], reading time from `clock` (tests move it).
    pub async fn start_with_clock(config: Config, clock: SharedClock) -> Result<Gateway, Error> {
        let addr = config.listen;
        let bind = |addr: SocketAddr| {
            let bind_error = |source| Error::Bind { addr, source };
            let listener = std::net::TcpListener::bind(addr).map_err(bind_error)?;
            listener.set_nonblocking(true).map_err(bind_error)?;
            let addr = listener.local_addr().map_err(bind_error)?;
            Ok::<_, Error>((listener, addr))
        };
        let (listener, addr) = bind(addr)?;
        let metrics = config.metrics_listen.map(bind).transpose()?;
        let certs = config.tls.as_ref().map(|tls| {
            Arc::new(tls::CertStore::new(
                tls.cert_file.clone(),
                tls.key_file.clone(),
                tls.certified.clone(),
            ))
        });
        let acceptor = match &certs {
            None => None,
            Some(certs) => {
                let server =
                    tls::server_config(certs.clone()).map_err(|err| Error::Tls(err.to_string()))?;
                Some(tokio_rustls::TlsAcceptor::from(Arc::new(server)))
            }
        };
        if config.upstream.insecure_skip_verify {
            tracing::warn!(
                upstream = %config.upstream.authority,
                "upstream_insecure_skip_verify is on: the upstream's certificate is not checked, \
                 so anyone on the path to it can read and change the traffic"
            );
        }
        let limits = config.limits.clone();
        let shutdown_delay = config.shutdown_delay;
        let restart_only = restart_only(&config);
        let app = Arc::new(App::new(config, clock)?);
        let (shutdown, signal) = tokio::sync::watch::channel(false);
        let bind_error = |source| Error::Bind { addr, source };
        let mut workers =
            server::spawn_workers(listener, app.clone(), limits, acceptor, signal.clone())
                .map_err(bind_error)?;
        let metrics_addr = metrics.as_ref().map(|(_, addr)| *addr);
        if metrics.is_some() || certs.is_some() {
            let control = control::spawn(
                app.clone(),
                metrics.map(|(listener, _)| listener),
                certs.clone(),
                signal,
            )
            .map_err(bind_error)?;
            workers.push(control);
        }
        Ok(Gateway {
            addr,
            metrics_addr,
            app,
            certs,
            shutdown_delay,
            restart_only,
            shutdown,
            workers,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The metrics address, when `metrics_listen` is configured.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// Applies what can change while running from a new, already validated
    /// config: the users file, the access rules and the TLS certificate.
    /// Settings that need a restart keep their running values and are
    /// listed in [`Reloaded::needs_restart`] when they differ.
    pub fn reload(&self, config: Config) -> Reloaded {
        let needs_restart = restart_only(&config)
            .into_iter()
            .zip(&self.restart_only)
            .filter(|(new, running)| new.1 != running.1)
            .map(|(new, _)| new.0)
            .collect();
        let mut reloaded = Reloaded {
            users: config.users.len(),
            rules: config.rules.len(),
            certificate: false,
            needs_restart,
        };
        let same_file = config.users_path == self.app.users_file;
        self.app.replace_users(config.users, same_file);
        self.app.rules.store(Arc::new(config.rules));
        if let (Some(certs), Some(tls)) = (&self.certs, config.tls) {
            certs.replace(tls.cert_file, tls.key_file, tls.certified);
            reloaded.certificate = true;
        }
        metrics::reload("config", "ok");
        reloaded
    }

    /// Stops accepting, lets in-flight requests finish (bounded), returns.
    /// Health answers 503 from the start, and for `shutdown_delay` before
    /// the listener closes.
    pub async fn shutdown(mut self) {
        self.app.draining.store(true, Ordering::SeqCst);
        if !self.shutdown_delay.is_zero() {
            tokio::time::sleep(self.shutdown_delay).await;
        }
        let _ = self.shutdown.send(true);
        for worker in std::mem::take(&mut self.workers) {
            let _ = worker.await;
        }
    }
}
