//! Issue 11: nobody walks around the gate. One regression test per class
//! of attack, each with several variants, against a running doorman in
//! proxy mode and its forward-auth endpoint called directly. (The same
//! classes through a real nginx and a real Caddy are in `adversarial_front_proxies.rs`;
//! connection slots in `adversarial_connections.rs`.)

use crate::support::{api_client, ask_auth, into_page, raw_request, Env, Page, SESSION_COOKIE};

/// The README's example rules, plus a method deny and a preflight bypass.
const RULES: &str = r#"
trusted_proxies: ["127.0.0.2/32"]
rules:
  - { path_prefix: "/assets/", methods: ["GET", "HEAD"], policy: bypass }
  - { methods: ["OPTIONS"], policy: bypass }
  - { path_prefix: "/admin/", groups: ["admins"], policy: two_factor, max_age: "10m" }
  - { path_prefix: "/admin/", policy: deny }
  - { path_regex: "^/internal/", policy: deny }
  - { path_prefix: "/records/", methods: ["DELETE"], policy: deny }
"#;

async fn env() -> Env {
    env_with("").await
}

async fn env_with(extra: &str) -> Env {
    Env::with_extra(&format!("{RULES}{extra}")).await
}

fn echo(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|_| panic!("not an upstream echo: {body}"))
}

