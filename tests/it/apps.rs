//! Several apps by host name behind one doorman (`apps:`): each host goes
//! to its own upstream under its own rules, one sign-in covers every app
//! under `session.domain`, and a host no app answers to is refused.

use crate::support::{raw_request, Browser, Env, Page, Setup, Upstream};

/// wiki.example.com → the env's upstream; git and ci.example.com → `git`.
/// The wiki's /status needs the password only; ci's /admin/ is denied by
/// a host-scoped rule inside the git app.
pub(crate) fn two_apps(git: &Upstream) -> String {
    format!(
        r#"apps:
  - hosts: ["wiki.example.com"]
    upstream: "{{upstream}}"
    public:
      - path_prefix: "/assets/"
    rules:
      - {{ path: "/status", policy: one_factor }}
  - hosts: ["git.example.com", "ci.example.com"]
    upstream: "http://{git}"
    rules:
      - {{ path_prefix: "/admin/", hosts: ["ci.example.com"], policy: deny }}
"#,
        git = git.addr
    )
}

pub(crate) async fn start(git: &Upstream, extra: &str) -> Env {
    Env::with(Setup {
        apps: Some(two_apps(git)),
        session: "domain: example.com".into(),
        extra: extra.into(),
        ..Setup::default()
    })
    .await
}

const HOSTS: &[&str] = &[
    "wiki.example.com",
    "git.example.com",
    "ci.example.com",
    "other.example.com",
];

#[tokio::test]
async fn each_host_reaches_its_own_app_and_one_sign_in_covers_them_all() {
    let git = Upstream::start().await;
    let env = start(&git, "").await;
    let mut browser = Browser::for_hosts(env.addr, HOSTS);

    // Signed out, each app sends the browser to sign in; nothing reaches either.
    let page = browser.get("/page").await;
    assert_eq!(page.status, 302, "{page:?}");
    browser.switch_to_host("git.example.com");
    assert_eq!(browser.get("/page").await.status, 302);
    assert_eq!((env.upstream.hits(), git.hits()), (0, 0));

    // Public paths are per app: the wiki's /assets/ is not the git app's.
    browser.switch_to_host("wiki.example.com");
    assert_eq!(browser.get("/assets/site.css").await.status, 200);
    browser.switch_to_host("git.example.com");
    assert_eq!(browser.get("/assets/site.css").await.status, 302);
    assert_eq!((env.upstream.hits(), git.hits()), (1, 0));

    // Sign in once, on the wiki; the cookie covers git.example.com too.
    browser.switch_to_host("wiki.example.com");
    browser.sign_in(&env, "alice").await;
    let page = browser.get("/page").await;
    assert_eq!(page.status, 200, "{page:?}");
    assert_eq!(page.echo()["headers"]["remote-user"][0], "alice");
    assert_eq!(
        page.echo()["headers"]["host"][0],
        format!("wiki.example.com:{}", env.addr.port())
    );
    assert_eq!((env.upstream.hits(), git.hits()), (2, 0));
    browser.switch_to_host("git.example.com");
    let page = browser.get("/page").await;
    assert_eq!(page.status, 200, "{page:?}");
    assert_eq!(page.echo()["headers"]["remote-user"][0], "alice");
    assert_eq!((env.upstream.hits(), git.hits()), (2, 1));

    // The host-scoped deny holds on ci.example.com only, whatever the spelling.
    assert_eq!(browser.get("/admin/users").await.status, 200);
    browser.switch_to_host("ci.example.com");
    assert_eq!(browser.get("/admin/users").await.status, 403);
    assert_eq!(browser.get("/ADMIN/users").await.status, 403);
    assert_eq!(browser.get("/page").await.status, 200);
    assert_eq!((env.upstream.hits(), git.hits()), (2, 3));
    let denied = env.audited("rule_denied");
    assert_eq!(denied.len(), 2, "{denied:?}");
    assert_eq!(denied[0]["rule"], "apps[1].rules[0]");

    // A host no app answers to is refused, never sent to the first app.
    browser.switch_to_host("other.example.com");
    let page = browser.get("/page").await;
    assert_eq!(page.status, 421, "{page:?}");
    assert_eq!((env.upstream.hits(), git.hits()), (2, 3));
}

