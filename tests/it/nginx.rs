//! A real nginx (the Debian package) running `examples/nginx/app.conf`:
//! `auth_request` to doorman in front of the fake upstream, signed in
//! through end to end.
//!
//! Needs `nginx` (`apt-get install nginx`; `.ci/run` installs it). The test
//! fails when nginx is missing, unless DOORMAN_SKIP_NGINX=1 says to skip it.

use crate::support::poll::wait_until_listening;
use crate::support::process::{free_local_addr, KillOnDrop};
use crate::support::{Browser, Env};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The nginx binary, or `None` when the environment says to skip.
pub(crate) fn nginx_binary() -> Option<PathBuf> {
    if std::env::var("DOORMAN_SKIP_NGINX").is_ok_and(|v| v == "1") {
        eprintln!("DOORMAN_SKIP_NGINX=1: skipping the nginx auth_request test");
        return None;
    }
    let candidates = ["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx"];
    let found = candidates
        .iter()
        .map(PathBuf::from)
        .find(|path| path.is_file())
        .or_else(|| {
            let output = Command::new("sh")
                .args(["-c", "command -v nginx"])
                .output()
                .ok()?;
            let path = String::from_utf8_lossy(&output.stdout).trim().to_owned();
            (!path.is_empty()).then(|| PathBuf::from(path))
        });
    match found {
        Some(path) => Some(path),
        None => panic!(
            "nginx is not installed: `apt-get install -y nginx` (as .ci/run does), \
             or set DOORMAN_SKIP_NGINX=1 to skip this test explicitly"
        ),
    }
}

/// nginx as a child of the test, stopped on drop.
pub(crate) struct Nginx {
    child: KillOnDrop,
    pub(crate) addr: SocketAddr,
    dir: tempfile::TempDir,
}

impl Nginx {
    /// Runs the example config with its addresses pointed at `app` and `doorman`.
    pub(crate) fn start(binary: &Path, app: SocketAddr, doorman: SocketAddr) -> Nginx {
        Nginx::start_with(binary, app, doorman, |site| site)
    }

    /// As [`Nginx::start`], with `edit` applied to the example first.
    pub(crate) fn start_with(
        binary: &Path,
        app: SocketAddr,
        doorman: SocketAddr,
        edit: impl FnOnce(String) -> String,
    ) -> Nginx {
        let dir = tempfile::tempdir().expect("tempdir");
        let addr = free_local_addr();
        let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/nginx/app.conf");
        let site = std::fs::read_to_string(example).expect("examples/nginx/app.conf");
        let site = replace_once(&site, "server 127.0.0.1:3000;", &format!("server {app};"));
        let site = replace_once(
            &site,
            "server 127.0.0.1:8080;",
            &format!("server {doorman};"),
        );
        let site = edit(replace_once(
            &site,
            "listen 80;",
            &format!("listen {addr};"),
        ));
        Nginx::run(binary, dir, addr, &site)
    }

    /// nginx serving `site` (an `http {}` snippet) made for the address
    /// it is to listen on.
    pub(crate) fn start_site(binary: &Path, site: impl FnOnce(SocketAddr) -> String) -> Nginx {
        let dir = tempfile::tempdir().expect("tempdir");
        let addr = free_local_addr();
        Nginx::run(binary, dir, addr, &site(addr))
    }

    fn run(binary: &Path, dir: tempfile::TempDir, addr: SocketAddr, site: &str) -> Nginx {
        std::fs::write(dir.path().join("app.conf"), site).expect("site config");
        let root = dir.path().display();
        let main = format!(
            "daemon off;\nmaster_process off;\nworker_processes 1;\npid {root}/nginx.pid;\n\
             error_log {root}/error.log info;\nevents {{ worker_connections 256; }}\n\
             http {{\n  access_log {root}/access.log;\n  client_body_temp_path {root}/body;\n\
             proxy_temp_path {root}/proxy;\n  fastcgi_temp_path {root}/fastcgi;\n\
             uwsgi_temp_path {root}/uwsgi;\n  scgi_temp_path {root}/scgi;\n\
             include {root}/app.conf;\n}}\n"
        );
        let config = dir.path().join("nginx.conf");
        std::fs::write(&config, main).expect("nginx.conf");
        let child = Command::new(binary)
            .arg("-p")
            .arg(dir.path())
            .arg("-e")
            .arg(dir.path().join("error.log"))
            .arg("-c")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nginx");
        let mut nginx = Nginx {
            child: KillOnDrop(child),
            addr,
            dir,
        };
        nginx.wait_until_listening();
        nginx
    }

    fn wait_until_listening(&mut self) {
        let log = self.dir.path().join("error.log");
        let error_log = || std::fs::read_to_string(&log).unwrap_or_default();
        wait_until_listening("nginx", &mut self.child, self.addr, error_log);
    }

    pub(crate) fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }
}

pub(crate) fn replace_once(text: &str, from: &str, to: &str) -> String {
    assert_eq!(text.matches(from).count(), 1, "`{from}` in the example");
    text.replace(from, to)
}

#[tokio::test]
async fn nginx_auth_request_in_front_of_the_app_signs_in_end_to_end() {
    let Some(binary) = nginx_binary() else {
        return;
    };
    let env = Env::with_extra("trusted_proxies: [\"127.0.0.1\"]\n").await;
    let nginx = Nginx::start(&binary, env.upstream.addr, env.addr);
    let origin = format!("http://{}", nginx.addr);
    let mut browser = Browser::new(nginx.addr);

    // Signed out: nginx asks doorman, gets 401 + Location, redirects.
    let page = browser.get("/reports?year=2026").await;
    assert_eq!(page.status, 302, "{page:?}\n{}", nginx.error_log());
    let original = format!("{origin}/reports?year=2026");
    let rd: String = form_urlencoded::byte_serialize(original.as_bytes()).collect();
    let login = format!("{origin}/.doorman/login?rd={rd}");
    assert_eq!(page.location(), Some(login.as_str()));
    assert_eq!(env.upstream.hits(), 0, "nothing reached the app");

    // The sign-in pages come through nginx's /.doorman/ location.
    let page = browser
        .sign_in_from(&env, "alice", &login[origin.len()..])
        .await;
    assert_eq!(page.status, 303, "{page:?}");
    assert_eq!(page.location(), Some(original.as_str()));

    let page = browser.get("/reports?year=2026").await;
    assert_eq!(page.status, 200, "{page:?}\n{}", nginx.error_log());
    let echo = page.echo();
    assert_eq!(echo["uri"], "/reports?year=2026");
    assert_eq!(echo["headers"]["remote-user"][0], "alice");
    assert_eq!(echo["headers"]["remote-email"][0], "alice@example.com");
    assert_eq!(echo["headers"]["remote-groups"][0], "admins,ops");

    // A public path passes signed out, and a client's own Remote-User is
    // replaced by nginx's (empty) one.
    let mut stranger = Browser::new(nginx.addr);
    let page = stranger
        .get_with("/assets/site.css", &[("remote-user", "mallory")])
        .await;
    assert_eq!(page.status, 200, "{page:?}");
    assert!(
        page.echo()["headers"].get("remote-user").is_none(),
        "{page:?}"
    );
    let page = stranger.get("/reports").await;
    assert_eq!(page.status, 302);

    // Signing out through nginx ends it.
    let page = browser.sign_out().await;
    assert_eq!(page.status, 200, "{page:?}");
    let page = browser.get("/reports").await;
    assert_eq!(page.status, 302, "{page:?}");
}
