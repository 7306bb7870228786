use super::*;

#[test]
fn accept_language_picks_the_heaviest_shipped_language() {
    let en = Locale::ENGLISH;
    let tag = |header| Locale::negotiate(Some(header), en).tag();
    assert_eq!(tag("de-DE,de;q=0.9,en;q=0.8"), "de");
    assert_eq!(tag("en;q=0.5, fr;q=0.9"), "fr");
    assert_eq!(tag("pt-PT;q=0.9, ja"), "pt-BR");
    assert_eq!(tag("ja, es-MX;q=0.3"), "es");
    assert_eq!(tag("fr;q=0, de;q=0.1"), "de");
}

#[test]
fn a_bad_or_missing_header_falls_back() {
    let de = Locale::from_tag("de").unwrap();
    assert_eq!(Locale::negotiate(None, de), de);
    assert_eq!(Locale::negotiate(Some(""), de), de);
    assert_eq!(Locale::negotiate(Some(";;;,,q=2"), de), de);
    assert_eq!(Locale::negotiate(Some("ja, zh"), de), de);
    assert_eq!(Locale::negotiate(Some("*"), de), de);
    assert_eq!(Locale::negotiate(Some("fr;q=abc"), de), de);
}

#[test]
fn tags_find_their_shipped_language() {
    assert_eq!(Locale::from_tag("pt-BR").map(Locale::tag), Some("pt-BR"));
    assert_eq!(Locale::from_tag("pt").map(Locale::tag), Some("pt-BR"));
    assert_eq!(Locale::from_tag("de-CH").map(Locale::tag), Some("de"));
    assert_eq!(Locale::from_tag("EN-us").map(Locale::tag), Some("en"));
    assert_eq!(Locale::from_tag("xx"), None);
    assert_eq!(Locale::from_tag("not a tag"), None);
}

/// The ids of a file's messages, in order.
fn ids(source: &str) -> Vec<String> {
    let resource = FluentResource::try_new(source.to_owned()).expect("parses");
    resource
        .entries()
        .filter_map(|entry| match entry {
            fluent_syntax::ast::Entry::Message(message) => Some(message.id.name.to_owned()),
            _ => None,
        })
        .collect()
}

#[test]
fn every_language_parses_and_has_every_message_and_no_other() {
    let english = ids(SHIPPED[0].1);
    for (tag, source) in SHIPPED {
        let theirs = ids(source);
        let missing: Vec<_> = english.iter().filter(|id| !theirs.contains(id)).collect();
        let extra: Vec<_> = theirs.iter().filter(|id| !english.contains(id)).collect();
        assert!(missing.is_empty(), "{tag} lacks {missing:?}");
        assert!(extra.is_empty(), "{tag} has unknown {extra:?}");
    }
}

/// The arguments the code passes to each message that takes any.
const ARGS: &[(&str, &[&str])] = &[
    ("date-time", &["day", "month", "year", "time"]),
    ("send-again-wait", &["seconds"]),
    ("wait-seconds", &["n"]),
    ("wait-minutes", &["n"]),
    ("wait-hours", &["n"]),
    ("login-locked", &["until", "wait"]),
    ("choose-hello", &["user"]),
    ("offer-sms", &["to"]),
    ("offer-voice", &["to"]),
    ("code-totp-notice", &["app"]),
    ("code-sent-sms", &["to"]),
    ("code-sent-voice", &["to"]),
    ("code-sent", &["to"]),
    ("code-label-digits", &["n"]),
    ("code-wrong", &["left"]),
    ("too-many-failed", &["wait"]),
    ("resend-wait", &["seconds"]),
    ("totp-wait", &["seconds"]),
    ("cap-push", &["wait"]),
    ("cap-codes", &["wait"]),
    ("cap-totp", &["wait"]),
    ("push-waiting", &["left"]),
    ("push-notice-title", &["app"]),
    ("push-notice-text", &["app", "client", "browser"]),
    ("logout-signed-in-as", &["user"]),
    ("logout-question", &["app"]),
    ("sms-code", &["app", "code"]),
    ("voice-code", &["app", "digits"]),
    ("remember-device", &["period"]),
    ("period-days", &["n"]),
    ("period-hours", &["n"]),
    ("period-minutes", &["n"]),
    ("passkey-added-on", &["when"]),
    ("passkey-last-used", &["when"]),
    ("passkey-remove-label", &["name"]),
    ("passkey-added", &["name"]),
    ("passkey-removed", &["name"]),
    ("recovery-unused", &["n", "count"]),
    ("recovery-left", &["n"]),
];

