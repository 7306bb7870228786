//! Access rules: bypass, deny, subjects, networks, step-up, and the one
//! canonical path every rule and the upstream see.

use crate::support::{api_client, raw_request, Env};
use std::time::Duration;

const RULES: &str = r#"
trusted_proxies: ["10.9.0.0/16"]
rules:
  - { path: "/healthz", policy: bypass }
  - { path_regex: "^/internal/", policy: deny }
  - { path_prefix: "/admin/", groups: ["admins"], policy: two_factor, max_age: "10m" }
  - { path_prefix: "/admin/", policy: deny }
  - { path_prefix: "/bob-only/", users: ["BOB"] }
  - { path_prefix: "/bob-only/", policy: deny }
  - { path_prefix: "/office/", networks: ["127.0.0.0/8"], policy: bypass }
  - { path_prefix: "/api/", methods: ["DELETE"], policy: deny }
"#;

async fn env() -> Env {
    Env::with_extra(RULES).await
}

#[tokio::test]
async fn bypass_and_deny_rules_apply_to_anonymous_requests() {
    let env = env().await;
    let page = env.api_get("/healthz", None).await;
    assert_eq!(page.status, 200, "{page:?}");
    assert_eq!(page.echo()["path"], "/healthz");

    let hits = env.upstream.hits();
    let page = env.api_get("/internal/metrics", None).await;
    assert_eq!(page.status, 403, "{page:?}");
    assert!(page.body.contains("forbidden"));
    assert_eq!(
        env.upstream.hits(),
        hits,
        "a denied request never reaches the app"
    );

    // Everything else needs a session.
    assert_eq!(env.api_get("/healthz/x", None).await.status, 401);
    assert_eq!(env.api_get("/", None).await.status, 401);
}

#[tokio::test]
async fn deny_holds_for_signed_in_users_too() {
    let env = env().await;
    let mut alice = env.signed_in("alice").await;
    assert_eq!(alice.get("/internal/x").await.status, 403);
    assert_eq!(alice.get("/app").await.status, 200);
}

#[tokio::test]
async fn methods_narrow_a_rule() {
    let env = env().await;
    let alice = env.signed_in("alice").await;
    let session = alice.session_cookie().expect("session");
    let client = api_client();
    let delete = client
        .delete(env.url("/api/items/1"))
        .header("cookie", format!("doorman_session={session}"))
        .send()
        .await
        .expect("DELETE");
    assert_eq!(delete.status(), 403);
    let get = env.api_get("/api/items/1", Some(&session)).await;
    assert_eq!(get.status, 200);
}

#[tokio::test]
async fn groups_and_users_choose_who_passes() {
    let env = env().await;
    let mut alice = env.signed_in("alice").await;
    assert_eq!(
        alice.get("/admin/panel").await.status,
        200,
        "alice is in admins"
    );
    assert_eq!(alice.get("/bob-only/x").await.status, 403);

    let mut bob = env.signed_in("bob").await;
    assert_eq!(
        bob.get("/admin/panel").await.status,
        403,
        "bob is not in admins"
    );
    assert_eq!(
        bob.get("/bob-only/x").await.status,
        200,
        "users match case-insensitively"
    );

    // Anonymous: a rule naming people needs to know who it is first.
    let page = env.browser().get("/admin/panel").await;
    assert_eq!(page.status, 302);
    assert!(page
        .location()
        .unwrap_or("")
        .contains("/.doorman/login?rd="));
}

#[tokio::test]
async fn networks_use_the_peer_address_unless_a_trusted_proxy_reports_another() {
    let env = env().await;
    // The peer is 127.0.0.1: inside the office network.
    assert_eq!(env.api_get("/office/printer", None).await.status, 200);

    // 127.0.0.1 is not a trusted proxy, so its X-Forwarded-For is ignored:
    // claiming to be elsewhere changes nothing, in either direction.
    let page = raw_request(
        env.addr,
        "GET /office/printer HTTP/1.1\nHost: x\nX-Forwarded-For: 203.0.113.5",
    )
    .await;
    assert_eq!(page.status, 200);
}

