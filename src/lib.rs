//! doorman: a two-factor reverse proxy.
//!
//! The module map, in the order a request meets them:
//! - [`gateway`]: the running process (bind, workers, control, reload,
//!   shutdown); [`app`]: what every request may read, built once from the
//!   config; [`threads`]: named threads with their own runtime.
//! - [`server`]: listeners, HTTP/1.1 + HTTP/2, idle connections, graceful shutdown;
//!   [`connections`] holds the connection slots and [`stall`] the stall timeouts;
//!   [`listeners`]: the serving sockets (one `SO_REUSEPORT` socket per
//!   worker on Linux); [`net`]: client addresses and trusted proxies;
//!   [`lane`]: the HTTP/1 lane, which carries plain requests the gate lets
//!   through without hyper.
//! - [`request`]: one request top to bottom: canonical path, gate, pages or
//!   the upstream, response filters, and the audit of rule stops.
//! - [`gate`]: the per-request decision (pages, public, signed in, or stopped)
//!   and whether a session still holds.
//! - [`path`] and [`rules`]: the canonical and lenient readings of a path,
//!   and the access rules judged on both; [`path_readings`]: how other
//!   servers read a path, for the differential test and the fuzzer;
//!   [`sites`]: which app (of `apps:`) a request is for, by host;
//!   [`policy_check`]: `check-policy` and `check-config`'s rule warnings.
//! - [`pages`]: doorman's own routes: login, second factor, logout, forward-auth, health;
//!   [`redirect`]: which return targets are safe.
//! - [`proxy`]: forwarding to the upstream, streaming, upgrades, header rewrites.
//! - [`session`] and [`csrf`]: the encrypted session cookie and form tokens;
//!   [`crypto`]: the primitives under them.
//! - [`users`]: the users and password checks; [`users_watch`] reloads
//!   the users file when it changes on disk.
//! - [`otp`]: codes, challenges and the providers that deliver them;
//!   [`webauthn`]: passkeys and security keys; [`recovery`]: single-use
//!   recovery codes.
//! - [`limits`]: brute-force and send limits; [`tokens`]: API tokens for
//!   scripts (`Authorization: Bearer`, or Basic with an app password).
//! - [`store`]: server-side state (challenges, revocations, cooldowns).
//! - [`config`]: the config and users files, read in two stages (and
//!   enrolled authenticator secrets written back); [`report`]: how its
//!   problems are reported; [`secret`]: values kept out of logs;
//!   [`error`]: the one error type.
//! - [`clock`]: injectable time; [`i18n`]: the words people read, per language;
//!   [`embed`]: the files built into the binary.
//! - [`tls`]: certificates for the listener and `https://` upstreams.
//! - [`metrics`]: Prometheus counters and their exposition;
//!   [`metrics_histogram`]: latency histograms (provider calls);
//!   [`metrics_process`]: the `process_*` metrics.
//! - [`control`]: the side thread serving metrics and watching certificates.
//! - [`audit`]: security decisions as JSON lines; [`access_log`]: one
//!   line per request (optional); [`request_id`]: `X-Request-Id`; [`notify`]: account
//!   notices (authenticator changes) to audit and webhook.
//! - [`healthcheck`]: the `healthcheck` command's probe; [`demo`]: the
//!   `demo` command's sample app.

// `pub` only what the binary (`main.rs`), the integration tests, the
// fuzzer and the benchmarks use; everything else is the crate's own.
pub(crate) mod access_log;
pub(crate) mod app;
pub mod audit;
pub mod clock;
pub mod config;
pub(crate) mod connections;
pub mod control;
pub(crate) mod crypto;
pub(crate) mod csrf;
pub mod demo;
pub(crate) mod embed;
pub(crate) mod error;
pub(crate) mod gate;
pub(crate) mod gateway;
pub mod healthcheck;
pub(crate) mod i18n;
pub(crate) mod lane;
pub(crate) mod limits;
pub(crate) mod listeners;
pub mod metrics;
pub(crate) mod metrics_histogram;
pub(crate) mod metrics_process;
pub(crate) mod net;
pub(crate) mod notify;
pub mod otp;
pub(crate) mod pages;
pub mod path;
pub mod path_readings;
pub mod policy_check;
pub(crate) mod proxy;
pub mod recovery;
pub mod redirect;
pub(crate) mod report;
pub(crate) mod request;
pub(crate) mod request_id;
pub mod rules;
pub(crate) mod secret;
pub(crate) mod server;
pub mod session;
pub(crate) mod sites;
pub(crate) mod stall;
pub mod store;
pub(crate) mod threads;
pub mod tls;
pub mod tokens;
pub mod users;
pub(crate) mod users_watch;
pub mod webauthn;

pub use app::App;
pub use error::Error;
pub use gateway::{Gateway, Reloaded};
pub use request::Body;

/// The start-up steps `serve` runs after validation that read files
/// (templates), with nothing bound: `check-config` passes iff these do.
pub fn preflight(config: &config::Config) -> Result<(), String> {
    app::App::preflight(config)
        .map(drop)
        .map_err(|err| err.to_string())
}
