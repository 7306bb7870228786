//! One request, top to bottom: the canonical path, the gate's decision,
//! doorman's pages or the upstream, then the response filters (HSTS, the
//! refreshed session cookie). Stops by a rule are logged and audited by
//! [`audit_stop`], which forward-auth shares.

use crate::gate::{self, Decision};
use crate::metrics::{self, RequestOutcome};
use crate::proxy::{headers, Proxies, Proxy, TunnelGuard};
use crate::session::Session;
use crate::users::User;
use crate::{pages, App};
use bytes::Bytes;
use http::header::{CACHE_CONTROL, SET_COOKIE, STRICT_TRANSPORT_SECURITY, USER_AGENT};
use http::{HeaderMap, HeaderValue, Request, Response};
use http_body_util::{Either, Full};
use hyper::body::Incoming;
use std::borrow::Cow;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

/// Whether `path` is the health endpoint under `prefix`: probes count as
/// `health`, not as page requests.
fn is_health_probe(prefix: &str, path: &str) -> bool {
    // The path is canonical already, and read as the pages read it.
    gate::route(path, prefix) == Some("health")
}

/// Every response doorman sends: the upstream's streamed body, or its own.
pub type Body = Either<Incoming, Full<Bytes>>;

/// One request, from its canonical path to the response sent.
pub async fn handle(
    app: &Arc<App>,
    proxies: &Proxies,
    mut request: Request<Incoming>,
    peer: SocketAddr,
    tls: bool,
) -> Response<Body> {
    let now = app.clock.now();
    let trusted = app.trusts_proxy(peer.ip());
    let request_id = app.request_ids.assign(request.headers_mut(), trusted);
    // Rules, pages and the upstream all see the one canonical path.
    let mut response = match canonical_path(&mut request) {
        Ok(()) => answer(app, proxies, request, peer, now, tls).await,
        Err(reason) => {
            metrics::request(RequestOutcome::BadRequest);
            pages::bad_request(reason)
        }
    };
    add_hsts(response.headers_mut(), tls, app.hsts.as_ref());
    let headers = response.headers_mut();
    headers.insert(crate::request_id::X_REQUEST_ID, request_id);
    response
}

/// Puts the canonical reading of the request's path into it, or says why
/// there is none (for the 400 page).
fn canonical_path<B>(request: &mut Request<B>) -> Result<(), &'static str> {
    match crate::path::normalize(request.uri().path()) {
        Err(malformed) => Err(malformed.reason()),
        Ok(Cow::Owned(canonical)) => replace_path(request, &canonical).map_err(|err| {
            tracing::debug!(error = %err, "cannot rewrite the request path");
            "the request target is not valid"
        }),
        Ok(Cow::Borrowed(_)) => Ok(()),
    }
}

