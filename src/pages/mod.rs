//! doorman's own routes under the auth prefix: the pages people see and the
//! small JSON endpoints proxies call. Every POST is CSRF-checked here, in
//! one place, before any handler runs.

mod challenge;
mod enroll;
mod forward_auth;
mod login;
mod logout;
mod passkey;
mod passkey_enroll;
mod passwordless;
mod push;
mod recovery;
mod refusals;
mod reply;
mod second_factor;
mod templates;
mod trusted_device;
mod verify;

pub use forward_auth::check as forward_auth;
pub use refusals::{
    bad_request, error_response, forbidden, login_redirect, misdirected, step_up, unauthorized,
};
use reply::{empty, json_error, respond, security_headers, HTML, JSON, SECURITY_HEADERS};
pub use reply::{json, redirect};
pub use templates::Templates;

use crate::error::Error;
use crate::gate;
use crate::i18n::{Arg, Locale};
use crate::redirect::safe_target;
use crate::session::{header_value, Session};
use crate::users::User;
use crate::{App, Body};
use bytes::Bytes;
use http::header::{CONTENT_LANGUAGE, CONTENT_TYPE, SET_COOKIE, VARY};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Either, Full, Limited};
use hyper::body::Incoming;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

pub type Reply = Response<Full<Bytes>>;

/// Where the push answer links live; the token follows.
const PUSH_ANSWER: &str = "2fa/push/answer/";

/// Routes under the prefix, for telling "wrong method" from "no such page".
const ROUTES: &[&str] = &[
    "login",
    "2fa",
    "2fa/send",
    "2fa/verify",
    "2fa/resend",
    "2fa/cancel",
    "2fa/push/status",
    "totp/enroll",
    "2fa/passkey",
    "2fa/passkey/begin",
    "passkeys",
    "passkeys/begin",
    "passkeys/remove",
    "2fa/recovery",
    "login/passkey",
    "login/passkey/begin",
    "recovery",
    "logout",
    "auth",
    "health",
    "static/doorman.css",
];

