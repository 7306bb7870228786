//! What every request may read: the settings, the shared state and the
//! services (store, limiter, providers, templates), built once from
//! [`Config`] at start-up; a reload swaps only the users and rules in it.

use crate::clock::SharedClock;
use crate::config::Config;
use crate::limits::Limits;
use crate::otp::{ChannelSettings, CodeSettings};
use crate::session::{self, Session, SessionCodec};
use crate::users::IdentityHeaders;
use crate::users::{PasswordChecker, User, Users};
use crate::{audit, crypto, csrf, limits, net, notify, otp, pages, proxy, sites, store, Error};
use arc_swap::ArcSwap;
use http::{HeaderMap, HeaderValue};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// Everything a request may need, built once at start-up.
pub struct App {
    /// Where doorman's pages live, e.g. `/.doorman`.
    pub prefix: String,
    pub app_name: String,
    /// The pages' language when `Accept-Language` names no shipped one,
    /// and the text messages' for users without a `locale`.
    pub default_locale: crate::i18n::Locale,
    /// Host for the WebOTP line and redirects when `public_url` is set.
    pub public_host: Option<String>,
    /// The apps by host, each with its access rules (`public:` first;
    /// first match wins). SIGHUP swaps them.
    pub sites: ArcSwap<sites::Sites>,
    pub channels: Vec<ChannelSettings>,
    pub codes: CodeSettings,
    pub identity: IdentityHeaders,
    pub allowed_redirect_domains: Vec<String>,
    /// ISO codes of the countries codes may go to; empty: all.
    pub allowed_countries: Vec<String>,
    /// Peers whose `X-Forwarded-*` headers are believed.
    pub trusted_proxies: net::TrustedProxies,
    /// Upgrades tunnelled and client headers passed to the upstream.
    pub forwarding: crate::proxy::ForwardingSettings,
    /// The client headers removed before forwarding (built from
    /// `identity` and `forwarding`).
    pub client_headers: proxy::headers::ClientHeaders,
    pub limits: Limits,
    /// Security decisions, one JSON line each.
    pub audit: audit::Audit,
    /// One line per request (`log.access`); `None` when off.
    pub access_log: Option<Arc<crate::access_log::AccessLog>>,
    /// The `X-Request-Id` values this process hands out.
    pub request_ids: crate::request_id::RequestIds,
    /// Brute-force and send limits, counted in `store`.
    pub limiter: limits::Limiter,
    /// The users file as last (re)loaded; SIGHUP swaps it.
    pub users: Arc<ArcSwap<Users>>,
    pub passwords: PasswordChecker,
    pub sessions: SessionCodec,
    pub csrf: csrf::Csrf,
    pub store: Arc<store::Store>,
    pub providers: otp::providers::Providers,
    /// Where each app's requests go, at its index in `sites`; each worker
    /// thread builds its own pooled clients.
    pub upstreams: Vec<crate::proxy::Upstream>,
    pub templates: pages::Templates,
    /// API tokens (`tokens_file`), re-read when the file changes.
    pub tokens: crate::tokens::Tokens,
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
    /// Passkeys and security keys, when `webauthn:` is configured.
    pub passkeys: Option<crate::webauthn::RelyingParty>,
}

impl App {
    /// The start-up steps after validation that read files and can fail,
    /// with nothing bound or connected: `check-config` runs these, and
    /// [`App::new`] starts with them, so one passes iff the other starts.
    pub fn preflight(config: &Config) -> Result<pages::Templates, Error> {
        pages::Templates::load(config.templates_dir.as_deref()).map_err(|err| {
            let dir = config
                .templates_dir
                .as_deref()
                .unwrap_or(std::path::Path::new("."));
            Error::Startup(format!("templates_dir ({}): {err}", dir.display()))
        })
    }

