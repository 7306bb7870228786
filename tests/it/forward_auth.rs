//! `GET /.doorman/auth` as Traefik ForwardAuth, Caddy `forward_auth` and
//! nginx `auth_request` call it: the original request comes in headers,
//! believed only from `trusted_proxies`.

use crate::support::{api_client, ask_auth, Env, Page};

async fn trusting_env() -> Env {
    Env::with_extra("trusted_proxies: [\"127.0.0.0/8\"]\n").await
}

/// Asks the auth endpoint as a front proxy would, with `headers` and the
/// session cookie `session` (the proxy copies the browser's cookies).
async fn ask(env: &Env, headers: &[(&str, &str)], session: Option<&str>) -> Page {
    ask_auth(&api_client(), env, headers, session).await
}

/// What Traefik sends: X-Forwarded-Method/-Proto/-Host/-Uri (and -For).
fn traefik<'a>(method: &'a str, uri: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("x-forwarded-method", method),
        ("x-forwarded-proto", "https"),
        ("x-forwarded-host", "app.example.com"),
        ("x-forwarded-uri", uri),
        ("x-forwarded-for", "203.0.113.9"),
    ]
}

const BROWSER: (&str, &str) = ("accept", "text/html,application/xhtml+xml");

#[tokio::test]
async fn traefik_a_browser_without_a_session_is_sent_to_sign_in_with_the_original_url() {
    let env = trusting_env().await;
    let mut headers = traefik("GET", "/reports?year=2026");
    headers.push(BROWSER);
    let page = ask(&env, &headers, None).await;
    assert_eq!(page.status, 302, "{page:?}");
    assert_eq!(
        page.location(),
        Some("/.doorman/login?rd=https%3A%2F%2Fapp.example.com%2Freports%3Fyear%3D2026")
    );
    assert_eq!(page.header("remote-user"), None);
}

#[tokio::test]
async fn traefik_a_script_without_a_session_gets_401_not_a_redirect() {
    let env = trusting_env().await;
    let page = ask(&env, &traefik("POST", "/api/items"), None).await;
    page.assert_says(401, "/.doorman/login");
}

#[tokio::test]
async fn traefik_a_signed_in_request_gets_200_with_identity_headers_whatever_its_method() {
    let env = trusting_env().await;
    let browser = env.signed_in("alice").await;
    let session = browser.session_cookie().expect("session");
    // A forged identity header on the auth request changes nothing.
    let mut headers = traefik("DELETE", "/api/items/7");
    headers.push(("remote-user", "mallory"));
    let page = ask(&env, &headers, Some(&session)).await;
    assert_eq!(page.status, 200, "{page:?}");
    assert_eq!(page.header("remote-user"), Some("alice"));
    assert_eq!(page.header("remote-email"), Some("alice@example.com"));
    assert_eq!(page.header("remote-groups"), Some("admins,ops"));
    assert_eq!(page.header("remote-name"), Some("Alice Example"));
}

#[tokio::test]
async fn traefik_a_public_rule_applies_to_the_forwarded_method_and_path() {
    let env = trusting_env().await;
    let page = ask(&env, &traefik("GET", "/assets/site.css?v=3"), None).await;
    assert_eq!(page.status, 200, "{page:?}");
    // Present but empty, so a front proxy copying it overwrites the client's.
    assert_eq!(page.header("remote-user"), Some(""));
    // The rule allows GET and HEAD only.
    let page = ask(&env, &traefik("POST", "/assets/site.css"), None).await;
    assert_eq!(page.status, 401, "{page:?}");
    // A path that climbs out of the public prefix is not public (and a
    // path with dot segments is refused before any rule: the app gets it
    // as sent and may not resolve them).
    let page = ask(&env, &traefik("GET", "/assets/../admin"), None).await;
    assert_eq!(page.status, 403, "{page:?}");
}

