//! Guesses sent at the same time, over real parallel connections: each
//! attempt is reserved before its password or code is checked, so a burst
//! in flight meets the lock like guesses one after another, on the memory
//! store and on Redis. Also: address counters slow but never lock out an
//! account they did not attack, device marks, open challenges, and
//! authenticator-app restarts.

use crate::support::factor::{factor_env, on_code_page, TOTP_AND_SMS};
use crate::support::redis::redis_or_skip;
use crate::support::redis::RedisServer;
use crate::support::{eventually, password_hash, Browser, Env, PASSWORD};
use doorman::otp::totp::TotpSecret;
use std::time::Duration;

/// Two tests of `scenario`: on the memory store, and on a Redis server
/// (returning early where there is none).
macro_rules! on_memory_and_redis {
    ($scenario:ident: $memory:ident, $redis:ident) => {
        #[tokio::test]
        async fn $memory() {
            $scenario(None).await;
        }

        #[tokio::test]
        async fn $redis() {
            let server = redis_or_skip!();
            $scenario(Some(&server)).await;
        }
    };
}

/// How long the account lock may take to reach the store.
const LOCK_WAIT: Duration = Duration::from_secs(10);

const TOTP_SECRET: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";

/// No growing delay (the tests need no waiting); one argon2 run at a time,
/// so a burst queues and stays in flight.
const LIMITS: &str = r#"
limits:
  concurrent_password_checks: 1
  failures: { delay: "0s" }
  client_failures: { delay: "0s" }
"#;

/// `store:` on `server`, or the memory store.
fn store(server: Option<&RedisServer>) -> String {
    server.map_or_else(String::new, |server| {
        format!(
            "store: {{ kind: redis, url: \"{}\", key_prefix: \"it:\", command_timeout: \"2s\" }}\n",
            server.url()
        )
    })
}

/// POSTs `fields` (with `browser`'s CSRF token) on its own connection, in
/// a task of its own; the status.
fn post(browser: &Browser, path: &str, fields: &[(&str, &str)]) -> tokio::task::JoinHandle<u16> {
    let client = browser.client.clone();
    let url = browser.url(path);
    let mut form: Vec<(String, String)> = fields
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    form.push(("csrf".into(), browser.csrf_token()));
    tokio::spawn(async move {
        client
            .post(url)
            .header("accept", "text/html")
            .form(&form)
            .send()
            .await
            .expect("POST")
            .status()
            .as_u16()
    })
}

/// [`post`]s the login form with `user` and `password`.
fn post_login(browser: &Browser, user: &str, password: &str) -> tokio::task::JoinHandle<u16> {
    post(
        browser,
        "/.doorman/login",
        &[("username", user), ("password", password)],
    )
}

fn account_locked(env: &Env) -> bool {
    env.audited("lock")
        .iter()
        .any(|lock| lock["reason"] == "account")
}

/// 150 wrong passwords for alice at once; once the lock is set (while the
/// burst is still queued for argon2), the right one: refused.
async fn a_burst_of_wrong_passwords(server: Option<&RedisServer>) {
    let env = Env::with_extra(&format!("{}{LIMITS}", store(server))).await;
    let mut attacker = env.browser();
    attacker.get("/.doorman/login").await;
    let burst: Vec<_> = (0..150)
        .map(|n| {
            let guess = format!("guess {n}");
            post_login(&attacker, "alice", &guess)
        })
        .collect();
    eventually("the account lock", LOCK_WAIT, async || account_locked(&env)).await;
    let right = attacker.post_password("alice", PASSWORD).await;
    assert_eq!(right.status, 401, "the right password after the lock");
    // Issue 17: a lock says so, and until when (it never looked at the
    // password, and names no account has lock alike).
    right.assert_shows("Sign-in is locked until");
    assert!(!right.body.contains("Incorrect username or password."));
    for answer in burst {
        assert_eq!(answer.await.expect("task"), 401);
    }
    assert_eq!(attacker.session_cookie(), None);
    // Passwords actually checked are audited `signin_failed`; the rest
    // were refused unseen.
    // lock_after signin_failed, no more.
    assert_audited(
        &env,
        &[
            ("signin_failed", 10),
            ("signin_locked", 141),
            ("password_accepted", 0),
        ],
    );
}

