//! Issue 11's forward-auth classes through real front proxies: the shipped
//! `examples/nginx/app.conf` (with both `proxy_pass` forms) and
//! `examples/caddy/Caddyfile`, each started by the test in front of doorman
//! and the fake app. The attacker has no cookie, or bob's (not an admin).
//!
//! Needs `nginx` and `caddy` (`scripts/test` installs both); a missing one
//! fails its tests unless DOORMAN_SKIP_NGINX=1 / DOORMAN_SKIP_CADDY=1.

use crate::nginx::{nginx_binary, replace_once, Nginx};
use crate::support::poll::wait_until_listening;
use crate::support::process::{free_local_addr, KillOnDrop};
use crate::support::{raw_request, Env, RawResponse, SESSION_COOKIE};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const RULES: &str = r#"
trusted_proxies: ["127.0.0.1"]
rules:
  - { path_prefix: "/assets/", methods: ["GET", "HEAD"], policy: bypass }
  - { path_prefix: "/admin/", groups: ["admins"], policy: two_factor }
  - { path_prefix: "/admin/", policy: deny }
  - { path_regex: "^/internal/", policy: deny }
"#;

async fn env() -> Env {
    Env::with_extra(RULES).await
}

/// Paths the front proxy resolves to /admin/x or /internal/x while they
/// start with doorman's prefix as sent.
const INTO_THE_APP: &[&str] = &[
    "/.doorman/..%2Fadmin/x",
    "/.doorman/..%2fadmin/x",
    "/.doorman/%2e%2e/admin/x",
    "/.doorman/%2E%2E%2Fadmin/x",
    "/.doorman/login/..%2F..%2Finternal/x",
    "/.doorman/./..%2Finternal/x",
    "/.doorman//..%2F/admin/x",
    "/.doorman/..%2F%2561dmin/x",
    // The protected directory first: the front proxy resolves the dots to
    // a public path, but passes the path on as sent, and an app that does
    // not resolve dots routes it under /admin/.
    "/admin/x/../../assets/x",
    "/admin/x/%2e%2e/%2e%2e/assets/x",
    "/internal/..%2F/assets/x",
];

/// What the app received, if the request got there.
fn reached(answer: &RawResponse) -> Option<String> {
    let echo: serde_json::Value = serde_json::from_str(&answer.body).ok()?;
    Some(echo["path"].as_str()?.to_owned())
}

