//! The per-request decision: doorman's pages, an access rule, a signed-in
//! session, or no way through.

use crate::app::App;
use crate::crypto;
use crate::otp::totp::TotpSecret;
use crate::rules::{Answer, Policy, Rules, Target};
use crate::session::{self, FactorLevel, Session};
use crate::tokens::check::{Bearer, Grant};
use crate::users::User;
use http::header::ACCEPT;
use http::{HeaderMap, HeaderValue, Method};
use std::cell::RefCell;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

/// What happens to a request.
pub enum Decision {
    /// It is for doorman's own pages under the auth prefix.
    Pages,
    /// A bypass rule lets it through, without identity.
    Public,
    /// A valid API token that the deciding rule lets through (`tokens:
    /// true`): forward with identity, no session.
    PassToken {
        user: Arc<User>,
        name: String,
        grant: Grant,
    },
    /// A fully signed-in session: forward with identity, and re-issue the
    /// cookie when the idle window should slide.
    Pass {
        user: Arc<User>,
        session: Arc<Session>,
        refreshed_cookie: Option<HeaderValue>,
    },
    /// A browser without a usable session: send it to sign in.
    Login,
    /// Anything else without a session: 401, never forwarded.
    Unauthorized,
    /// A deny rule (named) matched: 403.
    Denied {
        rule: String,
        user: Option<Arc<User>>,
    },
    /// Signed in, but the rule wants a more recent second factor.
    StepUp { rule: String, user: Arc<User> },
    /// No app answers to the request's host (421 / 403), never a default app.
    UnknownHost,
}

/// What the gate looks at: the request line and headers, already with a
/// canonical path (see [`crate::path::normalize`]), and who sent it.
pub struct Request<'a> {
    pub method: &'a Method,
    pub path: &'a str,
    pub headers: &'a HeaderMap,
    pub client: IpAddr,
    /// Whether doorman's own pages may answer: in proxy mode, yes; when a
    /// front proxy asks `auth` about a request, never — that request is an
    /// app request whatever its path says.
    pub own_pages: bool,
    /// The app it is for (see [`crate::sites::Sites::pick`]; `None`: no
    /// app answers to its host), and the normalised host it was picked by.
    pub site: Option<usize>,
    pub host: Option<&'a str>,
    /// The doorman token it brought, checked (see
    /// [`crate::tokens::check::authenticate`]); then no cookie counts.
    pub token: Option<&'a Bearer>,
}

pub fn decide(app: &App, request: &Request<'_>, now: u64, tls: bool) -> Decision {
    let path = request.path;
    let target = Target::new(request.method, path, request.client).on_host(request.host);
    if request.own_pages && is_under(path, &app.prefix) && target.lenient_is_under(&app.prefix) {
        return Decision::Pages;
    }
    let Some(site) = request.site else {
        return Decision::UnknownHost;
    };
    // One snapshot for the whole decision: a reload may swap the rules.
    let sites = app.sites.load();
    let rules = sites.rules(site);
    let anonymous = rules.evaluate(&target, None);
    match anonymous.policy {
        Policy::Bypass => return Decision::Public,
        Policy::Deny => {
            // Only to name who it was in the audit trail.
            let user = signed_in(app, request.headers, now, tls).map(|(_, user)| user);
            return Decision::Denied {
                rule: rule_name(rules, anonymous.rule),
                user,
            };
        }
        Policy::TwoFactor | Policy::OneFactor => {}
    }
    if let Some(bearer) = request.token {
        return token_decision(rules, &target, bearer);
    }
    if let Some((session, user)) = shared_session(app, request.headers, now, tls) {
        let answer = if anonymous.needs_user {
            rules.evaluate(&target, Some(&user))
        } else {
            anonymous
        };
        // A session with the password only is judged only where a rule
        // asks for no more; anywhere else it is not signed in yet.
        if session.level != FactorLevel::TwoFactor {
            if answer.policy == Policy::OneFactor {
                return pass(app, session, user, now, tls);
            }
        } else {
            match answer.policy {
                Policy::Bypass => return Decision::Public,
                Policy::Deny => {
                    return Decision::Denied {
                        rule: rule_name(rules, answer.rule),
                        user: Some(user),
                    }
                }
                Policy::OneFactor => return pass(app, session, user, now, tls),
                Policy::TwoFactor => {}
            }
            if needs_step_up(answer.max_age, &session, now) {
                return Decision::StepUp {
                    rule: rule_name(rules, answer.rule),
                    user,
                };
            }
            return pass(app, session, user, now, tls);
        }
    }
    if is_browser_navigation(request.method, request.headers) {
        Decision::Login
    } else {
        Decision::Unauthorized
    }
}

