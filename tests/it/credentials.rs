//! Sessions end when what they were granted on changes: the user's
//! credentials in the users file (at reload), the configured lifetime (at
//! restart), `doorman sessions revoke --user` (on the file store, Redis
//! replicas), and a full in-memory store refuses new sign-ins instead of
//! forgetting a sign-out. Also the store's defaults and key checks.

use crate::restart::{accepted, file_config, start};
use crate::support::process::assert_succeeded;
use crate::support::process::doorman;
use crate::support::redis::redis_or_skip;
use crate::support::{default_users, holds_within, logs, Env, PASSWORD, SECRET};
use doorman::config::Config;
use doorman::store::StoreSettings;
use std::time::Duration;

fn reload(env: &Env) {
    let config = Config::load_from(Some(&env.config_path()), &|_| None).expect("valid");
    env.doorman.as_ref().expect("running").reload(config);
}

fn system_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("time")
        .as_secs()
}

#[tokio::test]
async fn a_credential_change_in_the_users_file_ends_that_users_sessions_at_reload() {
    let other_hash = doorman::users::hash_password("a different password").expect("hash");
    let alice_phone = "phone: \"+14155550100\"";
    let changes: Vec<(&str, String)> = vec![
        (
            "password",
            default_users().replacen(crate::support::password_hash(), &other_hash, 1),
        ),
        (
            "authenticator",
            default_users().replace(
                alice_phone,
                &format!("{alice_phone}\n    totp_secret: \"JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP\""),
            ),
        ),
        (
            "phone",
            default_users().replace(alice_phone, "phone: \"+14155550101\""),
        ),
        (
            "groups to none",
            default_users().replace("groups: [\"admins\", \"ops\"]", "groups: []"),
        ),
        (
            "one group less",
            default_users().replace("groups: [\"admins\", \"ops\"]", "groups: [\"ops\"]"),
        ),
    ];
    for (what, users) in changes {
        assert_ne!(users, default_users(), "{what}: the change applies");
        let env = Env::start().await;
        let alice = env.session_of("alice").await;
        let bob = env.session_of("bob").await;
        std::fs::write(env.dir.path().join("users.yaml"), users).expect("users file");
        reload(&env);
        assert_eq!(
            env.api_get("/app", Some(&alice)).await.status,
            401,
            "{what}: alice's session ended"
        );
        assert_eq!(
            env.api_get("/app", Some(&bob)).await.status,
            200,
            "{what}: bob's session stays"
        );
    }
}

#[tokio::test]
async fn a_reload_that_changes_no_credential_keeps_the_session() {
    let env = Env::start().await;
    let alice = env.session_of("alice").await;
    let users = default_users().replace("Alice Example", "Alice Renamed");
    std::fs::write(env.dir.path().join("users.yaml"), users).expect("users file");
    reload(&env);
    let page = env.api_get("/app", Some(&alice)).await;
    assert_eq!(page.status, 200, "{page:?}");
}

#[tokio::test]
async fn lowering_session_lifetime_shortens_the_sessions_already_issued() {
    let env = Env::with_session("lifetime: \"12h\"\nidle_timeout: \"12h\"").await;
    let cookie = env.session_of("alice").await;
    // The restart with a shorter lifetime: same secret and clock.
    let text = std::fs::read_to_string(env.config_path()).expect("config");
    std::fs::write(
        env.config_path(),
        text.replace("lifetime: \"12h\"", "lifetime: \"1h\""),
    )
    .expect("config");
    let shorter = env.replica().await;
    env.advance(Duration::from_secs(59 * 60));
    assert!(accepted(shorter.addr(), &cookie).await, "within the hour");
    env.advance(Duration::from_secs(2 * 60));
    assert!(
        !accepted(shorter.addr(), &cookie).await,
        "past the new lifetime"
    );
    assert!(
        accepted(env.addr, &cookie).await,
        "the old config's twelve hours still hold there"
    );
}