on_memory_and_redis!(a_burst_of_wrong_passwords: a_burst_of_wrong_passwords_checks_only_lock_after_of_them_and_the_right_one_is_refused, a_burst_of_wrong_passwords_checks_only_lock_after_of_them_on_redis);

#[tokio::test]
async fn the_right_password_inside_a_simultaneous_burst_never_buys_more_guesses() {
    let env = Env::with_extra(LIMITS).await;
    let mut attacker = env.browser();
    attacker.get("/.doorman/login").await;
    let mut burst = Vec::new();
    for n in 0..151 {
        let password = if n == 75 {
            PASSWORD.to_owned()
        } else {
            format!("guess {n}")
        };
        burst.push(post_login(&attacker, "alice", &password));
    }
    let mut statuses = Vec::new();
    for answer in burst {
        statuses.push(answer.await.expect("task"));
    }
    // Whether the right one came early enough to be checked or not, at
    // most lock_after wrong passwords were: a success only hands its own
    // attempt back.
    assert_eq!(env.audited("signin_failed").len(), 10);
    let accepted = env.audited("password_accepted").len();
    assert_eq!(accepted, usize::from(statuses[75] == 303), "{statuses:?}");
    assert_eq!(
        statuses.iter().filter(|s| **s == 401).count(),
        151 - accepted
    );
}

fn totp_users() -> String {
    format!(
        "users:\n  tina:\n    password: \"{hash}\"\n    totp_secret: \"{TOTP_SECRET}\"\n",
        hash = password_hash()
    )
}

async fn totp_env(extra: &str) -> Env {
    factor_env(TOTP_AND_SMS, &[], totp_users(), extra).await
}

/// Asserts how many events of each kind (event, count) were audited.
#[track_caller]
fn assert_audited(env: &Env, counts: &[(&str, usize)]) {
    for (event, count) in counts {
        assert_eq!(env.audited(event).len(), *count, "{event}");
    }
}

/// A level-1 session of tina's, on the authenticator-app code page.
async fn totp_session(env: &Env) -> Browser {
    on_code_page(env, "tina", "totp", "authenticator app").await
}

fn totp_code(env: &Env, steps: i64) -> String {
    TotpSecret::from_base32(TOTP_SECRET)
        .expect("a valid secret")
        .code_at((env.now() as i64 + steps * 30) as u64)
}

/// Four level-1 sessions send 149 wrong codes at once; once the account
/// locks, a fifth session's right code is refused.
async fn a_burst_of_wrong_codes(server: Option<&RedisServer>) {
    // Ten attempts per challenge: the account's lock is what must hold.
    let env = totp_env(&format!(
        "{}{LIMITS}codes: {{ max_attempts: 10 }}\n",
        store(server)
    ))
    .await;
    let mut sessions = Vec::new();
    for _ in 0..5 {
        sessions.push(totp_session(&env).await);
    }
    let valid: Vec<String> = (-1..=1).map(|steps| totp_code(&env, steps)).collect();
    let burst: Vec<_> = (0..160)
        .map(|n| format!("{:06}", 100_000 + n * 37))
        .filter(|code| !valid.contains(code))
        .take(149)
        .enumerate()
        .map(|(n, code)| post(&sessions[n % 4], "/.doorman/2fa/verify", &[("code", &code)]))
        .collect();
    eventually("the account lock", LOCK_WAIT, async || account_locked(&env)).await;
    let page = sessions[4].enter_code(&valid[1]).await;
    page.assert_says(429, "Too many failed attempts");
    for answer in burst {
        let status = answer.await.expect("task");
        assert!([401, 429].contains(&status), "{status}");
    }
    // lock_after challenge_failed, no more.
    assert_audited(
        &env,
        &[
            ("challenge_failed", 10),
            ("signin_succeeded", 0),
            ("signin_locked", 140),
        ],
    );
}