/// A token is its own kind of principal: judged as its user, it passes
/// only where the deciding rule says `tokens: true`, and never counts as a
/// session of any level.
fn token_decision(rules: &Rules, target: &Target<'_>, bearer: &Bearer) -> Decision {
    let Bearer::Valid { user, name, grant } = bearer else {
        return Decision::Unauthorized;
    };
    let answer = rules.evaluate(target, Some(user));
    let rule = rule_name(rules, answer.rule);
    match answer.policy {
        Policy::Bypass => Decision::Public,
        Policy::OneFactor | Policy::TwoFactor if answer.tokens => Decision::PassToken {
            user: user.clone(),
            name: name.clone(),
            grant: grant.clone(),
        },
        Policy::Deny => Decision::Denied {
            rule,
            user: Some(user.clone()),
        },
        Policy::OneFactor | Policy::TwoFactor => Decision::Denied {
            rule: format!("{rule} (no `tokens: true`)"),
            user: Some(user.clone()),
        },
    }
}

/// The session in `headers` if it decrypts, is current, is not revoked,
/// and its user still exists with the credentials it signed in with
/// ([`session_holds`]). Of several such cookies the newest of one
/// person's wins; cookies of different people are all refused
/// ([`session::choose`]). `tls` picks the cookie's name (`__Host-`).
pub fn signed_in(
    app: &App,
    headers: &HeaderMap,
    now: u64,
    tls: bool,
) -> Option<(Session, Arc<User>)> {
    let (session, user) = shared_session(app, headers, now, tls)?;
    Some((Arc::unwrap_or_clone(session), user))
}

/// [`signed_in`], with the session as this thread's cookie cache holds it
/// (not copied): what the gate needs on every request.
fn shared_session(
    app: &App,
    headers: &HeaderMap,
    now: u64,
    tls: bool,
) -> Option<(Arc<Session>, Arc<User>)> {
    // Each candidate's user, looked up once: `choose` keeps them together.
    let valid = app
        .sessions
        .candidates(headers, now, tls)
        .filter_map(|session| {
            let user = session_holds(app, &session)?;
            Some((session, user))
        });
    match session::choose(valid) {
        session::Choice::One(chosen) => Some(chosen),
        session::Choice::None => None,
        session::Choice::Conflict => {
            tracing::warn!(
                event = "session_cookie_conflict",
                "a request carries session cookies of different users (one was planted, \
                 e.g. from a sibling subdomain): none is believed"
            );
            None
        }
    }
}

impl AsRef<Session> for (Arc<Session>, Arc<User>) {
    fn as_ref(&self) -> &Session {
        &self.0
    }
}

/// `session`'s user, if the session was not revoked (by itself or with
/// all of its user's) and the user's credentials have not changed since.
/// Memory only: it runs on every authenticated request.
pub fn session_holds(app: &App, session: &Session) -> Option<Arc<User>> {
    if app.store.is_revoked(&session.id) {
        return None;
    }
    user_holds(app, &session.user, session.authenticated_at, &session.epoch)
}

/// `name`'s users-file entry, if the user let in at `since` with
/// credential epoch `epoch` still is: not ended by `doorman sessions
/// revoke` (or a removed factor) since, and with the same credentials.
fn user_holds(app: &App, name: &str, since: u64, epoch: &str) -> Option<Arc<User>> {
    if app.store.is_user_revoked(name, since) {
        return None;
    }
    let user = app.users.load().get(name)?.clone();
    credential_epoch_is(app, &user, epoch).then_some(user)
}

