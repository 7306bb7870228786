//! Security properties: spoofed identity, CSRF, open redirects, what pages
//! give away, and the small endpoints proxies rely on.

use crate::support::gate::assert_no_session_cookie;
use crate::support::{
    api_client, into_page, raw_request, Browser, Env, Page, RawResponse, PASSWORD, SESSION_COOKIE,
};
use std::time::Duration;

/// Identity headers a client might try to speak for someone with, each in
/// a spelling some app server would read as one of doorman's.
pub const SPOOFED: &str = "Remote-User: mallory
remote-user: mallory2
REMOTE-USER: mallory3
Remote_User: mallory4
remote_groups: admins
Remote-Email: mallory@evil.com
Remote-Name: Mallory";

/// Header names the upstream must never receive from a client.
pub const SPOOFED_NAMES: [&str; 6] = [
    "remote-user",
    "remote_user",
    "remote-groups",
    "remote_groups",
    "remote-email",
    "remote-name",
];

/// None of the header `names` is in the upstream's echo of `headers`.
#[track_caller]
fn assert_none_reached(headers: &serde_json::Value, names: &[&str]) {
    for name in names {
        assert!(
            headers.get(name).is_none(),
            "{name} reached the app: {headers}"
        );
    }
}

/// Nobody signed in GETs `path` with [`SPOOFED`] headers: the answer.
async fn anonymous_spoofing(path: &str) -> RawResponse {
    let env = Env::start().await;
    let head = format!("GET {path} HTTP/1.1\nHost: {}\n{SPOOFED}", env.addr);
    raw_request(env.addr, &head).await
}

fn echo_of(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|_| panic!("not an upstream echo: {body}"))
}

/// `user`, signed in, GETs a private route with [`SPOOFED`] headers: what
/// the upstream echoes.
async fn spoofing_as(user: &str) -> serde_json::Value {
    let env = Env::start().await;
    let cookie = env.session_of(user).await;
    let head = format!(
        "GET /private HTTP/1.1\nHost: {}\nCookie: {SESSION_COOKIE}={cookie}\n{SPOOFED}",
        env.addr
    );
    let answer = raw_request(env.addr, &head).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    echo_of(&answer.body)
}

#[tokio::test]
async fn spoofed_identity_headers_are_replaced_on_a_private_route() {
    let headers = &spoofing_as("alice").await["headers"];
    assert_eq!(headers["remote-user"], serde_json::json!(["alice"]));
    assert_eq!(headers["remote-groups"], serde_json::json!(["admins,ops"]));
    assert_eq!(
        headers["remote-email"],
        serde_json::json!(["alice@example.com"])
    );
    assert_eq!(headers["remote-name"], serde_json::json!(["Alice Example"]));
    assert!(headers.get("remote_user").is_none(), "{headers}");
    assert!(headers.get("remote_groups").is_none(), "{headers}");
}

#[tokio::test]
async fn spoofed_identity_headers_are_removed_for_a_user_without_those_fields() {
    let headers = &spoofing_as("bob").await["headers"];
    assert_eq!(headers["remote-user"], serde_json::json!(["bob"]));
    assert_none_reached(
        headers,
        &[
            "remote_user",
            "remote-groups",
            "remote_groups",
            "remote-email",
            "remote-name",
        ],
    );
}

#[tokio::test]
async fn spoofed_identity_headers_are_removed_on_a_public_route() {
    let answer = anonymous_spoofing("/assets/x").await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let headers = &echo_of(&answer.body)["headers"];
    assert_none_reached(headers, &SPOOFED_NAMES);
}

#[tokio::test]
async fn forward_auth_does_not_reflect_spoofed_identity_headers() {
    let env = Env::start().await;
    let head = format!("GET /.doorman/auth HTTP/1.1\nHost: {}\n{SPOOFED}", env.addr);
    let answer = raw_request(env.addr, &head).await;
    assert_eq!(answer.status, 401, "{answer:?}");
    for name in SPOOFED_NAMES {
        assert!(
            answer.header_values(name).is_empty(),
            "{name} reflected: {answer:?}"
        );
    }

    let browser = env.signed_in("alice").await;
    let cookie = browser.session_cookie().expect("a session cookie");
    let head = format!(
        "GET /.doorman/auth HTTP/1.1\nHost: {}\nCookie: {SESSION_COOKIE}={cookie}\n{SPOOFED}",
        env.addr
    );
    let answer = raw_request(env.addr, &head).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.header_values("remote-user"), ["alice"]);
    assert_eq!(answer.header_values("remote-groups"), ["admins,ops"]);
    assert_eq!(answer.header_values("remote-email"), ["alice@example.com"]);
    assert_eq!(answer.header_values("remote-name"), ["Alice Example"]);
    assert!(answer.header_values("remote_user").is_empty(), "{answer:?}");
    assert!(
        answer.header_values("remote_groups").is_empty(),
        "{answer:?}"
    );
}

