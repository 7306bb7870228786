//! The second factor: choose a channel, receive a code, type it in.

use super::{redirect, Form, Reply, Visit};
use crate::config::ChannelSettings;
use crate::error::Error;
use crate::otp::providers::{message_text, CodeMessage};
use crate::otp::{generate_code, mask_phone, Challenge, ChallengeSpec, Verdict};
use crate::session::{FactorLevel, Session};
use crate::users::User;
use http::StatusCode;
use minijinja::context;
use serde::Serialize;
use std::sync::Arc;
use std::time::Instant;

/// A channel as the page offers it.
#[derive(Serialize)]
struct Offer {
    name: &'static str,
    label: String,
}

/// What the code page shows about a pending challenge.
struct Pending {
    channel: crate::otp::Channel,
    to: String,
    attempts_left: u32,
}

pub fn show(visit: &mut Visit<'_>) -> Result<Reply, Error> {
    let (session, user) = match signed_in_with_password(visit) {
        Ok(found) => found,
        Err(elsewhere) => return Ok(redirect(StatusCode::SEE_OTHER, &elsewhere)),
    };
    match pending(visit, &session) {
        Some(pending) => code_page(visit, &user, &pending, StatusCode::OK, None),
        None => choose_page(visit, &user, StatusCode::OK, None),
    }
}

/// `2fa/send` and `2fa/resend`: a new code, replacing any earlier one.
pub async fn send(visit: &mut Visit<'_>, form: &Form, resend: bool) -> Result<Reply, Error> {
    let (session, user) = match signed_in_with_password(visit) {
        Ok(found) => found,
        Err(elsewhere) => return Ok(redirect(StatusCode::SEE_OTHER, &elsewhere)),
    };
    let app = visit.app;
    let current = pending(visit, &session);
    let requested = form
        .get("channel")
        .map(String::as_str)
        .filter(|name| !name.is_empty());
    let requested = match (requested, &current) {
        (Some(name), _) => name,
        (None, Some(current)) if resend => current.channel.name(),
        _ => "",
    };
    let Some(settings) = offered(visit, &user)
        .into_iter()
        .find(|settings| settings.channel.name() == requested)
    else {
        return refuse(
            visit,
            &user,
            current.as_ref(),
            StatusCode::BAD_REQUEST,
            "Choose one of the methods offered.".into(),
        );
    };
    let Some(phone) = user.phone.as_deref() else {
        return refuse(
            visit,
            &user,
            current.as_ref(),
            StatusCode::BAD_REQUEST,
            "Choose one of the methods offered.".into(),
        );
    };

    let cooldown = app.codes.resend_cooldown.as_secs();
    if let Some(last) = app.store.last_sent(&user.name) {
        let ready_at = last + cooldown;
        if visit.now < ready_at {
            let wait = ready_at - visit.now;
            let text = format!("Please wait {wait} seconds before asking for another code.");
            return refuse(
                visit,
                &user,
                current.as_ref(),
                StatusCode::TOO_MANY_REQUESTS,
                text,
            );
        }
    }

    let code = generate_code(app.codes.length);
    let lifetime = app.codes.lifetime.as_secs();
    let message = CodeMessage {
        channel: settings.channel,
        to: phone.to_owned(),
        user: user.name.clone(),
        message: message_text(settings.channel, &app.app_name, &code, &visit.otp_host()),
        code,
        expires_at: visit.now + lifetime,
    };
    let Some(provider) = deliver(visit, settings, &message).await else {
        let text = "We could not send the code. Try another method, or try again later.".to_owned();
        return refuse(
            visit,
            &user,
            current.as_ref(),
            StatusCode::BAD_GATEWAY,
            text,
        );
    };
    app.store.record_sent(&user.name, visit.now);
    let spec = ChallengeSpec {
        user: &user.name,
        channel: settings.channel,
        to: phone,
        provider,
        now: visit.now,
        lifetime_secs: lifetime,
        max_attempts: app.codes.max_attempts,
    };
    app.store.put_challenge(
        &session.id,
        Challenge::new(spec, &message.code, &app.code_key),
    );
    Ok(redirect(StatusCode::SEE_OTHER, &visit.page_url("2fa")))
}

