//! The person's language: pages by `Accept-Language` (q-values, a bad
//! header, `default_locale`), the headers that say so, and text messages
//! in the user's `locale` from the users file.

use crate::support::{default_users, Env, Page, Setup};

fn header<'a>(page: &'a Page, name: &str) -> &'a str {
    page.headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

async fn login_page(env: &Env, accept_language: Option<&str>) -> Page {
    let mut browser = env.browser();
    match accept_language {
        Some(value) => {
            browser
                .get_with("/.doorman/login", &[("accept-language", value)])
                .await
        }
        None => browser.get("/.doorman/login").await,
    }
}

#[tokio::test]
async fn pages_follow_accept_language_and_say_which() {
    let env = Env::start().await;
    for (accept, tag, title) in [
        ("fr-CH, de;q=0.9", "fr", "<h1>Se connecter</h1>"),
        ("en;q=0.2, de-AT;q=0.8, es;q=0.5", "de", "<h1>Anmelden</h1>"),
        ("pt-PT", "pt-BR", "<h1>Entrar</h1>"),
        ("es-419", "es", "<h1>Iniciar sesión</h1>"),
        ("ja, zh;q=0.9", "en", "<h1>Sign in</h1>"),
        (";;q=x,,", "en", "<h1>Sign in</h1>"),
    ] {
        let page = login_page(&env, Some(accept)).await;
        assert_eq!(page.status, 200, "{accept}");
        assert!(page.body.contains(title), "{accept}: {}", page.body);
        assert!(
            page.body.contains(&format!("<html lang=\"{tag}\">")),
            "{accept}"
        );
        assert_eq!(header(&page, "content-language"), tag, "{accept}");
        assert_eq!(header(&page, "vary"), "Accept-Language", "{accept}");
    }
    let page = login_page(&env, None).await;
    assert!(page.body.contains("<h1>Sign in</h1>"));
}

#[tokio::test]
async fn default_locale_is_the_language_when_the_browser_names_none_shipped() {
    let env = Env::with(Setup {
        extra: "default_locale: \"de\"\n".into(),
        ..Setup::default()
    })
    .await;
    for accept in [None, Some("ja"), Some("garbage;;")] {
        let page = login_page(&env, accept).await;
        assert!(page.body.contains("<h1>Anmelden</h1>"), "{accept:?}");
        assert_eq!(header(&page, "content-language"), "de");
    }
    let page = login_page(&env, Some("fr")).await;
    assert!(page.body.contains("<h1>Se connecter</h1>"));
}

#[tokio::test]
async fn a_text_message_speaks_the_users_locale_else_default_locale() {
    // alice reads German; bob has no locale, so default_locale (es).
    let users = default_users().replacen(
        "    phone: \"+14155550100\"\n",
        "    phone: \"+14155550100\"\n    locale: \"de\"\n",
        1,
    );
    assert!(users.contains("locale: \"de\""));
    let env = Env::with(Setup {
        users,
        extra: "default_locale: \"es\"\n".into(),
        ..Setup::default()
    })
    .await;
    let text_for = async |user: &str| {
        let mut browser = env.browser();
        browser.sign_in_password(user).await;
        browser.get("/.doorman/2fa").await;
        // The browser asks for French: the text goes to the phone, and
        // speaks its owner's language.
        let page = browser
            .post_with(
                "/.doorman/2fa/send",
                &[("channel", "sms")],
                &[("accept-language", "fr")],
            )
            .await;
        assert_eq!(page.status, 303, "{page:?}");
        let delivery = env.webhook.deliveries().pop().expect("a delivery");
        let code = env.webhook.last_code().expect("a code");
        (
            delivery.json["message"].as_str().unwrap_or("").to_owned(),
            code,
        )
    };
    let (text, code) = text_for("alice").await;
    assert!(
        text.starts_with(&format!("Ihr Code für Example lautet {code}")),
        "{text}"
    );
    let (text, code) = text_for("bob").await;
    assert!(
        text.starts_with(&format!("Tu código de Example es {code}")),
        "{text}"
    );
}

#[tokio::test]
async fn an_unshipped_language_is_refused_at_start_up_naming_the_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let users = default_users().replacen("  bob:\n", "  bob:\n    locale: \"tlh\"\n", 1);
    std::fs::write(dir.path().join("users.yaml"), users).expect("users");
    let path = dir.path().join("doorman.yaml");
    std::fs::write(
        &path,
        format!(
            "upstream: \"http://127.0.0.1:9\"\nusers_file: \"users.yaml\"\ndefault_locale: \"xx\"\nsession:\n  secret: \"{}\"\n",
            crate::support::SECRET
        ),
    )
    .expect("config");
    let problems = doorman::config::Config::load_from(Some(&path), &|_| None)
        .expect_err("refused")
        .to_string();
    assert!(
        problems.contains(
            "default_locale: `xx` is not a shipped language; use one of en, de, fr, es, pt-BR"
        ),
        "{problems}"
    );
    assert!(problems.contains("users.bob.locale: `tlh`"), "{problems}");
}
