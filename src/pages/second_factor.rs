//! The second factor: choose a channel, receive a code, type it in.

use super::{redirect, Form, Reply, Visit};
use crate::audit::Record;
use crate::error::Error;
use crate::otp::providers::{
    message_text, CheckOutcome, CodeMessage, Provider, ProviderError, VerifyStart,
};
use crate::otp::ChannelSettings;
use crate::otp::{
    generate_code, mask_phone, Attempt, Challenge, ChallengeSpec, Channel, Proof, Verdict,
};
use crate::session::{FactorLevel, Session};
use crate::users::User;
use http::StatusCode;
use minijinja::context;
use serde::Serialize;
use std::sync::Arc;
use std::time::Instant;

/// A channel as the page offers it.
#[derive(Serialize)]
pub(super) struct Offer {
    name: &'static str,
    label: String,
}

/// What the code page shows about a pending challenge.
pub(super) struct Pending {
    pub channel: crate::otp::Channel,
    to: String,
    attempts_left: u32,
    /// A Verify provider made the code, so its length is the provider's.
    remote: bool,
    /// For a push: the number to pick on the phone.
    pub number: Option<u8>,
    /// The provider that delivered it (also for metrics).
    pub provider: String,
    pub expires_at: u64,
    /// Seconds before another code may be sent.
    resend_wait: u64,
}

impl Pending {
    fn of(challenge: &Challenge, resend_wait: u64) -> Pending {
        Pending {
            channel: challenge.channel,
            to: challenge.to.clone(),
            attempts_left: challenge.attempts_left,
            remote: challenge.remote_request().is_some(),
            number: challenge.push_proof().map(|proof| proof.number),
            provider: challenge.provider.clone(),
            expires_at: challenge.expires_at,
            resend_wait,
        }
    }
}

