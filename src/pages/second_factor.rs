//! The second factor asked for: a channel chosen, a code sent (or an
//! authenticator or push challenge started), replaced or cancelled; and
//! which sessions may ask (past the password, or due a step-up).

use super::challenge::{
    cap_reached, choose_page, code_page, failure_text, offered, pending, refuse, Pending,
};
use super::{redirect, Form, Reply, Visit};
use crate::audit::Record;
use crate::error::Error;
use crate::otp::providers::{message_text, CodeMessage, Provider, ProviderError, VerifyStart};
use crate::otp::send::{self, Recipient, Sent};
use crate::otp::ChannelSettings;
use crate::otp::{generate_code, mask_phone, Challenge, ChallengeSpec, Channel};
use crate::session::{FactorLevel, Session};
use crate::users::User;
use http::StatusCode;
use std::sync::Arc;

/// A send for a channel this user is not offered.
fn not_offered(visit: &Visit<'_>, user: &User, current: Option<&Pending>) -> Result<Reply, Error> {
    let text = visit.t("not-offered");
    refuse(visit, user, current, StatusCode::BAD_REQUEST, text)
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
        return not_offered(visit, &user, current.as_ref());
    };
    if settings.channel == Channel::Totp {
        return start_totp(visit, &session, &user, current.as_ref()).await;
    }
    if settings.channel == Channel::Webauthn {
        // Nothing to send: the choose page offers the passkey button.
        return cancel(visit).await;
    }

    let cooldown = app.codes.resend_cooldown.as_secs();
    if let Some(last) = app.store.last_sent(&user.name).await? {
        let ready_at = last + cooldown;
        if visit.now < ready_at {
            crate::metrics::limit_hit("resend_cooldown");
            let wait = ready_at - visit.now;
            let text = visit.t_with("resend-wait", &[("seconds", wait.into())]);
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
            return cap_reached(visit, &user, current.as_ref(), "push", refusal, "cap-push");
        }
        return match super::push::start(visit, &session, &user, settings).await? {
            Ok(()) => {
                app.store.record_sent(&user.name, visit.now).await?;
                Ok(redirect(StatusCode::SEE_OTHER, &visit.page_url("2fa")))
            }
            Err(errors) => {
                let (status, text) = failure_text(visit, &errors);
                refuse(visit, &user, current.as_ref(), status, text)
            }
        };
    }

    let Some(phone) = user.phone.as_deref() else {
        return not_offered(visit, &user, current.as_ref());
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
            visit.t("number-invalid"),
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
        return cap_reached(
            visit,
            &user,
            current.as_ref(),
            channel,
            refusal,
            "cap-codes",
        );
    }

    if let Some(current) = &current {
        if call_instead(visit, &session, current, settings).await? {
            app.store.record_sent(&user.name, visit.now).await?;
            return Ok(redirect(StatusCode::SEE_OTHER, &visit.page_url("2fa")));
        }
    }

    // A text or call reaches the user's phone: its language is the user's.
    let locale = user.locale.unwrap_or(app.default_locale);
    let started = match start(visit, settings, &user.name, phone, locale).await {
        Ok(started) => started,
        Err(errors) => {
            let (status, text) = failure_text(visit, &errors);
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
            let text = visit.t_with("totp-wait", &[("seconds", wait.into())]);
            return refuse(visit, user, current, StatusCode::TOO_MANY_REQUESTS, text);
        }
        return cap_reached(visit, user, current, "totp", refusal, "cap-totp");
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

impl Sent for Started {
    fn request_id(&self) -> &str {
        match self {
            Started::Remote(id) => id,
            Started::Code(_) => "",
        }
    }
}

/// Sends a code (or starts a provider's verification) on the channel's
/// providers, the first that delivers winning.
async fn start<'a>(
    visit: &'a Visit<'_>,
    settings: &'a ChannelSettings,
    user: &'a str,
    phone: &'a str,
    user_locale: crate::i18n::Locale,
) -> Result<Delivered, Vec<ProviderError>> {
    let app = visit.app;
    let masked = mask_phone(phone);
    let to = Recipient {
        user,
        channel: settings.channel,
        to: &masked,
        client: visit.client,
    };
    // Collected: a lazy iterator held across the sends would keep its
    // closures' lifetimes in the future, which then is not `Send`.
    let candidates: Vec<&Provider> = settings
        .providers
        .iter()
        .filter_map(|name| app.providers.get(name))
        .collect();
    let send = |provider: &'a Provider| async move {
        match provider {
            Provider::Message(delivery) => {
                let code = generate_code(app.codes.length);
                let message = CodeMessage {
                    channel: settings.channel,
                    to: phone.to_owned(),
                    user: user.to_owned(),
                    message: message_text(
                        user_locale,
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
        }
    };
    let audit = |event: &str, record: Record<'_>| visit.audit(event, record);
    let (provider, proof) =
        send::first_delivered(candidates, |provider| provider.name(), &to, send, audit).await?;
    Ok(Delivered {
        provider: provider.name(),
        proof,
    })
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
/// recent than this session's (the gate decides it).
fn needs_step_up(visit: &Visit<'_>, session: &Session, user: &User) -> bool {
    let destination = visit.destination();
    let (host, path) = match destination.parse::<http::Uri>() {
        Ok(uri) => (
            (uri.host().and_then(crate::sites::normalize)).map(std::borrow::Cow::into_owned),
            uri.path().to_owned(),
        ),
        Err(_) => return false,
    };
    let Ok(path) = crate::path::normalize(&path) else {
        return false;
    };
    let (app, client, now) = (visit.app, visit.client, visit.now);
    crate::gate::destination_needs_step_up(app, host.as_deref(), &path, client, session, user, now)
}