/// Credential epochs a worker thread keeps before it starts over.
const EPOCHS_KEPT: usize = 4096;

/// One remembered [`App::credential_epoch`]: the users-file entry (held,
/// so its address names it and no other while remembered), the
/// authenticator secret in force when it was computed, and the epoch.
struct Epoch {
    user: Arc<User>,
    totp: Option<TotpSecret>,
    epoch: String,
}

/// `user`'s credential epoch, computed (a SHA-256) once per worker thread
/// for each users-file entry and authenticator secret. A reload makes new
/// entries, and an enrolled or removed authenticator changes the secret,
/// so a change of credentials is seen on the very next request, as without
/// the memo.
fn credential_epoch_is(app: &App, user: &Arc<User>, epoch: &str) -> bool {
    thread_local! {
        static EPOCHS: RefCell<HashMap<usize, Epoch>> = RefCell::new(HashMap::new());
    }
    let key = Arc::as_ptr(user) as usize;
    app.with_totp_secret(user, |totp| {
        EPOCHS.with_borrow_mut(|epochs| {
            let known = epochs
                .get(&key)
                .filter(|known| Arc::ptr_eq(&known.user, user) && known.totp.as_ref() == totp);
            if let Some(known) = known {
                return crypto::equal(epoch.as_bytes(), known.epoch.as_bytes());
            }
            let current = crate::app::credential_epoch(user, totp);
            if epochs.len() >= EPOCHS_KEPT {
                epochs.clear();
            }
            let holds = crypto::equal(epoch.as_bytes(), current.as_bytes());
            let known = Epoch {
                user: user.clone(),
                totp: totp.cloned(),
                epoch: current,
            };
            epochs.insert(key, known);
            holds
        })
    })
}

/// What let a long-lived exchange (a tunnel) through: a session, or an
/// API token with its user as they were when it opened.
pub enum Admission {
    Session(Arc<Session>),
    Token {
        grant: Grant,
        /// When the token was accepted, and its user's credential epoch then.
        at: u64,
        epoch: String,
    },
}

impl Admission {
    /// A token's admission at `at`, of `user` as the token was checked with.
    pub fn token(app: &App, grant: Grant, user: &User, at: u64) -> Admission {
        let epoch = app.credential_epoch(user);
        Admission::Token { grant, at, epoch }
    }
}

/// The one rule for an open tunnel: whatever let it open still holds at
/// `now`. A session: within its lifetime and as [`session_holds`]. A
/// token: still in the tokens file, unexpired, and its user still there
/// with the same credentials and not revoked since it opened.
pub fn still_holds(app: &App, admission: &Admission, now: u64) -> bool {
    match admission {
        Admission::Session(session) => {
            app.sessions.current(session, now) && session_holds(app, session).is_some()
        }
        Admission::Token { grant, at, epoch } => {
            grant.still_current(app, now) && user_holds(app, grant.user(), *at, epoch).is_some()
        }
    }
}

/// Whether a rule's `max_age` asks for a second factor more recent than
/// `session`'s at `now`: the one step-up check, for the gate, the second
/// factor page (see [`destination_needs_step_up`]) and enrollment.
pub fn needs_step_up(max_age: Option<Duration>, session: &Session, now: u64) -> bool {
    max_age.is_some_and(|max_age| now.saturating_sub(session.second_factor_at) > max_age.as_secs())
}

/// Whether the rule for a browser going to `path` (already canonical) on
/// `host` as `user` asks for a more recent second factor than `session`'s.
/// Without a host doorman knows, every app's rule for the path is asked
/// (a step-up too many is safe; one too few is not).
pub fn destination_needs_step_up(
    app: &App,
    host: Option<&str>,
    path: &str,
    client: IpAddr,
    session: &Session,
    user: &User,
    now: u64,
) -> bool {
    destination_answers(app, host, path, client, user)
        .iter()
        .any(|answer| needs_step_up(answer.max_age, session, now))
}

