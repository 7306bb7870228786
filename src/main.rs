//! The `doorman` command line: parse arguments, load config, call the library.

mod cli_apps;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use doorman::config::{Config, LogFormat};
use doorman::Gateway;
use std::io::{BufRead, IsTerminal};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

mod credentials_cli;

#[derive(Parser)]
#[command(name = "doorman", version, about = "A two-factor reverse proxy")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway. Without --config: /etc/doorman/config.yaml when it
    /// exists, else the DOORMAN_* environment variables alone.
    Serve {
        #[arg(long, env = "DOORMAN_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Run in front of a built-in demo app with a demo user and codes in the log.
    Demo {
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
    },
    /// Validate a config file and its users file; print every problem.
    CheckConfig {
        #[arg(long, env = "DOORMAN_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Ask the running gateway's health endpoint: exit 0 when it answers
    /// 200, 1 otherwise (for container HEALTHCHECKs; no curl needed).
    Healthcheck {
        #[arg(long, env = "DOORMAN_CONFIG")]
        config: Option<PathBuf>,
        /// Probe this address instead of the configured `listen`.
        #[arg(long)]
        addr: Option<SocketAddr>,
    },
    /// Read a password and print its argon2id hash for the users file.
    HashPassword {
        /// Read the password from standard input instead of prompting.
        #[arg(long)]
        stdin: bool,
    },
    /// Authenticator apps (TOTP).
    Totp {
        #[command(subcommand)]
        command: TotpCommand,
    },
    /// Signed-in sessions.
    Sessions {
        #[command(subcommand)]
        command: SessionsCommand,
    },
    /// API tokens for scripts (`Authorization: Bearer`, or Basic).
    Token {
        #[command(subcommand)]
        command: cli_apps::TokenCommand,
    },
    /// Which app and rule decide METHOD URL, and why, for every reading
    /// of its path (signed out, as --user, or as --user's --token).
    CheckPolicy {
        #[arg(long, env = "DOORMAN_CONFIG")]
        config: Option<PathBuf>,
        #[arg(long)]
        user: Option<String>,
        /// Judge it as this API token of --user.
        #[arg(long)]
        token: Option<String>,
        method: String,
        url: String,
    },
    /// Make USER a new set of 10 recovery codes (the old ones stop working).
    RecoveryCodes {
        /// The user, as named in the users file.
        user: String,
        #[arg(long, env = "DOORMAN_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Passkeys and security keys.
    Webauthn {
        #[command(subcommand)]
        command: WebauthnCommand,
    },
}

#[derive(Subcommand)]
enum WebauthnCommand {
    /// List USER's passkeys: id, name, when added and last used.
    List {
        user: String,
        #[arg(long, env = "DOORMAN_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Remove one of USER's passkeys (by the id `list` prints), or all.
    Remove {
        user: String,
        /// The passkey's id; without it, `--all` is needed.
        id: Option<String>,
        #[arg(long)]
        all: bool,
        #[arg(long, env = "DOORMAN_CONFIG")]
        config: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum SessionsCommand {
    /// End every session of one user, on the configured store (`file` or
    /// `redis`): running doorman processes refuse them within a second.
    Revoke {
        /// The user, as named in the users file (letter case ignored).
        #[arg(long)]
        user: String,
        #[arg(long, env = "DOORMAN_CONFIG")]
        config: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum TotpCommand {
    /// Make a new authenticator secret for USER: prints the otpauth:// URI,
    /// a QR code to scan, and the `totp_secret` line for the users file.
    Enroll {
        /// The user, as named in the users file.
        user: String,
        #[arg(long, env = "DOORMAN_CONFIG")]
        config: PathBuf,
        /// Store the secret in the users file instead of only printing it.
        #[arg(long)]
        write: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve { config } => {
            let source = config_source(config);
            load(source.as_deref()).and_then(|config| {
                init_logging(&config.log.level, config.log.format);
                runtime()?.block_on(serve(config, None, Some(source)))
            })
        }
        Command::Demo { listen } => runtime().and_then(|runtime| runtime.block_on(demo(listen))),
        Command::CheckConfig { config } => check_config(config_source(config).as_deref()),
        Command::Healthcheck { config, addr } => healthcheck(config_source(config), addr),
        Command::HashPassword { stdin } => hash_password(stdin),
        Command::Totp {
            command:
                TotpCommand::Enroll {
                    user,
                    config,
                    write,
                },
        } => totp_enroll(&user, &config, write),
        Command::Sessions {
            command: SessionsCommand::Revoke { user, config },
        } => sessions_revoke(&user, config_source(config).as_deref()),
        Command::RecoveryCodes { user, config } => load(config_source(config).as_deref())
            .and_then(|config| credentials_cli::recovery_codes(&config, &user)),
        Command::Webauthn { command } => match command {
            WebauthnCommand::List { user, config } => load(config_source(config).as_deref())
                .and_then(|config| credentials_cli::webauthn_list(&config, &user)),
            WebauthnCommand::Remove {
                user,
                id,
                all,
                config,
            } => match (id, all) {
                (None, false) | (Some(_), true) => Err(anyhow::anyhow!(
                    "name one passkey id (see `doorman webauthn list {user}`), or --all"
                )),
                (id, _) => load(config_source(config).as_deref()).and_then(|config| {
                    credentials_cli::webauthn_remove(&config, &user, id.as_deref())
                }),
            },
        },
        Command::Token { command } => cli_apps::token(command, |path| {
            load(config_source(path.map(Path::to_owned)).as_deref())
        }),
        Command::CheckPolicy {
            config,
            user,
            token,
            method,
            url,
        } => load(config_source(config).as_deref()).and_then(|config| {
            cli_apps::check_policy(&config, user.as_deref(), token.as_deref(), &method, &url)
        }),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("doorman: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// Where an image keeps its config when nothing says otherwise.
const DEFAULT_CONFIG: &str = "/etc/doorman/config.yaml";

/// The config file to read: the one named, else the default when it
/// exists, else none (the environment alone).
fn config_source(named: Option<PathBuf>) -> Option<PathBuf> {
    named.or_else(|| {
        let default = PathBuf::from(DEFAULT_CONFIG);
        default.is_file().then_some(default)
    })
}

fn describe(path: Option<&Path>) -> String {
    match path {
        Some(path) => path.display().to_string(),
        None => "the environment (no config file)".to_owned(),
    }
}

/// The file (if any) with the `DOORMAN_*` environment variables over it.
fn read_config(path: Option<&Path>) -> Result<Config, doorman::config::Problems> {
    Config::load_from(path, &|name| std::env::var(name).ok())
}

fn load(path: Option<&Path>) -> Result<Config> {
    read_config(path)
        .map_err(|problems| anyhow::anyhow!("{} has problems:\n{problems}", describe(path)))
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Runs until SIGTERM/SIGINT; on SIGHUP re-reads `source` (the config
/// file, or the environment alone) when there is one.
async fn serve(
    config: Config,
    banner: Option<String>,
    source: Option<Option<PathBuf>>,
) -> Result<ExitCode> {
    // Listen for signals before saying we are up: a SIGTERM right after the
    // "listening" line must drain, not kill.
    let stop = shutdown_signal()?;
    let mut hangups = hangup_signal()?;
    let users = config.users.len();
    let tls = config.tls.is_some();
    let gateway = Gateway::start(config).await?;
    match gateway.metrics_addr() {
        Some(metrics) => {
            tracing::info!(version = env!("CARGO_PKG_VERSION"), addr = %gateway.addr(), tls, users, %metrics, "doorman is listening")
        }
        None => {
            tracing::info!(version = env!("CARGO_PKG_VERSION"), addr = %gateway.addr(), tls, users, "doorman is listening")
        }
    }
    if let Some(banner) = banner {
        println!("{banner}");
    }
    tokio::pin!(stop);
    loop {
        tokio::select! {
            () = &mut stop => break,
            Some(()) = hangups.recv() => match &source {
                Some(path) => reload(&gateway, path.as_deref()),
                None => tracing::info!("SIGHUP: nothing to reload (no config file)"),
            },
        }
    }
    tracing::info!("shutting down, draining in-flight requests");
    gateway.shutdown().await;
    Ok(ExitCode::SUCCESS)
}

async fn demo(listen: SocketAddr) -> Result<ExitCode> {
    init_logging("info", LogFormat::Text);
    let app = doorman::demo::start_app()
        .await
        .context("cannot start the demo app")?;
    let demo =
        doorman::demo::config(listen, app).map_err(|problems| anyhow::anyhow!("{problems}"))?;
    let banner = format!(
        "\n  doorman demo is running\n\n  open      http://{listen}/\n  user      {}\n  password  {}\n\n  Sign-in codes appear in this log (the `log` provider). Ctrl-C stops.\n",
        doorman::demo::USER,
        demo.password
    );
    serve(demo.config, Some(banner), None).await
}

/// Re-reads the config; applies what can change live, or keeps the old
/// one and logs every problem.
fn reload(gateway: &Gateway, path: Option<&Path>) {
    match read_config(path) {
        Ok(config) => {
            let reloaded = gateway.reload(config);
            tracing::info!(
                users = reloaded.users,
                rules = reloaded.rules,
                certificate = reloaded.certificate,
                "SIGHUP: configuration reloaded"
            );
            if !reloaded.needs_restart.is_empty() {
                tracing::warn!(
                    keys = %reloaded.needs_restart.join(", "),
                    "SIGHUP: these settings changed but apply only after a restart; they keep their running values"
                );
            }
        }
        Err(problems) => {
            gateway.reopen_logs();
            doorman::metrics::reload("config", "failed");
            tracing::error!(
                source = %describe(path),
                problems = problems.iter().count(),
                "SIGHUP: the new configuration has problems; keeping the running one"
            );
            for (key, message) in problems.iter() {
                tracing::error!("  {key}: {message}");
            }
        }
    }
}

fn healthcheck(path: Option<PathBuf>, addr: Option<SocketAddr>) -> Result<ExitCode> {
    let target = match (addr, read_config(path.as_deref())) {
        (Some(addr), config) => {
            let config = config.ok();
            doorman::healthcheck::Target {
                addr,
                path: format!(
                    "{}/health",
                    config
                        .as_ref()
                        .map_or("/.doorman", |c| c.auth_prefix.as_str())
                ),
                tls: config.is_some_and(|c| c.tls.is_some()),
            }
        }
        (None, Ok(config)) => doorman::healthcheck::Target::of(&config),
        (None, Err(problems)) => {
            bail!("{} has problems:\n{problems}", describe(path.as_deref()))
        }
    };
    let status = runtime()?.block_on(doorman::healthcheck::probe(&target));
    match status {
        Ok(200) => Ok(ExitCode::SUCCESS),
        Ok(status) => {
            eprintln!("doorman: {}{} answered {status}", target.addr, target.path);
            Ok(ExitCode::FAILURE)
        }
        Err(message) => {
            eprintln!("doorman: {message}");
            Ok(ExitCode::FAILURE)
        }
    }
}

fn check_config(path: Option<&Path>) -> Result<ExitCode> {
    match read_config(path) {
        Ok(config) => {
            // The same start-up steps `serve` runs after validation.
            if let Err(err) = doorman::preflight(&config) {
                eprintln!("{}: 1 problem(s)", describe(path));
                eprintln!("  {err}");
                return Ok(ExitCode::FAILURE);
            }
            let channels: Vec<&str> = config.channels.iter().map(|c| c.channel.name()).collect();
            println!(
                "{}: OK ({} users; channels: {})",
                describe(path),
                config.users.len(),
                channels.join(", ")
            );
            for warning in doorman::policy_check::fall_through_warnings(&config.sites) {
                eprintln!("warning: {warning}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(problems) => {
            eprintln!("{}: {} problem(s)", describe(path), problems.iter().count());
            for (key, message) in problems.iter() {
                eprintln!("  {key}: {message}");
            }
            Ok(ExitCode::FAILURE)
        }
    }
}

fn hash_password(stdin: bool) -> Result<ExitCode> {
    let password = if stdin || !std::io::stdin().is_terminal() {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    } else {
        let first = rpassword::prompt_password("Password: ")?;
        let second = rpassword::prompt_password("Again: ")?;
        if first != second {
            bail!("the passwords do not match");
        }
        first
    };
    if password.is_empty() {
        bail!("the password is empty");
    }
    let hash = doorman::users::hash_password(&password).map_err(|err| anyhow::anyhow!("{err}"))?;
    println!("{hash}");
    Ok(ExitCode::SUCCESS)
}

fn totp_enroll(user: &str, path: &std::path::Path, write: bool) -> Result<ExitCode> {
    use doorman::otp::totp::TotpSecret;
    let config = load(Some(path))?;
    if config.users.get(user).is_none() {
        bail!("there is no user `{user}` in the users file");
    }
    let secret = TotpSecret::generate();
    let uri = secret.otpauth_uri(&config.app_name, user);
    println!("Scan this with the authenticator app of {user}:\n");
    match doorman::otp::qr::terminal(&uri) {
        Some(code) => println!("{code}"),
        None => println!("(the URI is too long for a QR code)"),
    }
    println!("or open:  {uri}\n");
    let line = format!("totp_secret: \"{}\"", secret.to_base32());
    if write {
        let users_path = config
            .users_path
            .as_deref()
            .context("the config names no users_file")?;
        doorman::config::users_file::set_totp_secret(users_path, user, &secret)
            .with_context(|| format!("cannot store the secret in {}", users_path.display()))?;
        println!(
            "Stored in {} for {user}. Send doorman SIGHUP (or restart it) to use it.",
            users_path.display()
        );
    } else {
        println!(
            "Add this line to {user} in the users file (or run again with --write):\n\n    {line}"
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// How long `sessions revoke` waits for a running doorman to pick up its
/// request from the file store's requests directory.
const PICKUP_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

fn sessions_revoke(user: &str, path: Option<&Path>) -> Result<ExitCode> {
    use doorman::clock::Clock;
    use doorman::store::StoreSettings;
    let config = load(path)?;
    let name = match config.users.find(user) {
        Some(found) => found.name.clone(),
        None => {
            eprintln!("doorman: note: there is no user `{user}` in the users file; revoking the name anyway");
            user.to_owned()
        }
    };
    let now = doorman::clock::SystemClock.now();
    // Kept past any session it can end: those expire by their lifetime.
    let keep = doorman::session::stored::user_revocation_kept(config.session.lifetime);
    match &config.store {
        StoreSettings::Memory => bail!(
            "store.kind is `memory`: revocations live only inside the running doorman, so this              command cannot reach them. Use `store: {{ kind: file }}` (the default) or `kind: redis`;              changing session.secret ends every session of everyone"
        ),
        StoreSettings::File(file) => {
            use doorman::store::file_backend::{queue_user_revocation, UserRevocation};
            let request = UserRevocation {
                user: name.clone(),
                not_before: now,
                keep_until: now + keep.as_secs(),
            };
            let queued = queue_user_revocation(&file.path, &request).with_context(|| {
                format!(
                    "store.path: cannot leave a request next to {}",
                    file.path.display()
                )
            })?;
            let deadline = std::time::Instant::now() + PICKUP_WAIT;
            while queued.exists() && std::time::Instant::now() < deadline {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            if queued.exists() {
                println!(
                    "Every session of {name} is revoked from the next start of doorman: no doorman                      using {} picked the request up within {} s (it is queued in {}).",
                    file.path.display(),
                    PICKUP_WAIT.as_secs(),
                    queued.parent().map_or_else(String::new, |dir| dir.display().to_string())
                );
            } else {
                println!("Every session of {name} is revoked: the running doorman refuses them now.");
            }
        }
        StoreSettings::Redis(redis) => {
            use doorman::store::backend::Backend;
            let backend = doorman::store::redis_backend::RedisBackend::start(redis)
                .map_err(|err| anyhow::anyhow!("store: {err}"))?;
            runtime()?
                .block_on(backend.revoke_user(&name, now, keep))
                .map_err(|err| anyhow::anyhow!("cannot reach the store: {err}"))?;
            println!("Every session of {name} is revoked: every replica refuses them within a second.");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn init_logging(level: &str, format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    // Colours only for a person at a terminal: not in files, pipes or `docker logs`.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    match format {
        // Flat: an event's fields sit beside `message`, not under `fields`.
        LogFormat::Json => builder.json().flatten_event(true).init(),
        LogFormat::Text => builder.init(),
    }
}

/// Resolves on SIGINT or SIGTERM; the handlers are in place on return.
#[cfg(unix)]
fn shutdown_signal() -> Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
    let mut terminate = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {},
            _ = terminate.recv() => {},
        }
    })
}

/// Yields once per SIGHUP; the handler is in place on return.
#[cfg(unix)]
fn hangup_signal() -> Result<tokio::sync::mpsc::Receiver<()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut hangup = signal(SignalKind::hangup()).context("cannot handle SIGHUP")?;
    let (sender, receiver) = tokio::sync::mpsc::channel(1);
    tokio::spawn(async move {
        while hangup.recv().await.is_some() {
            // One pending reload is enough; more SIGHUPs meanwhile fold into it.
            let _ = sender.try_send(());
        }
    });
    Ok(receiver)
}

#[cfg(not(unix))]
fn hangup_signal() -> Result<tokio::sync::mpsc::Receiver<()>> {
    let (sender, receiver) = tokio::sync::mpsc::channel(1);
    std::mem::forget(sender);
    Ok(receiver)
}

#[cfg(not(unix))]
fn shutdown_signal() -> Result<impl std::future::Future<Output = ()>> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
    })
}
