//! `doorman recovery-codes USER` and `doorman webauthn list|remove USER`:
//! an administrator's hands on the credentials kept in the store.

use anyhow::{bail, Context, Result};
use doorman::clock::Clock;
use doorman::config::Config;
use doorman::store::{Lifetimes, Store, StoreSettings};
use std::process::ExitCode;

/// The configured store, opened from the command line. The memory store
/// lives inside the running doorman; a file store is one process's.
fn open_store(config: &Config) -> Result<Store> {
    if let StoreSettings::Memory = config.store {
        bail!(
            "store.kind is `memory`: credentials live only inside the running doorman, so this \
             command cannot reach them. Use `store: {{ kind: file }}` (the default) or `kind: redis`"
        );
    }
    let lifetimes = Lifetimes {
        session: config.session.lifetime,
        code: config.codes.lifetime,
        cooldown: config.codes.resend_cooldown,
    };
    Store::new(&config.store, lifetimes, config.store_max_entries).map_err(|err| {
        anyhow::anyhow!(
            "{err}\n(stop doorman first, or let the user do it on the page {}/recovery or {}/passkeys)",
            config.auth_prefix,
            config.auth_prefix
        )
    })
}

/// The user as the users file names them.
fn user_name(config: &Config, user: &str) -> Result<String> {
    match config.users.find(user) {
        Some(found) => Ok(found.name.clone()),
        None => bail!("there is no user `{user}` in the users file"),
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Makes a new set of recovery codes for `user` and prints them once.
pub fn recovery_codes(config: &Config, user: &str) -> Result<ExitCode> {
    let name = user_name(config, user)?;
    let store = open_store(config)?;
    let now = doorman::clock::SystemClock.now();
    let (codes, set) = doorman::recovery::RecoveryCodes::generate(now);
    runtime()?
        .block_on(async {
            store.put_recovery_codes(&name, &set).await?;
            // A session an old code made ends with the old set.
            store.end_user_sessions(&name, now).await
        })
        .map_err(|err| anyhow::anyhow!("cannot reach the store: {err}"))?;
    println!(
        "Recovery codes for {name} (each works once; the old ones no longer work, and every \
         session of {name} until now has ended):\n"
    );
    for code in codes {
        println!("  {code}");
    }
    println!("\nHand them over safely: they are not shown again.");
    Ok(ExitCode::SUCCESS)
}

/// Lists `user`'s passkeys: id, name, added, last used.
pub fn webauthn_list(config: &Config, user: &str) -> Result<ExitCode> {
    let name = user_name(config, user)?;
    let store = open_store(config)?;
    let list = runtime()?
        .block_on(store.passkeys(&name))
        .map_err(|err| anyhow::anyhow!("cannot reach the store: {err}"))?;
    if list.is_empty() {
        println!("{name} has no passkey.");
    }
    for credential in list {
        let last = credential
            .last_used
            .map_or_else(|| "never".to_owned(), |at| at.to_string());
        println!(
            "{}\t{}\tadded {}\tlast used {last}",
            credential.id(),
            credential.name,
            credential.added_at
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Removes `user`'s passkey `id` (as `list` prints it), or all with `--all`.
pub fn webauthn_remove(config: &Config, user: &str, id: Option<&str>) -> Result<ExitCode> {
    let name = user_name(config, user)?;
    let store = open_store(config)?;
    let now = doorman::clock::SystemClock.now();
    let removed = runtime()?
        .block_on(async {
            let removed = store
                .update_passkeys(&name, |list| {
                    let before = list.len();
                    list.retain(|credential| id.is_some_and(|id| credential.id() != id));
                    before - list.len()
                })
                .await?;
            // A session a removed passkey made ends with it.
            if removed > 0 {
                store.end_user_sessions(&name, now).await?;
            }
            Ok::<usize, doorman::store::Unavailable>(removed)
        })
        .map_err(|err| anyhow::anyhow!("cannot reach the store: {err}"))?;
    match (removed, id) {
        (0, Some(id)) => bail!("{name} has no passkey `{id}` (see `doorman webauthn list {name}`)"),
        (0, None) => println!("{name} had no passkey."),
        (count, _) => println!(
            "Removed {count} passkey(s) of {name}; every session of {name} until now has ended."
        ),
    }
    Ok(ExitCode::SUCCESS)
}
