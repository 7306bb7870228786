//! The users file reloads when it changes on disk, with no signal and no
//! reload call: an edit in place, a broken file (the old users stay), and
//! a Kubernetes Secret update (a `..data` symlink swapped).

use crate::reload::with_carol;
use crate::support::logs;
use crate::support::poll::eventually;
use crate::support::{default_users, Env};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Long enough for the debounce and a loaded machine; the wait ends as
/// soon as the reload is logged.
const WITHIN: Duration = Duration::from_secs(10);

async fn password_step(env: &Env, user: &str) -> u16 {
    crate::reload::password_step(env.addr, user).await
}

/// Log lines about `dir`'s users file containing `what`.
fn logged(dir: &Path, what: &str) -> usize {
    let dir = dir.display().to_string();
    logs::text()
        .lines()
        .filter(|line| line.contains(what) && line.contains(&dir))
        .count()
}

async fn wait_for_log(dir: &Path, what: &str, count: usize) {
    eventually(what, WITHIN, async || logged(dir, what) >= count).await;
}

/// A doorman with its log captured, and the folder of its users file.
async fn start() -> (Env, PathBuf) {
    logs::capture();
    let env = Env::start().await;
    let dir = env.dir.path().to_owned();
    (env, dir)
}

/// users.yaml rewritten in place with carol added: the reload is logged
/// and carol's password is taken.
async fn carol_arrives(env: &Env, dir: &Path) {
    std::fs::write(dir.join("users.yaml"), with_carol()).expect("users file");
    wait_for_log(dir, "users file changed: reloaded", 1).await;
    assert_eq!(password_step(env, "carol").await, 303);
}

#[tokio::test]
async fn an_edited_users_file_lets_the_new_user_in_without_a_signal() {
    let (env, dir) = start().await;
    assert_eq!(password_step(&env, "carol").await, 401);

    carol_arrives(&env, &dir).await;
}

#[tokio::test]
async fn a_broken_users_file_keeps_the_users_there_were() {
    let (env, dir) = start().await;
    std::fs::write(dir.join("users.yaml"), "users:\n  alice: [not, a, user]\n")
        .expect("users file");
    wait_for_log(&dir, "does not load; keeping the users there were", 1).await;
    assert_eq!(password_step(&env, "alice").await, 303, "alice was dropped");

    // Fixed, it loads.
    carol_arrives(&env, &dir).await;
}

#[tokio::test]
async fn a_kubernetes_secret_update_swapping_data_reloads() {
    use std::os::unix::fs::symlink;
    let (env, dir) = start().await;
    // The layout the kubelet makes: users.yaml -> ..data/users.yaml,
    // ..data -> a timestamped directory.
    let version = |name: &str, users: &str| {
        std::fs::create_dir(dir.join(name)).expect("version dir");
        std::fs::write(dir.join(name).join("users.yaml"), users).expect("users");
    };
    version("..2026_01", &default_users());
    symlink("..2026_01", dir.join("..data")).expect("..data");
    let tmp = dir.join("users.yaml.tmp");
    symlink("..data/users.yaml", &tmp).expect("link");
    std::fs::rename(&tmp, dir.join("users.yaml")).expect("swap in the link");
    assert_eq!(password_step(&env, "alice").await, 303);
    assert_eq!(password_step(&env, "carol").await, 401);

    // The update: a new version, then ..data swapped to it by a rename.
    version("..2026_02", &with_carol());
    symlink("..2026_02", dir.join("..data_tmp")).expect("..data_tmp");
    std::fs::rename(dir.join("..data_tmp"), dir.join("..data")).expect("swap ..data");
    std::fs::remove_dir_all(dir.join("..2026_01")).expect("old version");
    wait_for_log(&dir, "users file changed: reloaded", 1).await;
    assert_eq!(password_step(&env, "carol").await, 303);
}