/// The values the app received for header `name` (lower case).
fn received(body: &str, name: &str) -> Vec<String> {
    echo(body)["headers"]
        .get(name)
        .and_then(|values| values.as_array())
        .map(|values| {
            values
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Every header name the app received, lower case.
fn received_names(body: &str) -> Vec<String> {
    echo(body)["headers"]
        .as_object()
        .map(|headers| headers.keys().cloned().collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn forward_auth_never_takes_an_app_request_for_one_of_doormans_pages() {
    let env = env_with("").await;
    // Everything a front proxy may ask about: each is on its way to the
    // app, so without a session it is refused, however much of it looks
    // like doorman's own pages.
    for uri in [
        "/.doorman/..%2Fadmin/x",
        "/.doorman/..%2fadmin/x",
        "/.doorman/%2e%2e%2Fadmin/x",
        "/.doorman/..%5Cadmin/x",
        "/.doorman/..\\admin/x",
        "/.doorman/login/..%2F..%2Finternal/x",
        "/.doorman/%252e%252e/admin/x",
        "/.doorman/..;/admin/x",
        "/.doorman/login",
        "/.doorman/health",
        "/.doorman/static/doorman.css",
        "/.doorman",
        "/.DOORMAN/login",
    ] {
        for headers in [traefik("GET", uri), nginx("GET", uri)] {
            let page = ask(&env, &headers, None).await;
            assert!(
                page.status == 401 || page.status == 403,
                "{uri} {headers:?}: {page:?}"
            );
            assert_eq!(page.header("remote-user"), None, "{uri}");
        }
    }
    // Every spelling of the health route, as a path and as nginx's full
    // URL: an app request like any other, judged as the direct one is.
    let spellings = crate::adversarial_h2::HEALTH
        .iter()
        .chain(crate::adversarial_h2::NOT_HEALTH);
    for path in spellings {
        let url = format!("http://app.example.com{path}");
        for headers in [traefik("GET", path), nginx("GET", path), nginx("GET", &url)] {
            let page = ask(&env, &headers, None).await;
            assert!(
                matches!(page.status, 400 | 401 | 403),
                "{path} {headers:?}: {page:?}"
            );
            assert_eq!(page.header("remote-user"), None, "{path}");
            assert!(!page.body.contains("\"status\""), "{path}: {page:?}");
        }
    }
}

#[tokio::test]
async fn in_proxy_mode_a_path_is_doormans_own_only_when_every_reading_says_so() {
    let env = env().await;
    for path in [
        "/.doorman/..%2Fadmin/x",
        "/.doorman/..%2finternal/x",
        "/.doorman/..%5Cadmin/x",
        "/.doorman/%252e%252e/admin/x",
        "/.doorman/x/..%2F..%2Fadmin/x",
    ] {
        // Not a page of doorman's: an app request, which needs a session
        // (or is denied outright).
        let page = into_page(
            api_client()
                .get(env.url(path))
                .send()
                .await
                .expect("request"),
        )
        .await;
        assert!(page.status == 401 || page.status == 403, "{path}: {page:?}");
        assert_eq!(env.upstream.hits(), 0, "{path} reached the app");
    }
    // doorman's pages as written still are its pages.
    let page = into_page(
        api_client()
            .get(env.url("/.doorman/login"))
            .send()
            .await
            .expect("login"),
    )
    .await;
    assert_eq!(page.status, 200, "{page:?}");
}

/// Traefik's and Caddy's set, as they send it.
fn traefik<'a>(method: &'a str, uri: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("x-forwarded-method", method),
        ("x-forwarded-proto", "https"),
        ("x-forwarded-host", "app.example.com"),
        ("x-forwarded-uri", uri),
    ]
}

/// nginx's set, as the shipped example sends it.
fn nginx<'a>(method: &'a str, uri: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![("x-original-method", method), ("x-original-url", uri)]
}

/// Asks forward-auth from 127.0.0.2, the trusted proxy of these tests.
async fn ask(env: &Env, headers: &[(&str, &str)], session: Option<&str>) -> Page {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .local_address(Some("127.0.0.2".parse().expect("address")))
        .build()
        .expect("client");
    ask_auth(&client, env, headers, session).await
}

#[tokio::test]
async fn forward_auth_takes_method_and_uri_from_one_set_of_headers_only() {
    let env = env().await;
    // The request is a POST to /assets/x (public only for GET) or anything
    // at all (an OPTIONS bypass); the client adds the other set to claim a
    // GET, or a preflight.
    let spoofs: Vec<Vec<(&str, &str)>> = vec![
        // nginx set by the proxy, X-Forwarded-Method by the client.
        vec![
            ("x-original-method", "POST"),
            ("x-original-url", "http://app/assets/x"),
            ("x-forwarded-method", "GET"),
        ],
        vec![
            ("x-original-method", "DELETE"),
            ("x-original-url", "http://app/records/1"),
            ("x-forwarded-method", "OPTIONS"),
        ],
        vec![
            ("x-original-method", "GET"),
            ("x-original-url", "http://app/admin/x"),
            ("x-forwarded-uri", "/assets/x"),
        ],
        // Traefik/Caddy set by the proxy, X-Original-* by the client.
        vec![
            ("x-forwarded-method", "POST"),
            ("x-forwarded-uri", "/assets/x"),
            ("x-original-method", "GET"),
        ],
        vec![
            ("x-forwarded-method", "GET"),
            ("x-forwarded-uri", "/internal/x"),
            ("x-original-url", "/assets/x"),
        ],
        // A front proxy that sets only the URI: the method is the client's.
        vec![("x-forwarded-uri", "/assets/x")],
        vec![("x-original-url", "http://app/assets/x")],
        // ... or only the method.
        vec![("x-forwarded-method", "OPTIONS")],
        vec![("x-original-method", "OPTIONS")],
    ];
    for headers in &spoofs {
        let page = ask(&env, headers, None).await;
        assert_eq!(page.status, 403, "{headers:?}: {page:?}");
    }
    // Each set on its own is believed.
    let page = ask(&env, &traefik("GET", "/assets/x"), None).await;
    assert_eq!(page.status, 200, "{page:?}");
    let page = ask(&env, &nginx("GET", "http://app/assets/x"), None).await;
    assert_eq!(page.status, 200, "{page:?}");
    let page = ask(&env, &traefik("POST", "/assets/x"), None).await;
    assert_eq!(page.status, 401, "{page:?}");
}

#[tokio::test]
async fn forward_auth_judges_every_method_an_app_may_take_from_the_request() {
    let env = env().await;
    let alice = env.session_of("alice").await;
    for (name, value) in [
        ("x-http-method-override", "DELETE"),
        ("x-http-method", "DELETE"),
        ("x-method-override", "delete"),
        ("X-HTTP-Method-Override", "Delete"),
    ] {
        let mut headers = traefik("POST", "/records/7");
        headers.push((name, value));
        let page = ask(&env, &headers, Some(&alice)).await;
        assert_eq!(page.status, 403, "{name}: {value}: {page:?}");
    }
    // And every path: X-Rewrite-URL is another reading of it.
    let mut headers = traefik("GET", "/assets/x");
    headers.push(("x-rewrite-url", "/internal/x"));
    let page = ask(&env, &headers, Some(&alice)).await;
    assert_eq!(page.status, 403, "{page:?}");
    // Without an override, the request passes as before.
    let page = ask(&env, &traefik("POST", "/records/7"), Some(&alice)).await;
    assert_eq!(page.status, 200, "{page:?}");
}

#[tokio::test]
async fn forward_auth_without_the_original_request_refuses_when_rules_could_refuse() {
    // 127.0.0.1 is not trusted here: its X-Forwarded-* is not believed, and
    // the deny rules could not be applied, so even alice is refused.
    let env = env().await;
    let alice = env.session_of("alice").await;
    for headers in [traefik("GET", "/internal/x"), Vec::new()] {
        let page = ask_auth(&api_client(), &env, &headers, Some(&alice)).await;
        assert_eq!(page.status, 403, "{headers:?}: {page:?}");
        assert_eq!(page.header("remote-user"), None);
    }
}

#[tokio::test]
async fn connection_tokens_never_remove_the_headers_doorman_sets() {
    let env = env().await;
    let cookie = env.session_of("bob").await;
    for tokens in [
        "Remote-User, Remote-Groups",
        "remote-user",
        "close, Remote-User, Remote-Email, Remote-Name",
        "Remote_User",
        "X-Forwarded-For, X-Forwarded-Proto, X-Forwarded-Host",
        "Host",
        "Cookie",
        "keep-alive, Remote-User, Cookie, Host",
    ] {
        let head = format!(
            "GET /private HTTP/1.1\nHost: app.test\nCookie: {SESSION_COOKIE}={cookie}; theme=dark\n\
             Connection: {tokens}"
        );
        let answer = raw_request(env.addr, &head).await;
        assert_eq!(answer.status, 200, "{tokens}: {answer:?}");
        assert_eq!(received(&answer.body, "remote-user"), ["bob"], "{tokens}");
        assert_eq!(
            received(&answer.body, "x-forwarded-for"),
            ["127.0.0.1"],
            "{tokens}"
        );
        assert_eq!(
            received(&answer.body, "x-forwarded-proto"),
            ["http"],
            "{tokens}"
        );
        assert_eq!(
            received(&answer.body, "x-forwarded-host"),
            ["app.test"],
            "{tokens}"
        );
        assert_eq!(received(&answer.body, "host"), ["app.test"], "{tokens}");
        assert_eq!(received(&answer.body, "cookie"), ["theme=dark"], "{tokens}");
    }
}

#[tokio::test]
async fn identity_header_look_alikes_never_reach_the_app() {
    let env = env().await;
    let cookie = env.session_of("bob").await;
    let look_alikes = [
        "Remote.User",
        "remote.user",
        "REMOTE_USER",
        "Remote~User",
        "Remote+User",
        "Remote!Groups",
        "remote.groups",
        "Remote|Email",
        "Remote*Name",
        "remote'user",
    ];
    for signed_in in [true, false] {
        for path in ["/private", "/assets/x"] {
            let mut head = format!("GET {path} HTTP/1.1\nHost: app.test\n");
            if signed_in {
                head.push_str(&format!("Cookie: {SESSION_COOKIE}={cookie}\n"));
            }
            for name in look_alikes {
                head.push_str(&format!("{name}: mallory\n"));
            }
            let answer = raw_request(env.addr, &head).await;
            if !signed_in && path == "/private" {
                assert_eq!(answer.status, 401, "{answer:?}");
                continue;
            }
            assert_eq!(answer.status, 200, "{path}: {answer:?}");
            for name in received_names(&answer.body) {
                let folded: String = name
                    .chars()
                    .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                    .collect();
                if folded.starts_with("remote_") {
                    assert_eq!(name, "remote-user", "{path}: {name} reached the app");
                }
            }
            let users = received(&answer.body, "remote-user");
            assert!(!users.iter().any(|u| u.contains("mallory")), "{users:?}");
        }
    }
}

#[tokio::test]
async fn routing_and_client_address_headers_are_removed_unless_configured() {
    let env = env().await;
    let sent = [
        ("X-Original-URL", "/admin/users"),
        ("X-Original-URI", "/admin/users"),
        ("X-Rewrite-URL", "/admin/users"),
        ("Forwarded", "for=6.6.6.6;proto=https;host=admin.internal"),
        ("X-Real-IP", "6.6.6.6"),
        ("True-Client-IP", "6.6.6.6"),
        ("X-Client-IP", "6.6.6.6"),
        ("CF-Connecting-IP", "6.6.6.6"),
        ("X-Forwarded-Prefix", "/admin"),
        ("X-Forwarded-Port", "443"),
        ("X-Forwarded-Server", "admin.internal"),
        ("X-HTTP-Method-Override", "DELETE"),
        ("X-HTTP-Method", "DELETE"),
        ("X-Method-Override", "DELETE"),
        ("X.Original.URL", "/admin/users"),
        ("x_real_ip", "6.6.6.6"),
        ("X-Forwarded_For", "6.6.6.6"),
    ];
    let mut head = "GET /assets/app.css HTTP/1.1\nHost: app.test\n".to_owned();
    for (name, value) in sent {
        head.push_str(&format!("{name}: {value}\n"));
    }
    let answer = raw_request(env.addr, &head).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let names = received_names(&answer.body);
    for (name, _) in sent {
        let lower = name.to_ascii_lowercase();
        assert!(!names.contains(&lower), "{name} reached the app: {names:?}");
    }
    assert_eq!(received(&answer.body, "x-forwarded-for"), ["127.0.0.1"]);
    assert!(!answer.body.contains("6.6.6.6"), "{}", answer.body);

    // The rare app that needs one gets exactly that one, and no look-alike.
    let env = env_with("forwarding:\n  pass_headers: [\"X-Forwarded-Prefix\"]\n").await;
    let answer = raw_request(env.addr, &head).await;
    assert_eq!(received(&answer.body, "x-forwarded-prefix"), ["/admin"]);
    assert!(!received_names(&answer.body).contains(&"x-original-url".to_owned()));
}

#[tokio::test]
async fn deny_and_group_rules_hold_for_every_spelling_a_lenient_app_reads() {
    let env = env().await;
    let bob = env.signed_in("bob").await;
    let cookie = bob.session_cookie().expect("bob");
    for (method, path) in [
        ("GET", "/admin"),
        ("GET", "/admin/"),
        ("GET", "/Admin/users"),
        ("GET", "/ADMIN/users"),
        ("GET", "/aDmIn"),
        ("GET", "//admin/users"),
        ("GET", "/admin;x=1/users"),
        ("GET", "/%61dmin/users"),
        ("GET", "/INTERNAL/x"),
        ("GET", "/internal"),
        ("GET", "/Internal"),
        ("GET", "/internal/"),
        ("HEAD", "/internal/x"),
        ("DELETE", "/records/1"),
        ("delete", "/records/1"),
        ("Delete", "/records/1"),
        ("dElEtE", "/Records/1"),
        ("DELETE", "/records"),
    ] {
        let head =
            format!("{method} {path} HTTP/1.1\nHost: app.test\nCookie: {SESSION_COOKIE}={cookie}");
        let answer = raw_request(env.addr, &head).await;
        assert_eq!(answer.status, 403, "bob: {method} {path}: {answer:?}");
    }
    assert_eq!(env.upstream.hits(), 0);
    // alice (an admin) still gets in, as written and as an app reads it.
    let alice = env.session_of("alice").await;
    for path in ["/admin/users", "/Admin/users", "/admin"] {
        let head = format!("GET {path} HTTP/1.1\nHost: app.test\nCookie: {SESSION_COOKIE}={alice}");
        assert_eq!(raw_request(env.addr, &head).await.status, 200, "{path}");
    }
}

#[tokio::test]
async fn dot_segments_after_a_protected_directory_never_lead_out_of_it() {
    let env = env().await;
    let bob = env.session_of("bob").await;
    // Proxy mode: the app gets the canonical path, in which `..%2F` is
    // still there for an app that decodes it but resolves no dots.
    for path in [
        "/admin/x/..%2F..%2Fassets/x",
        "/Admin/x/..%2f..%2fassets/x",
        "/internal/..%5C..%5Cassets/x",
        "/admin/x/%252e%252e/%252e%252e/assets/x",
    ] {
        for cookie in [String::new(), format!("\nCookie: {SESSION_COOKIE}={bob}")] {
            let head = format!("GET {path} HTTP/1.1\nHost: app.test{cookie}");
            let answer = raw_request(env.addr, &head).await;
            assert!(
                answer.status == 401 || answer.status == 403,
                "{path}: {answer:?}"
            );
        }
    }
    assert_eq!(env.upstream.hits(), 0);
    // Forward-auth: the app gets the path as sent, dots and all.
    for uri in [
        "/admin/x/../../assets/x",
        "/internal/./../assets/x",
        "/admin/%2e%2e/assets/x",
    ] {
        for headers in [traefik("GET", uri), nginx("GET", uri)] {
            let page = ask(&env, &headers, Some(&bob)).await;
            assert_eq!(page.status, 403, "{uri}: {page:?}");
        }
    }
}

#[tokio::test]
async fn a_bypass_rule_is_never_loosened() {
    let env = env().await;
    // /assets/ is public for GET and HEAD as written: not for another
    // letter case of the path or the method, nor without its slash.
    for (method, path) in [
        ("GET", "/ASSETS/x"),
        ("GET", "/Assets/x"),
        ("GET", "/assets"),
        ("get", "/assets/x"),
        ("POST", "/assets/x"),
        ("Options", "/x"),
        ("options", "/admin/x"),
    ] {
        let answer = raw_request(
            env.addr,
            &format!("{method} {path} HTTP/1.1\nHost: app.test"),
        )
        .await;
        assert!(
            answer.status == 401 || answer.status == 403 || answer.status == 400,
            "{method} {path}: {answer:?}"
        );
    }
    assert_eq!(env.upstream.hits(), 0);
    let answer = raw_request(env.addr, "GET /assets/x HTTP/1.1\nHost: app.test").await;
    assert_eq!(answer.status, 200);
}

#[tokio::test]
async fn only_websocket_upgrades_are_tunnelled_and_never_h2c() {
    let env = env().await;
    for (connection, upgrade) in [
        ("Upgrade, HTTP2-Settings", "h2c"),
        ("Upgrade", "H2C"),
        ("upgrade", "h2c, websocket"),
        ("Upgrade", "websocket, h2c"),
        ("Upgrade", "TLS/1.2"),
        ("Upgrade", "foo"),
    ] {
        let head = format!(
            "GET /assets/x HTTP/1.1\nHost: app.test\nConnection: {connection}\nUpgrade: {upgrade}\n\
             HTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\n\
             Sec-WebSocket-Version: 13"
        );
        let answer = raw_request(env.addr, &head).await;
        assert_ne!(answer.status, 101, "{upgrade}: {answer:?}");
        if answer.status == 200 {
            // Forwarded as a plain request, without the upgrade.
            assert!(received(&answer.body, "upgrade").is_empty(), "{upgrade}");
            assert!(received(&answer.body, "connection").is_empty(), "{upgrade}");
        }
    }
}

#[tokio::test]
async fn a_trusted_proxys_https_reaches_the_app_and_makes_cookies_secure() {
    let env = env().await;
    // From the trusted proxy (127.0.0.2), saying the client used https.
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .local_address(Some("127.0.0.2".parse().expect("address")))
        .build()
        .expect("client");
    let page = into_page(
        client
            .get(env.url("/assets/x"))
            .header("x-forwarded-proto", "https")
            .send()
            .await
            .expect("request"),
    )
    .await;
    assert_eq!(received(&page.body, "x-forwarded-proto"), ["https"]);
    let page = into_page(
        client
            .get(env.url("/.doorman/login"))
            .header("x-forwarded-proto", "https")
            .send()
            .await
            .expect("login"),
    )
    .await;
    let cookies = page.set_cookies();
    assert!(!cookies.is_empty(), "{page:?}");
    assert!(cookies.iter().all(|c| c.contains("Secure")), "{cookies:?}");
    // From anyone else, the claim changes nothing; nor, from the trusted
    // proxy, does any header but X-Forwarded-Proto itself.
    let claims = [
        ("x-forwarded-proto", "https"),
        ("x-forwarded-proto", "HTTPS"),
        ("x-forwarded-proto", " https, http"),
    ];
    let others = [
        ("x_forwarded_proto", "https"),
        ("x.forwarded.proto", "https"),
        ("forwarded", "proto=https"),
        ("x-forwarded-ssl", "on"),
        ("x-forwarded-scheme", "https"),
        ("front-end-https", "on"),
        ("x-url-scheme", "https"),
        ("x-forwarded-protocol", "https"),
    ];
    let anyone = (api_client(), claims.iter().chain(&others));
    let trusted = (client, others.iter().chain(&[]));
    for (client, spoofs) in [anyone, trusted] {
        for (name, value) in spoofs {
            let ask = |path: &str| client.get(env.url(path)).header(*name, *value).send();
            let page = into_page(ask("/assets/x").await.expect("request")).await;
            assert_eq!(
                received(&page.body, "x-forwarded-proto"),
                ["http"],
                "{name}"
            );
            let copied = *name != "x-forwarded-proto" && !received(&page.body, name).is_empty();
            assert!(!copied, "{name} reached the app");
            let page = into_page(ask("/.doorman/login").await.expect("login")).await;
            let cookies = page.set_cookies();
            assert!(!cookies.is_empty(), "{page:?}");
            assert!(
                cookies.iter().all(|c| !c.contains("Secure")),
                "{name}: {cookies:?}"
            );
        }
    }
}

/// Asks for an SMS code with the request's `Host` set to `host` (the
/// password is known, the rest is the attacker's); the message sent.
async fn sms_sent_with_host(env: &Env, host: &str) -> (String, String) {
    // Past the resend cooldown and the per-number cap of the last one.
    env.advance(std::time::Duration::from_secs(11 * 60));
    let mut browser = env.past_password("alice").await;
    browser.get("/.doorman/2fa").await;
    let before = env.webhook.deliveries().len();
    let page = browser
        .post_with(
            "/.doorman/2fa/send",
            &[("channel", "sms")],
            &[("host", host)],
        )
        .await;
    assert_eq!(page.status, 303, "{page:?}");
    assert_eq!(env.webhook.deliveries().len(), before + 1);
    let delivery = env.webhook.deliveries().pop().expect("a delivery");
    let message = delivery.json["message"]
        .as_str()
        .expect("a message")
        .to_owned();
    (message, env.webhook.last_code().expect("a code"))
}

#[tokio::test]
async fn the_sms_ends_with_the_webotp_line_for_public_url_whatever_the_host() {
    let env = Env::with_extra("public_url: \"https://app.example.com\"\n").await;
    for host in [
        "phish.example",
        "app.example.com.evil",
        "127.0.0.1",
        "evil:8080",
    ] {
        let (message, code) = sms_sent_with_host(&env, host).await;
        assert!(message.contains(&code), "{message}");
        assert_eq!(
            message.lines().last(),
            Some(format!("@app.example.com #{code}").as_str()),
            "{host}: {message:?}"
        );
        assert!(!message.contains(host), "{host}: {message:?}");
    }
}

#[tokio::test]
async fn without_public_url_the_sms_names_no_host_and_has_no_webotp_line() {
    let env = Env::start().await;
    for host in ["phish.example", "127.0.0.1"] {
        let (message, code) = sms_sent_with_host(&env, host).await;
        assert!(message.contains(&code), "{message}");
        assert!(!message.contains('@'), "{host}: {message:?}");
        assert!(!message.contains(host), "{host}: {message:?}");
    }
}

#[tokio::test]
async fn a_doubled_or_contradicted_host_vouches_for_no_rd_even_with_one_app() {
    let env = env().await;
    let cookie = env.session_of("alice").await;
    let login = "/.doorman/login?rd=http%3A%2F%2Fevil.example%2Fx";
    // The request's own (single, agreeing) host vouches for an rd on it.
    let own = raw_request(
        env.addr,
        &format!("GET {login} HTTP/1.1\nHost: evil.example\nCookie: {SESSION_COOKIE}={cookie}"),
    )
    .await;
    assert_eq!(own.status, 302, "{own:?}");
    assert_eq!(own.header_values("location"), ["http://evil.example/x"]);
    // A host the app picker cannot read vouches for nothing on the pages either.
    for head in [
        format!(
            "GET {login} HTTP/1.1\nHost: evil.example\nHost: x\nCookie: {SESSION_COOKIE}={cookie}"
        ),
        format!(
            "GET http://x{login} HTTP/1.1\nHost: evil.example\nCookie: {SESSION_COOKIE}={cookie}"
        ),
    ] {
        let answer = raw_request(env.addr, &head).await;
        assert_eq!(answer.status, 302, "{head}: {answer:?}");
        assert_eq!(
            answer.header_values("location"),
            ["/"],
            "{head}: {answer:?}"
        );
    }
}
