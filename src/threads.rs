//! Named threads, each with its own single-threaded runtime: doorman's
//! workers, its control thread and the Redis store's connection thread.

use std::future::Future;
use tokio::sync::oneshot;

/// Runs the future `task` makes on a thread of its own (`name`), with a
/// single-threaded runtime; the receiver resolves when it has ended. One
/// event loop per thread, as doorman's workers, control and Redis threads use.
pub fn spawn_thread<F>(
    name: String,
    task: impl FnOnce() -> F + Send + 'static,
) -> std::io::Result<oneshot::Receiver<()>>
where
    F: Future<Output = ()>,
{
    let (finished, stopped) = oneshot::channel();
    std::thread::Builder::new()
        .name(name.clone())
        .spawn(move || {
            match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime.block_on(task()),
                Err(err) => tracing::error!(error = %err, thread = %name, "cannot start a runtime"),
            }
            let _ = finished.send(());
        })?;
    Ok(stopped)
}