pub async fn show(visit: &mut Visit<'_>) -> Result<Reply, Error> {
    let (session, user) = match signed_in_with_password(visit) {
        Ok(found) => found,
        Err(elsewhere) => return Ok(redirect(StatusCode::SEE_OTHER, &elsewhere)),
    };
    if let Some(answered) = super::push::settle(visit, &session, &user).await? {
        return answered;
    }
    match pending(visit, &session).await? {
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
    let current = pending(visit, &session).await?;
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
    if settings.channel == Channel::Totp {
        return start_totp(visit, &session, &user, current.as_ref()).await;
    }

    let cooldown = app.codes.resend_cooldown.as_secs();
    if let Some(last) = app.store.last_sent(&user.name).await? {
        let ready_at = last + cooldown;
        if visit.now < ready_at {
            crate::metrics::limit_hit("resend_cooldown");
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

    if settings.channel == Channel::Push {
        if let Err(refusal) = app
            .limiter
            .take_push(&app.store, &user.name, visit.now)
            .await?
        {
            let text = "Too many sign-in requests sent to your phone.";
            return cap_reached(visit, &user, current.as_ref(), "push", refusal, text);
        }
        return match super::push::start(visit, &session, &user, settings).await? {
            Ok(()) => {
                app.store.record_sent(&user.name, visit.now).await?;
                Ok(redirect(StatusCode::SEE_OTHER, &visit.page_url("2fa")))
            }
            Err(errors) => {
                let (status, text) = failure_text(&errors);
                refuse(visit, &user, current.as_ref(), status, text)
            }
        };
    }

    let Some(phone) = user.phone.as_deref() else {
        return refuse(
            visit,
            &user,
            current.as_ref(),
            StatusCode::BAD_REQUEST,
            "Choose one of the methods offered.".into(),
        );
    };

    if !app.allowed_countries.is_empty()
        && !user
            .country
            .as_ref()
            .is_some_and(|c| app.allowed_countries.contains(c))
    {
        tracing::warn!(
            event = "delivery_refused",
            user = %user.name,
            to = %mask_phone(phone),
            country = ?user.country,
            "number outside allowed_countries"
        );
        crate::metrics::limit_hit("allowed_countries");
        return refuse(
            visit,
            &user,
            current.as_ref(),
            StatusCode::FORBIDDEN,
            INVALID_NUMBER.into(),
        );
    }

    if let Err(refusal) = app
        .limiter
        .take_send(
            &app.store,
            &user.name,
            phone,
            settings.channel.name(),
            settings.max_per_day,
            visit.now,
        )
        .await?
    {
        let channel = settings.channel.name();
        let text = "Too many codes requested.";
        return cap_reached(visit, &user, current.as_ref(), channel, refusal, text);
    }

    if let Some(current) = &current {
        if call_instead(visit, &session, current, settings).await? {
            app.store.record_sent(&user.name, visit.now).await?;
            return Ok(redirect(StatusCode::SEE_OTHER, &visit.page_url("2fa")));
        }
    }

    let started = match start(visit, settings, &user.name, phone).await {
        Ok(started) => started,
        Err(errors) => {
            let (status, text) = failure_text(&errors);
            let provider = settings.providers.first().map_or("none", String::as_str);
            crate::metrics::challenge(settings.channel.name(), provider, "failed");
            return refuse(visit, &user, current.as_ref(), status, text);
        }
    };
    crate::metrics::challenge(settings.channel.name(), started.provider, "started");
    app.store.record_sent(&user.name, visit.now).await?;
    let spec = ChallengeSpec {
        user: &user.name,
        channel: settings.channel,
        to: phone,
        provider: started.provider,
        now: visit.now,
        lifetime_secs: app.codes.lifetime.as_secs(),
        max_attempts: app.codes.max_attempts,
    };
    let challenge = match started.proof {
        Started::Code(code) => Challenge::new(spec, &code, &app.code_key),
        Started::Remote(request_id) => Challenge::remote(spec, request_id),
    };
    replace_challenge(visit, &session, challenge).await?;
    Ok(redirect(StatusCode::SEE_OTHER, &visit.page_url("2fa")))
}

/// Stores `challenge` for the session, ending the provider verification of
/// the one it replaces unless both are the same verification.
pub(super) async fn replace_challenge(
    visit: &Visit<'_>,
    session: &Session,
    challenge: Challenge,
) -> Result<(), Error> {
    let app = visit.app;
    if let Some(replaced) = app.store.challenge(&session.id).await? {
        // A provider that refused a second verification to the number handed
        // back the running one (Concurrent): that one must live on.
        let reused = replaced.remote_request().is_some()
            && replaced.remote_request() == challenge.remote_request();
        if !reused {
            cancel_remote(visit, &replaced);
        }
    }
    app.store.put_challenge(&session.id, &challenge).await?;
    // A user holds a bounded number of open challenges: the oldest beyond
    // the bound end here.
    let ended = app
        .store
        .open_challenge(
            &challenge.user,
            &session.id,
            challenge.expires_at,
            visit.now,
            crate::limits::OPEN_CHALLENGES,
        )
        .await?;
    for session_id in ended {
        if let Some(dropped) = app.store.challenge(&session_id).await? {
            cancel_remote(visit, &dropped);
        }
        app.store.remove_challenge(&session_id).await?;
        tracing::info!(event = "challenge_ended", user = %challenge.user, "too many open challenges: the oldest ended");
    }
    Ok(())
}

/// An authenticator-app challenge: nothing is sent, the app has the code.
/// A session's open one is kept as it is (asking again gives no fresh
/// attempts); a new one waits out a cooldown and counts toward a cap.
async fn start_totp(
    visit: &Visit<'_>,
    session: &Session,
    user: &User,
    current: Option<&Pending>,
) -> Result<Reply, Error> {
    let app = visit.app;
    if current.is_some_and(|pending| pending.channel == Channel::Totp) {
        return Ok(redirect(StatusCode::SEE_OTHER, &visit.page_url("2fa")));
    }
    let cooldown = app.codes.resend_cooldown;
    if let Err(refusal) = app
        .limiter
        .take_totp_start(&app.store, &user.name, &session.id, cooldown, visit.now)
        .await?
    {
        if refusal.cap == "totp_cooldown" {
            let wait = refusal.retry_at.saturating_sub(visit.now).max(1);
            let text = format!("Please wait {wait} seconds before starting again.");
            return refuse(visit, user, current, StatusCode::TOO_MANY_REQUESTS, text);
        }
        let text = "Too many sign-ins with your authenticator app.";
        return cap_reached(visit, user, current, "totp", refusal, text);
    }
    let spec = ChallengeSpec {
        user: &user.name,
        channel: Channel::Totp,
        to: "",
        provider: "totp",
        now: visit.now,
        lifetime_secs: visit.app.codes.lifetime.as_secs(),
        max_attempts: visit.app.codes.max_attempts,
    };
    replace_challenge(visit, session, Challenge::totp(spec)).await?;
    Ok(redirect(StatusCode::SEE_OTHER, &visit.page_url("2fa")))
}

/// A send cap said no: audited, logged, and told with when to try again.
fn cap_reached(
    visit: &Visit<'_>,
    user: &User,
    current: Option<&Pending>,
    channel: &str,
    refusal: crate::limits::Refusal,
    text: &str,
) -> Result<Reply, Error> {
    visit.audit(
        "send_refused",
        Record {
            user: Some(&user.name),
            channel: Some(channel),
            reason: Some(refusal.cap),
            until: Some(refusal.retry_at),
            ..Record::default()
        },
    );
    tracing::warn!(event = "send_refused", user = %user.name, channel, cap = refusal.cap, client = %visit.client, "send cap reached");
    let text = format!(
        "{text} Try again in {}.",
        crate::limits::wait_text(visit.now, refusal.retry_at)
    );
    refuse(visit, user, current, StatusCode::TOO_MANY_REQUESTS, text)
}

const INVALID_NUMBER: &str = "This number cannot receive codes. Contact your administrator.";

/// A code that went out, and who holds it.
struct Delivered {
    provider: &'static str,
    proof: Started,
}

enum Started {
    /// doorman made this code.
    Code(String),
    /// The provider made the code; its request id.
    Remote(String),
}

/// Tries the channel's providers in order, never one twice; what the first
/// that succeeded delivered, or every error on the way.
async fn start(
    visit: &Visit<'_>,
    settings: &ChannelSettings,
    user: &str,
    phone: &str,
) -> Result<Delivered, Vec<ProviderError>> {
    let app = visit.app;
    let mut errors = Vec::new();
    for name in &settings.providers {
        let Some(provider) = app.providers.get(name) else {
            continue;
        };
        let record = Record {
            user: Some(user),
            channel: Some(settings.channel.name()),
            provider: Some(provider.name()),
            ..Record::default()
        };
        let began = Instant::now();
        let outcome = match provider {
            Provider::Message(delivery) => {
                let code = generate_code(app.codes.length);
                let message = CodeMessage {
                    channel: settings.channel,
                    to: phone.to_owned(),
                    user: user.to_owned(),
                    message: message_text(
                        settings.channel,
                        &app.app_name,
                        &code,
                        visit.otp_host().as_deref(),
                    ),
                    code,
                    expires_at: visit.now + app.codes.lifetime.as_secs(),
                };
                delivery
                    .deliver(&message)
                    .await
                    .map(|()| Started::Code(message.code))
            }
            Provider::Verify(verifier) => {
                let request = VerifyStart {
                    channel: settings.channel,
                    to: phone.to_owned(),
                    code_length: app.codes.length,
                    lifetime: app.codes.lifetime,
                };
                match verifier.start(&request).await {
                    Err(ProviderError::Concurrent {
                        request_id: Some(id),
                    }) => Ok(Started::Remote(id)),
                    other => other.map(Started::Remote),
                }
            }
        };
        let latency_ms = began.elapsed().as_millis() as u64;
        let to = mask_phone(phone);
        match outcome {
            Ok(proof) => {
                let request_id = match &proof {
                    Started::Remote(id) => id.as_str(),
                    Started::Code(_) => "",
                };
                tracing::info!(
                    event = "challenge_sent",
                    user,
                    channel = settings.channel.name(),
                    provider = provider.name(),
                    request_id,
                    %to,
                    latency_ms,
                    client = %visit.client,
                    "code sent"
                );
                crate::metrics::delivery(settings.channel.name(), provider.name(), "ok");
                visit.audit("challenge_sent", record);
                return Ok(Delivered {
                    provider: provider.name(),
                    proof,
                });
            }
            Err(err) => {
                tracing::warn!(
                    event = "delivery_failed",
                    user,
                    channel = settings.channel.name(),
                    provider = provider.name(),
                    %to,
                    latency_ms,
                    error = %err,
                    "could not send code"
                );
                crate::metrics::delivery(
                    settings.channel.name(),
                    provider.name(),
                    delivery_outcome(&err),
                );
                visit.audit("delivery_failed", record);
                let go_on = err.try_next();
                errors.push(err);
                if !go_on {
                    break;
                }
            }
        }
    }
    Err(errors)
}

/// A provider error as a metrics label.
pub(super) fn delivery_outcome(err: &ProviderError) -> &'static str {
    match err {
        ProviderError::InvalidNumber(_) => "invalid_number",
        ProviderError::Throttled { .. } => "throttled",
        ProviderError::Concurrent { .. } => "concurrent",
        ProviderError::LowBalance => "low_balance",
        ProviderError::Unavailable(_) => "unavailable",
        ProviderError::Refused(_) => "refused",
    }
}

/// What the person reads when no provider could send a code.
pub(super) fn failure_text(errors: &[ProviderError]) -> (StatusCode, String) {
    if errors
        .iter()
        .any(|err| matches!(err, ProviderError::InvalidNumber(_)))
    {
        return (StatusCode::UNPROCESSABLE_ENTITY, INVALID_NUMBER.to_owned());
    }
    let throttled: Vec<Option<std::time::Duration>> = errors
        .iter()
        .filter_map(|err| match err {
            ProviderError::Throttled { retry_after } => Some(*retry_after),
            _ => None,
        })
        .collect();
    if !errors.is_empty() && throttled.len() == errors.len() {
        // Without a Retry-After, the providers' usual window is 10 minutes.
        let seconds = throttled
            .iter()
            .map(|wait| wait.map_or(600, |d| d.as_secs()))
            .max()
            .unwrap_or(600);
        let minutes = seconds.div_ceil(60).max(1);
        let unit = if minutes == 1 { "minute" } else { "minutes" };
        return (
            StatusCode::TOO_MANY_REQUESTS,
            format!("Too many codes requested. Try again in {minutes} {unit}."),
        );
    }
    (
        StatusCode::BAD_GATEWAY,
        "We could not send the code. Try another method, or try again later.".to_owned(),
    )
}

/// "Call me instead" inside one running verification, for providers whose
/// verification carries both steps. Whether it moved.
async fn call_instead(
    visit: &Visit<'_>,
    session: &Session,
    current: &Pending,
    settings: &ChannelSettings,
) -> Result<bool, Error> {
    if current.channel != Channel::Sms || settings.channel != Channel::Voice {
        return Ok(false);
    }
    let Some(challenge) = visit.app.store.challenge(&session.id).await? else {
        return Ok(false);
    };
    let Some((provider, request_id)) = challenge.remote_request() else {
        return Ok(false);
    };
    if !settings.providers.iter().any(|name| name == provider) {
        return Ok(false);
    }
    let Some(Provider::Verify(verifier)) = visit.app.providers.get(provider) else {
        return Ok(false);
    };
    let Some(moving) = verifier.call_instead(request_id) else {
        return Ok(false);
    };
    match moving.await {
        Ok(()) => {
            visit
                .app
                .store
                .update_challenge(&session.id, |challenge| challenge.channel = Channel::Voice)
                .await?;
            tracing::info!(
                event = "challenge_sent",
                provider,
                request_id,
                channel = "voice",
                "moved to a voice call"
            );
            Ok(true)
        }
        Err(err) => {
            tracing::warn!(event = "delivery_failed", provider, request_id, error = %err, "could not move to a voice call");
            Ok(false)
        }
    }
}

/// Ends a replaced provider verification in the background; best effort.
fn cancel_remote(visit: &Visit<'_>, replaced: &Challenge) {
    let Some((provider, request_id)) = replaced.remote_request() else {
        return;
    };
    let (provider, request_id) = (provider.to_owned(), request_id.to_owned());
    if let Some(Provider::Verify(verifier)) = visit.app.providers.get(&provider).cloned() {
        tokio::spawn(async move {
            if let Err(err) = verifier.cancel(&request_id).await {
                tracing::debug!(provider, request_id, error = %err, "cancel failed");
            }
        });
    }
}

pub async fn verify(visit: &mut Visit<'_>, form: &Form) -> Result<Reply, Error> {
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
    let Some(challenge) = app.store.challenge(&session.id).await? else {
        let text = "There is no code waiting for you. Ask for a new one.".to_owned();
        return choose_page(visit, &user, StatusCode::BAD_REQUEST, Some(text));
    };
    if code.is_empty() {
        let pending = pending(visit, &session).await?;
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
    if !challenge.takes_code() {
        return Ok(redirect(StatusCode::SEE_OTHER, &visit.page_url("2fa")));
    }
    // The attempt is taken from the account (across all its sessions and
    // challenges) and the client before the code is looked at, so codes
    // in flight together are all counted and none passes a lock another
    // one set.
    let reservation = visit.reserve_attempt(&user.name, Some(&user.name)).await?;
    if let Some(until) = reservation.refused {
        // Past the password, saying so is no oracle, and it spares the
        // owner guessing why a right code fails.
        visit.audit(
            "signin_locked",
            Record {
                user: Some(&user.name),
                reason: Some("code"),
                until: Some(until),
                ..Record::default()
            },
        );
        let text = format!(
            "Too many failed attempts. Try again in {}.",
            crate::limits::wait_text(visit.now, until)
        );
        return match pending(visit, &session).await? {
            Some(pending) => code_page(
                visit,
                &user,
                &pending,
                StatusCode::TOO_MANY_REQUESTS,
                Some(text),
            ),
            None => choose_page(visit, &user, StatusCode::TOO_MANY_REQUESTS, Some(text)),
        };
    }
    if !reservation.delay.is_zero() {
        tokio::time::sleep(reservation.delay).await;
    }
    let checked = match check_code(visit, &session, &user, &code).await {
        Ok(checked) => checked,
        Err(err) => {
            // Not checked: the attempt does not count.
            app.limiter.refund(&app.store, &reservation).await?;
            return Err(err);
        }
    };
    let (verdict, after) = match checked {
        Checked::Verdict(verdict, after) => (verdict, after),
        Checked::Gone { failed } => {
            if failed {
                visit.audit(
                    "challenge_failed",
                    Record {
                        user: Some(&user.name),
                        reason: Some("wrong_code"),
                        ..Record::default()
                    },
                );
            } else {
                app.limiter.refund(&app.store, &reservation).await?;
            }
            let text = "That code has expired. Ask for a new one.".to_owned();
            return choose_page(visit, &user, StatusCode::UNAUTHORIZED, Some(text));
        }
        Checked::Unanswered => {
            app.limiter.refund(&app.store, &reservation).await?;
            let pending = pending(visit, &session).await?;
            let text = "We could not check the code right now. Try again in a moment.".to_owned();
            return match pending {
                Some(pending) => {
                    code_page(visit, &user, &pending, StatusCode::BAD_GATEWAY, Some(text))
                }
                None => choose_page(visit, &user, StatusCode::BAD_GATEWAY, Some(text)),
            };
        }
    };
    // Only a code checked and found wrong keeps its reservation.
    let checked = after.checked;
    if !matches!(verdict, Verdict::Wrong { .. } | Verdict::Exhausted) || !checked {
        app.limiter.refund(&app.store, &reservation).await?;
    }
    let after = after.challenge;
    let snapshot = snapshot(visit, &after).await?;
    let client = visit.client;
    let channel = snapshot.channel.name();
    let record = || Record {
        user: Some(&user.name),
        channel: Some(channel),
        ..Record::default()
    };
    let outcome = match verdict {
        Verdict::Accepted => "ok",
        Verdict::Wrong { .. } => "wrong_code",
        Verdict::Exhausted => "too_many_attempts",
        Verdict::Expired => "expired",
    };
    crate::metrics::sign_in(channel, &snapshot.provider, outcome);
    match verdict {
        Verdict::Accepted => Ok(signed_in(visit, &session, &user, snapshot.channel).await),
        Verdict::Wrong { attempts_left } => {
            visit.audit(
                "challenge_failed",
                Record {
                    reason: Some("wrong_code"),
                    ..record()
                },
            );
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
            // Ended by the code that used the last attempt up, once it is
            // checked (attempts still in flight must settle on it).
            if checked {
                app.store.remove_challenge(&session.id).await?;
                visit.audit(
                    "challenge_failed",
                    Record {
                        reason: Some("exhausted"),
                        ..record()
                    },
                );
                tracing::warn!(event = "challenge_exhausted", user = %user.name, %client, "too many wrong codes");
            }
            let text = "Too many wrong codes. Ask for a new code.".to_owned();
            choose_page(visit, &user, StatusCode::UNAUTHORIZED, Some(text))
        }
        Verdict::Expired => {
            app.store.remove_challenge(&session.id).await?;
            visit.audit("challenge_expired", record());
            tracing::info!(event = "challenge_expired", user = %user.name, %client, "code expired");
            let text = "That code has expired. Ask for a new one.".to_owned();
            choose_page(visit, &user, StatusCode::UNAUTHORIZED, Some(text))
        }
    }
}

/// The second factor is done: a level-2 session replaces the level-1 one.
pub(super) async fn signed_in(
    visit: &mut Visit<'_>,
    session: &Session,
    user: &User,
    channel: Channel,
) -> Reply {
    let app = visit.app;
    if let Err(err) = app.limiter.signed_in(&app.store, &user.name).await {
        tracing::warn!(error = %err, "could not reset the failure count");
    }
    let record = || Record {
        user: Some(&user.name),
        channel: Some(channel.name()),
        ..Record::default()
    };
    visit.audit("challenge_verified", record());
    let event = if session.level == FactorLevel::TwoFactor {
        "step_up_verified"
    } else {
        "signin_succeeded"
    };
    visit.audit(event, record());
    app.store
        .end_session(&session.id, session.expires_at, visit.now)
        .await;
    let upgraded = app.start_session(
        user,
        FactorLevel::TwoFactor,
        session.authenticated_at,
        visit.now,
    );
    visit.set_cookie(app.sessions.set_cookie(&upgraded, visit.tls));
    visit.set_device_mark(&user.name);
    crate::metrics::session_started(upgraded.expires_at);
    let client = visit.client;
    tracing::info!(event = "challenge_verified", user = %user.name, channel = channel.name(), %client, "signed in");
    redirect(StatusCode::SEE_OTHER, &visit.destination())
}

/// What checking a typed code came to.
enum Checked {
    /// The verdict, and the challenge as it stands after it.
    Verdict(Verdict, After),
    /// The session has no challenge that takes a code (any more);
    /// `failed` when the code was checked first, and was wrong.
    Gone { failed: bool },
    /// The provider could not be asked; nothing was counted.
    Unanswered,
}

struct After {
    challenge: Challenge,
    /// Whether the code was compared at all (not for a challenge already
    /// over): only then does a failure count.
    checked: bool,
}

/// The first step on the stored challenge: doorman's own code is checked
/// and counted in it; any other kind only has an attempt taken.
enum FirstStep {
    Verified { verdict: Verdict, live: bool },
    Reserved(Result<Attempt, Verdict>),
    NotACode,
}

/// Checks `code` against the session's challenge. Each step is one
/// compare-and-set on the stored challenge, so attempts at the same time,
/// on any replica, never exceed those it allows; an approval that comes
/// back from an app or a provider counts only if the challenge is still
/// open when it does.
async fn check_code(
    visit: &Visit<'_>,
    session: &Session,
    user: &User,
    code: &str,
) -> Result<Checked, Error> {
    let app = visit.app;
    let now = visit.now;
    let code_key = &app.code_key;
    let first = app
        .store
        .update_challenge(&session.id, |challenge| {
            let step = match challenge.proof {
                Proof::Hashed { .. } => FirstStep::Verified {
                    live: challenge.is_live(now),
                    verdict: challenge.verify(code, code_key, now),
                },
                Proof::Push(_) => FirstStep::NotACode,
                Proof::Totp | Proof::Remote { .. } => FirstStep::Reserved(challenge.reserve(now)),
            };
            (step, challenge.clone())
        })
        .await?;
    let Some((first, current)) = first else {
        return Ok(Checked::Gone { failed: false });
    };
    let attempt = match first {
        FirstStep::NotACode => return Ok(Checked::Gone { failed: false }),
        FirstStep::Verified { verdict, live } => {
            let after = After {
                challenge: current,
                checked: live,
            };
            return Ok(Checked::Verdict(verdict, after));
        }
        FirstStep::Reserved(Err(verdict)) => {
            let after = After {
                challenge: current,
                checked: false,
            };
            return Ok(Checked::Verdict(verdict, after));
        }
        FirstStep::Reserved(Ok(attempt)) => attempt,
    };
    let outcome = match &current.proof {
        Proof::Totp => totp_check(visit, user, code).await,
        _ => remote_check(visit, &current, code).await,
    };
    let outcome = match outcome {
        Ok(Some(outcome)) => outcome,
        unanswered => {
            app.store
                .update_challenge(&session.id, |challenge| challenge.refund(&attempt))
                .await?;
            return unanswered.map(|_| Checked::Unanswered);
        }
    };
    let settled = app
        .store
        .update_challenge(&session.id, |challenge| {
            (challenge.settle(&attempt, outcome, now), challenge.clone())
        })
        .await?;
    Ok(match settled {
        Some((verdict, challenge)) => Checked::Verdict(
            verdict,
            After {
                challenge,
                checked: true,
            },
        ),
        // Ended meanwhile: a wrong code still counts, a right one no longer
        // signs in.
        None => Checked::Gone {
            failed: matches!(outcome, CheckOutcome::Wrong | CheckOutcome::Exhausted),
        },
    })
}

/// Checks an authenticator-app code: one of the accepted time steps, and
/// later than the last step this user signed in with (a code works once).
async fn totp_check(
    visit: &Visit<'_>,
    user: &User,
    code: &str,
) -> Result<Option<CheckOutcome>, Error> {
    Ok(Some(match visit.app.totp_secret(user) {
        None => CheckOutcome::Expired,
        Some(secret) => match secret.matching_step(code, visit.now) {
            Some(step) => {
                if visit.app.store.accept_totp_step(&user.name, step).await? {
                    CheckOutcome::Approved
                } else {
                    tracing::warn!(event = "totp_replayed", user = %user.name, client = %visit.client, "an authenticator code was used again");
                    CheckOutcome::Wrong
                }
            }
            None => CheckOutcome::Wrong,
        },
    }))
}

/// Asks the Verify provider about `code`; `None` when it could not be
/// asked (the attempt does not count).
async fn remote_check(
    visit: &Visit<'_>,
    challenge: &Challenge,
    code: &str,
) -> Result<Option<CheckOutcome>, Error> {
    let Some((provider, request_id)) = challenge.remote_request() else {
        return Ok(Some(CheckOutcome::Expired));
    };
    let Some(Provider::Verify(verifier)) = visit.app.providers.get(provider) else {
        return Ok(Some(CheckOutcome::Expired));
    };
    let began = Instant::now();
    let outcome = verifier.check(request_id, &challenge.to, code).await;
    let latency_ms = began.elapsed().as_millis() as u64;
    match outcome {
        Ok(outcome) => {
            tracing::info!(provider, request_id, outcome = ?outcome, latency_ms, "provider checked a code");
            Ok(Some(outcome))
        }
        Err(err) => {
            tracing::warn!(provider, request_id, error = %err, latency_ms, "provider could not check a code");
            Ok(None)
        }
    }
}

pub async fn cancel(visit: &mut Visit<'_>) -> Result<Reply, Error> {
    let (session, _) = match signed_in_with_password(visit) {
        Ok(found) => found,
        Err(elsewhere) => return Ok(redirect(StatusCode::SEE_OTHER, &elsewhere)),
    };
    if let Some(dropped) = visit.app.store.challenge(&session.id).await? {
        cancel_remote(visit, &dropped);
    }
    visit.app.store.remove_challenge(&session.id).await?;
    Ok(redirect(StatusCode::SEE_OTHER, &visit.page_url("2fa")))
}

/// A session past its password: level 1, or level 2 when the page it is
/// going to (`rd`) wants a more recent second factor (step-up).
pub(super) fn signed_in_with_password(visit: &Visit<'_>) -> Result<(Session, Arc<User>), String> {
    match &visit.session {
        None => Err(visit.page_url("login")),
        Some((session, user))
            if session.level == FactorLevel::TwoFactor && !needs_step_up(visit, session, user) =>
        {
            Err(visit.destination())
        }
        Some((session, user)) => Ok((session.clone(), user.clone())),
    }
}

/// Whether the rule for the destination asks for a second factor more
/// recent than this session's.
fn needs_step_up(visit: &Visit<'_>, session: &Session, user: &User) -> bool {
    let destination = visit.destination();
    let path = match destination.parse::<http::Uri>() {
        Ok(uri) => uri.path().to_owned(),
        Err(_) => return false,
    };
    let Ok(path) = crate::path::normalize(&path) else {
        return false;
    };
    let target = crate::rules::Target::new(&http::Method::GET, &path, visit.client);
    let answer = visit.app.rules.load().evaluate(&target, Some(user));
    answer.max_age.is_some_and(|max_age| {
        visit.now.saturating_sub(session.second_factor_at) > max_age.as_secs()
    })
}

/// The session's live challenge, as the pages show it.
pub(super) async fn pending(
    visit: &Visit<'_>,
    session: &Session,
) -> Result<Option<Pending>, Error> {
    let Some(challenge) = visit.app.store.challenge(&session.id).await? else {
        return Ok(None);
    };
    if !challenge.is_live(visit.now) {
        return Ok(None);
    }
    Ok(Some(snapshot(visit, &challenge).await?))
}

/// What the pages show of `challenge`, with the resend wait of its user.
async fn snapshot(visit: &Visit<'_>, challenge: &Challenge) -> Result<Pending, Error> {
    let resend_wait = visit
        .app
        .store
        .last_sent(&challenge.user)
        .await?
        .map_or(0, |last| {
            (last + visit.app.codes.resend_cooldown.as_secs()).saturating_sub(visit.now)
        });
    Ok(Pending::of(challenge, resend_wait))
}

/// The configured channels this user can be reached on.
pub(super) fn offered<'a>(visit: &Visit<'a>, user: &User) -> Vec<&'a ChannelSettings> {
    let app = visit.app;
    app.channels
        .iter()
        .filter(|settings| match settings.channel {
            Channel::Sms | Channel::Voice => user.phone.is_some(),
            Channel::Totp => app.totp_secret(user).is_some(),
            Channel::Push => settings.providers.iter().any(|name| {
                app.providers
                    .get_push(name)
                    .is_some_and(|provider| provider.reaches(user))
            }),
        })
        .collect()
}

pub(super) fn offer(settings: &ChannelSettings, user: &User) -> Offer {
    let to = user.phone.as_deref().map(mask_phone).unwrap_or_default();
    let label = match settings.channel {
        Channel::Sms => format!("Text message to {to}"),
        Channel::Voice => format!("Voice call to {to}"),
        Channel::Push => "Approve on my phone".to_owned(),
        Channel::Totp => "Code from my authenticator app".to_owned(),
    };
    Offer {
        name: settings.channel.name(),
        label,
    }
}

/// Answers a refused send on the page the user came from.
pub(super) fn refuse(
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

pub(super) fn choose_page(
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
    if pending.channel == Channel::Push {
        return super::push::waiting_page(visit, user, pending, status, error);
    }
    let others: Vec<Offer> = offered(visit, user)
        .into_iter()
        .filter(|settings| settings.channel != pending.channel)
        .map(|settings| offer(settings, user))
        .collect();
    let resend_wait = pending.resend_wait;
    visit.render(
        status,
        "code.html",
        context! {
            channel => pending.channel.name(),
            sent_by => pending.channel.describe(),
            sent_to => mask_phone(&pending.to),
            attempts_left => pending.attempts_left,
            code_length => match pending.channel {
                Channel::Totp => Some(crate::otp::totp::DIGITS as u32),
                _ => (!pending.remote).then_some(visit.app.codes.length),
            },
            resend_wait => resend_wait,
            others => others,
            error => error,
        },
    )
}