/// Tries the channel's providers in order; the name of the one that took
/// the message, or `None` when all failed.
async fn deliver(
    visit: &Visit<'_>,
    settings: &ChannelSettings,
    message: &CodeMessage,
) -> Option<&'static str> {
    for name in &settings.providers {
        let Some(provider) = visit.app.providers.get(name) else {
            continue;
        };
        let started = Instant::now();
        let outcome = provider.deliver(message).await;
        let latency_ms = started.elapsed().as_millis() as u64;
        match outcome {
            Ok(()) => {
                tracing::info!(
                    event = "challenge_sent",
                    user = %message.user,
                    channel = message.channel.name(),
                    provider = provider.name(),
                    to = %mask_phone(&message.to),
                    latency_ms,
                    client = %visit.peer.ip(),
                    "code sent"
                );
                return Some(provider.name());
            }
            Err(err) => tracing::warn!(
                event = "delivery_failed",
                user = %message.user,
                channel = message.channel.name(),
                provider = provider.name(),
                to = %mask_phone(&message.to),
                latency_ms,
                error = %err,
                "could not send code"
            ),
        }
    }
    None
}

pub fn verify(visit: &mut Visit<'_>, form: &Form) -> Result<Reply, Error> {
    let (session, user) = match signed_in_with_password(visit) {
        Ok(found) => found,
        Err(elsewhere) => return Ok(redirect(StatusCode::SEE_OTHER, &elsewhere)),
    };
    let app = visit.app;
    let code: String = form
        .get("code")
        .map(|code| {
            code.chars()
                .filter(|c| !c.is_whitespace() && *c != '-')
                .collect()
        })
        .unwrap_or_default();
    let Some(shared) = app.store.challenge(&session.id) else {
        let text = "There is no code waiting for you. Ask for a new one.".to_owned();
        return choose_page(visit, &user, StatusCode::BAD_REQUEST, Some(text));
    };
    if code.is_empty() {
        let pending = pending(visit, &session);
        return match pending {
            Some(pending) => code_page(
                visit,
                &user,
                &pending,
                StatusCode::BAD_REQUEST,
                Some("Enter the code you received.".into()),
            ),
            None => choose_page(visit, &user, StatusCode::BAD_REQUEST, None),
        };
    }
    let (verdict, snapshot) = {
        let mut challenge = shared
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let verdict = challenge.verify(&code, &app.code_key, visit.now);
        let snapshot = Pending {
            channel: challenge.channel,
            to: challenge.to.clone(),
            attempts_left: challenge.attempts_left,
        };
        (verdict, snapshot)
    };
    let client = visit.peer.ip();
    match verdict {
        Verdict::Accepted => {
            app.store.remove_challenge(&session.id);
            app.store.revoke(&session.id, session.expires_at);
            let upgraded = app.sessions.start(
                &user.name,
                FactorLevel::TwoFactor,
                session.authenticated_at,
                visit.now,
            );
            visit.set_cookie(app.sessions.set_cookie(&upgraded, visit.tls));
            tracing::info!(event = "challenge_verified", user = %user.name, channel = snapshot.channel.name(), %client, "signed in");
            Ok(redirect(StatusCode::SEE_OTHER, &visit.destination()))
        }
        Verdict::Wrong { attempts_left } => {
            tracing::warn!(event = "challenge_failed", user = %user.name, attempts_left, %client, "wrong code");
            let text = match attempts_left {
                1 => "That code is not right. 1 attempt left.".to_owned(),
                n => format!("That code is not right. {n} attempts left."),
            };
            code_page(
                visit,
                &user,
                &snapshot,
                StatusCode::UNAUTHORIZED,
                Some(text),
            )
        }
        Verdict::Exhausted => {
            app.store.remove_challenge(&session.id);
            tracing::warn!(event = "challenge_exhausted", user = %user.name, %client, "too many wrong codes");
            let text = "Too many wrong codes. Ask for a new code.".to_owned();
            choose_page(visit, &user, StatusCode::UNAUTHORIZED, Some(text))
        }
        Verdict::Expired => {
            app.store.remove_challenge(&session.id);
            tracing::info!(event = "challenge_expired", user = %user.name, %client, "code expired");
            let text = "That code has expired. Ask for a new one.".to_owned();
            choose_page(visit, &user, StatusCode::UNAUTHORIZED, Some(text))
        }
    }
}