#[tokio::test]
async fn caddy_forward_auth_headers_are_read_the_same_way() {
    let env = trusting_env().await;
    // Caddy's forward_auth sends X-Forwarded-Method/-Uri/-Host/-Proto/-For.
    let headers = [
        ("x-forwarded-method", "GET"),
        ("x-forwarded-uri", "/wiki/Start"),
        ("x-forwarded-host", "wiki.example.com"),
        ("x-forwarded-proto", "http"),
        ("x-forwarded-for", "198.51.100.4"),
        BROWSER,
    ];
    let page = ask(&env, &headers, None).await;
    assert_eq!(page.status, 302, "{page:?}");
    assert_eq!(
        page.location(),
        Some("/.doorman/login?rd=http%3A%2F%2Fwiki.example.com%2Fwiki%2FStart")
    );
    let browser = env.signed_in("bob").await;
    let session = browser.session_cookie().expect("session");
    let page = ask(&env, &headers, Some(&session)).await;
    assert_eq!(page.status, 200, "{page:?}");
    assert_eq!(page.header("remote-user"), Some("bob"));
    // No body: nginx reads only the head of an auth subrequest, and keeps
    // its connection to doorman only when no body is left unread.
    assert_eq!(page.body, "", "{page:?}");
    assert_eq!(page.header("content-length"), Some("0"), "{page:?}");
}

#[tokio::test]
async fn nginx_auth_request_gets_401_for_a_browser_because_it_cannot_follow_a_redirect() {
    let env = trusting_env().await;
    let headers = [
        ("x-original-url", "http://app.local/reports?year=2026"),
        ("x-original-method", "GET"),
        BROWSER,
    ];
    let page = ask(&env, &headers, None).await;
    assert_eq!(page.status, 401, "{page:?}");
    let body: serde_json::Value = serde_json::from_str(&page.body).expect("JSON");
    assert_eq!(
        body["login"],
        "/.doorman/login?rd=http%3A%2F%2Fapp.local%2Freports%3Fyear%3D2026"
    );
    // For `error_page 401 =302 $upstream_http_location`: absolute.
    assert_eq!(
        page.location(),
        Some("http://app.local/.doorman/login?rd=http%3A%2F%2Fapp.local%2Freports%3Fyear%3D2026")
    );

    let page = ask(
        &env,
        &[
            ("x-original-url", "http://app.local/assets/logo.png"),
            ("x-original-method", "GET"),
            BROWSER,
        ],
        None,
    )
    .await;
    assert_eq!(page.status, 200, "a public path: {page:?}");
}

#[tokio::test]
async fn forwarded_headers_from_an_untrusted_peer_are_not_believed() {
    // No trusted_proxies: the test client on 127.0.0.1 is just a client.
    let env = Env::start().await;
    let mut headers = traefik("GET", "/assets/site.css");
    headers.push(BROWSER);
    let page = ask(&env, &headers, None).await;
    // Not public (the path is not believed), and no rd from the headers.
    assert_eq!(page.status, 302, "{page:?}");
    assert_eq!(page.location(), Some("/.doorman/login"));
    // A signed-in session still passes: the session needs no proxy's word.
    let browser = env.signed_in("alice").await;
    let session = browser.session_cookie().expect("session");
    let page = ask(&env, &headers, Some(&session)).await;
    assert_eq!(page.status, 200, "{page:?}");
    assert_eq!(page.header("remote-user"), Some("alice"));
}

#[tokio::test]
async fn with_public_url_the_login_redirect_is_absolute() {
    let env = Env::with_extra(
        "trusted_proxies: [\"127.0.0.1\"]\npublic_url: \"https://auth.example.com\"\n",
    )
    .await;
    let mut headers = traefik("GET", "/");
    headers.push(BROWSER);
    let page = ask(&env, &headers, None).await;
    assert_eq!(
        page.location(),
        Some("https://auth.example.com/.doorman/login?rd=https%3A%2F%2Fapp.example.com%2F")
    );
}

async fn env_with_rules() -> Env {
    Env::with_extra("trusted_proxies: [\"127.0.0.1\"]\nrules:\n  - { path_prefix: \"/admin/\", groups: [\"admins\"], policy: two_factor, max_age: \"10m\" }\n  - { path_prefix: \"/admin/\", policy: deny }\n  - { path_regex: \"^/internal/\", policy: deny }\n").await
}

