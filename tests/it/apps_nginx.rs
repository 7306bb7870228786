//! `examples/nginx/apps.conf` with a real nginx: one doorman in
//! forward-auth mode for several apps, picked by the host nginx reports;
//! one sign-in across them, a host-scoped deny, a token, an unknown host.

use crate::nginx::{nginx_binary, replace_once, Nginx};
use crate::support::{Browser, Env, Setup, Upstream};
use std::path::Path;

#[tokio::test]
async fn nginx_forward_auth_picks_the_app_by_host_with_one_sign_in() {
    let Some(binary) = nginx_binary() else {
        return;
    };
    let git = Upstream::start().await;
    let grafana = Upstream::start().await;
    let apps = format!(
        r#"apps:
  - hosts: ["wiki.example.com"]
    upstream: "{{upstream}}"
  - hosts: ["git.example.com"]
    upstream: "http://{git}"
    rules:
      - {{ path_prefix: "/api/", tokens: true }}
  - hosts: ["grafana.example.com"]
    upstream: "http://{grafana}"
    rules:
      - {{ path_prefix: "/admin/", hosts: ["grafana.example.com"], policy: deny }}
"#,
        git = git.addr,
        grafana = grafana.addr
    );
    let env = Env::with(Setup {
        apps: Some(apps),
        session: "domain: example.com".into(),
        extra: "trusted_proxies: [\"127.0.0.1\"]\ntokens_file: tokens.yaml\n".into(),
        ..Setup::default()
    })
    .await;
    let snippets = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/nginx/snippets/");
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/nginx/apps.conf");
    let example = std::fs::read_to_string(example).expect("examples/nginx/apps.conf");
    let (wiki, doorman) = (env.upstream.addr, env.addr);
    let nginx = Nginx::start_with(&binary, wiki, doorman, |single| {
        // The harness readies app.conf; this test runs apps.conf on its port.
        let listen = single
            .lines()
            .find_map(|line| line.trim().strip_prefix("listen ").map(str::to_owned))
            .expect("listen line");
        let site = replace_once(
            &example,
            "server 127.0.0.1:3001;",
            &format!("server {wiki};"),
        );
        let site = replace_once(
            &site,
            "server 127.0.0.1:3002;",
            &format!("server {};", git.addr),
        );
        let site = replace_once(
            &site,
            "server 127.0.0.1:3003;",
            &format!("server {};", grafana.addr),
        );
        let site = replace_once(
            &site,
            "server 127.0.0.1:8080;",
            &format!("server {doorman};"),
        );
        let site = site.replace("listen 80;", &format!("listen {listen}"));
        let site = site.replace(
            "listen 80 default_server;",
            &format!("listen {} default_server;", listen.trim_end_matches(';')),
        );
        site.replace(
            "include snippets/",
            &format!("include {}", snippets.display()),
        )
    });
    let hosts = [
        "wiki.example.com",
        "git.example.com",
        "grafana.example.com",
        "other.example.com",
    ];
    let mut browser = Browser::for_hosts(nginx.addr, &hosts);

    // Signed out on the git app: nginx redirects to sign in on its host.
    browser.switch_to_host("git.example.com");
    let page = browser.get("/repo").await;
    assert_eq!(page.status, 302, "{page:?}\n{}", nginx.error_log());
    let login = page.location().expect("to sign in").to_owned();
    assert!(
        login.starts_with(&format!(
            "http://git.example.com:{}/.doorman/login?rd=",
            nginx.addr.port()
        )),
        "{login}"
    );

    // Sign in on the wiki; the one cookie covers git and grafana too.
    browser.switch_to_host("wiki.example.com");
    browser.sign_in(&env, "alice").await;
    let page = browser.get("/page").await;
    assert_eq!(page.status, 200, "{page:?}\n{}", nginx.error_log());
    assert_eq!(page.echo()["headers"]["remote-user"][0], "alice");
    browser.switch_to_host("git.example.com");
    assert_eq!(browser.get("/repo").await.status, 200);
    browser.switch_to_host("grafana.example.com");
    assert_eq!(browser.get("/d/home").await.status, 200);
    assert_eq!(
        browser.get("/admin/users").await.status,
        403,
        "the host-scoped deny"
    );
    assert_eq!((env.upstream.hits(), git.hits(), grafana.hits()), (1, 1, 1));

    // A token for git's /api/, not for the wiki; nginx keeps it from the app.
    let token = doorman::tokens::create(
        &env.dir.path().join("tokens.yaml"),
        "alice",
        "ci",
        None,
        env.now(),
    )
    .expect("token");
    let client = reqwest::Client::builder()
        .resolve("git.example.com", nginx.addr)
        .resolve("wiki.example.com", nginx.addr)
        .resolve("other.example.com", nginx.addr)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let port = nginx.addr.port();
    let call = |host: &str, path: &str| {
        client
            .get(format!("http://{host}:{port}{path}"))
            .header("authorization", format!("Bearer {token}"))
            .send()
    };
    let response = call("git.example.com", "/api/v4/projects")
        .await
        .expect("GET");
    assert_eq!(response.status(), 200);
    let echo: serde_json::Value = response.json().await.expect("echo");
    assert_eq!(echo["headers"]["remote-user"][0], "alice");
    assert!(echo["headers"].get("authorization").is_none(), "{echo}");
    assert_eq!(
        call("wiki.example.com", "/api/v4/projects")
            .await
            .expect("GET")
            .status(),
        403
    );

    // A host no app answers to stops at nginx's default server.
    assert_eq!(
        call("other.example.com", "/").await.expect("GET").status(),
        421
    );
    assert_eq!((env.upstream.hits(), git.hits(), grafana.hits()), (1, 2, 1));
}