/// Every attack of the forward-auth classes, through the front proxy at
/// `front`; `bob` is a signed-in non-admin's session cookie.
async fn attack(env: &Env, front: SocketAddr, bob: &str, label: &str) {
    let hits = env.upstream.hits();
    // 1. doorman's prefix as a way into the app, with no cookie at all.
    for path in INTO_THE_APP {
        let answer = raw_request(front, &format!("GET {path} HTTP/1.1\nHost: app.test")).await;
        assert_ne!(answer.status, 200, "{label}: {path}: {answer:?}");
        assert_eq!(reached(&answer), None, "{label}: {path} reached the app");
    }
    // ... nor with bob's cookie into what only admins may see.
    for path in INTO_THE_APP {
        let answer = raw_request(
            front,
            &format!("GET {path} HTTP/1.1\nHost: app.test\nCookie: {SESSION_COOKIE}={bob}"),
        )
        .await;
        assert_eq!(
            reached(&answer),
            None,
            "{label}: bob: {path} reached the app"
        );
    }
    // 2. The client's word on the method or the URI.
    for spoof in [
        "X-Forwarded-Method: GET",
        "X-Forwarded-Method: OPTIONS",
        "X-Original-Method: GET",
        "X-Forwarded-Uri: /assets/x",
        "X-Original-URL: /assets/x",
        "X-Original-URL: http://app.test/assets/x\nX-Original-Method: GET",
        "X-Forwarded-Method: GET\nX-Forwarded-Uri: /assets/x",
    ] {
        for target in ["POST /assets/x", "POST /admin/x", "DELETE /internal/x"] {
            let answer = raw_request(
                front,
                &format!("{target} HTTP/1.1\nHost: app.test\nContent-Length: 0\n{spoof}"),
            )
            .await;
            assert_eq!(
                reached(&answer),
                None,
                "{label}: {target} with {spoof}: {answer:?}"
            );
        }
    }
    // 6. Spellings a lenient app reads as what bob may not see.
    for path in [
        "/Admin/users",
        "/ADMIN/x",
        "/admin",
        "/admin/",
        "/admin/x/",
        "/INTERNAL/x",
        "/internal",
        "/internal/",
        "/%61dmin/x",
        "/%41DMIN/x",
        "/admin%2Fx",
        "/admin%2fx",
        "//admin/x",
        "/./admin/x",
        "/x/../admin/x",
        "/assets/../admin/x",
        "/assets/..%2Fadmin/x",
        "/assets%2F..%2Fadmin/x",
        "/assets/%2e%2e/internal/x",
        "/admin;x/y",
        "/admin/;/x",
        "/internal%00/x",
        "/%69nternal/x",
        "/admin\\x",
    ] {
        let answer = raw_request(
            front,
            &format!("GET {path} HTTP/1.1\nHost: app.test\nCookie: {SESSION_COOKIE}={bob}"),
        )
        .await;
        assert_eq!(reached(&answer), None, "{label}: bob: {path}: {answer:?}");
    }
    assert_eq!(
        env.upstream.hits(),
        hits,
        "{label}: nothing reached the app"
    );

    // 4, 5. What does reach the app carries only the front proxy's and
    // doorman's word on identity and routing.
    let answer = raw_request(
        front,
        &format!(
            "GET /assets/x HTTP/1.1\nHost: app.test\nCookie: {SESSION_COOKIE}={bob}\n\
             Remote-User: mallory\nRemote-Groups: admins\nRemote.User: mallory\n\
             Remote_User: mallory\nX-Original-URL: /admin/x\nX-Forwarded-Prefix: /admin\n\
             X-Real-IP: 6.6.6.6\nForwarded: for=6.6.6.6"
        ),
    )
    .await;
    assert_eq!(answer.status, 200, "{label}: {answer:?}");
    assert!(!answer.body.contains("mallory"), "{label}: {}", answer.body);
    assert!(!answer.body.contains("admins"), "{label}: {}", answer.body);
    assert!(!answer.body.contains("6.6.6.6"), "{label}: {}", answer.body);
    assert!(
        !answer.body.contains("{http."),
        "{label}: a placeholder: {}",
        answer.body
    );
    // A routing header the app would believe: refused by doorman (it is
    // one more reading of the request), or removed by the front proxy.
    for spoof in [
        "X-Rewrite-URL: /admin/x",
        "X-HTTP-Method-Override: DELETE",
        "X-Original-URL: /admin/x",
        "X-Forwarded-Prefix: /admin",
    ] {
        let answer = raw_request(
            front,
            &format!(
                "GET /assets/x HTTP/1.1\nHost: app.test\nCookie: {SESSION_COOKIE}={bob}\n{spoof}"
            ),
        )
        .await;
        let name = spoof
            .split(':')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        assert!(
            answer.status != 200 || !answer.body.contains(&format!("\"{name}\"")),
            "{label}: {name} reached the app: {}",
            answer.body
        );
    }
    // And the signed-in way in still works.
    let answer = raw_request(
        front,
        &format!("GET /reports HTTP/1.1\nHost: app.test\nCookie: {SESSION_COOKIE}={bob}"),
    )
    .await;
    assert_eq!(answer.status, 200, "{label}: {answer:?}");
    assert_eq!(reached(&answer).as_deref(), Some("/reports"));
    assert!(answer.body.contains("\"bob\""), "{label}: {}", answer.body);
}

#[tokio::test]
async fn nobody_walks_around_doorman_behind_nginx_with_either_proxy_pass_form() {
    let Some(binary) = nginx_binary() else {
        return;
    };
    let env = env().await;
    let bob = env.session_of("bob").await;
    for form in ["proxy_pass http://app;", "proxy_pass http://app/;"] {
        let nginx = Nginx::start_with(&binary, env.upstream.addr, env.addr, |site| {
            replace_once(&site, "proxy_pass http://app;", form)
        });
        attack(&env, nginx.addr, &bob, form).await;
        drop(nginx);
    }
}

