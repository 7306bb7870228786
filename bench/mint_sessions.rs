//! bench/sessions.sh's cookie minter: prints COUNT fully signed-in session
//! cookies (one value a line) for the users of a doorman config, made the
//! way the sign-in makes them — `App::start_session` at level two, sealed by
//! `SessionCodec::set_cookie` — under that config's session secret.
//! Signing 100 000 people in through the pages would cost 100 000 argon2
//! checks; this skips only the proving, not the cookie.
//!
//! usage: cargo run --release --example mint-sessions -- CONFIG COUNT
//!
//! A benchmark tool: it holds the session secret, so it is not built into
//! the `doorman` binary and must never run against a production config.

use anyhow::{bail, Context, Result};
use doorman::clock::{Clock, SystemClock};
use doorman::config::Config;
use doorman::session::FactorLevel;
use doorman::App;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::sync::Arc;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(config), Some(count), None) = (args.next(), args.next(), args.next()) else {
        bail!("usage: mint-sessions CONFIG COUNT");
    };
    let count: usize = count.parse().context("COUNT must be a whole number")?;
    let config = Config::load_from(Some(&PathBuf::from(config)), &|name| {
        std::env::var(name).ok()
    })
    .map_err(|problems| anyhow::anyhow!("the config has problems:\n{problems}"))?;
    let app = App::new(config, Arc::new(SystemClock)).context("cannot build the app")?;
    let users = app.users.load();
    let mut users: Vec<_> = users.iter().cloned().collect();
    users.sort_by(|a, b| a.name.cmp(&b.name));
    if users.is_empty() {
        bail!("the users file has no users");
    }
    let now = SystemClock.now();
    let mut out = BufWriter::new(std::io::stdout().lock());
    for user in users.iter().cycle().take(count) {
        let session = app.start_session(user, FactorLevel::TwoFactor, now, now);
        let set_cookie = app.sessions.set_cookie(&session, false);
        // "doorman_session=VALUE; HttpOnly; …": the value alone.
        let set_cookie = set_cookie.to_str().context("a Set-Cookie as text")?;
        let value = set_cookie
            .split(';')
            .next()
            .and_then(|pair| pair.split_once('='))
            .map(|(_, value)| value)
            .context("a Set-Cookie without a value")?;
        writeln!(out, "{value}")?;
    }
    out.flush()?;
    Ok(())
}