pub async fn handle(
    app: &App,
    request: Request<Incoming>,
    host: Option<String>,
    peer: SocketAddr,
    now: u64,
    tls: bool,
) -> Response<Body> {
    // One `/` after the prefix: `/.doorman//auth` is no page.
    let route = crate::gate::route(request.uri().path(), &app.prefix)
        .unwrap_or("/")
        .to_owned();
    let method = request.method().clone();
    // Forward-auth runs once per proxied request: it reads the session
    // once, in the gate, and needs nothing else a page visit sets up.
    if route == "auth" && (method == Method::GET || method == Method::HEAD) {
        // The front proxy's request carries the client's Authorization.
        let client = app.client_ip(peer.ip(), request.headers());
        let token = crate::tokens::check::authenticate(app, request.headers(), client, now).await;
        let token = token.as_ref();
        return forward_auth::check(app, token, request.headers(), peer, now, tls)
            .map(Either::Right);
    }
    let mut visit = Visit::new(app, &request, host, peer, now, tls);
    if route.starts_with("2fa") {
        passkey::look_up_factors(&mut visit).await;
    }
    let result = match (&method, route.as_str()) {
        (&Method::GET | &Method::HEAD, "login") => login::show(&mut visit),
        (&Method::GET | &Method::HEAD, "2fa") => second_factor::show(&mut visit).await,
        (&Method::GET | &Method::HEAD, "logout") => logout::confirm(&mut visit),
        (&Method::GET | &Method::HEAD, "health") => Ok(health(app)),
        (&Method::GET | &Method::HEAD, "static/doorman.css") => Ok(app.templates.stylesheet()),
        (&Method::GET | &Method::HEAD, "static/push.js") => {
            Ok(templates::script(templates::PUSH_SCRIPT))
        }
        (&Method::GET | &Method::HEAD, "static/resend.js") => {
            Ok(templates::script(templates::RESEND_SCRIPT))
        }
        (&Method::GET | &Method::HEAD, "static/webauthn.js") => {
            Ok(templates::script(templates::WEBAUTHN_SCRIPT))
        }
        (&Method::GET | &Method::HEAD, "passkeys") => passkey_enroll::show(&mut visit).await,
        (&Method::GET | &Method::HEAD, "recovery") => recovery::show(&mut visit).await,
        (&Method::GET | &Method::HEAD, "2fa/push/status") => {
            let wait = request
                .uri()
                .query()
                .is_some_and(|query| query.split('&').any(|pair| pair == "wait=1"));
            push::status(&visit, wait).await
        }
        (&Method::GET | &Method::HEAD, "totp/enroll") => enroll::show(&mut visit),
        // The phone calls these, not the browser: no CSRF token, since each
        // URL is itself a signed one-time token. Nothing else skips the check.
        (&Method::POST, route) if route.starts_with(PUSH_ANSWER) => {
            Ok(push::answer(app, &route[PUSH_ANSWER.len()..], now).await)
        }
        (_, route) if route.starts_with(PUSH_ANSWER) => Err(Error::MethodNotAllowed),
        (&Method::POST, route) if ROUTES.contains(&route) => match visit.form(request).await {
            Err(err) => Err(err),
            Ok(form) => match route {
                // Full in-memory maps refuse new sign-ins rather than forget
                // a revocation or a lock to make room.
                "login" => match app.store.has_room() {
                    Err(full) => Err(full.into()),
                    Ok(()) => login::submit(&mut visit, &form).await,
                },
                "2fa/send" => second_factor::send(&mut visit, &form, false).await,
                "2fa/resend" => second_factor::send(&mut visit, &form, true).await,
                "2fa/verify" => verify::verify(&mut visit, &form).await,
                "2fa/cancel" => second_factor::cancel(&mut visit).await,
                "logout" => logout::logout(&mut visit).await,
                "totp/enroll" => enroll::submit(&mut visit, &form).await,
                "2fa/passkey/begin" => passkey::begin(&mut visit).await,
                "2fa/passkey" => passkey::finish(&mut visit, &form).await,
                "passkeys/begin" => passkey_enroll::begin(&mut visit).await,
                "passkeys" => passkey_enroll::finish(&mut visit, &form).await,
                "passkeys/remove" => passkey_enroll::remove(&mut visit, &form).await,
                "2fa/recovery" => recovery::sign_in(&mut visit, &form).await,
                "login/passkey/begin" => passwordless::begin(&mut visit).await,
                "login/passkey" => passwordless::finish(&mut visit, &form).await,
                "recovery" => recovery::generate(&mut visit).await,
                _ => Err(Error::MethodNotAllowed),
            },
        },
        (_, route) if ROUTES.contains(&route) => Err(Error::MethodNotAllowed),
        _ => Err(Error::NotFound),
    };
    let reply = result.unwrap_or_else(|err| {
        if err.status().is_server_error() {
            tracing::error!(error = %err, route, "page failed");
        } else {
            tracing::info!(error = %err, route, %peer, "request refused");
        }
        visit.error_page(&err)
    });
    visit.finish(reply).map(Either::Right)
}

/// One request to a page: what it carries and what the answer must set.
pub struct Visit<'a> {
    pub app: &'a App,
    pub now: u64,
    pub tls: bool,
    /// The client's address: the peer, or what a trusted proxy reports.
    pub client: std::net::IpAddr,
    /// A person at a browser, as opposed to a script.
    pub browser: bool,
    /// The request's normalised host, the one reading that also picked the
    /// app ([`crate::sites::request_host`]; `None` when it has none or it is
    /// contradictory): for `rd` checks.
    pub host: Option<String>,
    /// A valid, unrevoked session, if the request has one.
    pub session: Option<(Session, Arc<User>)>,
    /// `rd` as sent (query or form); checked only when used.
    pub rd: String,
    /// The (folded) user whose valid device mark this browser carries.
    pub device: Option<String>,
    /// The signed-in user has a passkey (looked up for the `2fa` pages).
    pub has_passkey: bool,
    /// Trusted-device cookies this browser sent (checked at sign-in).
    pub trusted_devices: Vec<String>,
    /// The signed-in user has unused recovery codes (likewise).
    pub has_recovery_codes: bool,
    /// The page's language, from `Accept-Language`.
    pub locale: Locale,
    user_agent: String,
    /// The request's `X-Request-Id`, for the audit events.
    request_id: String,
    nonce: String,
    new_nonce: bool,
    /// The CSRF cookie's name on this request (`__Host-` when Secure).
    csrf_cookie: String,
    set_cookies: Vec<HeaderValue>,
}

