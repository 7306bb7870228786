//! Duo push through the Duo Auth API emulation, which checks every
//! request's signature.

use crate::push::{status, users};
use crate::support::duo::{DuoApi, Outcome};
use crate::support::factor::{factor_env, on_code_page};
use crate::support::signed_in_by;
use crate::support::{Browser, Env};
use std::time::{Duration, Instant};

async fn with_duo(block: String) -> Env {
    let channels = "  push: { provider: duo }\n  sms: { provider: webhook }\n";
    factor_env(channels, &[block], users(), "").await
}

async fn waiting(env: &Env) -> Browser {
    on_code_page(env, "bob", "push", "Duo Mobile").await
}

/// Long-polls the status until it is no longer `waiting` (Duo is asked
/// about once a second).
async fn settled(browser: &Browser) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let state = status(browser, true).await["state"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if state != "waiting" || Instant::now() > deadline {
            return state;
        }
    }
}

#[tokio::test]
async fn a_push_approved_in_duo_signs_the_browser_in() {
    let duo = DuoApi::start().await;
    let env = with_duo(duo.config()).await;
    let mut browser = waiting(&env).await;
    assert_eq!(duo.transactions(), 1);
    assert_eq!(status(&browser, false).await["state"], "waiting");
    duo.set_outcome(Outcome::Allow);
    assert_eq!(settled(&browser).await, "approved");
    assert_eq!(duo.bad_signatures(), 0);
    let page = browser.get("/.doorman/2fa").await;
    assert!(signed_in_by(&page), "{page:?}");
    assert_eq!(browser.get("/private").await.status, 200);
    // doorman signed every request the way Duo checks.
    let requests = duo.api.requests();
    assert!(requests.iter().any(|r| r.path == "/auth/v2/auth_status"));
    for request in &requests {
        assert!(
            request.header("date").is_some_and(|d| d.ends_with("-0000")),
            "{request:?}"
        );
    }
    let start = requests.iter().find(|r| r.path == "/auth/v2/auth").unwrap();
    let form = start.form();
    assert_eq!(form["username"], "bob");
    assert_eq!(form["factor"], "push");
    assert_eq!(form["device"], "auto");
    assert_eq!(form["async"], "1");
}

#[tokio::test]
async fn a_push_denied_in_duo_ends_the_challenge() {
    let duo = DuoApi::start().await;
    let env = with_duo(duo.config()).await;
    let mut browser = waiting(&env).await;
    duo.set_outcome(Outcome::Deny);
    assert_eq!(settled(&browser).await, "denied");
    let page = browser.get("/.doorman/2fa").await;
    assert_eq!(page.status, 401, "{page:?}");
    assert!(!signed_in_by(&page));
}

#[tokio::test]
async fn a_wrong_secret_key_fails_the_signature_check_and_nothing_is_shown_as_sent() {
    let duo = DuoApi::start().await;
    let env = with_duo(duo.config_with("not-the-secret-key-not-the-secret-key00")).await;
    let mut browser = env.past_password("bob").await;
    let page = browser.ask_for_code("push").await;
    page.assert_says(502, "could not send");
    assert_eq!(duo.bad_signatures(), 1);
    assert_eq!(duo.transactions(), 0);
}