#[tokio::test]
async fn nobody_walks_around_doorman_behind_caddy() {
    let Some(binary) = caddy_binary() else {
        return;
    };
    let env = env().await;
    let bob = env.session_of("bob").await;
    let caddy = Caddy::start(&binary, env.upstream.addr, env.addr);
    attack(&env, caddy.addr, &bob, "caddy").await;
    drop(caddy);
}

/// The caddy binary, or `None` when the environment says to skip.
fn caddy_binary() -> Option<PathBuf> {
    if std::env::var("DOORMAN_SKIP_CADDY").is_ok_and(|v| v == "1") {
        eprintln!("DOORMAN_SKIP_CADDY=1: skipping the Caddy forward_auth test");
        return None;
    }
    ["/usr/bin/caddy", "/usr/local/bin/caddy"]
        .iter()
        .map(PathBuf::from)
        .find(|path| path.is_file())
        .or_else(|| {
            panic!(
                "caddy is not installed: `apt-get install -y caddy` (as scripts/test does), \
                 or set DOORMAN_SKIP_CADDY=1 to skip this test explicitly"
            )
        })
}

/// Caddy running `examples/caddy/Caddyfile`, stopped on drop.
struct Caddy {
    child: KillOnDrop,
    addr: SocketAddr,
    dir: tempfile::TempDir,
}

impl Caddy {
    fn start(binary: &Path, app: SocketAddr, doorman: SocketAddr) -> Caddy {
        let dir = tempfile::tempdir().expect("tempdir");
        let addr = free_local_addr();
        let port = addr.port();
        let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/caddy/Caddyfile");
        let site = std::fs::read_to_string(example).expect("examples/caddy/Caddyfile");
        // Any Host (the tests send app.test), on loopback only.
        let site = replace_once(
            &site,
            "app.example.com {",
            &format!("http://:{port} {{\n\tbind 127.0.0.1"),
        );
        let site = site.replace("doorman:8080", &doorman.to_string());
        let site = replace_once(
            &site,
            "reverse_proxy app:3000",
            &format!("reverse_proxy {app}"),
        );
        // No admin endpoint (tests run side by side), no certificates.
        let config = format!("{{\n\tadmin off\n\tauto_https off\n}}\n\n{site}");
        let file = dir.path().join("Caddyfile");
        std::fs::write(&file, config).expect("Caddyfile");
        let child = Command::new(binary)
            .args(["run", "--adapter", "caddyfile", "--config"])
            .arg(&file)
            .env("HOME", dir.path())
            .env("XDG_DATA_HOME", dir.path())
            .env("XDG_CONFIG_HOME", dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(
                std::fs::File::create(dir.path().join("caddy.log")).expect("log"),
            ))
            .spawn()
            .expect("start caddy");
        let mut caddy = Caddy {
            child: KillOnDrop(child),
            addr,
            dir,
        };
        let log = caddy.dir.path().join("caddy.log");
        let caddy_log = || std::fs::read_to_string(&log).unwrap_or_default();
        wait_until_listening("caddy", &mut caddy.child, addr, caddy_log);
        caddy
    }
}

/// doorman as in [`env`], with its access log beside the config.
async fn logged_env() -> Env {
    Env::with(crate::support::Setup {
        extra: format!("{RULES}log:\n  access: \"./access.log\"\n"),
        ..crate::support::Setup::default()
    })
    .await
}

/// A client's request id, in every spelling an app server reads as
/// `X-Request-Id`, sent twice over.
const CLIENT_IDS: &str = "X-Request-Id: forged-1\nx-request-id: forged-2\nX_Request_Id: forged-3\n\
     x_request_id: forged-4\nX.Request.Id: forged-5\nX-Request_Id: forged-6";