#[tokio::test]
async fn a_trusted_proxy_reports_the_client_for_network_rules() {
    let env = office_behind_a_proxy().await;
    let inside = raw_request(
        env.addr,
        "GET /office/printer HTTP/1.1\nHost: x\nX-Forwarded-For: 10.1.2.3",
    )
    .await;
    assert_eq!(inside.status, 200);
    // The proxy's own address is not in the network; nor is a client that
    // prepends an office address (the rightmost untrusted hop counts).
    let outside = raw_request(
        env.addr,
        "GET /office/printer HTTP/1.1\nHost: x\nX-Forwarded-For: 10.1.2.3, 198.51.100.1",
    )
    .await;
    assert_eq!(outside.status, 401);
    let direct = raw_request(env.addr, "GET /office/printer HTTP/1.1\nHost: x").await;
    assert_eq!(direct.status, 401);
}

#[tokio::test]
async fn max_age_asks_for_the_second_factor_again_and_then_lets_through() {
    let env = env().await;
    let mut alice = env.signed_in("alice").await;
    assert_eq!(alice.get("/admin/panel").await.status, 200);

    env.advance(Duration::from_secs(11 * 60));
    // Ordinary pages still pass: only the admin rule wants a fresh factor.
    assert_eq!(alice.get("/app").await.status, 200);
    let page = alice.get("/admin/panel?x=1").await;
    assert_eq!(page.status, 302, "{page:?}");
    let location = page.location().unwrap_or("").to_owned();
    assert!(location.starts_with("/.doorman/2fa?rd="), "{location}");

    // A script gets 401 with a reason instead of a redirect.
    let session = alice.session_cookie().expect("session");
    let api = env.api_get("/admin/panel", Some(&session)).await;
    assert_eq!(api.status, 401);
    api.assert_shows("step_up_required");

    // The second-factor page now offers a code to a level-2 session going
    // there; each form carries `rd` on.
    let page = alice.get(&location).await;
    assert_eq!(page.status, 200, "{page:?}");
    let rd = page.field("rd").expect("rd in the form");
    assert_eq!(rd, "/admin/panel?x=1");
    let page = alice
        .post("/.doorman/2fa/send", &[("channel", "sms"), ("rd", &rd)])
        .await;
    assert_eq!(page.status, 303, "{page:?}");
    let code = env.webhook.last_code().expect("a code was sent");
    let page = alice
        .post("/.doorman/2fa/verify", &[("code", &code), ("rd", &rd)])
        .await;
    assert_eq!(page.status, 303);
    assert_eq!(page.location(), Some("/admin/panel?x=1"));
    assert_eq!(alice.get("/admin/panel").await.status, 200);
    let renewed = env
        .session(&alice.session_cookie().expect("session"))
        .expect("a current session");
    assert_eq!(renewed.second_factor_at, env.now());
}

#[tokio::test]
async fn a_fresh_session_is_not_sent_back_to_the_second_factor() {
    let env = env().await;
    let mut alice = env.signed_in("alice").await;
    let page = alice.get("/.doorman/2fa?rd=%2Fadmin%2Fpanel").await;
    assert_eq!(page.status, 303, "{page:?}");
    assert_eq!(page.location(), Some("/admin/panel"));
}

#[tokio::test]
async fn the_upstream_receives_the_canonical_path_the_rules_judged() {
    let env = env().await;
    let alice = env.signed_in("alice").await;
    let session = alice.session_cookie().expect("session");
    for (sent, forwarded) in [
        ("/x/../app", "/app"),
        ("/%61pp/./page", "/app/page"),
        ("/a%2fb?q=%2e%2e", "/a%2Fb"),
    ] {
        let page = env.api_get(sent, Some(&session)).await;
        assert_eq!(page.status, 200, "{sent}: {page:?}");
        assert_eq!(page.echo()["path"], forwarded, "{sent}");
    }
    let page = env.api_get("/a?q=%2e%2e/x", Some(&session)).await;
    assert_eq!(
        page.echo()["uri"],
        "/a?q=%2e%2e/x",
        "the query is never rewritten"
    );
}

#[tokio::test]
async fn no_spelling_of_a_denied_path_gets_through() {
    let env = env().await;
    let alice = env.signed_in("alice").await;
    let session = alice.session_cookie().expect("session");
    let hits = env.upstream.hits();
    for path in [
        "/internal/x",
        "/x/../internal/x",
        "/%69nternal/x",
        "/%2e/internal/x",
        "//internal/x",
        "/internal%2Fx",
        "/public/..%2Finternal/x",
        "/public/..%5Cinternal/x",
        "/public\\..\\internal/x",
        "/internal;x=1/x",
        "/public/%252e%252e/internal/x",
        "/public%23/../internal/x",
        "/internal/x%23",
    ] {
        let page = raw_request(
            env.addr,
            &format!("GET {path} HTTP/1.1\nHost: x\nCookie: doorman_session={session}"),
        )
        .await;
        assert!(
            page.status == 403 || page.status == 400,
            "{path} answered {}",
            page.status
        );
    }
    assert_eq!(env.upstream.hits(), hits, "none of them reached the app");
}