const POST_ROUTES: [&str; 6] = [
    "/.doorman/login",
    "/.doorman/2fa/send",
    "/.doorman/2fa/verify",
    "/.doorman/2fa/resend",
    "/.doorman/2fa/cancel",
    "/.doorman/logout",
];

/// Fields that would make each route do something if its token were good.
fn fields_for(route: &str, code: &str) -> Vec<(&'static str, String)> {
    match route {
        "/.doorman/login" => vec![("username", "alice".into()), ("password", PASSWORD.into())],
        "/.doorman/2fa/send" | "/.doorman/2fa/resend" => vec![("channel", "sms".into())],
        "/.doorman/2fa/verify" => vec![("code", code.into())],
        _ => vec![],
    }
}

#[tokio::test]
async fn every_post_route_refuses_a_missing_wrong_or_foreign_csrf_token() {
    let (env, mut browser) = Env::alice_past_password().await;
    let code = browser.request_code(&env, "sms").await;
    let own = browser.csrf.clone().expect("a token");
    let mut other = env.browser();
    other.get("/.doorman/login").await;
    let foreign = other.csrf.clone().expect("another browser's token");
    assert_ne!(own, foreign);
    env.advance(Duration::from_secs(60));

    for route in POST_ROUTES {
        let fields = fields_for(route, &code);
        let mut bad_tokens = vec![
            None,
            Some(String::new()),
            Some("0".repeat(own.len())),
            Some(foreign.clone()),
        ];
        bad_tokens.push(Some(own.to_uppercase()).filter(|upper| *upper != own));
        for token in bad_tokens.into_iter() {
            let mut form: Vec<(&str, &str)> =
                fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            if let Some(token) = &token {
                form.push(("csrf", token));
            }
            let page = browser.post_exact(route, &form).await;
            assert_eq!(page.status, 403, "{route} with token {token:?}: {page:?}");
            assert_no_session_cookie(&page, &format!("{route} with token {token:?}"));
        }
    }

    // None of it did anything: one delivery, the challenge still waits,
    // and the right code signs in.
    assert_eq!(env.webhook.deliveries().len(), 1);
    let page = browser.enter_code(&code).await;
    assert_eq!(page.status, 303, "{page:?}");
    assert_eq!(browser.get("/private").await.status, 200);
}

#[tokio::test]
async fn a_login_without_a_csrf_cookie_is_refused_even_with_a_token() {
    let env = Env::start().await;
    let mut browser = env.browser();
    browser.get("/.doorman/login").await;
    let token = browser.csrf.clone().expect("a token");
    let response = api_client()
        .post(env.url("/.doorman/login"))
        .form(&[
            ("username", "alice"),
            ("password", PASSWORD),
            ("csrf", &token),
        ])
        .send()
        .await
        .expect("POST");
    let page = into_page(response).await;
    assert_eq!(page.status, 403, "{page:?}");
    assert_no_session_cookie(&page, "login without a csrf cookie");
}

/// `rd` values (as doorman receives them, after URL decoding) that must
/// never send a browser off this site.
fn hostile_targets(own: &str) -> Vec<String> {
    let mut targets: Vec<String> = [
        "//evil.com",
        "///evil.com",
        "////evil.com",
        "/\\evil.com",
        "/\\/evil.com",
        "\\\\evil.com",
        "\\/evil.com",
        "https://evil.com",
        "http://evil.com/",
        "HTTPS://EVIL.COM",
        "https:evil.com",
        "https:/evil.com",
        "https:\\\\evil.com",
        "http:/\\evil.com",
        "ftp://evil.com",
        "evil.com",
        "//evil.com/%2F..",
        "//evil.com:443",
        "https://127.0.0.1@evil.com",
        "https://127.0.0.1.evil.com",
        "https://evil.com/https://127.0.0.1",
        "http://evil.com#@127.0.0.1",
        "https://evil.com?@127.0.0.1",
        "https://evil.com\\@127.0.0.1",
        "javascript:alert(1)",
        "JaVaScRiPt:alert(document.domain)",
        "java\tscript:alert(1)",
        "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
        "data:text/html,<script>alert(1)</script>",
        "/\t/evil.com",
        "/\n/evil.com",
        "/\r\n/evil.com",
        "/ /evil.com",
        " //evil.com",
        "\t//evil.com",
        "/\u{2028}/evil.com",
        "https://evil\u{3002}com",
        "https://evil\u{ff0e}com",
        "//evil\u{3002}com",
        "https://127.0.0.1\u{3002}evil.com",
        "http://[::1]@evil.com",
    ]
    .map(str::to_owned)
    .into();
    targets.push(format!("http://{own}@evil.com"));
    targets.push(format!("http://{own}.evil.com/"));
    targets.push(format!("//{own}@evil.com"));
    targets
}