/// The gate's decision for a request with a canonical path, carried out.
async fn answer(
    app: &Arc<App>,
    proxies: &Proxies,
    request: Request<Incoming>,
    peer: SocketAddr,
    now: u64,
    tls: bool,
) -> Response<Body> {
    let (host, site) = match pick_app(app, &request) {
        Ok(picked) => picked,
        Err(reason) => {
            metrics::request(RequestOutcome::BadRequest);
            return pages::bad_request(reason);
        }
    };
    // `pick_app` found no proxy past the end; the gate says so too.
    let proxy = site.and_then(|site| proxies.get(site));
    let site = site.filter(|_| proxy.is_some());
    let client = app.client_ip(peer.ip(), request.headers());
    // Doorman's own pages never take a token; anywhere else it is checked
    // (and counted) before the gate judges it.
    let token = if gate::is_under(request.uri().path(), &app.prefix) {
        None
    } else {
        crate::tokens::check::authenticate(app, request.headers(), client, now).await
    };
    // Behind a TLS-terminating proxy that doorman trusts, the client's
    // connection is HTTPS even though this one is not: cookies follow it.
    let secure =
        tls || (app.trusts_proxy(peer.ip()) && headers::forwarded_https(request.headers()));
    let decision = gate::decide(
        app,
        &gate::Request {
            method: request.method(),
            path: request.uri().path(),
            headers: request.headers(),
            client,
            own_pages: true,
            site,
            host: host.as_deref(),
            token: token.as_ref(),
        },
        now,
        secure,
    );
    match (decision, proxy) {
        (Decision::Pages, _) => {
            metrics::request(if is_health_probe(&app.prefix, request.uri().path()) {
                RequestOutcome::Health
            } else {
                RequestOutcome::Pages
            });
            // The pages judge `rd` by the same reading of the host as picked the app.
            // Boxed: the pages' large future stays off the proxied path's.
            let host = host.map(Cow::into_owned);
            Box::pin(pages::handle(app, request, host, peer, now, secure)).await
        }
        (Decision::Public, Some(proxy)) => {
            forward(app, proxy, request, peer, tls, None, RequestOutcome::Public).await
        }
        (
            Decision::Pass {
                user,
                session,
                refreshed_cookie,
            },
            Some(proxy),
        ) => {
            let signed_in = Some((user, Admitted::Session(session)));
            let outcome = RequestOutcome::Proxied;
            let mut response = forward(app, proxy, request, peer, tls, signed_in, outcome).await;
            add_refreshed_cookie(response.headers_mut(), refreshed_cookie);
            response
        }
        (Decision::PassToken { user, name, grant }, Some(proxy)) => {
            tracing::debug!(event = "token_used", user = %user.name, token = %name, %client, "API token accepted");
            let signed_in = Some((user, Admitted::Token(grant, now)));
            forward(
                app,
                proxy,
                request,
                peer,
                tls,
                signed_in,
                RequestOutcome::Proxied,
            )
            .await
        }
        // A site is picked only with its proxy: without one, no app answers.
        (
            Decision::UnknownHost
            | Decision::Public
            | Decision::Pass { .. }
            | Decision::PassToken { .. },
            _,
        ) => unknown_host(host.as_deref(), client),
        (refused, _) => refusal(app, refused, &request, client, now),
    }
}

/// The answer to a request the gate refused (denied, step-up, sign in
/// first), counted and audited; whichever way the request came (hyper or
/// the lane), this is where its answer is made.
fn refusal<B>(
    app: &App,
    decision: Decision,
    request: &Request<B>,
    client: IpAddr,
    now: u64,
) -> Response<Body> {
    let path = Some(request.uri().path());
    let stopped = |why, rule: &str, user: Option<&str>| {
        let stop = Stop::new(why, rule, user, client, path, request.headers());
        audit_stop(app, now, &stop);
    };
    match decision {
        Decision::Denied { rule, user } => {
            metrics::request(RequestOutcome::Denied);
            let user = user.as_ref().map(|user| user.name.as_str());
            stopped(Stopped::Denied, &rule, user);
            pages::forbidden(app, request)
        }
        Decision::StepUp { rule, user } => {
            metrics::request(RequestOutcome::StepUp);
            stopped(Stopped::StepUp, &rule, Some(&user.name));
            pages::step_up(app, request)
        }
        Decision::Login => {
            metrics::request(RequestOutcome::Login);
            pages::login_redirect(app, request)
        }
        // Only refusals come here; should anything else, it is refused too.
        Decision::Unauthorized
        | Decision::Pages
        | Decision::Public
        | Decision::Pass { .. }
        | Decision::PassToken { .. }
        | Decision::UnknownHost => {
            metrics::request(RequestOutcome::Unauthorized);
            pages::unauthorized(app)
        }
    }
}