fn revoke(config: &std::path::Path, user: &str) -> std::process::Output {
    doorman()
        .args(["sessions", "revoke", "--user", user, "--config"])
        .arg(config)
        .output()
        .expect("run sessions revoke")
}

#[tokio::test]
async fn sessions_revoke_ends_every_session_of_one_user_on_a_running_file_store() {
    let env = Env::start().await;
    let config = file_config(&env);
    let (_serve, addr) = start(&config);
    let mut alice = crate::support::Browser::new(addr);
    alice.sign_in(&env, "alice").await;
    let alice = alice.session_cookie().expect("cookie");
    let mut bob = crate::support::Browser::new(addr);
    bob.sign_in(&env, "bob").await;
    let bob = bob.session_cookie().expect("cookie");
    // A second session of alice's, still at the password step.
    let mut halfway = crate::support::Browser::new(addr);
    halfway.sign_in_password("alice").await;
    assert_eq!(halfway.get("/.doorman/2fa").await.status, 200);

    let output = revoke(&config, "ALICE");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("the running doorman refuses them now"),
        "{stdout}"
    );
    assert!(!accepted(addr, &alice).await);
    let page = halfway.get("/.doorman/2fa").await;
    assert_eq!(
        page.location(),
        Some("/.doorman/login"),
        "the half-done sign-in ended too: {page:?}"
    );
    assert!(accepted(addr, &bob).await, "bob is not alice");
}

#[tokio::test]
async fn sessions_revoke_on_a_stopped_file_store_applies_at_the_next_start() {
    let env = Env::start().await;
    let config = file_config(&env);
    let (mut serve, addr) = start(&config);
    let mut browser = crate::support::Browser::new(addr);
    browser.sign_in(&env, "alice").await;
    let cookie = browser.session_cookie().expect("cookie");
    serve.signal(libc::SIGTERM);
    assert_eq!(serve.wait().code(), Some(0));

    let output = revoke(&config, "alice");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(stdout.contains("from the next start"), "{stdout}");
    let (_serve, addr) = start(&config);
    assert!(!accepted(addr, &cookie).await);
}

#[tokio::test]
async fn sessions_revoke_on_redis_reaches_every_replica() {
    let server = redis_or_skip!();
    let env = Env::with_extra(&format!(
        "store: {{ kind: redis, url: \"{}\", key_prefix: \"revoke:\" }}\n",
        server.url()
    ))
    .await;
    let b = env.replica().await;
    let alice = env.session_of("alice").await;
    let bob = env.session_of("bob").await;
    // A second session of alice's, still at the password step, on B.
    let mut halfway = env.browser();
    halfway.switch_to(b.addr());
    halfway.sign_in_password("alice").await;
    assert_eq!(halfway.get("/.doorman/2fa").await.status, 200);
    assert!(accepted(b.addr(), &alice).await);

    let output = revoke(&env.config_path(), "alice");
    assert_succeeded(&output);
    for addr in [env.addr, b.addr()] {
        let within = Duration::from_secs(5);
        let refused = holds_within(within, async || !accepted(addr, &alice).await).await;
        assert!(refused, "{addr} still accepts alice's session after 5 s");
        assert!(accepted(addr, &bob).await);
    }
    let page = halfway.get("/.doorman/2fa").await;
    assert_eq!(page.location(), Some("/.doorman/login"), "{page:?}");
    // A sign-in after the revocation holds.
    // (Past the revocation's second and the resend cooldown.)
    env.advance(Duration::from_secs(
        system_now().saturating_sub(env.now()) + 31,
    ));
    let again = env.session_of("alice").await;
    assert!(accepted(b.addr(), &again).await);
}

#[tokio::test]
async fn sessions_revoke_on_the_memory_store_says_why_it_cannot() {
    let env = Env::start().await;
    let output = revoke(&env.config_path(), "alice");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("store.kind is `memory`"), "{stderr}");
}

