//! API tokens for scripts: `Authorization: Bearer` (or Basic with the
//! token as password), judged by the rules like a person, refused where no
//! rule says `tokens: true`, never sent on to the app.

use crate::support::{api_client, Env, Setup, Upstream};

async fn start(git: &Upstream) -> Env {
    let apps = format!(
        r#"apps:
  - hosts: ["wiki.example.com"]
    upstream: "{{upstream}}"
    public:
      - path_prefix: "/assets/"
    rules:
      - {{ path_prefix: "/api/admin/", users: ["bob"], tokens: true }}
      - {{ path_prefix: "/api/admin/", policy: deny }}
      - {{ path_prefix: "/api/", tokens: true }}
  - hosts: ["git.example.com"]
    upstream: "http://{git}"
"#,
        git = git.addr
    );
    Env::with(Setup {
        apps: Some(apps),
        extra: "tokens_file: tokens.yaml\n".into(),
        ..Setup::default()
    })
    .await
}

fn client(env: &Env) -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .resolve("wiki.example.com", env.addr)
        .resolve("git.example.com", env.addr)
        .build()
        .expect("client")
}

fn url(env: &Env, host: &str, path: &str) -> String {
    format!("http://{host}:{}{path}", env.addr.port())
}

async fn get(env: &Env, host: &str, path: &str, authorization: &str) -> (u16, serde_json::Value) {
    let response = client(env)
        .get(url(env, host, path))
        .header("authorization", authorization)
        .send()
        .await
        .expect("GET");
    let status = response.status().as_u16();
    let body = response.json().await.unwrap_or(serde_json::Value::Null);
    (status, body)
}

fn create(env: &Env, user: &str, name: &str, lifetime: Option<u64>) -> String {
    let path = env.dir.path().join("tokens.yaml");
    doorman::tokens::create(&path, user, name, lifetime, env.now()).expect("token")
}

#[tokio::test]
async fn a_token_passes_where_a_rule_allows_tokens_and_is_not_forwarded() {
    let git = Upstream::start().await;
    let env = start(&git).await;
    let token = create(&env, "alice", "ci", None);
    let bearer = format!("Bearer {token}");

    let (status, echo) = get(&env, "wiki.example.com", "/api/items", &bearer).await;
    assert_eq!(status, 200, "{echo}");
    assert_eq!(echo["headers"]["remote-user"][0], "alice");
    assert!(echo["headers"].get("authorization").is_none(), "{echo}");

    // Refused where no rule says `tokens: true`: elsewhere in the app, in
    // another app, and where the rule for the user denies.
    assert_eq!(get(&env, "wiki.example.com", "/page", &bearer).await.0, 403);
    assert_eq!(
        get(&env, "git.example.com", "/api/items", &bearer).await.0,
        403
    );
    assert_eq!(
        get(&env, "wiki.example.com", "/api/admin/x", &bearer)
            .await
            .0,
        403
    );
    assert_eq!(
        get(&env, "wiki.example.com", "/API/items/../admin/x", &bearer)
            .await
            .0,
        403
    );
    let bobs = format!("Bearer {}", create(&env, "bob", "ci", None));
    assert_eq!(
        get(&env, "wiki.example.com", "/api/admin/x", &bobs).await.0,
        200
    );
    assert_eq!((env.upstream.hits(), git.hits()), (2, 0));
    let denied = env.audited("rule_denied");
    assert!(
        denied.iter().any(|line| line["user"] == "alice"),
        "{denied:?}"
    );

    // Never a session on doorman's own pages.
    let page = client(&env)
        .get(url(&env, "wiki.example.com", "/.doorman/2fa"))
        .header("authorization", &bearer)
        .header("accept", "text/html")
        .send()
        .await
        .expect("GET");
    assert_ne!(page.status().as_u16(), 200);

    // Somebody else's Authorization is the app's business, and stays.
    let response = client(&env)
        .get(url(&env, "wiki.example.com", "/assets/x"))
        .header("authorization", "Bearer app-own-token")
        .send()
        .await
        .expect("GET");
    let echo: serde_json::Value = response.json().await.expect("echo");
    assert_eq!(echo["headers"]["authorization"][0], "Bearer app-own-token");
}

#[tokio::test]
async fn a_wrong_revoked_or_expired_token_is_refused_audited_and_counted() {
    let git = Upstream::start().await;
    let env = start(&git).await;
    let token = create(&env, "alice", "ci", Some(3600));
    let bearer = format!("Bearer {token}");
    assert_eq!(
        get(&env, "wiki.example.com", "/api/x", &bearer).await.0,
        200
    );

    let wrong = format!("{}x", bearer);
    let (status, body) = get(&env, "wiki.example.com", "/api/x", &wrong).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(
        get(&env, "wiki.example.com", "/api/x", "Bearer dm_ffff_nope")
            .await
            .0,
        401
    );
    let refused = env.audited("token_refused");
    assert_eq!(refused.len(), 2, "{refused:?}");
    assert_eq!(refused[0]["reason"], "wrong_secret");
    assert_eq!(refused[0]["user"], "alice");
    assert!(!serde_json::to_string(&refused)
        .unwrap()
        .contains(&token[10..]));

    // Expired: an hour on, the same token is refused.
    env.advance(std::time::Duration::from_secs(3600));
    assert_eq!(
        get(&env, "wiki.example.com", "/api/x", &bearer).await.0,
        401
    );
    assert_eq!(env.audited("token_refused")[2]["reason"], "expired");

    // Revoked: from its next request, with no reload.
    let other = format!("Bearer {}", create(&env, "alice", "cron", None));
    assert_eq!(get(&env, "wiki.example.com", "/api/x", &other).await.0, 200);
    let path = env.dir.path().join("tokens.yaml");
    assert_eq!(doorman::tokens::revoke(&path, "alice", "cron"), Ok(true));
    assert_eq!(get(&env, "wiki.example.com", "/api/x", &other).await.0, 401);
    assert_eq!(env.upstream.hits(), 2);
}