/// The request's normalised host and the app it is for (`None`: no app
/// answers to it). A host that is not one, or that the request target
/// contradicts, is refused when apps are told apart by host; with one app
/// it is only left unknown (as doorman always treated it).
fn pick_app<'r, B>(
    app: &App,
    request: &'r Request<B>,
) -> Result<(Option<Cow<'r, str>>, Option<usize>), &'static str> {
    let sites = app.sites.load();
    let host = match crate::sites::request_host(request.uri(), request.headers()) {
        Ok(host) => host,
        Err(reason) if sites.by_host() => return Err(reason),
        Err(_) => None,
    };
    let site = sites.pick(host.as_deref());
    Ok((host, site))
}

/// 421 for a request no app answers to, with a line saying which host.
fn unknown_host(host: Option<&str>, client: IpAddr) -> Response<Body> {
    metrics::request(RequestOutcome::BadRequest);
    let host = host.unwrap_or("");
    tracing::info!(event = "unknown_host", host, %client, "no app answers to this host (see `apps:`)");
    pages::misdirected()
}

/// Why a rule stopped a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// A deny rule matched.
    Denied,
    /// The rule wants a more recent second factor.
    StepUp,
}

impl Stopped {
    /// The event's name in the log and the audit trail.
    pub fn event(self) -> &'static str {
        match self {
            Stopped::Denied => "rule_denied",
            Stopped::StepUp => "step_up_required",
        }
    }
}

/// A request a rule stopped, as the log and the audit trail tell it.
pub struct Stop<'a> {
    pub why: Stopped,
    pub rule: &'a str,
    pub user: Option<&'a str>,
    pub client: IpAddr,
    /// The canonical path; forward-auth without the original request has none.
    pub path: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    /// The request's `X-Request-Id`.
    pub request_id: Option<&'a str>,
    /// Who asked: `None` when doorman was forwarding the request itself,
    /// `Some("forward-auth")` when a front proxy asked about it.
    pub asked_by: Option<&'static str>,
}

impl<'a> Stop<'a> {
    /// A stop of a request doorman was forwarding itself; `headers` are
    /// the client's.
    pub fn new(
        why: Stopped,
        rule: &'a str,
        user: Option<&'a str>,
        client: IpAddr,
        path: Option<&'a str>,
        headers: &'a HeaderMap,
    ) -> Stop<'a> {
        let user_agent = user_agent(headers);
        let request_id = crate::request_id::of(headers);
        let asked_by = None;
        Stop {
            why,
            rule,
            user,
            client,
            path,
            user_agent,
            request_id,
            asked_by,
        }
    }

    /// The same stop, of a request a front proxy asked about.
    pub fn asked_by_front_proxy(self) -> Stop<'a> {
        let asked_by = Some("forward-auth");
        Stop { asked_by, ..self }
    }
}

/// The client's `User-Agent`, when it is text.
fn user_agent(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(USER_AGENT)
        .and_then(|value| value.to_str().ok())
}

/// Logs and audits a request a rule stopped; the one place both proxy mode
/// and forward-auth write these events, so they read alike.
pub fn audit_stop(app: &App, now: u64, stop: &Stop<'_>) {
    let (event, rule, user, path) = (stop.why.event(), stop.rule, stop.user, stop.path);
    let (client, asked_by) = (stop.client, stop.asked_by);
    match stop.why {
        Stopped::Denied => {
            tracing::warn!(event, rule, user, %client, path, asked_by, "request denied by rule")
        }
        Stopped::StepUp => {
            tracing::info!(event, rule, user, %client, path, asked_by, "a recent second factor is required")
        }
    }
    let record = crate::audit::Record {
        user,
        client: Some(client),
        user_agent: stop.user_agent,
        rule: Some(rule),
        path,
        request_id: stop.request_id,
        ..Default::default()
    };
    app.audit.event(now, event, record);
}

/// `Strict-Transport-Security` on every answer sent over TLS, when configured.
fn add_hsts(headers: &mut HeaderMap, tls: bool, hsts: Option<&HeaderValue>) {
    if let (true, Some(hsts)) = (tls, hsts) {
        headers.insert(STRICT_TRANSPORT_SECURITY, hsts.clone());
    }
}

/// The session cookie re-issued when the idle window slides, and then
/// never cached.
fn add_refreshed_cookie(headers: &mut HeaderMap, cookie: Option<HeaderValue>) {
    if let Some(cookie) = cookie {
        headers.append(SET_COOKIE, cookie);
        // A shared cache must never keep one person's session cookie for
        // the next; this is at most one response a minute.
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    }
}