#[test]
fn every_message_formats_cleanly_with_the_arguments_the_code_passes() {
    for (index, (tag, _)) in SHIPPED.iter().enumerate() {
        let bundle = &BUNDLES[index];
        for id in ids(SHIPPED[0].1) {
            let names = ARGS
                .iter()
                .find(|(with, _)| *with == id)
                .map_or(&[][..], |(_, names)| *names);
            for n in [1, 2, 5, 21] {
                let mut args = FluentArgs::new();
                for name in names {
                    args.set(*name, FluentValue::from(n));
                }
                let message = bundle.get_message(&id).expect("present");
                let pattern = message.value().expect("has a value");
                let mut errors = Vec::new();
                let text = bundle.format_pattern(pattern, Some(&args), &mut errors);
                assert!(errors.is_empty(), "{tag} {id}: {errors:?}");
                assert!(!text.trim().is_empty(), "{tag} {id} is empty");
                assert!(
                    !text.contains(['<', '>', '&', '"']),
                    "{tag} {id} has markup: {text}"
                );
            }
        }
    }
}

#[test]
fn plural_forms_come_from_the_language() {
    let en = Locale::ENGLISH;
    assert_eq!(
        en.format("code-wrong", &[("left", 1u64.into())]),
        "That code is not right. 1 attempt left."
    );
    assert_eq!(
        en.format("code-wrong", &[("left", 3u64.into())]),
        "That code is not right. 3 attempts left."
    );
    let fr = Locale::from_tag("fr").unwrap();
    // French counts 0 as singular too, where English does not.
    assert_eq!(fr.format("wait-minutes", &[("n", 0u64.into())]), "0 minute");
    assert_eq!(
        en.format("wait-minutes", &[("n", 0u64.into())]),
        "0 minutes"
    );
    assert!(fr
        .format("wait-seconds", &[("n", 1u64.into())])
        .ends_with("seconde"));
    assert!(fr
        .format("wait-seconds", &[("n", 2u64.into())])
        .ends_with("secondes"));
}

#[test]
fn a_wait_reads_in_the_right_unit() {
    let en = Locale::ENGLISH;
    assert_eq!(en.wait(0, 1), "1 second");
    assert_eq!(en.wait(0, 90), "90 seconds");
    assert_eq!(en.wait(0, 600), "10 minutes");
    assert_eq!(en.wait(0, 20 * 3600), "20 hours");
}

#[test]
fn dates_read_as_each_language_writes_them() {
    // 2026-12-02 23:01:03 UTC, and a leap day.
    let (december, leap) = (1_796_252_463, 1_709_164_800);
    let cases = [
        ("en", "December 2, 2026, 23:01 UTC"),
        ("de", "2. Dezember 2026, 23:01 UTC"),
        ("fr", "2 décembre 2026 à 23:01 UTC"),
        ("es", "2 de diciembre de 2026, 23:01 UTC"),
        ("pt-BR", "2 de dezembro de 2026, 23:01 UTC"),
    ];
    for (tag, expected) in cases {
        let locale = Locale::from_tag(tag).unwrap();
        assert_eq!(locale.date_time(december), expected, "{tag}");
    }
    assert_eq!(
        Locale::ENGLISH.date_time(leap),
        "February 29, 2024, 00:00 UTC"
    );
    for (index, _) in SHIPPED.iter().enumerate() {
        let locale = Locale(index);
        let months: Vec<String> = (1..=12)
            .map(|m| locale.text(&format!("month-{m}")))
            .collect();
        let distinct: std::collections::HashSet<_> = months.iter().collect();
        assert_eq!(distinct.len(), 12, "{}: {months:?}", locale.tag());
    }
}