pub type Form = HashMap<String, String>;

impl<'a> Visit<'a> {
    fn new(
        app: &'a App,
        request: &Request<Incoming>,
        host: Option<String>,
        peer: SocketAddr,
        now: u64,
        tls: bool,
    ) -> Visit<'a> {
        let headers = request.headers();
        let csrf_cookie = app.sessions.name_for(app.csrf.cookie_name(), tls);
        let (nonce, new_nonce) = match app.csrf.nonce(headers, &csrf_cookie) {
            Some(nonce) => (nonce, false),
            None => (crate::csrf::Csrf::new_nonce(), true),
        };
        let rd = request
            .uri()
            .query()
            .and_then(|query| {
                form_urlencoded::parse(query.as_bytes())
                    .find(|(key, _)| key == "rd")
                    .map(|(_, value)| value.into_owned())
            })
            .unwrap_or_default();
        app.limiter.notice_proxy(
            app.trusted_proxies.is_empty(),
            peer.ip(),
            headers.contains_key("x-forwarded-for"),
        );
        let device_cookie = device_cookie_name(app, tls);
        let device = crate::session::cookie_values(headers, &device_cookie)
            .find_map(|mark| app.limiter.device_mark_user(mark, now));
        let trusted_cookie = trusted_device::cookie_name(app, tls);
        let trusted_devices = crate::session::cookie_values(headers, &trusted_cookie)
            .take(4)
            .map(str::to_owned)
            .collect();
        Visit {
            trusted_devices,
            has_passkey: false,
            has_recovery_codes: false,
            app,
            now,
            tls,
            device,
            locale: page_locale(app, headers),
            client: app.client_ip(peer.ip(), headers),
            browser: gate::accepts_html(headers),
            host,
            session: crate::gate::signed_in(app, headers, now, tls),
            rd,
            user_agent: headers
                .get(http::header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .chars()
                .take(200)
                .collect(),
            request_id: crate::request_id::of(headers).unwrap_or("").to_owned(),
            nonce,
            new_nonce,
            csrf_cookie,
            set_cookies: Vec::new(),
        }
    }

    /// Reads a bounded urlencoded body and checks its CSRF token. The
    /// whole form must arrive within `limits.body_idle_timeout`: it is
    /// small, so a client dripping it a byte at a time is holding a slot.
    async fn form(&mut self, request: Request<Incoming>) -> Result<Form, Error> {
        let headers = request.headers().clone();
        let limits = &self.app.limits;
        let read = Limited::new(request.into_body(), limits.auth_body_bytes).collect();
        let body = tokio::time::timeout(limits.body_idle_timeout, read)
            .await
            .map_err(|_| Error::BodyTimeout)?
            .map_err(|_| Error::TooLarge)?
            .to_bytes();
        let form: Form = form_urlencoded::parse(&body).into_owned().collect();
        let token = form.get("csrf").map(String::as_str).unwrap_or("");
        let session = self
            .session
            .as_ref()
            .map(|(session, _)| session.id.as_str());
        if token.is_empty()
            || !self
                .app
                .csrf
                .verify(&headers, &self.csrf_cookie, session, token)
        {
            return Err(Error::Csrf);
        }
        if let Some(rd) = form.get("rd") {
            self.rd = rd.clone();
        }
        Ok(form)
    }

    pub fn user_agent(&self) -> &str {
        &self.user_agent
    }

    /// The client address an attempt for `user` is counted under: none
    /// when this browser carries `user`'s device mark (it signed in here
    /// before, so it is not the stranger the address counter slows).
    pub fn counted_client(&self, user: &str) -> Option<std::net::IpAddr> {
        let exempt = self
            .device
            .as_deref()
            .is_some_and(|marked| marked == crate::limits::fold(user));
        (!exempt).then_some(self.client)
    }