#[tokio::test]
async fn a_full_store_refuses_new_sign_ins_with_a_clear_page_and_forgets_no_sign_out() {
    logs::capture();
    let env = Env::with_extra(
        "store: { kind: memory, max_entries: 8 }\ncodes:\n  resend_cooldown: \"1s\"\n",
    )
    .await;
    let mut signed_out = Vec::new();
    let mut refused = None;
    for _ in 0..10 {
        // Past the per-number send cap of the last round.
        env.advance(Duration::from_secs(11 * 60));
        let mut browser = env.browser();
        browser.get("/.doorman/login").await;
        let page = browser.post_password("alice", PASSWORD).await;
        if page.status != 303 {
            refused = Some(page);
            break;
        }
        browser.get("/.doorman/2fa").await;
        let page = browser.send_code("sms").await;
        if page.status != 303 {
            refused = Some(page);
            break;
        }
        let code = env.webhook.last_code().expect("a code");
        browser.get("/.doorman/2fa").await;
        let page = browser.enter_code(&code).await;
        assert_eq!(page.status, 303, "{page:?}");
        let cookie = browser.session_cookie().expect("cookie");
        assert_eq!(browser.sign_out().await.status, 200);
        signed_out.push(cookie);
    }
    let page = refused.expect("a store of 8 entries fills up within 10 sign-ins");
    page.assert_says(503, "temporarily unavailable");
    assert!(!signed_out.is_empty());
    for cookie in &signed_out {
        assert_eq!(
            env.api_get("/app", Some(cookie)).await.status,
            401,
            "a sign-out was forgotten"
        );
    }
    assert!(
        logs::text().contains("store.max_entries"),
        "the log says why"
    );
}

#[test]
fn serve_defaults_to_the_file_store_and_store_keys_are_checked() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("users.yaml"), default_users()).expect("users");
    let base = format!(
        "listen: \"127.0.0.1:0\"\nupstream: \"http://127.0.0.1:9\"\nusers_file: users.yaml\nsession:\n  secret: \"{SECRET}\"\nchannels:\n  sms: {{ provider: log }}\nproviders:\n  log: {{}}\n"
    );
    let config = Config::from_yaml(&base, dir.path()).expect("valid");
    match &config.store {
        StoreSettings::File(file) => assert_eq!(
            file.path,
            std::path::Path::new(doorman::store::DEFAULT_STORE_PATH)
        ),
        other => panic!("{other:?}"),
    }
    let config = Config::from_yaml(
        &format!("{base}store: {{ kind: file, path: \"data/state.redb\" }}\n"),
        dir.path(),
    )
    .expect("valid");
    match &config.store {
        StoreSettings::File(file) => assert_eq!(file.path, dir.path().join("data/state.redb")),
        other => panic!("{other:?}"),
    }
    let problems = |store: &str| {
        Config::from_yaml(&format!("{base}store: {store}\n"), dir.path())
            .err()
            .map(|problems| problems.to_string())
            .unwrap_or_default()
    };
    assert!(problems("{ kind: memory, path: \"x\" }").contains("store.path: only for `kind: file`"));
    assert!(problems("{ kind: file, path: \"\" }").contains("store.path"));
    assert!(problems("{ kind: file, path: \".\" }").contains("store.path"));
    assert!(problems("{ kind: memory, max_entries: 0 }").contains("store.max_entries"));
    assert!(problems("{ kind: file, url: \"redis://x\" }").contains("store.url"));
    let config = Config::from_sources(&base, dir.path(), &|name| {
        (name == "DOORMAN_STORE_PATH").then(|| "/tmp/elsewhere.redb".to_owned())
    })
    .expect("valid");
    assert!(
        matches!(&config.store, StoreSettings::File(file) if file.path == std::path::Path::new("/tmp/elsewhere.redb"))
    );
}

/// A factor kept in the store (a passkey, a set of recovery codes) removed
/// or replaced: every session of its user made until then ends — on every
/// replica — and the person who removed it stays signed in.
mod removed_factors {
    use super::*;
    use crate::recovery::codes;
    use crate::support::{eventually, Browser, Setup};