#[tokio::test]
async fn a_one_factor_path_takes_a_password_only_session_and_nothing_else_does() {
    let git = Upstream::start().await;
    let env = start(&git, "").await;
    let mut browser = Browser::for_hosts(env.addr, HOSTS);
    browser.sign_in_password("bob").await;
    let page = browser.get("/status").await;
    assert_eq!(page.status, 200, "{page:?}");
    assert_eq!(page.echo()["headers"]["remote-user"][0], "bob");
    // Anywhere else the password alone is not enough.
    assert_eq!(browser.get("/page").await.status, 302);
    assert_eq!(
        browser.get("/status/").await.status,
        302,
        "a different path"
    );
    browser.switch_to_host("git.example.com");
    assert_eq!(browser.get("/status").await.status, 302, "another app");
    assert_eq!((env.upstream.hits(), git.hits()), (1, 0));
    // Signed out, one_factor still needs a session; the password alone
    // then goes straight back to it.
    let mut stranger = Browser::for_hosts(env.addr, HOSTS);
    let page = stranger.get("/status").await;
    assert_eq!(page.status, 302);
    let login = page.location().expect("to sign in").to_owned();
    let page = password_from(&mut stranger, &login).await;
    assert_eq!(page.status, 303, "{page:?}");
    assert_eq!(page.location(), Some("/status"));
    // Elsewhere the password goes on to the second factor, as ever.
    let mut other = Browser::for_hosts(env.addr, HOSTS);
    let login = other
        .get("/page")
        .await
        .location()
        .expect("to sign in")
        .to_owned();
    let page = password_from(&mut other, &login).await;
    assert!(
        page.location().unwrap_or("").starts_with("/.doorman/2fa"),
        "{page:?}"
    );
}

#[tokio::test]
async fn a_host_the_request_target_contradicts_is_refused() {
    let git = Upstream::start().await;
    let env = start(&git, "").await;
    let answer = raw_request(
        env.addr,
        "GET http://git.example.com/page HTTP/1.1\nHost: wiki.example.com",
    )
    .await;
    assert_eq!(answer.status, 400, "{answer:?}");
    assert!(answer.body.contains("different hosts"), "{answer:?}");
    let answer = raw_request(
        env.addr,
        "GET /assets/x HTTP/1.1\nHost: WIKI.Example.com.:8080",
    )
    .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let answer = raw_request(env.addr, "GET /assets/x HTTP/1.0").await;
    assert_eq!(answer.status, 421, "{answer:?}");
    assert_eq!((env.upstream.hits(), git.hits()), (1, 0));
}

#[tokio::test]
async fn forward_auth_picks_the_app_by_the_forwarded_host_and_refuses_unknown_ones() {
    let git = Upstream::start().await;
    let env = start(&git, "trusted_proxies: [\"127.0.0.1\"]\n").await;
    let ask = |host: &'static str, uri: &'static str| {
        crate::support::api_client()
            .get(env.url("/.doorman/auth"))
            .header("x-forwarded-method", "GET")
            .header("x-forwarded-proto", "https")
            .header("x-forwarded-host", host)
            .header("x-forwarded-uri", uri)
            .send()
    };
    // The wiki's public path, the git app's is not public.
    assert_eq!(
        ask("wiki.example.com", "/assets/x")
            .await
            .expect("ask")
            .status(),
        200
    );
    assert_eq!(
        ask("git.example.com", "/assets/x")
            .await
            .expect("ask")
            .status(),
        401
    );
    let refused = ask("other.example.com", "/assets/x").await.expect("ask");
    assert_eq!(refused.status(), 403);
    let body: serde_json::Value = refused.json().await.expect("json");
    assert_eq!(body["error"], "unknown_host");
    // Without the host (no X-Forwarded-Host) no app can be picked either.
    let bare = crate::support::api_client()
        .get(env.url("/.doorman/auth"))
        .header("x-forwarded-method", "GET")
        .header("x-forwarded-uri", "/assets/x")
        .send()
        .await
        .expect("ask");
    assert_eq!(bare.status(), 403);
}

/// Opens the sign-in page at `login` and posts bob's password with the
/// `rd` it carries; returns the answer to that post.
async fn password_from(browser: &mut Browser, login: &str) -> Page {
    let rd = browser.get(login).await.field("rd").unwrap_or_default();
    browser
        .post(
            "/.doorman/login",
            &[
                ("username", "bob"),
                ("password", crate::support::PASSWORD),
                ("rd", &rd),
            ],
        )
        .await
}