/// Puts the canonical `path` (with the original query) into the request.
fn replace_path<B>(request: &mut Request<B>, path: &str) -> Result<(), http::Error> {
    let uri = request.uri();
    let path_and_query = match uri.query() {
        Some(query) => format!("{path}?{query}"),
        None => path.to_owned(),
    };
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = Some(path_and_query.parse()?);
    *request.uri_mut() = http::Uri::from_parts(parts)?;
    Ok(())
}

/// How a request was let through as somebody: a session, or an API token
/// accepted at a time.
enum Admitted {
    Session(Arc<Session>),
    Token(crate::tokens::check::Grant, u64),
}

/// Whether what let a tunnel open (a session or a token, see
/// [`gate::still_holds`]) still holds, asked again while it is open.
fn tunnel_guard(app: Arc<App>, user: &User, admitted: Admitted) -> TunnelGuard {
    let admission = match admitted {
        Admitted::Session(session) => gate::Admission::Session(session),
        Admitted::Token(grant, at) => gate::Admission::token(&app, grant, user, at),
    };
    Box::new(move || gate::still_holds(&app, &admission, app.clock.now()))
}

/// Forwards a request the gate let through; `signed_in` is who it was
/// let through as (`None` for a public route), and how. The one place that readies
/// headers for the app, in this order: hop-by-hop headers and every client
/// copy of a header doorman owns or apps route by are removed, then
/// doorman's own values are set — so nothing a client sends, `Connection`
/// tokens included, can remove or replace them.
async fn forward(
    app: &Arc<App>,
    proxy: &Proxy,
    mut request: Request<Incoming>,
    peer: SocketAddr,
    tls: bool,
    signed_in: Option<(Arc<User>, Admitted)>,
    outcome: RequestOutcome,
) -> Response<Body> {
    let upgrade = headers::allowed_upgrade(request.headers(), &app.forwarding.upgrades);
    let user = signed_in.as_ref().map(|(user, _)| &**user);
    ready_for_app(app, request.headers_mut(), user);
    let who = crate::access_log::Who::of(
        app.access_log.as_ref(),
        user.map(|user| user.name.as_str()),
        proxy.upstream(),
    );
    // A WebSocket (or other upgrade) lives only as long as what let it in.
    let tunnel_guard = match signed_in {
        Some((user, admitted)) if upgrade.is_some() => {
            Some(tunnel_guard(app.clone(), &user, admitted))
        }
        _ => None,
    };
    let browser = gate::is_browser_navigation(request.method(), request.headers())
        .then(|| pages::page_locale(app, request.headers()));
    let trusted = app.trusts_proxy(peer.ip());
    let started = Instant::now();
    let forwarded = proxy
        .forward(request, peer.ip(), trusted, tls, upgrade, tunnel_guard)
        .await;
    metrics::upstream_latency(started.elapsed());
    let mut response = match forwarded {
        Ok(response) => {
            metrics::request(outcome);
            response.map(Either::Left)
        }
        Err(err) => {
            metrics::request(RequestOutcome::UpstreamError);
            tracing::warn!(error = %err, %peer, "upstream request failed");
            pages::error_response(app, &err, browser)
        }
    };
    crate::access_log::note(&mut response, who);
    response
}

/// The one place that readies a client's headers for the app, in this
/// order: hop-by-hop headers and every client copy of a header doorman
/// owns or apps route by are removed, then doorman's own values are set —
/// so nothing a client sends, `Connection` tokens included, can remove or
/// replace them. The lane cleans the same way ([`clean_for_app`]) and
/// writes the same values after the client's headers.
fn ready_for_app(app: &App, headers: &mut HeaderMap, user: Option<&User>) {
    clean_for_app(app, headers);
    if let Some(user) = user {
        user.headers.insert_into(&app.identity, headers);
    }
}