pub fn cancel(visit: &mut Visit<'_>) -> Result<Reply, Error> {
    let (session, _) = match signed_in_with_password(visit) {
        Ok(found) => found,
        Err(elsewhere) => return Ok(redirect(StatusCode::SEE_OTHER, &elsewhere)),
    };
    visit.app.store.remove_challenge(&session.id);
    Ok(redirect(StatusCode::SEE_OTHER, &visit.page_url("2fa")))
}

/// The level-1 session, or where to send a browser that has none.
fn signed_in_with_password(visit: &Visit<'_>) -> Result<(Session, Arc<User>), String> {
    match &visit.session {
        None => Err(visit.page_url("login")),
        Some((session, _)) if session.level == FactorLevel::TwoFactor => Err(visit.destination()),
        Some((session, user)) => Ok((session.clone(), user.clone())),
    }
}

fn pending(visit: &Visit<'_>, session: &Session) -> Option<Pending> {
    let shared = visit.app.store.challenge(&session.id)?;
    let challenge = shared
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    challenge.is_live(visit.now).then(|| Pending {
        channel: challenge.channel,
        to: challenge.to.clone(),
        attempts_left: challenge.attempts_left,
    })
}

/// The configured channels this user can be reached on.
fn offered<'a>(visit: &Visit<'a>, user: &User) -> Vec<&'a ChannelSettings> {
    visit
        .app
        .channels
        .iter()
        .filter(|_| user.phone.is_some())
        .collect()
}

fn offer(settings: &ChannelSettings, user: &User) -> Offer {
    let to = user.phone.as_deref().map(mask_phone).unwrap_or_default();
    let label = match settings.channel {
        crate::otp::Channel::Sms => format!("Text message to {to}"),
        crate::otp::Channel::Voice => format!("Voice call to {to}"),
    };
    Offer {
        name: settings.channel.name(),
        label,
    }
}

/// Answers a refused send on the page the user came from.
fn refuse(
    visit: &Visit<'_>,
    user: &User,
    current: Option<&Pending>,
    status: StatusCode,
    text: String,
) -> Result<Reply, Error> {
    match current {
        Some(pending) => code_page(visit, user, pending, status, Some(text)),
        None => choose_page(visit, user, status, Some(text)),
    }
}

fn choose_page(
    visit: &Visit<'_>,
    user: &User,
    status: StatusCode,
    error: Option<String>,
) -> Result<Reply, Error> {
    let offers: Vec<Offer> = offered(visit, user)
        .into_iter()
        .map(|settings| offer(settings, user))
        .collect();
    if offers.is_empty() {
        return visit.message(
            StatusCode::FORBIDDEN,
            "No second factor set up",
            "Your account has no way to receive a sign-in code. Ask your administrator to add a phone number.",
            Some((&format!("{}/logout", visit.app.prefix), "Sign out")),
        );
    }
    visit.render(
        status,
        "choose.html",
        context! { channels => offers, error => error, user => user.display_name.as_deref().unwrap_or(&user.name) },
    )
}

fn code_page(
    visit: &Visit<'_>,
    user: &User,
    pending: &Pending,
    status: StatusCode,
    error: Option<String>,
) -> Result<Reply, Error> {
    let others: Vec<Offer> = offered(visit, user)
        .into_iter()
        .filter(|settings| settings.channel != pending.channel)
        .map(|settings| offer(settings, user))
        .collect();
    let resend_wait = visit.app.store.last_sent(&user.name).map_or(0, |last| {
        (last + visit.app.codes.resend_cooldown.as_secs()).saturating_sub(visit.now)
    });
    visit.render(
        status,
        "code.html",
        context! {
            channel => pending.channel.name(),
            sent_by => pending.channel.describe(),
            sent_to => mask_phone(&pending.to),
            attempts_left => pending.attempts_left,
            code_length => visit.app.codes.length,
            resend_wait => resend_wait,
            others => others,
            error => error,
        },
    )
}