    /// A stored credential (from webauthn-rs's own tests), as the store
    /// keeps one: what a thief's stolen security key would be.
    const STOLEN_KEY: &str = r#"{"name":"stolen key","added_at":0,"last_used":null,"passkey":{"cred":{"cred_id":"uZcVDBVS68E_MtAgeQpElJxldF_6cY9sSvbWqx_qRh8wiu42lyRBRmh5yFeD_r9k130dMbFHBHI9RTFgdJQIzQ","cred":{"type_":"ES256","key":{"EC_EC2":{"curve":"SECP256R1","x":[194,126,127,109,252,23,131,21,252,6,223,99,44,254,140,27,230,17,94,5,133,28,104,41,144,69,171,149,161,26,200,243],"y":[143,123,183,156,24,178,21,248,117,159,162,69,171,52,188,252,26,59,6,47,103,92,19,58,117,103,249,0,219,8,95,196]}}},"counter":2,"user_verified":false,"backup_eligible":false,"backup_state":false,"registration_policy":"preferred","extensions":{"cred_protect":"NotRequested","hmac_create_secret":"NotRequested"},"attestation":{"data":{"Basic":["MIICvTCCAaWgAwIBAgIEK_F8eDANBgkqhkiG9w0BAQsFADAuMSwwKgYDVQQDEyNZdWJpY28gVTJGIFJvb3QgQ0EgU2VyaWFsIDQ1NzIwMDYzMTAgFw0xNDA4MDEwMDAwMDBaGA8yMDUwMDkwNDAwMDAwMFowbjELMAkGA1UEBhMCU0UxEjAQBgNVBAoMCVl1YmljbyBBQjEiMCAGA1UECwwZQXV0aGVudGljYXRvciBBdHRlc3RhdGlvbjEnMCUGA1UEAwweWXViaWNvIFUyRiBFRSBTZXJpYWwgNzM3MjQ2MzI4MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEdMLHhCPIcS6bSPJZWGb8cECuTN8H13fVha8Ek5nt-pI8vrSflxb59Vp4bDQlH8jzXj3oW1ZwUDjHC6EnGWB5i6NsMGowIgYJKwYBBAGCxAoCBBUxLjMuNi4xLjQuMS40MTQ4Mi4xLjcwEwYLKwYBBAGC5RwCAQEEBAMCAiQwIQYLKwYBBAGC5RwBAQQEEgQQxe9V_62aS5-1gK3rr-Am0DAMBgNVHRMBAf8EAjAAMA0GCSqGSIb3DQEBCwUAA4IBAQCLbpN2nXhNbunZANJxAn_Cd-S4JuZsObnUiLnLLS0FPWa01TY8F7oJ8bE-aFa4kTe6NQQfi8-yiZrQ8N-JL4f7gNdQPSrH-r3iFd4SvroDe1jaJO4J9LeiFjmRdcVa-5cqNF4G1fPCofvw9W4lKnObuPakr0x_icdVq1MXhYdUtQk6Zr5mBnc4FhN9qi7DXqLHD5G7ZFUmGwfIcD2-0m1f1mwQS8yRD5-_aDCf3vutwddoi3crtivzyromwbKklR4qHunJ75LGZLZA8pJ_mXnUQ6TTsgRqPvPXgQPbSyGMf2z_DIPbQqCD_Bmc4dj9o6LozheBdDtcZCAjSPTAd_ui"]},"metadata":"None"},"attestation_format":"Packed"}}}"#;

    const WAIT: Duration = Duration::from_secs(5);