/// The first half of [`ready_for_app`], all the lane does to the map: it
/// writes doorman's own values out after the client's headers instead
/// (see `lane::exchange`), never beside a client's copy of one.
fn clean_for_app(app: &App, headers: &mut HeaderMap) {
    app.client_headers.clean_request(headers);
    // Right beside the rest: a doorman token is doorman's, never the app's.
    headers::strip_token_authorization(headers);
    headers::strip_cookies(headers, &app.sessions.own_cookie_names());
}

/// A request the HTTP/1 lane ([`crate::lane`]) carries out itself.
pub enum LaneWork<'p> {
    /// Straight through to an app, readied for it.
    Forward(LanePass<'p>),
    /// Answered by doorman itself — a forward-auth question, or a request
    /// the gate refused: the lane sends this.
    Answer(Response<Body>),
}

/// A request the lane forwards to an app.
pub struct LanePass<'p> {
    pub proxy: &'p Proxy,
    /// Its `X-Request-Id`, for the app and the response; the request has
    /// no other (nor a client's copy of any header doorman sets).
    pub request_id: HeaderValue,
    /// Whose identity headers the app gets (`None`: a public path).
    pub user: Option<Arc<User>>,
    pub outcome: RequestOutcome,
    /// Whether the peer is a trusted proxy (its forwarding headers kept).
    pub trusted: bool,
    /// Who it goes through as, for the access log (`None`: the log is off).
    pub who: Option<crate::access_log::Who>,
}

/// Judges a request the lane read, as [`handle`] would, and carries out
/// what the lane may: a request the gate lets straight through to an app,
/// with nothing to add to the response but its id, is cleaned for the app;
/// a forward-auth question (`GET {prefix}/auth`, without a doorman token)
/// is answered, by the same [`pages::forward_auth`] as hyper's path, and so
/// is a request the gate refuses (by the same [`refusal`]). `None`:
/// neither — hyper then reads the request anew from its bytes and
/// [`handle`] answers it. Nothing is counted, logged or audited before the
/// lane is sure, so no request is counted twice.
pub fn judge_for_lane<'p>(
    app: &App,
    proxies: &'p Proxies,
    request: &mut Request<()>,
    peer: SocketAddr,
) -> Option<LaneWork<'p>> {
    let now = app.clock.now();
    canonical_path(request).ok()?;
    let (host, site) = pick_app(app, request).ok()?;
    let proxy = site.and_then(|site| proxies.get(site));
    let site = site.filter(|_| proxy.is_some());
    let path = request.uri().path();
    let forward_auth = gate::route(path, &app.prefix) == Some("auth");
    // Tokens are counted when checked: hyper's. So are the other pages.
    if crate::tokens::presented(request.headers()).is_some()
        || (gate::is_under(path, &app.prefix) && !forward_auth)
    {
        return None;
    }
    let trusted = app.trusts_proxy(peer.ip());
    let secure = trusted && headers::forwarded_https(request.headers());
    let client = app.client_ip(peer.ip(), request.headers());
    let judged = gate::Request {
        method: request.method(),
        path,
        headers: request.headers(),
        client,
        own_pages: true,
        site,
        host: host.as_deref(),
        token: None,
    };
    let (user, outcome) = match gate::decide(app, &judged, now, secure) {
        Decision::Pages if forward_auth => {
            return lane_answer(app, request, trusted, |request| {
                metrics::request(RequestOutcome::Pages);
                let headers = request.headers();
                let reply = pages::forward_auth(app, None, headers, peer, now, secure);
                reply.map(http_body_util::Either::Right)
            });
        }
        _ if forward_auth => return None,
        refused @ (Decision::Denied { .. }
        | Decision::StepUp { .. }
        | Decision::Login
        | Decision::Unauthorized) => {
            return lane_answer(app, request, trusted, |request| {
                refusal(app, refused, request, client, now)
            });
        }
        Decision::Public => (None, RequestOutcome::Public),
        Decision::Pass {
            user,
            refreshed_cookie: None,
            ..
        } => (Some(user), RequestOutcome::Proxied),
        _ => return None,
    };
    let proxy = proxy?;
    let request_id = app.request_ids.choose(request.headers(), trusted);
    clean_for_app(app, request.headers_mut());
    let name = user.as_ref().map(|user| user.name.as_str());
    let who = crate::access_log::Who::of(app.access_log.as_ref(), name, proxy.upstream());
    Some(LaneWork::Forward(LanePass {
        proxy,
        request_id,
        user,
        outcome,
        trusted,
        who,
    }))
}