#[tokio::test]
async fn query_strings_never_match_a_rule() {
    let env = env().await;
    assert_eq!(env.api_get("/app?/healthz", None).await.status, 401);
    assert_eq!(env.api_get("/healthz?/internal/", None).await.status, 200);
}

#[tokio::test]
async fn malformed_request_targets_are_a_400() {
    let env = env().await;
    let hits = env.upstream.hits();
    for target in [
        "/a%zz",
        "/a%2",
        "/a%00b",
        "/../etc/passwd",
        "/x/%2e%2e/%2e%2e/y",
    ] {
        let page = raw_request(env.addr, &format!("GET {target} HTTP/1.1\nHost: x")).await;
        assert_eq!(page.status, 400, "{target}");
    }
    // Not a path at all (hyper refuses some of these itself, also with 400).
    for target in ["*", "example.com:80"] {
        let page = raw_request(env.addr, &format!("GET {target} HTTP/1.1\nHost: x")).await;
        assert_eq!(page.status, 400, "{target}");
    }
    assert_eq!(env.upstream.hits(), hits);
}

#[tokio::test]
async fn nothing_a_client_writes_behind_a_trusted_proxy_puts_it_in_a_network() {
    let env = office_behind_a_proxy().await;
    // The proxy (127.0.0.1) appends the client it saw, 198.51.100.1, after
    // whatever the client wrote, as nginx's $proxy_add_x_forwarded_for and
    // Caddy do: the rightmost untrusted hop is the client.
    for written in [
        "X-Forwarded-For: 10.1.2.3\nX-Forwarded-For: 198.51.100.1",
        "X-Forwarded-For: 10.1.2.3, 198.51.100.1",
        "X-Forwarded-For: 10.1.2.3,198.51.100.1",
        "X-Forwarded-For: 10.1.2.3, garbage, 198.51.100.1",
        "X-Forwarded-For: ::ffff:10.1.2.3, 198.51.100.1",
        "X-Forwarded-For: 10.1.2.3:80, 198.51.100.1",
        "X-Forwarded-For: 198.51.100.1\nX_Forwarded_For: 10.1.2.3",
        "X-Forwarded-For: 198.51.100.1\nX-Real-IP: 10.1.2.3\nForwarded: for=10.1.2.3",
        "X-Forwarded-For: 198.51.100.1\nTrue-Client-IP: 10.1.2.3\nX-Client-IP: 10.1.2.3",
        // A garbled rightmost hop: the chain is not believed past it, and the
        // client is the proxy itself (outside the network), never what is left of it.
        "X-Forwarded-For: 10.1.2.3, 198.51.100.1 x",
        "X-Forwarded-For: 10.1.2.3, 010.001.002.003",
        "X-Forwarded-For: 10.1.2.3, unknown",
        "X-Forwarded-For: 10.1.2.3, [10.1.2.3]",
        "X-Forwarded-For: 10.1.2.3, ",
    ] {
        assert_eq!(office(&env, written).await, 401, "{written}");
    }
    // The proxy's word alone still counts, in any of its spellings.
    for written in [
        "X-Forwarded-For: 10.1.2.3",
        "x-forwarded-for: 10.1.2.3",
        "X-Forwarded-For: ::ffff:10.1.2.3",
        "X-Forwarded-For: 10.1.2.3:4711",
        "X-Forwarded-For: 198.51.100.1, 10.1.2.3",
    ] {
        assert_eq!(office(&env, written).await, 200, "{written}");
    }
}

/// The status of `GET /office/printer` with the header lines `written`.
async fn office(env: &Env, written: &str) -> u16 {
    let head = format!("GET /office/printer HTTP/1.1\nHost: x\n{written}");
    raw_request(env.addr, &head).await.status
}

/// doorman trusting 127.0.0.1 as its proxy, with `/office/` public to 10.1.0.0/16.
async fn office_behind_a_proxy() -> Env {
    Env::with_extra(
        r#"
trusted_proxies: ["127.0.0.1"]
rules:
  - { path_prefix: "/office/", networks: ["10.1.0.0/16"], policy: bypass }
"#,
    )
    .await
}