on_memory_and_redis!(a_burst_of_wrong_codes: a_burst_of_wrong_codes_over_many_sessions_meets_the_account_lock_and_the_right_one_is_refused, a_burst_of_wrong_codes_over_many_sessions_meets_the_account_lock_on_redis);

#[tokio::test]
async fn a_user_holds_at_most_five_open_challenges_and_a_sixth_ends_the_oldest() {
    let env = totp_env(LIMITS).await;
    let mut sessions = Vec::new();
    for _ in 0..6 {
        sessions.push(totp_session(&env).await);
    }
    let code = totp_code(&env, 0);
    let page = sessions[0].enter_code(&code).await;
    assert_eq!(page.status, 400, "the oldest challenge ended: {page:?}");
    page.assert_shows("no code waiting");
    let page = sessions[5].enter_code(&code).await;
    assert_eq!(page.status, 303, "the newest works: {page:?}");
}

#[tokio::test]
async fn asking_again_keeps_the_open_challenge_and_a_restart_waits_out_a_cooldown_and_stops_at_a_cap(
) {
    let env = totp_env(LIMITS).await;
    let mut browser = totp_session(&env).await;
    let page = browser.enter_code("000000").await;
    page.assert_shows("4 attempts left");
    // Asking again for the app gives no fresh attempts.
    let page = browser.ask_for_code("totp").await;
    assert_eq!(page.status, 303);
    let page = browser.enter_code("000001").await;
    page.assert_shows("3 attempts left");
    for n in 2..5 {
        browser.enter_code(&format!("00000{n}")).await;
    }
    // Used up: a new challenge only after the cooldown.
    let page = browser.ask_for_code("totp").await;
    page.assert_says(429, "Please wait 30 seconds");
    env.advance(Duration::from_secs(30));
    assert_eq!(browser.ask_for_code("totp").await.status, 303);
    // Ten starts an hour for the account, however many sessions ask.
    for _ in 0..8 {
        browser.post("/.doorman/2fa/cancel", &[]).await;
        env.advance(Duration::from_secs(31));
        assert_eq!(browser.ask_for_code("totp").await.status, 303);
    }
    let mut other = env.past_password("tina").await;
    let page = other.ask_for_code("totp").await;
    page.assert_says(
        429,
        "Too many sign-ins with your authenticator app. Try again in",
    );
    let refused = env.audited("send_refused");
    assert_eq!(refused.last().expect("refused")["reason"], "totp_starts");
}

#[tokio::test]
async fn made_up_names_from_one_address_never_stop_another_users_right_password() {
    let env = Env::with_extra(LIMITS).await;
    let mut attacker = env.browser();
    attacker.get("/.doorman/login").await;
    // In a burst, and one after another.
    let burst: Vec<_> = (0..20)
        .map(|n| {
            let name = format!("nobody{n}");
            post_login(&attacker, &name, "guess")
        })
        .collect();
    for answer in burst {
        assert_eq!(answer.await.expect("task"), 401);
    }
    for n in 0..10 {
        let name = format!("someone{n}");
        attacker.post_password(&name, "guess").await;
    }
    let locks = env.audited("lock");
    assert!(
        locks.iter().any(|lock| lock["reason"] == "client"),
        "{locks:?}"
    );
    // bob, from the same address, with no device mark: signed in.
    env.signed_in("bob").await;
    assert_eq!(env.audited("signin_succeeded").len(), 1);
}

