//! The running process: binds the listeners, starts the workers and the
//! control thread, applies reloads and shuts down gracefully.

use crate::clock::{self, SharedClock};
use crate::config::Config;
use crate::{control, metrics, server, tls, users_watch, App, Error};
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

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
    let mut secrets = Sha256::new();
    for key in &config.session.keys {
        secrets.update(key.master());
    }
    vec![
        ("listen", config.listen.to_string()),
        ("upstream", upstreams(config)),
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
            format!(
                "{} {:?} {:?}",
                config.log.level, config.log.format, config.log.access
            ),
        ),
        (
            "tls",
            format!("{:?}", config.tls.as_ref().map(|tls| &tls.hsts)),
        ),
        ("metrics_listen", format!("{:?}", config.metrics_listen)),
        ("shutdown_delay", format!("{:?}", config.shutdown_delay)),
    ]
}

/// Each app's hosts and upstream: what picks where a request goes. A
/// reload that changes it keeps the running apps (rules included) until
/// a restart, since each app's upstream is built once.
fn upstreams(config: &Config) -> String {
    let hosts = config.sites.iter().map(|site| {
        let hosts: Vec<String> = site.hosts.iter().map(ToString::to_string).collect();
        hosts.join(",")
    });
    let described: Vec<String> = hosts
        .zip(&config.upstreams)
        .map(|(hosts, upstream)| {
            format!(
                "{hosts} {}://{} {:?} {}",
                upstream.scheme,
                upstream.authority,
                upstream.host_header,
                upstream.insecure_skip_verify
            )
        })
        .collect();
    described.join("; ")
}

/// Exports every fixed series and each configured provider's at 0.
fn seed_metrics(app: &App, tls: bool) {
    metrics::seed_fixed(tls);
    if let Some(rp) = &app.passkeys {
        metrics::passkeys_configured(rp.settings.passwordless);
    }
    for settings in &app.channels {
        let channel = settings.channel.name();
        for name in &settings.providers {
            let provider = app
                .providers
                .get(name)
                .map(|provider| provider.name())
                .or_else(|| app.providers.get_push(name).map(|provider| provider.name()));
            if let Some(provider) = provider {
                metrics::provider_configured(channel, provider);
            }
        }
    }
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
        let listeners = crate::listeners::bind(addr, config.limits.worker_threads)
            .map_err(|source| Error::Bind { addr, source })?;
        let addr = match listeners.first() {
            Some(listener) => listener
                .local_addr()
                .map_err(|source| Error::Bind { addr, source })?,
            None => addr,
        };
        let reuseport = listeners.iter().all(crate::listeners::reuses_port);
        tracing::debug!(%addr, sockets = listeners.len(), reuseport, "bound the serving sockets");
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
        for upstream in config.upstreams.iter().filter(|u| u.insecure_skip_verify) {
            tracing::warn!(
                upstream = %upstream.authority,
                "upstream_insecure_skip_verify is on: the upstream's certificate is not checked, \
                 so anyone on the path to it can read and change the traffic"
            );
        }
        let limits = config.limits.clone();
        let shutdown_delay = config.shutdown_delay;
        let restart_only = restart_only(&config);
        let app = Arc::new(App::new(config, clock)?);
        seed_metrics(&app, certs.is_some());
        let (shutdown, signal) = tokio::sync::watch::channel(false);
        let bind_error = |source| Error::Bind { addr, source };
        let mut workers =
            server::spawn_workers(listeners, app.clone(), limits, acceptor, signal.clone())
                .map_err(bind_error)?;
        let metrics_addr = metrics.as_ref().map(|(_, addr)| *addr);
        if metrics.is_some() || certs.is_some() {
            let control = control::spawn(
                app.clone(),
                metrics.map(|(listener, _)| listener),
                certs.clone(),
                signal.clone(),
            )
            .map_err(bind_error)?;
            workers.push(control);
        }
        if let Some(path) = app.users_file.clone() {
            let load: users_watch::Load =
                |path| Config::load_users(path).map_err(|p| p.to_string());
            if let Some(watching) = users_watch::spawn(app.clone(), path, load, signal.clone()) {
                workers.push(watching);
            }
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
    /// config: the users file, the access rules and the TLS certificate;
    /// the access log's file is opened again (after a rotation).
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
            rules: config.sites.rule_count(),
            certificate: false,
            needs_restart,
        };
        let same_file = config.users_path == self.app.users_file;
        self.app.replace_users(config.users, same_file);
        // One app (no `apps:`) keeps its one upstream: its rules reload as ever.
        let by_host = self.app.sites.load().by_host() || config.sites.by_host();
        if by_host && reloaded.needs_restart.contains(&"upstream") {
            tracing::warn!(
                "the apps' hosts or upstreams changed: every app keeps its running hosts, \
                 upstream and rules until a restart"
            );
        } else {
            self.app.sites.store(Arc::new(config.sites));
        }
        if let (Some(certs), Some(tls)) = (&self.certs, config.tls) {
            certs.replace(tls.cert_file, tls.key_file, tls.certified);
            reloaded.certificate = true;
        }
        self.reopen_logs();
        metrics::reload("config", "ok");
        reloaded
    }

    /// Opens the access log's file again, so that after logrotate moved it
    /// away new lines go to a new file. [`Gateway::reload`] does it; a
    /// SIGHUP whose config has problems still should.
    pub fn reopen_logs(&self) {
        if let Some(log) = &self.app.access_log {
            if let Err(err) = log.reopen() {
                tracing::warn!(error = %err, "cannot open the access log again; its lines still go to the file open before");
            }
        }
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