#[tokio::test]
async fn a_legacy_client_sends_the_token_as_its_basic_password() {
    use base64::Engine;
    let git = Upstream::start().await;
    let env = start(&git).await;
    let token = create(&env, "alice", "dav", None);
    let basic = |user: &str| {
        let pair = format!("{user}:{token}");
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(pair)
        )
    };
    let (status, echo) = get(&env, "wiki.example.com", "/api/files", &basic("alice")).await;
    assert_eq!(status, 200, "{echo}");
    assert_eq!(echo["headers"]["remote-user"][0], "alice");
    assert!(echo["headers"].get("authorization").is_none(), "{echo}");
    // Another user's name with alice's token is refused.
    assert_eq!(
        get(&env, "wiki.example.com", "/api/files", &basic("bob"))
            .await
            .0,
        401
    );
    let _ = api_client();
}

/// A doorman whose `/ws` takes tokens, with the token tunnel's patience.
mod tunnels {
    use crate::support::websocket::{self, Socket};
    use crate::support::{default_users, Env, Setup};
    use doorman::config::Config;
    use std::time::Duration;

    const PATIENCE: Duration = Duration::from_secs(10);

    async fn start() -> Env {
        Env::with(Setup {
            extra: "tokens_file: tokens.yaml\nrules:\n  - { path_prefix: \"/ws\", tokens: true }\n"
                .into(),
            ..Setup::default()
        })
        .await
    }

    fn token(env: &Env, user: &str, name: &str, lifetime: Option<u64>) -> String {
        super::create(env, user, name, lifetime)
    }

    async fn tunnel(env: &Env, authorization: &str) -> Socket {
        let mut socket =
            websocket::open_with(env.addr, &[("authorization", authorization)], PATIENCE).await;
        websocket::assert_echoes(&mut socket, "open", PATIENCE).await;
        socket
    }

    fn basic(user: &str, token: &str) -> String {
        use base64::Engine;
        let pair = format!("{user}:{token}");
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(pair)
        )
    }

    fn users_file(env: &Env, users: &str) {
        std::fs::write(env.dir.path().join("users.yaml"), users).expect("users file");
        let config = Config::load_from(Some(&env.config_path()), &|_| None).expect("valid");
        env.doorman.as_ref().expect("running").reload(config);
    }

    /// What ends alice's token, done to a running doorman.
    fn end(env: &Env, how: &str) {
        match how {
            "revoked" => {
                let path = env.dir.path().join("tokens.yaml");
                assert_eq!(doorman::tokens::revoke(&path, "alice", "ci"), Ok(true));
            }
            "expired" => env.advance(Duration::from_secs(3600)),
            "user removed" => {
                let without_alice = default_users()
                    .split_once("  bob:")
                    .map(|(_, bob)| format!("users:\n  bob:{bob}"))
                    .expect("bob follows alice");
                users_file(env, &without_alice);
            }
            "password changed" => {
                let other = doorman::users::hash_password("a new password").expect("hash");
                let users = default_users().replacen(crate::support::password_hash(), &other, 1);
                users_file(env, &users);
            }
            other => panic!("no way to end a token: {other}"),
        }
    }

    #[tokio::test]
    async fn a_token_tunnel_closes_when_its_token_or_user_no_longer_holds() {
        for how in ["revoked", "expired", "user removed", "password changed"] {
            for scheme in ["bearer", "basic"] {
                let env = start().await;
                let alices = token(&env, "alice", "ci", Some(3600));
                let bobs = token(&env, "bob", "ci", None);
                let authorization = match scheme {
                    "bearer" => format!("Bearer {alices}"),
                    _ => basic("alice", &alices),
                };
                let mut socket = tunnel(&env, &authorization).await;
                let mut other = tunnel(&env, &format!("Bearer {bobs}")).await;

                end(&env, how);
                assert!(
                    websocket::closes_within(&mut socket, PATIENCE).await,
                    "{how} ({scheme}): alice's token tunnel stays open"
                );
                // Bob's token, and his tunnel, were not what changed.
                websocket::assert_echoes(&mut other, "still open", PATIENCE).await;
            }
        }
    }

    #[tokio::test]
    async fn a_token_tunnel_stays_open_while_its_token_holds() {
        let env = start().await;
        let alices = token(&env, "alice", "ci", Some(3600));
        let mut socket = tunnel(&env, &format!("Bearer {alices}")).await;
        // Another token of hers revoked, her other user's changes, time
        // short of the expiry: none of it is what let this tunnel open.
        let path = env.dir.path().join("tokens.yaml");
        token(&env, "alice", "cron", None);
        assert_eq!(doorman::tokens::revoke(&path, "alice", "cron"), Ok(true));
        let bob_moved = default_users().replace("+14155550199", "+14155550198");
        users_file(&env, &bob_moved);
        env.advance(Duration::from_secs(3599));
        // Two checks later it still echoes (each check is a second apart).
        for text in ["one", "two", "three"] {
            tokio::time::sleep(Duration::from_millis(700)).await;
            websocket::assert_echoes(&mut socket, text, PATIENCE).await;
        }
        env.advance(Duration::from_secs(1));
        assert!(websocket::closes_within(&mut socket, PATIENCE).await);
    }
}
