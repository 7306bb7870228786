//! Unit tests for the session codec, named as what they show.

use super::*;
use cookie::Key;
use std::time::Duration;

fn codec(secrets: &[&str]) -> SessionCodec {
    SessionCodec::new(settings(secrets, Secure::Auto, None))
}

fn settings(secrets: &[&str], secure: Secure, domain: Option<&str>) -> SessionSettings {
    SessionSettings {
        keys: secrets
            .iter()
            .map(|s| Key::derive_from(s.as_bytes()))
            .collect(),
        csrf_key: [0; 32],
        remember_device: None,
        cookie_name: "doorman_session".into(),
        secure,
        domain: domain.map(str::to_owned),
        lifetime: Duration::from_secs(3600),
        idle_timeout: Duration::from_secs(600),
    }
}

fn request_with(set_cookie: &HeaderValue) -> HeaderMap {
    let pair = set_cookie
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let mut headers = HeaderMap::new();
    headers.insert(
        COOKIE,
        HeaderValue::from_str(&format!("other=1; {pair}")).unwrap(),
    );
    headers
}

const NEW: &str = "0123456789abcdef0123456789abcdef-new";
const OLD: &str = "0123456789abcdef0123456789abcdef-old";

#[test]
fn a_session_survives_the_round_trip() {
    let codec = codec(&[NEW]);
    let session = codec.start("alice", FactorLevel::TwoFactor, 1000, 1000);
    let headers = request_with(&codec.set_cookie(&session, false));
    assert_eq!(codec.read(&headers, 1001), Ok(Some(session)));
}

#[test]
fn a_cookie_from_a_previous_secret_still_decrypts() {
    let old = codec(&[OLD]);
    let session = old.start("alice", FactorLevel::Password, 1000, 1000);
    let headers = request_with(&old.set_cookie(&session, false));
    assert_eq!(codec(&[NEW, OLD]).read(&headers, 1001), Ok(Some(session)));
    assert_eq!(
        codec(&[NEW]).read(&headers, 1001),
        Err(Rejected::Undecryptable)
    );
}

#[test]
fn expiry_and_idle_time_are_checked_from_the_cookie() {
    let codec = codec(&[NEW]);
    let session = codec.start("alice", FactorLevel::TwoFactor, 1000, 1000);
    let headers = request_with(&codec.set_cookie(&session, false));
    assert_eq!(codec.read(&headers, 1000 + 601), Err(Rejected::Idle));
    let mut late = session.clone();
    late.last_seen = 1000 + 3599;
    let headers = request_with(&codec.set_cookie(&late, false));
    assert_eq!(codec.read(&headers, 1000 + 3600), Err(Rejected::Expired));
}

#[test]
fn a_lowered_lifetime_shortens_sessions_already_issued() {
    let long = SessionCodec::new(SessionSettings {
        lifetime: Duration::from_secs(7200),
        ..codec(&[NEW]).settings
    });
    let session = long.start("alice", FactorLevel::TwoFactor, 1000, 1000);
    let mut active = session.clone();
    active.last_seen = 1000 + 3500;
    let headers = request_with(&long.set_cookie(&active, false));
    assert!(long.read(&headers, 1000 + 3600).is_ok());
    assert_eq!(
        codec(&[NEW]).read(&headers, 1000 + 3600),
        Err(Rejected::Expired)
    );
    assert!(codec(&[NEW]).read(&headers, 1000 + 3599).is_ok());
}

#[test]
fn a_cookie_from_before_credential_epochs_reads_with_none() {
    let codec = codec(&[NEW]);
    let session = codec.start("alice", FactorLevel::TwoFactor, 1000, 1000);
    let mut json: serde_json::Value = serde_json::to_value(&session).unwrap();
    json.as_object_mut().unwrap().remove("c");
    let old: Session = serde_json::from_value(json).unwrap();
    assert_eq!(old.epoch, "");
}

#[test]
fn a_tampered_cookie_is_rejected() {
    let codec = codec(&[NEW]);
    let session = codec.start("alice", FactorLevel::TwoFactor, 1000, 1000);
    let set = codec.set_cookie(&session, false);
    let mut pair = set.to_str().unwrap().split(';').next().unwrap().to_owned();
    let last = pair.pop().unwrap();
    pair.push(if last == 'A' { 'B' } else { 'A' });
    let mut headers = HeaderMap::new();
    headers.insert(COOKIE, HeaderValue::from_str(&pair).unwrap());
    assert_eq!(codec.read(&headers, 1001), Err(Rejected::Undecryptable));
}