    /// Reserves a sign-in attempt for `account` (before anything typed is
    /// checked) and audits any lock that sets; `typed` is what was typed,
    /// for the log.
    pub async fn reserve_attempt(
        &self,
        typed: &str,
        account: Option<&str>,
    ) -> Result<crate::limits::Reservation, Error> {
        let app = self.app;
        let (counted, client) = match account {
            Some(name) => (
                crate::limits::Account::Known(name),
                self.counted_client(name),
            ),
            None => (
                crate::limits::Account::Unknown(typed),
                self.counted_client(typed),
            ),
        };
        let reservation = app
            .limiter
            .reserve(&app.store, counted, client, self.now)
            .await?;
        for lock in &reservation.locked {
            self.audit(
                "lock",
                crate::audit::Record {
                    user: Some(account.unwrap_or(typed)),
                    reason: Some(lock.scope),
                    until: Some(lock.until),
                    ..Default::default()
                },
            );
            tracing::warn!(event = "lock", scope = lock.scope, user = ?typed, client = %self.client, until = lock.until, "too many failed sign-ins: locked");
        }
        Ok(reservation)
    }

    /// After a complete sign-in: marks this browser as `user`'s device.
    pub fn set_device_mark(&mut self, user: &str) {
        let app = self.app;
        let mut cookie = cookie::Cookie::new(
            device_cookie_name(app, self.tls),
            app.limiter.device_mark(user, self.now),
        );
        app.sessions.attributes(&mut cookie, self.tls);
        cookie.set_max_age(cookie::time::Duration::seconds(
            crate::limits::DEVICE_MARK_LIFETIME.as_secs() as i64,
        ));
        self.set_cookie(header_value(&cookie));
    }

    /// Writes an audit event with this visit's client and user agent.
    pub fn audit(&self, event: &str, record: crate::audit::Record<'_>) {
        let record = crate::audit::Record {
            client: Some(self.client),
            user_agent: Some(&self.user_agent)
                .filter(|agent| !agent.is_empty())
                .map(String::as_str),
            request_id: Some(self.request_id.as_str()).filter(|id| !id.is_empty()),
            ..record
        };
        self.app.audit.event(self.now, event, record);
    }

    /// Where to go after sign-in: `rd` when safe, else `/`.
    pub fn destination(&self) -> String {
        let allowed = &self.app.allowed_redirect_domains;
        safe_target(&self.rd, self.host.as_deref(), allowed)
            .or_else(|| safe_target(&self.rd, self.app.public_host.as_deref(), allowed))
            .unwrap_or_else(|| "/".to_owned())
    }

    /// A path under the prefix that keeps `rd`.
    pub fn page_url(&self, page: &str) -> String {
        let mut url = format!("{}/{page}", self.app.prefix);
        if !self.rd.is_empty() {
            url.push_str("?rd=");
            url.extend(form_urlencoded::byte_serialize(self.rd.as_bytes()));
        }
        url
    }

    /// The host that codes are bound to in the WebOTP line: `public_url`'s,
    /// never the request's `Host`, which whoever holds the password could
    /// set to bind autofill to a phishing origin. `None` without
    /// `public_url`: then the SMS has no WebOTP line.
    pub fn otp_host(&self) -> Option<String> {
        let host = self.app.public_host.as_deref()?;
        let without_port = match host.strip_prefix('[') {
            Some(v6) => v6.split(']').next().map(|addr| format!("[{addr}]")),
            None => host.split(':').next().map(str::to_owned),
        };
        Some(without_port.unwrap_or_else(|| host.to_owned()))
    }

    /// The token this visit's forms carry: bound to the session once there
    /// is one, to the browser's nonce before.
    pub fn csrf_token(&self) -> String {
        let binding = match &self.session {
            Some((session, _)) => crate::csrf::Binding::Session(&session.id),
            None => crate::csrf::Binding::Nonce(&self.nonce),
        };
        self.app.csrf.token(binding)
    }

    pub fn set_cookie(&mut self, cookie: HeaderValue) {
        self.set_cookies.push(cookie);
    }