    /// doorman with passkeys offered beside SMS, on `store`.
    async fn start(store: &str) -> Env {
        Env::with_delivery(|webhook| Setup {
            delivery: Some(format!(
                "channels:\n  sms: {{ provider: webhook }}\n  webauthn: {{}}\nproviders:\n  webhook: {{ url: \"{webhook}\", timeout: \"2s\" }}\n"
            )),
            extra: format!(
                "{store}\nwebauthn:\n  rp_id: \"localhost\"\n  origins: [\"http://localhost:8080\"]\n"
            ),
            ..Setup::default()
        })
        .await
    }

    /// The store `env`'s config names, opened beside the running doorman.
    fn store_of(env: &Env) -> doorman::store::Store {
        let config = Config::load_from(Some(&env.config_path()), &|_| None).expect("valid");
        let lifetimes = doorman::store::Lifetimes {
            session: config.session.lifetime,
            code: config.codes.lifetime,
            cooldown: config.codes.resend_cooldown,
        };
        doorman::store::Store::new(&config.store, lifetimes, 1_000).expect("the store")
    }

    /// doorman with passkeys on `server` under `prefix`, a second replica
    /// and the store they share.
    async fn on_redis(
        server: &crate::support::redis::RedisServer,
        prefix: &str,
    ) -> (Env, doorman::Gateway, doorman::store::Store) {
        let env = start(&format!(
            "store: {{ kind: redis, url: \"{}\", key_prefix: \"{prefix}\" }}",
            server.url()
        ))
        .await;
        let b = env.replica().await;
        let store = store_of(&env);
        (env, b, store)
    }

    /// Plants the stolen key among `user`'s passkeys; its id.
    async fn plant(store: &doorman::store::Store, user: &str) -> String {
        let key: doorman::webauthn::Credential = serde_json::from_str(STOLEN_KEY).expect("a key");
        let id = key.id();
        eventually("the key is in the store", WAIT, async || {
            let planted = store
                .update_passkeys(user, |list| {
                    list.retain(|held| held.id() != key.id());
                    list.push(key.clone());
                })
                .await;
            planted.is_ok()
        })
        .await;
        id
    }

    /// alice, fully signed in on a browser of her own (each a code apart).
    async fn alice(env: &Env) -> Browser {
        env.advance(Duration::from_secs(31));
        env.signed_in("alice").await
    }

    #[tokio::test]
    async fn removing_a_passkey_on_the_page_ends_her_other_sessions_on_every_replica() {
        let server = redis_or_skip!();
        let (env, b, store) = on_redis(&server, "removed:").await;
        let id = plant(&store, "alice").await;
        // The thief's session (here the key's sign-in is stood in for by
        // any of hers: what ends is every session made until the removal).
        let thief = alice(&env).await.session_cookie().expect("cookie");
        let bob = env.session_of("bob").await;
        let mut owner = alice(&env).await;
        let before = owner.session_cookie().expect("cookie");
        for addr in [env.addr, b.addr()] {
            assert!(accepted(addr, &thief).await, "{addr}: signed in at first");
        }

        let page = owner.get("/.doorman/passkeys").await;
        page.assert_shows("stolen key");
        page.assert_shows("Added January 1, 1970, 00:00 UTC");
        // Dates as the reader's language writes them.
        let german = owner
            .get_with("/.doorman/passkeys", &[("accept-language", "de")])
            .await;
        german.assert_shows("Hinzugefügt am 1. Januar 1970, 00:00 UTC");
        let page = owner
            .post("/.doorman/passkeys/remove", &[("id", &id)])
            .await;
        page.assert_says(200, "Passkey “stolen key” removed.");
        assert!(
            store.passkeys("alice").await.expect("store").is_empty(),
            "the key is gone"
        );

        assert!(
            !accepted(env.addr, &thief).await,
            "the thief's session, here"
        );
        for addr in [env.addr, b.addr()] {
            let refused = holds_within(WAIT, async || !accepted(addr, &thief).await).await;
            assert!(refused, "{addr} still lets the thief's session in");
            assert!(
                !accepted(addr, &before).await,
                "{addr}: her old cookie ended"
            );
            assert!(accepted(addr, &bob).await, "{addr}: bob is not alice");
        }
        // She carries on, on both replicas, with the cookie re-issued.
        let renewed = owner.session_cookie().expect("cookie");
        assert_ne!(renewed, before, "her cookie is re-issued");
        env.advance(Duration::from_secs(60));
        for addr in [env.addr, b.addr()] {
            assert!(
                accepted(addr, &renewed).await,
                "{addr}: she stays signed in"
            );
        }
        assert_eq!(owner.get("/app").await.status, 200);
        assert_eq!(env.audited("passkey_removed").len(), 1);
    }