#[tokio::test]
async fn access_rules_apply_to_the_forwarded_request() {
    let env = env_with_rules().await;
    let alice = env.session_of("alice").await;
    let bob = env.session_of("bob").await;

    let page = ask(&env, &traefik("GET", "/internal/metrics"), Some(&alice)).await;
    assert_eq!(page.status, 403, "a deny rule: {page:?}");
    assert_eq!(page.header("remote-user"), None);

    let page = ask(&env, &traefik("GET", "/admin/users"), Some(&alice)).await;
    assert_eq!(page.status, 200, "alice is an admin: {page:?}");
    let page = ask(&env, &traefik("GET", "/admin/users"), Some(&bob)).await;
    assert_eq!(page.status, 403, "bob is not: {page:?}");

    // A dot segment does not climb out of the rule's reach.
    let page = ask(&env, &traefik("GET", "/app/../internal/x"), Some(&alice)).await;
    assert_eq!(page.status, 403, "{page:?}");
}

#[tokio::test]
async fn a_stale_second_factor_for_a_max_age_rule_is_sent_to_step_up() {
    let env = env_with_rules().await;
    let alice = env.session_of("alice").await;
    env.advance(std::time::Duration::from_secs(11 * 60));
    let mut headers = traefik("GET", "/admin/users");
    headers.push(BROWSER);
    let page = ask(&env, &headers, Some(&alice)).await;
    assert_eq!(page.status, 302, "{page:?}");
    assert_eq!(
        page.location(),
        Some("/.doorman/2fa?rd=https%3A%2F%2Fapp.example.com%2Fadmin%2Fusers")
    );
}

#[tokio::test]
async fn a_path_that_only_normalizes_into_doormans_pages_is_not_waved_through() {
    let env = trusting_env().await;
    let page = ask(&env, &traefik("GET", "/x/../.doorman/login"), None).await;
    assert_eq!(page.status, 403, "{page:?}");
    let page = ask(&env, &traefik("GET", "/x/..%2F.doorman/login"), None).await;
    assert_eq!(page.status, 401, "{page:?}");
    // Not even as written: what a front proxy asks about is an app request.
    let page = ask(&env, &traefik("GET", "/.doorman/login"), None).await;
    assert_eq!(page.status, 401, "{page:?}");
}

#[tokio::test]
async fn a_request_target_that_is_not_a_path_is_refused() {
    let env = trusting_env().await;
    let page = ask(
        &env,
        &traefik("GET", "http://app.example.com/assets/x"),
        None,
    )
    .await;
    assert_eq!(page.status, 403, "{page:?}");
}

#[tokio::test]
async fn rule_stops_are_audited_alike_whether_proxied_or_asked_about_by_a_front_proxy() {
    let env = env_with_rules().await;
    let mut alice = env.signed_in("alice").await;
    let cookie = alice.session_cookie().expect("alice");
    let agent = ("user-agent", "stop-audit-test/1");
    let page = alice.get_with("/internal/metrics", &[agent]).await;
    assert_eq!(page.status, 403, "{page:?}");
    let mut headers = traefik("GET", "/internal/metrics");
    headers.push(agent);
    let page = ask(&env, &headers, Some(&cookie)).await;
    assert_eq!(page.status, 403, "{page:?}");

    env.advance(std::time::Duration::from_secs(11 * 60));
    let page = alice.get_with("/admin/users", &[agent, BROWSER]).await;
    assert_eq!(page.status, 302, "{page:?}");
    let mut headers = traefik("GET", "/admin/users");
    headers.extend([agent, BROWSER]);
    let page = ask(&env, &headers, Some(&cookie)).await;
    assert_eq!(page.status, 302, "{page:?}");

    for (event, rule, path) in [
        ("rule_denied", "rules[2]", "/internal/metrics"),
        ("step_up_required", "rules[0]", "/admin/users"),
    ] {
        let stops = env.audited(event);
        assert_eq!(stops.len(), 2, "one proxied, one asked about: {stops:?}");
        for stop in &stops {
            assert_eq!(stop["rule"], rule, "{stop}");
            assert_eq!(stop["user"], "alice", "{stop}");
            assert_eq!(stop["path"], path, "{stop}");
            assert_eq!(stop["user_agent"], "stop-audit-test/1", "{stop}");
        }
        // The front proxy's client is the one it reports.
        assert_eq!(stops[0]["client"], "127.0.0.1", "{stops:?}");
        assert_eq!(stops[1]["client"], "203.0.113.9", "{stops:?}");
    }
}
