//! Reloads the users file when it changes on disk, without a signal:
//! Kubernetes updates a mounted Secret by swapping a `..data` symlink, and
//! a distroless image has no `kill` to send SIGHUP. The file's directory
//! is watched (a rename or symlink swap replaces the file itself), changes
//! are debounced, and a file that does not load keeps the users there are.

use crate::users::Users;
use crate::{metrics, App};
use notify::Watcher;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};

/// How long the directory must be quiet before the file is read: an
/// editor's save or a Secret update is several events in a row.
pub const DEBOUNCE: Duration = Duration::from_millis(200);

/// The longest a stream of changes delays the reload.
const DEBOUNCE_LIMIT: Duration = Duration::from_secs(2);

/// Reads and validates the users file (`Config::load_users`), the error
/// as a message for the log.
pub type Load = fn(&Path) -> Result<Users, String>;

/// Starts watching `path` on a thread of its own; the receiver resolves
/// once it has stopped (at shutdown). `None` (logged) when the directory
/// cannot be watched: SIGHUP still reloads.
pub fn spawn(
    app: Arc<App>,
    path: PathBuf,
    load: Load,
    mut shutdown: watch::Receiver<bool>,
) -> Option<oneshot::Receiver<()>> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
        _ => PathBuf::from("."),
    };
    let name = path.file_name().map(|name| name.to_owned());
    let (changed, mut changes) = mpsc::unbounded_channel();
    let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        // Events naming the file, or a `..` entry: the file may be a
        // symlink into a `..data` directory whose swap names only that.
        // Others (the store's file beside it) are not ours.
        let ours = |entry: &PathBuf| {
            entry.file_name().is_some_and(|entry| {
                Some(entry) == name.as_deref() || entry.as_encoded_bytes().starts_with(b"..")
            })
        };
        if event.is_ok_and(|event| !event.kind.is_access() && event.paths.iter().any(ours)) {
            let _ = changed.send(());
        }
    });
    let mut watcher = match watcher {
        Ok(watcher) => watcher,
        Err(err) => {
            tracing::error!(error = %err, "cannot watch the users file; SIGHUP still reloads it");
            return None;
        }
    };
    if let Err(err) = watcher.watch(&dir, notify::RecursiveMode::NonRecursive) {
        tracing::error!(error = %err, dir = %dir.display(), "cannot watch the users file's directory; SIGHUP still reloads it");
        return None;
    }
    let spawned = crate::threads::spawn_thread("doorman-users-watch".into(), move || async move {
        // Held here: dropping it ends the watching.
        let _watcher = watcher;
        loop {
            tokio::select! {
                _ = shutdown.wait_for(|stop| *stop) => return,
                change = changes.recv() => if change.is_none() { return },
            }
            // Quiet for DEBOUNCE, or at most DEBOUNCE_LIMIT after the first.
            let limit = tokio::time::Instant::now() + DEBOUNCE_LIMIT;
            while tokio::time::Instant::now() < limit {
                match tokio::time::timeout(DEBOUNCE, changes.recv()).await {
                    Ok(Some(())) => continue,
                    Ok(None) => return,
                    Err(_) => break,
                }
            }
            // Always read again, never compared with an earlier read: a
            // SIGHUP or the enrollment page may have loaded other users
            // since, and reloading an unchanged file changes nothing.
            reload(&app, &path, load);
        }
    });
    match spawned {
        Ok(stopped) => Some(stopped),
        Err(err) => {
            tracing::error!(error = %err, "cannot start the users file watcher; SIGHUP still reloads it");
            None
        }
    }
}

/// Swaps in the users file at `path`, as SIGHUP would; keeps the users
/// there are when it does not load.
fn reload(app: &App, path: &Path, load: Load) {
    match load(path) {
        Ok(users) => {
            let count = users.len();
            app.replace_users(users, true);
            metrics::reload("users_file", "ok");
            tracing::info!(users = count, file = %path.display(), "users file changed: reloaded");
        }
        Err(problems) => {
            metrics::reload("users_file", "failed");
            tracing::error!(file = %path.display(), %problems, "users file changed but does not load; keeping the users there were");
        }
    }
}