/// doorman's own answer on the lane, made by `make` once the request has
/// its id (the audit trail names it), and sent with that id.
fn lane_answer<'p>(
    app: &App,
    request: &mut Request<()>,
    trusted: bool,
    make: impl FnOnce(&Request<()>) -> Response<Body>,
) -> Option<LaneWork<'p>> {
    let request_id = app.request_ids.assign(request.headers_mut(), trusted);
    let mut reply = make(request);
    let headers = reply.headers_mut();
    headers.insert(crate::request_id::X_REQUEST_ID, request_id);
    Some(LaneWork::Answer(reply))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_health_endpoint_is_a_health_probe() {
        assert!(is_health_probe("/.doorman", "/.doorman/health"));
        assert!(!is_health_probe("/.doorman", "/.doorman/login"));
        assert!(!is_health_probe("/.doorman", "/.doorman/healthy"));
        assert!(!is_health_probe("/.doorman", "/health"));
        assert!(!is_health_probe("/.doorman", "/.doorman//health"));
        assert!(!is_health_probe("/.doorman", "/.doorman/health/"));
    }

    fn hsts() -> HeaderValue {
        HeaderValue::from_static("max-age=31536000")
    }

    #[test]
    fn hsts_is_sent_over_tls_when_configured_and_replaces_the_upstreams() {
        let upstream = HeaderValue::from_static("max-age=0");
        // (over TLS, configured, the upstream's own) → what the client gets
        let cases = [
            (true, true, None, Some(hsts())),
            (true, true, Some(upstream.clone()), Some(hsts())),
            (false, true, None, None),
            (true, false, None, None),
            (false, true, Some(upstream.clone()), Some(upstream.clone())),
        ];
        for (tls, configured, theirs, expected) in cases {
            let mut headers = HeaderMap::new();
            if let Some(theirs) = theirs {
                headers.insert(STRICT_TRANSPORT_SECURITY, theirs);
            }
            add_hsts(&mut headers, tls, configured.then(hsts).as_ref());
            let sent: Vec<_> = headers.get_all(STRICT_TRANSPORT_SECURITY).iter().collect();
            assert_eq!(
                sent,
                expected.iter().collect::<Vec<_>>(),
                "{tls} {configured}"
            );
        }
    }

    #[test]
    fn a_refreshed_cookie_is_added_beside_the_upstreams_and_never_cached() {
        let mut headers = HeaderMap::new();
        headers.insert(SET_COOKIE, HeaderValue::from_static("app=1"));
        headers.insert(
            CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=60"),
        );
        add_refreshed_cookie(&mut headers, Some(HeaderValue::from_static("s=2")));
        let cookies: Vec<_> = headers.get_all(SET_COOKIE).iter().collect();
        assert_eq!(cookies, ["app=1", "s=2"]);
        assert_eq!(
            headers.get(CACHE_CONTROL),
            Some(&HeaderValue::from_static("private, no-store"))
        );
    }

    #[test]
    fn without_a_refreshed_cookie_the_upstreams_caching_stands() {
        let mut headers = HeaderMap::new();
        headers.insert(
            CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=60"),
        );
        add_refreshed_cookie(&mut headers, None);
        assert_eq!(
            headers.get(CACHE_CONTROL),
            Some(&HeaderValue::from_static("public, max-age=60"))
        );
        assert!(headers.get(SET_COOKIE).is_none());
    }

    #[test]
    fn stops_are_named_as_the_audit_trail_names_them() {
        assert_eq!(Stopped::Denied.event(), "rule_denied");
        assert_eq!(Stopped::StepUp.event(), "step_up_required");
    }
}