    /// Renders `template` with the values every page needs added.
    pub fn render(
        &self,
        status: StatusCode,
        template: &str,
        values: minijinja::Value,
    ) -> Result<Reply, Error> {
        let context = minijinja::context! {
            locale => self.locale.tag(),
            app_name => &self.app.app_name,
            prefix => &self.app.prefix,
            csrf => self.csrf_token(),
            rd => &self.rd,
            ..values
        };
        let html = self.app.templates.render(template, context)?;
        Ok(respond(status, HTML, html))
    }

    /// Message `id` in this page's language.
    pub fn t(&self, id: &str) -> String {
        self.locale.text(id)
    }

    /// Message `id` with `args` in this page's language.
    pub fn t_with(&self, id: &str, args: &[(&str, Arg)]) -> String {
        self.locale.format(id, args)
    }

    /// A page with a heading, a sentence and a link.
    pub fn message(
        &self,
        status: StatusCode,
        title: &str,
        text: &str,
        link: Option<(&str, &str)>,
    ) -> Result<Reply, Error> {
        self.render(
            status,
            "message.html",
            minijinja::context! {
                title => title,
                message => text,
                link_href => link.map(|(href, _)| href),
                link_label => link.map(|(_, label)| label),
            },
        )
    }

    /// How an error reaches this client: a page for people, JSON for scripts.
    fn error_page(&self, err: &Error) -> Reply {
        if self.browser {
            let back = (
                format!("{}/login", self.app.prefix),
                self.t("back-to-sign-in"),
            );
            if let Ok(reply) = self.message(
                err.status(),
                &self.t("error-title"),
                &error_text(self.locale, err),
                Some((&back.0, &back.1)),
            ) {
                return reply;
            }
        }
        json_error(err)
    }

    /// Adds security headers and any cookies this visit set.
    fn finish(self, mut reply: Reply) -> Reply {
        let headers = reply.headers_mut();
        security_headers(headers);
        headers.insert(VARY, HeaderValue::from_static("Accept-Language"));
        let html = headers
            .get(CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes() == HTML.as_bytes());
        if html {
            headers.insert(
                CONTENT_LANGUAGE,
                HeaderValue::from_static(self.locale.tag()),
            );
        }
        if self.new_nonce && html {
            let mut cookie = cookie::Cookie::new(self.csrf_cookie.clone(), self.nonce.clone());
            self.app.sessions.attributes(&mut cookie, self.tls);
            headers.append(SET_COOKIE, header_value(&cookie));
        }
        for cookie in self.set_cookies {
            headers.append(SET_COOKIE, cookie);
        }
        reply
    }
}

/// The language a page is shown in: the best of `Accept-Language`, else
/// `default_locale`.
pub fn page_locale(app: &App, headers: &http::HeaderMap) -> Locale {
    let header = headers
        .get(http::header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok());
    Locale::negotiate(header, app.default_locale)
}

/// What a person reads about `err`, in `locale`.
pub fn error_text(locale: Locale, err: &Error) -> String {
    locale.text(&format!("error-{}", err.code()))
}

/// `<session cookie>_device` (with `__Host-` where the session cookie has
/// it): the signed mark of a browser that completed a sign-in, which spares
/// it the client-address counter.
pub fn device_cookie_name(app: &App, tls: bool) -> String {
    let base = format!("{}_device", app.sessions.cookie_name());
    app.sessions.name_for(&base, tls)
}

/// 200 when serving; 503 once shutdown has begun, so load balancers and
/// orchestrators stop sending new work while in-flight requests drain.
fn health(app: &App) -> Reply {
    if app.draining.load(std::sync::atomic::Ordering::Relaxed) {
        return json(StatusCode::SERVICE_UNAVAILABLE, r#"{"status":"draining"}"#);
    }
    match app.store.health() {
        crate::store::Health::Ok => json(StatusCode::OK, r#"{"status":"ok"}"#),
        // Still serving: signed-in sessions work from their cookies; new
        // sign-ins wait for the store.
        crate::store::Health::Degraded => json(
            StatusCode::OK,
            r#"{"status":"degraded","store":"unavailable"}"#,
        ),
    }
}