    pub fn new(config: Config, clock: SharedClock) -> Result<App, Error> {
        let templates = App::preflight(&config)?;
        let users = Arc::new(ArcSwap::from_pointee(config.users));
        let access_log = crate::access_log::AccessLog::open(&config.log.access).map_err(|err| {
            Error::Startup(format!("log.access: cannot open the access log: {err}"))
        })?;
        let csrf = csrf::Csrf::new(config.session.csrf_key, &config.session.cookie_name);
        // Replicas sharing a store must agree on it (a code sent by one is
        // checked by another), and a file store keeps pending codes across
        // a restart, so then it comes from the session secret; in memory, a
        // random key means no code outlives a restart.
        let code_key = match config.store {
            crate::store::StoreSettings::Memory => crypto::random_bytes::<32>(),
            crate::store::StoreSettings::File(_) | crate::store::StoreSettings::Redis(_) => {
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
        let passkeys = match config.webauthn {
            None => None,
            Some(settings) => Some(
                crate::webauthn::RelyingParty::new(
                    settings,
                    crypto::derive(&config.session.csrf_key, b"doorman passkey user handles"),
                )
                .map_err(Error::Startup)?,
            ),
        };
        Ok(App {
            passkeys,
            public_origin,
            users_file: config.users_path,
            enrolled: Default::default(),
            prefix: config.auth_prefix,
            app_name: config.app_name,
            default_locale: config.default_locale,
            public_host: config
                .public_url
                .as_ref()
                .and_then(|url| url.host())
                .map(str::to_owned),
            sites: ArcSwap::from_pointee(config.sites),
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
            upstreams: config.upstreams,
            audit: audit::Audit::new(config.log.audit.clone()),
            access_log,
            request_ids: crate::request_id::RequestIds::new(),
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
            tokens: crate::tokens::Tokens::new(config.tokens_file),
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
        self.with_totp_secret(user, |secret| secret.cloned())
    }

    /// `then` of [`App::totp_secret`], without copying the secret out.
    pub fn with_totp_secret<T>(
        &self,
        user: &User,
        then: impl FnOnce(Option<&otp::totp::TotpSecret>) -> T,
    ) -> T {
        let enrolled = self
            .enrolled
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        then(enrolled.get(&user.name).or(user.totp.as_ref()))
    }

    /// Swaps in a reloaded users file, which is the truth about
    /// authenticators from now on: a page-enrolled secret is dropped (the
    /// file's, or its absence — an administrator removed it — counts),
    /// unless the file is still exactly as the page's write left it (then
    /// `users` may have been read before that write, and dropping would
    /// bring back the old secret).
    /// Every authenticator added, replaced or removed is audited and sent
    /// to the webhook as an account notice.
    pub(crate) fn replace_users(&self, users: Users, same_file: bool) {
        let now = self.clock.now();
        let pending_write = same_file
            && self
                .users_file
                .as_deref()
                .is_some_and(crate::config::users_file::unchanged_since_our_write);
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
        // While the file is as the page's write left it, the page's secret
        // stands whether or not this read saw it: a watcher's read after
        // the write and a SIGHUP's read from before it may be applied in
        // either order.
        enrolled.retain(|name, _| pending_write && users.get(name).is_some());
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

    /// A short digest of what `user` signs in with: password hash,
    /// authenticator secret (page-enrolled or from the file), phone, push
    /// topic and groups. Any change to them ends the user's sessions.
    pub fn credential_epoch(&self, user: &User) -> String {
        credential_epoch(user, self.totp_secret(user).as_ref())
    }

    /// A fresh session for `user` at `level`, carrying their credential epoch.
    pub fn start_session(
        &self,
        user: &User,
        level: session::FactorLevel,
        authenticated_at: u64,
        now: u64,
    ) -> Session {
        // Begun now, after any revocation of the user's sessions known here.
        let authenticated_at = self
            .store
            .made_after_revocations(&user.name, authenticated_at);
        let mut session = self
            .sessions
            .start(&user.name, level, authenticated_at, now);
        session.epoch = self.credential_epoch(user);
        session
    }
}

/// [`App::credential_epoch`] of `user` with authenticator secret `totp`.
pub fn credential_epoch(user: &User, totp: Option<&crate::otp::totp::TotpSecret>) -> String {
    let totp = totp.map(|secret| secret.to_base32());
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
