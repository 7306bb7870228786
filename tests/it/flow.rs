//! The sign-in as a browser walks it.

use crate::support::{Env, PASSWORD};

#[tokio::test]
async fn a_browser_signs_in_with_password_and_sms_and_reaches_the_app() {
    let env = Env::start().await;
    let mut browser = env.browser();

    let page = browser.get("/reports?year=2026").await;
    assert_eq!(page.status, 302);
    assert_eq!(page.location(), Some("/.doorman/login?rd=%2Freports%3Fyear%3D2026"));

    let page = browser.get(page.location().unwrap()).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("name=\"username\""));
    assert_eq!(page.field("rd").as_deref(), Some("/reports?year=2026"));

    let page = browser
        .post("/.doorman/login", &[("username", "alice"), ("password", PASSWORD), ("rd", "/reports?year=2026")])
        .await;
    assert_eq!(page.status, 303);
    let page = browser.get(page.location().unwrap()).await;
    assert!(page.body.contains("Text message to ••0100"), "{}", page.body);

    let page = browser.post("/.doorman/2fa/send", &[("channel", "sms"), ("rd", "/reports?year=2026")]).await;
    assert_eq!(page.status, 303);
    let delivery = env.webhook.deliveries().pop().expect("delivered");
    assert_eq!(delivery.json["channel"], "sms");
    assert_eq!(delivery.json["to"], "+14155550100");
    assert_eq!(delivery.json["user"], "alice");
    let code = delivery.json["code"].as_str().unwrap().to_owned();
    assert_eq!(code.len(), 6);

    let page = browser.get(page.location().unwrap()).await;
    assert!(page.body.contains("autocomplete=\"one-time-code\""));
    let page = browser.post("/.doorman/2fa/verify", &[("code", &code), ("rd", "/reports?year=2026")]).await;
    assert_eq!(page.status, 303);
    assert_eq!(page.location(), Some("/reports?year=2026"));

    let page = browser.get("/reports?year=2026").await;
    assert_eq!(page.status, 200);
    let echo = page.echo();
    assert_eq!(echo["headers"]["remote-user"][0], "alice");
    assert_eq!(echo["headers"]["remote-email"][0], "alice@example.com");
    assert_eq!(echo["headers"]["remote-groups"][0], "admins,ops");
    assert_eq!(echo["headers"]["remote-name"][0], "Alice Example");
    assert!(echo["headers"].get("cookie").is_none(), "doorman's cookies must not reach the app");
}