/// Through the front proxy at `front`, to the app (forward-auth asked
/// first), to a public path and to doorman's pages: neither the app, nor
/// the answer, nor doorman's access log sees an id a client wrote.
async fn client_ids_stay_out(env: &Env, front: SocketAddr, bob: &str, label: &str) {
    for path in ["/reports", "/assets/x", "/.doorman/health"] {
        let answer = raw_request(
            front,
            &format!(
                "GET {path} HTTP/1.1\nHost: app.test\nCookie: {SESSION_COOKIE}={bob}\n{CLIENT_IDS}"
            ),
        )
        .await;
        assert_eq!(answer.status, 200, "{label}: {path}: {answer:?}");
        assert!(
            !answer.body.contains("forged"),
            "{label}: {path}: {}",
            answer.body
        );
        assert!(
            answer
                .headers
                .iter()
                .all(|(_, value)| !value.contains("forged")),
            "{label}: {path}: {answer:?}"
        );
    }
    let log = env.dir.path().join("access.log");
    crate::support::eventually(
        "doorman's access lines",
        std::time::Duration::from_secs(5),
        async || {
            std::fs::read_to_string(&log)
                .unwrap_or_default()
                .lines()
                .count()
                >= 3
        },
    )
    .await;
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(!text.contains("forged"), "{label}: {text}");
}

#[tokio::test]
async fn a_clients_request_id_never_gets_past_nginx_or_caddy_to_the_app_or_the_log() {
    let env = logged_env().await;
    let bob = env.session_of("bob").await;
    if let Some(binary) = nginx_binary() {
        let nginx = Nginx::start(&binary, env.upstream.addr, env.addr);
        client_ids_stay_out(&env, nginx.addr, &bob, "nginx").await;
    }
    if let Some(binary) = caddy_binary() {
        let caddy = Caddy::start(&binary, env.upstream.addr, env.addr);
        client_ids_stay_out(&env, caddy.addr, &bob, "caddy").await;
    }
}

/// nginx as a plain reverse proxy in front of doorman in proxy mode,
/// passing every header a client sends — `_` and `.` in names included.
fn nginx_in_front(doorman: SocketAddr) -> impl FnOnce(SocketAddr) -> String {
    move |listen| {
        format!(
            "server {{\n  listen {listen};\n  underscores_in_headers on;\n  ignore_invalid_headers off;\n\
             location / {{\n    proxy_pass http://{doorman};\n    proxy_http_version 1.1;\n\
             proxy_set_header Connection \"\";\n    proxy_set_header Host $http_host;\n\
             proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n\
             proxy_set_header X-Request-Id $request_id;\n  }}\n}}\n"
        )
    }
}

#[tokio::test]
async fn behind_nginx_with_underscores_in_headers_no_client_identity_reaches_the_app() {
    let Some(binary) = nginx_binary() else {
        return;
    };
    let env = logged_env().await;
    let bob = env.session_of("bob").await;
    let nginx = Nginx::start_site(&binary, nginx_in_front(env.addr));
    let spoofed = "Remote-User: mallory\nRemote_User: mallory\nremote_user: mallory\n\
         REMOTE_USER: mallory\nRemote.User: mallory\nRemote_Groups: admins\nremote.groups: admins\n\
         Remote_Email: mallory@evil.test\nRemote_Name: mallory\nRemote~User: mallory\n\
         Remote-User : mallory\n\
         X_Forwarded_User: mallory\nX_Request_Id: forged\nX.Request.Id: forged";
    // nginx may refuse a name with a trailing space (then nothing got
    // through); without it, both requests must.
    let without_space = spoofed.replace("Remote-User : mallory\n", "");
    for (spoofed, may_refuse) in [(spoofed, true), (without_space.as_str(), false)] {
        let signed_in = format!("Cookie: {SESSION_COOKIE}={bob}\n");
        for (path, cookie) in [("/reports", signed_in.as_str()), ("/assets/x", "")] {
            let answer = raw_request(
                nginx.addr,
                &format!("GET {path} HTTP/1.1\nHost: app.test\n{cookie}{spoofed}"),
            )
            .await;
            if may_refuse && answer.status == 400 {
                continue;
            }
            assert_eq!(answer.status, 200, "{path}: {answer:?}");
            assert_eq!(
                crate::adversarial_h2::forged(&answer.body),
                Vec::<String>::new(),
                "{path}"
            );
            if !cookie.is_empty() {
                assert!(answer.body.contains("\"bob\""), "{}", answer.body);
            }
        }
    }
}