#[test]
fn cookie_attributes_follow_the_settings() {
    let codec = codec(&[NEW]);
    let session = codec.start("alice", FactorLevel::TwoFactor, 1000, 1000);
    let plain = codec.set_cookie(&session, false);
    let plain = plain.to_str().unwrap();
    assert!(
        plain.contains("HttpOnly") && plain.contains("SameSite=Lax") && plain.contains("Path=/")
    );
    assert!(!plain.contains("Secure"));
    assert!(codec
        .set_cookie(&session, true)
        .to_str()
        .unwrap()
        .contains("Secure"));
}

fn session(user: &str, id: &str, authenticated_at: u64, last_seen: u64) -> Session {
    Session {
        id: id.into(),
        user: user.into(),
        level: FactorLevel::TwoFactor,
        authenticated_at,
        second_factor_at: authenticated_at,
        last_seen,
        expires_at: authenticated_at + 3600,
        epoch: String::new(),
    }
}

#[test]
fn of_one_persons_sessions_the_newest_wins_whatever_the_order() {
    let old = session("alice", "a", 1000, 1000);
    let new = session("alice", "b", 2000, 2000);
    assert_eq!(
        choose(vec![old.clone(), new.clone()]),
        Choice::One(new.clone())
    );
    assert_eq!(choose(vec![new.clone(), old]), Choice::One(new));
}

#[test]
fn of_two_copies_of_one_session_the_latest_activity_wins() {
    let earlier = session("alice", "a", 1000, 1100);
    let later = session("alice", "a", 1000, 1200);
    assert_eq!(choose(vec![earlier, later.clone()]), Choice::One(later));
}

#[test]
fn sessions_of_different_people_are_a_conflict_in_either_order() {
    let victim = session("alice", "a", 1000, 1000);
    let planted = session("mallory", "m", 2000, 2000);
    assert_eq!(
        choose(vec![victim.clone(), planted.clone()]),
        Choice::Conflict
    );
    assert_eq!(choose(vec![planted, victim]), Choice::Conflict);
    assert_eq!(choose(Vec::<Session>::new()), Choice::None);
}

#[test]
fn a_secure_host_only_cookie_carries_the_host_prefix() {
    let plain = codec(&[NEW]);
    assert_eq!(plain.session_cookie_name(false), "doorman_session");
    assert_eq!(plain.session_cookie_name(true), "__Host-doorman_session");
    assert_eq!(
        plain.name_for("doorman_session_csrf", true),
        "__Host-doorman_session_csrf"
    );
    let session = plain.start("alice", FactorLevel::TwoFactor, 1000, 1000);
    let set = plain.set_cookie(&session, true);
    let set = set.to_str().unwrap();
    assert!(set.starts_with("__Host-doorman_session="), "{set}");
    assert!(set.contains("Secure") && set.contains("Path=/") && !set.contains("Domain"));
}

#[test]
fn a_cookie_with_a_domain_or_not_secure_has_no_prefix() {
    let name = |secure, domain, tls| {
        SessionCodec::new(settings(&[NEW], secure, domain)).session_cookie_name(tls)
    };
    assert_eq!(
        name(Secure::Auto, Some("example.com"), true),
        "doorman_session"
    );
    assert_eq!(name(Secure::Never, None, true), "doorman_session");
    assert_eq!(name(Secure::Always, None, false), "__Host-doorman_session");
    assert_eq!(
        name(Secure::Always, Some("example.com"), false),
        "doorman_session"
    );
}

#[test]
fn only_the_name_in_use_on_the_request_is_read() {
    let codec = codec(&[NEW]);
    let session = codec.start("alice", FactorLevel::TwoFactor, 1000, 1000);
    let plain = request_with(&codec.set_cookie(&session, false));
    let secure = request_with(&codec.set_cookie(&session, true));
    assert_eq!(
        codec.candidates(&plain, 1001, false).collect::<Vec<_>>(),
        vec![Arc::new(session.clone())]
    );
    assert_eq!(
        codec.candidates(&secure, 1001, true).collect::<Vec<_>>(),
        vec![Arc::new(session)]
    );
    // Over TLS a plain-named cookie can only have been planted.
    assert_eq!(codec.candidates(&plain, 1001, true).count(), 0);
    assert_eq!(codec.candidates(&secure, 1001, false).count(), 0);
}

#[test]
fn every_own_cookie_name_is_kept_from_the_upstream() {
    assert_eq!(
        codec(&[NEW]).own_cookie_names(),
        [
            "doorman_session",
            "__Host-doorman_session",
            "doorman_session_csrf",
            "__Host-doorman_session_csrf",
            "doorman_session_device",
            "__Host-doorman_session_device",
            "doorman_session_trusted",
            "__Host-doorman_session_trusted"
        ]
    );
}