#[tokio::test]
async fn a_device_mark_spares_its_browser_the_address_counter_for_its_own_user_only() {
    let env = Env::with_extra(
        r#"
limits:
  failures: { delay: "0s", lock_after: 100, per_hour: 1000 }
  client_failures: { delay: "0s", lock_after: 3 }
"#,
    )
    .await;
    let mut bob = env.browser();
    bob.get("/.doorman/login").await;
    bob.post_password("bob", PASSWORD).await;
    bob.get("/.doorman/2fa").await;
    bob.send_code("sms").await;
    let code = env.webhook.last_code().expect("a code");
    bob.get("/.doorman/2fa").await;
    let page = bob.post("/.doorman/2fa/verify", &[("code", &code)]).await;
    assert_eq!(page.status, 303);
    let set = page
        .set_cookie_starting("doorman_session_device=")
        .expect("a device mark after a completed sign-in");
    assert!(set.contains("HttpOnly"), "{set}");
    let mark = bob.cookie("doorman_session_device").expect("kept");

    // Another browser with bob's mark: bob's own failures skip the
    // address counter...
    let mut marked = env.browser();
    marked.set_cookie("doorman_session_device", &mark);
    marked.get("/.doorman/login").await;
    for _ in 0..5 {
        let page = marked.post_password("bob", "guess").await;
        assert_eq!(page.status, 401);
    }
    assert!(env.audited("lock").is_empty(), "{:?}", env.audited("lock"));
    // ...another user's do not, nor do a forged mark's.
    let mut forged = env.browser();
    forged.set_cookie("doorman_session_device", &format!("{mark}0"));
    forged.get("/.doorman/login").await;
    forged.post_password("bob", "guess").await;
    for _ in 0..2 {
        marked.post_password("alice", "guess").await;
    }
    let locks = env.audited("lock");
    assert_eq!(locks.len(), 1, "{locks:?}");
    assert_eq!(locks[0]["reason"], "client");
    // The mark never reaches the app.
    let page = bob.get("/app").await;
    assert!(page.echo()["headers"].get("cookie").is_none());
}

#[tokio::test]
async fn a_request_through_a_proxy_nobody_trusts_is_warned_about() {
    crate::support::logs::capture();
    let env = Env::start().await;
    let mut browser = env.browser();
    let page = browser
        .get_with("/.doorman/login", &[("x-forwarded-for", "198.51.100.4")])
        .await;
    assert_eq!(page.status, 200);
    let log = crate::support::logs::text();
    assert!(
        log.lines()
            .any(|line| line.contains("untrusted_proxy")
                && line.contains("trusted_proxies is empty")),
        "{log}"
    );
}

#[tokio::test]
async fn a_burst_of_wrong_codes_reaches_a_verify_provider_no_more_often_than_the_challenge_allows()
{
    let twilio = crate::support::twilio::TwilioVerify::start().await;
    let env = Env::with_providers("  sms: { provider: twilio }", &[twilio.config()], LIMITS).await;
    let mut browser = env.past_password("alice").await;
    assert_eq!(browser.ask_for_code("sms").await.status, 303);
    browser.get("/.doorman/2fa").await;
    let right = twilio.code_for("+14155550100").expect("a verification");
    let burst: Vec<_> = (0..30)
        .map(|n| format!("{:06}", 200_000 + n))
        .filter(|code| *code != right)
        .map(|code| post(&browser, "/.doorman/2fa/verify", &[("code", &code)]))
        .collect();
    for answer in burst {
        let status = answer.await.expect("task");
        assert!([400, 401].contains(&status), "{status}");
    }
    let checks = twilio
        .api
        .requests()
        .iter()
        .filter(|request| request.path.ends_with("/VerificationCheck"))
        .count();
    assert_eq!(checks, 5, "codes.max_attempts, however many at once");
    // Every code the provider found wrong counted against the account,
    // even those whose challenge ended while they were being checked.
    assert_eq!(env.audited("challenge_failed").len(), 5);
}