/// Query text as written into a link, used verbatim: doorman decodes it
/// once into one of the hostile forms above.
const HOSTILE_QUERIES: [&str; 9] = [
    "/%09/evil.com",
    "/%0D%0A/evil.com",
    "%2F%2Fevil.com",
    "/%2F/evil.com",
    "/%5Cevil.com",
    "%5C%5Cevil.com",
    "https%3A%2F%2Fevil.com",
    "http%3A%2F%2Fevil.com%23%40127.0.0.1",
    "//evil.com",
];

fn encode(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// Follows a link to the login page with `query` as its `rd`, signs in,
/// and checks where the browser is sent after the code and after sign-out.
async fn assert_sign_in_with_rd_leads_to(env: &Env, query: &str, expected: &str) {
    // Past the resend cooldown and spaced under the cap of 3 codes a number
    // per 10 minutes.
    env.advance(Duration::from_secs(4 * 60));
    let mut browser = env.browser();
    let login = format!("/.doorman/login?rd={query}");
    let page = browser.sign_in_from(env, "alice", &login).await;
    assert_eq!(page.status, 303, "rd={query}: {page:?}");
    assert_eq!(
        page.location(),
        Some(expected),
        "after the code, rd={query}"
    );

    let page = browser
        .sign_out_from(&format!("/.doorman/logout?rd={query}"))
        .await;
    assert_eq!(page.status, 303, "rd={query}: {page:?}");
    assert_eq!(page.location(), Some(expected), "at logout, rd={query}");
    assert_eq!(browser.session_cookie(), None);
}

/// With a signed-in `browser`, every page that sends it on (the login
/// page, the second-factor page, the code form) sends it to `expected`.
/// These share the check that runs after the code, without a password
/// hash per target.
async fn assert_signed_in_rd_leads_to(browser: &mut Browser, query: &str, expected: &str) {
    for page in ["login", "2fa"] {
        let answer = browser.get(&format!("/.doorman/{page}?rd={query}")).await;
        assert!(
            matches!(answer.status, 302 | 303),
            "{page}, rd={query}: {answer:?}"
        );
        assert_eq!(answer.location(), Some(expected), "{page}, rd={query}");
    }
    let decoded: String = form_urlencoded::parse(format!("rd={query}").as_bytes())
        .map(|(_, value)| value.into_owned())
        .collect();
    // A form token of this (level-2) session: tokens are bound to it.
    browser.get("/.doorman/logout").await;
    let answer = browser
        .post(
            "/.doorman/2fa/verify",
            &[("code", "000000"), ("rd", &decoded)],
        )
        .await;
    assert_eq!(answer.status, 303, "verify, rd={query}: {answer:?}");
    assert_eq!(answer.location(), Some(expected), "verify, rd={query}");
}

#[tokio::test]
async fn hostile_redirect_targets_land_on_the_root() {
    let env = Env::start().await;
    let targets = hostile_targets(&env.addr.to_string());
    assert!(targets.len() >= 30);
    let mut browser = env.signed_in("alice").await;
    for target in &targets {
        assert_signed_in_rd_leads_to(&mut browser, &encode(target), "/").await;
    }
    for query in HOSTILE_QUERIES {
        assert_signed_in_rd_leads_to(&mut browser, query, "/").await;
    }
    assert_eq!(browser.get("/private").await.status, 200, "still signed in");
}

#[tokio::test]
async fn completing_the_sign_in_with_a_hostile_rd_lands_on_the_root() {
    let env = Env::start().await;
    // One of each kind; the full table runs against the same check above.
    for target in [
        "//evil.com",
        "/\\evil.com",
        "https://evil.com",
        "https://127.0.0.1@evil.com",
        "javascript:alert(1)",
        "https://evil\u{3002}com",
    ] {
        assert_sign_in_with_rd_leads_to(&env, &encode(target), "/").await;
    }
    assert_sign_in_with_rd_leads_to(&env, "/%09/evil.com", "/").await;
    assert_sign_in_with_rd_leads_to(&env, "%2F%2Fevil.com", "/").await;
}

#[tokio::test]
async fn logout_sends_hostile_targets_to_the_root() {
    let env = Env::start().await;
    let mut browser = env.browser();
    let encoded: Vec<String> = hostile_targets(&env.addr.to_string())
        .iter()
        .map(|t| encode(t))
        .collect();
    for query in encoded.iter().map(String::as_str).chain(HOSTILE_QUERIES) {
        let page = browser
            .sign_out_from(&format!("/.doorman/logout?rd={query}"))
            .await;
        assert_eq!(page.status, 303, "rd={query}: {page:?}");
        assert_eq!(page.location(), Some("/"), "rd={query}");
    }
}

#[tokio::test]
async fn redirect_targets_on_this_site_are_honoured() {
    let env = Env::start().await;
    let own = format!("http://{}/ok", env.addr);
    for target in ["/admin?x=1", own.as_str()] {
        assert_sign_in_with_rd_leads_to(&env, &encode(target), target).await;
    }
    let mut browser = env.signed_in("bob").await;
    for target in ["/", "/a/b?c=d&e=f#g", "/admin?x=1", own.as_str()] {
        assert_signed_in_rd_leads_to(&mut browser, &encode(target), target).await;
    }
}

#[tokio::test]
async fn allowed_redirect_domains_admit_their_subdomains_only() {
    let env = Env::with_extra("allowed_redirect_domains: [\".example.org\"]").await;
    let wiki = "https://wiki.example.org/";
    assert_sign_in_with_rd_leads_to(&env, &encode(wiki), wiki).await;

    let mut browser = env.signed_in("bob").await;
    for (target, expected) in [
        (
            "https://wiki.example.org/page?x=1",
            "https://wiki.example.org/page?x=1",
        ),
        ("https://example.org/", "https://example.org/"),
        ("https://example.org.evil.com/", "/"),
        ("https://wiki.example.org.evil.com/", "/"),
        ("https://evilexample.org/", "/"),
        ("https://wiki.example.org@evil.com/", "/"),
        ("//wiki.example.org/", "/"),
    ] {
        assert_signed_in_rd_leads_to(&mut browser, &encode(target), expected).await;
    }
}

#[tokio::test]
async fn an_unknown_user_and_a_wrong_password_get_the_same_page() {
    let env = Env::start().await;
    let attempt = |user: &'static str, password: &'static str| {
        let mut browser: Browser = env.browser();
        async move {
            browser.get("/.doorman/login").await;
            let page = browser.post_password(user, password).await;
            let token = page.field("csrf").expect("a CSRF token");
            let body = page.body.replace(&token, "TOKEN").replace(user, "USER");
            (page, body)
        }
    };
    let (unknown, unknown_body) = attempt("mallory", PASSWORD).await;
    let (wrong, wrong_body) = attempt("alice", "not the password").await;

    assert_eq!(unknown.status, 401, "{unknown:?}");
    assert_eq!(wrong.status, unknown.status);
    assert_eq!(wrong_body, unknown_body);
    unknown.assert_shows("Incorrect username or password");
    let names = |page: &Page| {
        let mut names: Vec<String> = page
            .headers
            .keys()
            .map(|k| k.to_string())
            .filter(|k| k != "date")
            .collect();
        names.sort();
        names
    };
    assert_eq!(names(&wrong), names(&unknown));
    assert!(wrong.set_cookies().is_empty() && unknown.set_cookies().is_empty());
}

#[tokio::test]
async fn an_unauthenticated_post_to_a_private_route_gets_401_json_and_never_reaches_the_app() {
    let env = Env::start().await;
    let response = api_client()
        .post(env.url("/private"))
        .body("{\"delete\":\"everything\"}")
        .header("content-type", "application/json")
        .send()
        .await
        .expect("POST");
    let page = into_page(response).await;
    assert_eq!(page.status, 401, "{page:?}");
    assert_eq!(page.header("content-type"), Some("application/json"));
    let body: serde_json::Value = serde_json::from_str(&page.body).expect("JSON");
    assert_eq!(body["error"], "unauthorized");

    // A form posted from a browser is not a navigation either.
    let page = env
        .browser()
        .post_exact("/private", &[("delete", "everything")])
        .await;
    assert_eq!(page.status, 401, "{page:?}");
    assert!(page.location().is_none());
    assert_eq!(env.upstream.hits(), 0);
}

fn assert_protective_headers(what: &str, page: &Page) {
    let csp = page
        .header("content-security-policy")
        .unwrap_or_else(|| panic!("{what}: no CSP: {page:?}"));
    assert!(csp.contains("frame-ancestors 'none'"), "{what}: {csp}");
    assert_eq!(page.header("cache-control"), Some("no-store"), "{what}");
    assert_eq!(page.header("x-frame-options"), Some("DENY"), "{what}");
}

#[tokio::test]
async fn doormans_pages_forbid_framing_and_caching() {
    let env = Env::start().await;
    let mut browser = env.browser();
    assert_protective_headers("redirect to login", &browser.get("/private").await);
    assert_protective_headers("login page", &browser.get("/.doorman/login").await);
    let page = browser.post_password("alice", "nope").await;
    assert_protective_headers("failed login", &page);
    let page = browser
        .post_exact("/.doorman/login", &[("username", "alice")])
        .await;
    assert_eq!(page.status, 403);
    assert_protective_headers("CSRF refusal", &page);
    browser.sign_in_password("alice").await;
    assert_protective_headers("choice page", &browser.get("/.doorman/2fa").await);
    browser.request_code(&env, "sms").await;
    assert_protective_headers("code page", &browser.get("/.doorman/2fa").await);
    assert_protective_headers("401 JSON", &env.api_get("/private", None).await);
    assert_protective_headers("forward-auth", &env.api_get("/.doorman/auth", None).await);
    assert_protective_headers("logout", &browser.get("/.doorman/logout").await);
}

#[tokio::test]
async fn forward_auth_answers_401_json_to_a_script() {
    let env = Env::start().await;
    let page = env.api_get("/.doorman/auth", None).await;
    assert_eq!(page.status, 401, "{page:?}");
    assert_eq!(page.header("content-type"), Some("application/json"));
    assert!(page.location().is_none());
    let body: serde_json::Value = serde_json::from_str(&page.body).expect("JSON");
    assert_eq!(body["error"], "unauthorized");
}

#[tokio::test]
async fn forward_auth_sends_a_browser_to_sign_in() {
    let env = Env::start().await;
    let page = env.browser().get("/.doorman/auth").await;
    assert_eq!(page.status, 302, "{page:?}");
    assert!(
        page.location().unwrap_or("").starts_with("/.doorman/login"),
        "{page:?}"
    );
}

#[tokio::test]
async fn forward_auth_answers_200_with_identity_when_signed_in() {
    let (env, mut browser) = Env::alice_signed_in().await;
    let hits = env.upstream.hits();
    let page = browser.get("/.doorman/auth").await;
    assert_eq!(page.status, 200, "{page:?}");
    assert_eq!(page.header("remote-user"), Some("alice"));
    assert_eq!(page.header("remote-email"), Some("alice@example.com"));
    assert_eq!(page.header("remote-groups"), Some("admins,ops"));
    assert_eq!(page.header("remote-name"), Some("Alice Example"));
    assert_eq!(
        env.upstream.hits(),
        hits,
        "forward-auth does not call the app"
    );
}

#[tokio::test]
async fn health_answers_200() {
    let env = Env::start().await;
    let page = env.api_get("/.doorman/health", None).await;
    assert_eq!(page.status, 200, "{page:?}");
    assert_eq!(env.upstream.hits(), 0);
}

#[tokio::test]
async fn a_form_body_over_the_limit_gets_413() {
    let env = Env::start().await;
    let mut browser = env.browser();
    browser.get("/.doorman/login").await;
    let huge = "x".repeat(16 * 1024 + 1);
    let page = browser.post_password("alice", &huge).await;
    assert_eq!(page.status, 413, "{page:?}");
    assert_no_session_cookie(&page, "a form over the limit");

    // Just under the limit is read (and is merely a wrong password).
    let token = browser.csrf.clone().expect("a token");
    let overhead = "username=alice&password=&csrf=".len() + token.len();
    let fits = "x".repeat(16 * 1024 - overhead);
    let page = browser.post_password("alice", &fits).await;
    assert_eq!(page.status, 401, "{page:?}");
}

#[tokio::test]
async fn rd_and_the_username_are_escaped_in_the_login_page() {
    let env = Env::start().await;
    let mut browser = env.browser();
    let script = "\"><script>alert(1)</script>";
    let page = browser
        .get(&format!("/.doorman/login?rd={}", encode(script)))
        .await;
    assert_eq!(page.status, 200);
    assert!(!page.body.contains("<script>"), "{}", page.body);
    assert_eq!(
        page.field("rd").as_deref(),
        Some(script),
        "rd is kept, escaped"
    );

    let page = browser.post_password(script, "x").await;
    assert_eq!(page.status, 401);
    assert!(!page.body.contains("<script>"), "{}", page.body);
}