    #[tokio::test]
    async fn removing_a_passkey_from_the_command_line_ends_her_sessions_on_every_replica() {
        let server = redis_or_skip!();
        let (env, b, store) = on_redis(&server, "removed-cli:").await;
        plant(&store, "alice").await;
        // Signed in on the test's clock, not past the command's own.
        let alice = env.session_of("alice").await;
        let bob = env.session_of("bob").await;
        let output = doorman()
            .args(["webauthn", "remove", "alice", "--all", "--config"])
            .arg(env.config_path())
            .output()
            .expect("run webauthn remove");
        assert_succeeded(&output);
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            stdout.contains("every session of alice until now has ended"),
            "{stdout}"
        );
        assert!(store.passkeys("alice").await.expect("store").is_empty());
        for addr in [env.addr, b.addr()] {
            let refused = holds_within(WAIT, async || !accepted(addr, &alice).await).await;
            assert!(refused, "{addr}: the command did not end her session");
            assert!(accepted(addr, &bob).await, "{addr}: bob is not alice");
        }
    }

    /// A thief who has alice's password and one of her recovery codes signs
    /// in with it; then she makes a new set: the thief's session ends.
    async fn new_codes_end_the_old_codes_sessions(env: &Env, others: &[std::net::SocketAddr]) {
        let mut owner = env.signed_in("alice").await;
        owner.get("/.doorman/recovery").await;
        let old = codes(&owner.post("/.doorman/recovery", &[]).await);
        assert_eq!(old.len(), 10);
        let mut thief = env.browser();
        thief.sign_in_password("alice").await;
        thief.get("/.doorman/2fa").await;
        let page = thief
            .post("/.doorman/2fa/recovery", &[("code", &old[0])])
            .await;
        page.assert_says(200, "9 recovery codes are left.");
        let thief = thief.session_cookie().expect("cookie");
        let bob = env.session_of("bob").await;
        assert!(accepted(env.addr, &thief).await);

        owner.get("/.doorman/recovery").await;
        let page = owner.post("/.doorman/recovery", &[]).await;
        assert_eq!(codes(&page).len(), 10, "{page:?}");
        assert!(!accepted(env.addr, &thief).await, "the old code's session");
        for &addr in others {
            let refused = holds_within(WAIT, async || !accepted(addr, &thief).await).await;
            assert!(refused, "{addr} still lets the old code's session in");
        }
        let renewed = owner.session_cookie().expect("cookie");
        for &addr in [env.addr].iter().chain(others) {
            assert!(
                accepted(addr, &renewed).await,
                "{addr}: she stays signed in"
            );
            assert!(accepted(addr, &bob).await, "{addr}: bob is not alice");
        }
    }

    #[tokio::test]
    async fn new_recovery_codes_end_a_session_an_old_code_made_on_the_memory_store() {
        let env = Env::start().await;
        new_codes_end_the_old_codes_sessions(&env, &[]).await;
    }

    #[tokio::test]
    async fn new_recovery_codes_end_a_session_an_old_code_made_on_every_redis_replica() {
        let server = redis_or_skip!();
        let env = Env::with_extra(&format!(
            "store: {{ kind: redis, url: \"{}\", key_prefix: \"codes:\" }}\n",
            server.url()
        ))
        .await;
        let b = env.replica().await;
        new_codes_end_the_old_codes_sessions(&env, &[b.addr()]).await;
    }
}