/// Whether the rule for a browser going to `path` on `host` as `user`
/// asks for the password only (`one_factor`): then the sign-in can go
/// straight back after the password. Without a host doorman knows, every
/// app must say so.
pub fn destination_is_one_factor(
    app: &App,
    host: Option<&str>,
    path: &str,
    client: IpAddr,
    user: &User,
) -> bool {
    destination_answers(app, host, path, client, user)
        .iter()
        .all(|answer| answer.policy == Policy::OneFactor)
}

/// What the rules say of a browser going to `path` on `host` as `user`:
/// the app's answer, or every app's when the host names none.
fn destination_answers(
    app: &App,
    host: Option<&str>,
    path: &str,
    client: IpAddr,
    user: &User,
) -> Vec<Answer> {
    let target = Target::new(&Method::GET, path, client).on_host(host);
    let sites = app.sites.load();
    let judged: Vec<usize> = match sites.pick(host) {
        Some(site) => vec![site],
        None => (0..sites.len()).collect(),
    };
    judged
        .into_iter()
        .map(|site| sites.rules(site).evaluate(&target, Some(user)))
        .collect()
}

/// The session in `headers` when both factors are done.
pub fn fully_signed_in(
    app: &App,
    headers: &HeaderMap,
    now: u64,
    tls: bool,
) -> Option<(Arc<Session>, Arc<User>)> {
    shared_session(app, headers, now, tls)
        .filter(|(session, _)| session.level == FactorLevel::TwoFactor)
}

/// Through, re-issuing the cookie when the idle window should slide.
pub fn pass(app: &App, session: Arc<Session>, user: Arc<User>, now: u64, tls: bool) -> Decision {
    let refreshed_cookie = app.sessions.refreshed_cookie(&session, now, tls);
    Decision::Pass {
        user,
        session,
        refreshed_cookie,
    }
}

fn rule_name(rules: &Rules, index: Option<usize>) -> String {
    index
        .and_then(|index| rules.get(index))
        .map_or_else(|| "default".to_owned(), |rule| rule.name.clone())
}

/// Whether `path` is `prefix` or below it.
pub fn is_under(path: &str, prefix: &str) -> bool {
    path.strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// Which of doorman's pages `path` names: what follows `prefix` and one
/// `/` (`""` for the prefix itself). The one reading the pages and the
/// metrics share, so `/.doorman//health` is the route `/health`, which no
/// page is.
pub fn route<'a>(path: &'a str, prefix: &str) -> Option<&'a str> {
    let rest = path.strip_prefix(prefix)?;
    if rest.is_empty() {
        return Some("");
    }
    rest.strip_prefix('/')
}

/// A GET or HEAD that accepts HTML: a person at a browser.
pub fn is_browser_navigation(method: &Method, headers: &http::HeaderMap) -> bool {
    (method == Method::GET || method == Method::HEAD) && accepts_html(headers)
}

