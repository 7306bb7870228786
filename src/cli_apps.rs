//! The `token` and `check-policy` commands: API tokens in `tokens_file`,
//! and which rule decides a request.

use anyhow::{bail, Context, Result};
use clap::Subcommand;
use doorman::config::Config;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum TokenCommand {
    /// Make an API token for USER, store its hash in `tokens_file` and
    /// print it (once: only its hash is kept).
    Create {
        #[arg(long)]
        user: String,
        /// What it is for, e.g. `ci`; unique per user.
        #[arg(long)]
        name: String,
        /// How long it lasts, e.g. 90d or 12h; without it, until revoked.
        #[arg(long)]
        expires: Option<String>,
        #[arg(long, env = "DOORMAN_CONFIG")]
        config: Option<PathBuf>,
    },
    /// List the tokens (never their secrets), of one user or all.
    List {
        #[arg(long)]
        user: Option<String>,
        #[arg(long, env = "DOORMAN_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Remove USER's token NAME: refused from its next request on.
    Revoke {
        #[arg(long)]
        user: String,
        #[arg(long)]
        name: String,
        #[arg(long, env = "DOORMAN_CONFIG")]
        config: Option<PathBuf>,
    },
}

fn tokens_file(config: &Config) -> Result<&Path> {
    match &config.tokens_file {
        Some(path) => Ok(path),
        None => bail!("the config has no `tokens_file`: set one (e.g. tokens_file: tokens.yaml)"),
    }
}

fn now() -> u64 {
    use doorman::clock::Clock;
    doorman::clock::SystemClock.now()
}

pub fn token(
    command: TokenCommand,
    load: impl Fn(Option<&Path>) -> Result<Config>,
) -> Result<ExitCode> {
    match command {
        TokenCommand::Create {
            user,
            name,
            expires,
            config,
        } => {
            let config = load(config.as_deref())?;
            let Some(found) = config.users.find(&user) else {
                bail!("there is no user `{user}` in the users file");
            };
            let lifetime = expires
                .map(|text| {
                    humantime::parse_duration(&text)
                        .with_context(|| format!("`{text}` is not a duration like 90d or 12h"))
                })
                .transpose()?
                .map(|lifetime| lifetime.as_secs());
            let path = tokens_file(&config)?;
            let token = doorman::tokens::create(path, &found.name, &name, lifetime, now())
                .map_err(|err| anyhow::anyhow!("{}: {err}", path.display()))?;
            eprintln!(
                "Token `{name}` for {}: shown once, keep it secret.",
                found.name
            );
            println!("{token}");
            Ok(ExitCode::SUCCESS)
        }
        TokenCommand::List { user, config } => {
            let config = load(config.as_deref())?;
            let path = tokens_file(&config)?;
            let tokens = doorman::tokens::read(path)
                .map_err(|err| anyhow::anyhow!("{}: {err}", path.display()))?;
            let now = now();
            for entry in tokens {
                if user
                    .as_deref()
                    .is_some_and(|user| !user.eq_ignore_ascii_case(&entry.user))
                {
                    continue;
                }
                let expires = match entry.expires {
                    None => "never expires".to_owned(),
                    Some(at) if at <= now => "expired".to_owned(),
                    Some(at) => {
                        let left = at - now;
                        format!("expires in {}d {}h", left / 86_400, left % 86_400 / 3_600)
                    }
                };
                println!("{}\t{}\t{expires}", entry.user, entry.name);
            }
            Ok(ExitCode::SUCCESS)
        }
        TokenCommand::Revoke { user, name, config } => {
            let config = load(config.as_deref())?;
            let path = tokens_file(&config)?;
            let user = config
                .users
                .find(&user)
                .map_or(user.clone(), |found| found.name.clone());
            match doorman::tokens::revoke(path, &user, &name) {
                Ok(true) => {
                    println!("revoked {user}'s token `{name}`");
                    Ok(ExitCode::SUCCESS)
                }
                Ok(false) => bail!("{user} has no token named `{name}`"),
                Err(err) => bail!("{}: {err}", path.display()),
            }
        }
    }
}

/// Prints which app and rule decide METHOD URL for USER (or signed out),
/// reading by reading.
pub fn check_policy(
    config: &Config,
    user: Option<&str>,
    token: Option<&str>,
    method: &str,
    url: &str,
) -> Result<ExitCode> {
    let method = http::Method::from_bytes(method.to_ascii_uppercase().as_bytes())
        .with_context(|| format!("`{method}` is not an HTTP method"))?;
    let user = match user {
        Some(name) => match config.users.find(name) {
            Some(found) => Some(found.clone()),
            None => bail!("there is no user `{name}` in the users file"),
        },
        None if token.is_some() => bail!("--token needs --user"),
        None => None,
    };
    let asker = doorman::policy_check::Asker {
        user: user.as_deref(),
        token,
    };
    let client = std::net::IpAddr::from([127, 0, 0, 1]);
    let lines = doorman::policy_check::explain(&config.sites, &asker, &method, url, client)
        .map_err(|err| anyhow::anyhow!(err))?;
    for line in lines {
        println!("{line}");
    }
    Ok(ExitCode::SUCCESS)
}
