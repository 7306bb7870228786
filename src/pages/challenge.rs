//! What a pending second factor looks like to the person: the channels
//! offered, the choose page, the code page (or a push's waiting page), the
//! state of the live challenge they show, and the refusals told on them.

use super::{Reply, Visit};
use crate::audit::Record;
use crate::error::Error;
use crate::otp::providers::ProviderError;
use crate::otp::ChannelSettings;
use crate::otp::{mask_phone, Challenge, Channel};
use crate::session::Session;
use crate::users::User;
use http::StatusCode;
use minijinja::context;
use serde::Serialize;

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
    pub(super) fn of(challenge: &Challenge, resend_wait: u64) -> Pending {
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

/// A send cap said no: audited, logged, and told with when to try again.
pub(super) fn cap_reached(
    visit: &Visit<'_>,
    user: &User,
    current: Option<&Pending>,
    channel: &str,
    refusal: crate::limits::Refusal,
    text_id: &str,
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
    let wait = visit.locale.wait(visit.now, refusal.retry_at);
    let text = visit.t_with(text_id, &[("wait", wait.into())]);
    refuse(visit, user, current, StatusCode::TOO_MANY_REQUESTS, text)
}

/// What the person reads when no provider could send a code.
pub(super) fn failure_text(visit: &Visit<'_>, errors: &[ProviderError]) -> (StatusCode, String) {
    if errors
        .iter()
        .any(|err| matches!(err, ProviderError::InvalidNumber(_)))
    {
        return (StatusCode::UNPROCESSABLE_ENTITY, visit.t("number-invalid"));
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
        let wait = visit.t_with("wait-minutes", &[("n", minutes.into())]);
        return (
            StatusCode::TOO_MANY_REQUESTS,
            visit.t_with("cap-codes", &[("wait", wait.into())]),
        );
    }
    (StatusCode::BAD_GATEWAY, visit.t("send-failed"))
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
pub(super) async fn snapshot(visit: &Visit<'_>, challenge: &Challenge) -> Result<Pending, Error> {
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
            Channel::Webauthn => visit.has_passkey,
            Channel::Push => settings.providers.iter().any(|name| {
                app.providers
                    .get_push(name)
                    .is_some_and(|provider| provider.reaches(user))
            }),
        })
        .collect()
}

pub(super) fn offer(visit: &Visit<'_>, settings: &ChannelSettings, user: &User) -> Offer {
    let to = user.phone.as_deref().map(mask_phone).unwrap_or_default();
    let label = match settings.channel {
        Channel::Sms => visit.t_with("offer-sms", &[("to", to.into())]),
        Channel::Voice => visit.t_with("offer-voice", &[("to", to.into())]),
        Channel::Push => visit.t("offer-push"),
        Channel::Totp => visit.t("offer-totp"),
        Channel::Webauthn => visit.t("offer-webauthn"),
    };
    Offer {
        name: settings.channel.name(),
        label,
    }
}

/// The channels the page offers `user`, but for `except` (the one already
/// pending).
fn offers(visit: &Visit<'_>, user: &User, except: Option<Channel>) -> Vec<Offer> {
    offered(visit, user)
        .into_iter()
        .filter(|settings| Some(settings.channel) != except)
        .map(|settings| offer(visit, settings, user))
        .collect()
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
    let offers = offers(visit, user, None);
    if offers.is_empty() && !visit.has_recovery_codes {
        return visit.message(
            StatusCode::FORBIDDEN,
            &visit.t("no-factor-title"),
            &visit.t("no-factor-text"),
            Some((
                &format!("{}/logout", visit.app.prefix),
                &visit.t("sign-out"),
            )),
        );
    }
    visit.render(
        status,
        "choose.html",
        context! {
            passkey => offers.iter().any(|offer| offer.name == "webauthn"),
            recovery => visit.has_recovery_codes,
            remember_device => super::trusted_device::lifetime_text(visit),
            channels => offers.into_iter().filter(|offer| offer.name != "webauthn").collect::<Vec<_>>(),
            error => error,
            user => user.display_name.as_deref().unwrap_or(&user.name),
        },
    )
}

/// The page of a challenge under way: the code form, or for a push the
/// waiting page; both offer the other ways.
pub(super) fn code_page(
    visit: &Visit<'_>,
    user: &User,
    pending: &Pending,
    status: StatusCode,
    error: Option<String>,
) -> Result<Reply, Error> {
    let others = offers(visit, user, Some(pending.channel));
    let (template, page) = match pending.channel {
        Channel::Push => ("push.html", super::push::waiting(visit, pending)),
        _ => ("code.html", code_form(visit, pending)),
    };
    visit.render(
        status,
        template,
        context! { others => others, error => error, ..page },
    )
}

/// The code form's own fields: where the code went, and what it takes.
fn code_form(visit: &Visit<'_>, pending: &Pending) -> minijinja::Value {
    context! {
        channel => pending.channel.name(),
        sent_by => pending.channel.describe(),
        sent_to => mask_phone(&pending.to),
        attempts_left => pending.attempts_left,
        code_length => match pending.channel {
            Channel::Totp => Some(crate::otp::totp::DIGITS as u32),
            _ => (!pending.remote).then_some(visit.app.codes.length),
        },
        resend_wait => pending.resend_wait,
        remember_device => super::trusted_device::lifetime_text(visit),
    }
}
