//! The `doorman` command line: parse arguments, load config, call the library.

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use doorman::config::{Config, LogFormat};
use doorman::Gateway;
use std::io::{BufRead, IsTerminal};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "doorman", version, about = "A two-factor reverse proxy")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway.
    Serve {
        #[arg(long, env = "DOORMAN_CONFIG")]
        config: PathBuf,
    },
    /// Run in front of a built-in demo app with a demo user and codes in the log.
    Demo {
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
    },
    /// Validate a config file and its users file; print every problem.
    CheckConfig {
        #[arg(long, env = "DOORMAN_CONFIG")]
        config: PathBuf,
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
        Command::Serve { config } => load(&config).and_then(|config| {
            init_logging(&config.log.level, config.log.format);
            runtime()?.block_on(serve(config, None))
        }),
        Command::Demo { listen } => runtime().and_then(|runtime| runtime.block_on(demo(listen))),
        Command::CheckConfig { config } => check_config(&config),
        Command::HashPassword { stdin } => hash_password(stdin),
        Command::Totp {
            command:
                TotpCommand::Enroll {
                    user,
                    config,
                    write,
                },
        } => totp_enroll(&user, &config, write),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("doorman: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn load(path: &std::path::Path) -> Result<Config> {
    Config::load(path)
        .map_err(|problems| anyhow::anyhow!("{} has problems:\n{problems}", path.display()))
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

async fn serve(config: Config, banner: Option<String>) -> Result<ExitCode> {
    // Listen for signals before saying we are up: a SIGTERM right after the
    // "listening" line must drain, not kill.
    let stop = shutdown_signal()?;
    let users = config.users.len();
    let gateway = Gateway::start(config).await?;
    tracing::info!(addr = %gateway.addr(), users, "doorman is listening");
    if let Some(banner) = banner {
        println!("{banner}");
    }
    stop.await;
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
    serve(demo.config, Some(banner)).await
}

fn check_config(path: &std::path::Path) -> Result<ExitCode> {
    match Config::load(path) {
        Ok(config) => {
            let channels: Vec<&str> = config.channels.iter().map(|c| c.channel.name()).collect();
            println!(
                "{}: OK ({} users; channels: {})",
                path.display(),
                config.users.len(),
                channels.join(", ")
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(problems) => {
            eprintln!("{}: {} problem(s)", path.display(), problems.iter().count());
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
    let config = load(path)?;
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
        doorman::users_file::set_totp_secret(users_path, user, &secret)
            .with_context(|| format!("cannot store the secret in {}", users_path.display()))?;
        println!(
            "Stored in {} for {user}. Restart doorman to use it.",
            users_path.display()
        );
    } else {
        println!(
            "Add this line to {user} in the users file (or run again with --write):\n\n    {line}"
        );
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
        LogFormat::Json => builder.json().init(),
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

#[cfg(not(unix))]
fn shutdown_signal() -> Result<impl std::future::Future<Output = ()>> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
    })
}