/// Whether the client says it takes HTML (browsers do, scripts rarely).
pub fn accepts_html(headers: &http::HeaderMap) -> bool {
    headers
        .get_all(ACCEPT)
        .iter()
        .any(|value| value.to_str().is_ok_and(|v| v.contains("text/html")))
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::rules::{PathMatch, Rule, Rules};

    fn assets() -> Rules {
        Rules::new(vec![Rule {
            name: "public[0]".into(),
            path: Some(PathMatch::Prefix("/assets/".into())),
            methods: Some(vec![Method::GET, Method::HEAD]),
            networks: Vec::new(),
            users: Vec::new(),
            groups: Vec::new(),
            policy: Policy::Bypass,
            max_age: None,
            hosts: Vec::new(),
            tokens: false,
        }])
    }

    fn policy(rules: &Rules, method: &Method, raw_path: &str) -> Option<Policy> {
        let path = crate::path::normalize(raw_path).ok()?;
        let target = Target::new(method, &path, "192.0.2.1".parse().ok()?);
        Some(rules.evaluate(&target, None).policy)
    }

    #[test]
    fn a_public_prefix_matches_plain_paths_with_allowed_methods() {
        let rules = assets();
        let cases = [
            (Method::GET, "/assets/app.css", Policy::Bypass),
            (Method::POST, "/assets/app.css", Policy::TwoFactor),
            (Method::GET, "/assetsx", Policy::TwoFactor),
            // The same file, spelled differently, is the same public file.
            (Method::GET, "/assets/./%61pp.css", Policy::Bypass),
        ];
        for (method, path, expected) in cases {
            let got = policy(&rules, &method, path);
            assert_eq!(got, Some(expected), "{method} {path}");
        }
    }

    #[test]
    fn paths_that_could_climb_out_of_a_public_prefix_do_not_match() {
        for path in [
            "/assets/../admin",
            "/assets/%2e%2e/admin",
            "/assets/%2E%2E/admin",
            "/assets/..%2fadmin",
            "/assets/..%5Cadmin",
            "/assets/.\\../admin",
            "/assets/%252e%252e/admin",
            "/assets/..;/admin",
            "/assets%2F..%2Fadmin",
        ] {
            assert_ne!(
                policy(&assets(), &Method::GET, path),
                Some(Policy::Bypass),
                "{path}"
            );
        }
    }

    fn session_with_second_factor_at(second_factor_at: u64) -> Session {
        Session {
            id: "s".into(),
            user: "alice".into(),
            level: FactorLevel::TwoFactor,
            authenticated_at: 0,
            second_factor_at,
            last_seen: 0,
            expires_at: u64::MAX,
            epoch: String::new(),
        }
    }

    #[test]
    fn a_second_factor_older_than_max_age_needs_a_step_up() {
        let session = session_with_second_factor_at(1_000);
        let ten_minutes = Some(Duration::from_secs(600));
        assert!(!needs_step_up(ten_minutes, &session, 1_000));
        assert!(!needs_step_up(ten_minutes, &session, 1_600));
        assert!(needs_step_up(ten_minutes, &session, 1_601));
    }

    #[test]
    fn without_max_age_no_second_factor_is_too_old() {
        let session = session_with_second_factor_at(0);
        assert!(!needs_step_up(None, &session, u64::MAX));
    }

    #[test]
    fn a_clock_behind_the_second_factor_never_asks_for_a_step_up() {
        let session = session_with_second_factor_at(5_000);
        assert!(!needs_step_up(Some(Duration::ZERO), &session, 4_000));
    }

    #[test]
    fn a_route_is_what_follows_the_prefix_and_one_slash() {
        let prefix = "/.doorman";
        assert_eq!(route("/.doorman/health", prefix), Some("health"));
        assert_eq!(route("/.doorman/2fa/send", prefix), Some("2fa/send"));
        assert_eq!(route("/.doorman", prefix), Some(""));
        assert_eq!(route("/.doorman/", prefix), Some(""));
        assert_eq!(route("/.doorman//health", prefix), Some("/health"));
        assert_eq!(route("/.doorman///auth", prefix), Some("//auth"));
        assert_eq!(route("/.doormanx/health", prefix), None);
        assert_eq!(route("/health", prefix), None);
    }

    #[test]
    fn the_auth_prefix_covers_itself_and_below_only() {
        assert!(is_under("/.doorman", "/.doorman"));
        assert!(is_under("/.doorman/login", "/.doorman"));
        assert!(!is_under("/.doormanx", "/.doorman"));
    }

    #[test]
    fn a_browser_navigation_is_a_get_accepting_html() {
        let mut headers = http::HeaderMap::new();
        headers.insert(
            ACCEPT,
            HeaderValue::from_static("text/html,application/xhtml+xml"),
        );
        assert!(is_browser_navigation(&Method::GET, &headers));
        assert!(!is_browser_navigation(&Method::POST, &headers));
        assert!(!is_browser_navigation(
            &Method::GET,
            &http::HeaderMap::new()
        ));
    }
}
