//! Sending a challenge: the one provider-fallback loop that codes and
//! pushes share (each provider once, in the channel's order, each attempt
//! timed, counted, logged and audited alike), and the poller that asks a
//! provider holding a push's answer (Duo) until it comes.

use super::push::{Answer, Answered, PushState};
use super::Channel;
use crate::audit::{Audit, Record};
use crate::clock::SharedClock;
use crate::otp::providers::{ProviderError, PushSender, RemoteStatus};
use crate::store::Store;
use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Who a challenge goes to, as the log and the audit trail name them.
pub struct Recipient<'a> {
    pub user: &'a str,
    pub channel: Channel,
    /// The masked number; empty for a push.
    pub to: &'a str,
    pub client: IpAddr,
}

/// What a provider hands back when it has sent something.
pub trait Sent {
    /// The provider's id for it, when it keeps one (for the log).
    fn request_id(&self) -> &str {
        ""
    }
}

/// Tries `providers` in order with `send` until one delivers, or an error
/// says the next would fail alike ([`ProviderError::try_next`]). Every
/// attempt is timed, counted in metrics, logged and handed to `audit` as
/// `challenge_sent` (not for a push: its caller audits `push_sent`) or
/// `delivery_failed`. The provider that delivered and
/// what it handed back, or every error on the way.
pub async fn first_delivered<P: Copy, T: Sent, F: Future<Output = Result<T, ProviderError>>>(
    providers: impl IntoIterator<Item = P>,
    name: impl Fn(P) -> &'static str,
    to: &Recipient<'_>,
    send: impl Fn(P) -> F,
    mut audit: impl FnMut(&'static str, Record<'_>),
) -> Result<(P, T), Vec<ProviderError>> {
    let Recipient {
        user,
        channel,
        to,
        client,
    } = *to;
    let channel = channel.name();
    let mut errors = Vec::new();
    for candidate in providers {
        let provider = name(candidate);
        let record = Record {
            user: Some(user),
            channel: Some(channel),
            provider: Some(provider),
            ..Record::default()
        };
        let began = Instant::now();
        let outcome = send(candidate).await;
        let took = began.elapsed();
        crate::metrics_histogram::provider_attempt(channel, provider, outcome.is_ok(), took);
        let latency_ms = took.as_millis() as u64;
        match outcome {
            Ok(sent) => {
                let request_id = sent.request_id();
                tracing::info!(event = "challenge_sent", user, channel, provider, request_id, to, latency_ms, %client, "sent");
                crate::metrics::delivery(channel, provider, "ok");
                // A push is audited once, as `push_sent`, by its caller
                // (with the push's id, which is not known here).
                if channel != Channel::Push.name() {
                    audit("challenge_sent", record);
                }
                return Ok((candidate, sent));
            }
            Err(err) => {
                tracing::warn!(event = "delivery_failed", user, channel, provider, to, latency_ms, error = %err, "could not send");
                crate::metrics::delivery(channel, provider, delivery_outcome(&err));
                audit("delivery_failed", record);
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
pub fn delivery_outcome(err: &ProviderError) -> &'static str {
    match err {
        ProviderError::InvalidNumber(_) => "invalid_number",
        ProviderError::Throttled { .. } => "throttled",
        ProviderError::Concurrent { .. } => "concurrent",
        ProviderError::LowBalance => "low_balance",
        ProviderError::Unavailable(_) => "unavailable",
        ProviderError::Refused(_) => "refused",
    }
}

/// The push the poller watches.
pub struct Watched {
    pub txid: String,
    pub session_id: String,
    pub push_id: String,
}

/// Asks a provider that holds the answer (Duo) until the person answers,
/// the push expires, or the challenge is replaced; in the background.
pub fn watch_remote(
    store: Arc<Store>,
    clock: SharedClock,
    audit: Audit,
    provider: Arc<dyn PushSender>,
    watched: Watched,
) {
    let Watched {
        txid,
        session_id,
        push_id,
    } = watched;
    tokio::spawn(async move {
        let mut failures = 0u32;
        loop {
            // Stop once the push is answered, expired or replaced.
            let waiting = match store.challenge(&session_id).await {
                Ok(Some(challenge)) => {
                    challenge.is_live(clock.now())
                        && challenge.push_proof().is_some_and(|proof| {
                            proof.id == push_id && proof.state == PushState::Waiting
                        })
                }
                Ok(None) => false,
                // The store is away: keep asking until the push expires.
                Err(_) => true,
            };
            if !waiting {
                return;
            }
            match provider.status(&txid).await {
                Ok(RemoteStatus::Waiting) => {}
                Ok(status) => {
                    let answer = if status == RemoteStatus::Allow {
                        Answer::Allow
                    } else {
                        Answer::Deny
                    };
                    let now = clock.now();
                    let answered = store
                        .update_challenge(&session_id, |challenge| {
                            if challenge.push_proof().map(|proof| proof.id.as_str())
                                != Some(push_id.as_str())
                            {
                                return (Answered::NotWaiting, String::new());
                            }
                            (challenge.answer_push(answer, now), challenge.user.clone())
                        })
                        .await;
                    match answered {
                        Ok(Some((answered, user))) => {
                            log_answer(&audit, now, &user, provider.name(), answered);
                            return;
                        }
                        Ok(None) => return,
                        Err(err) => {
                            tracing::warn!(error = %err, "cannot record the push's answer yet");
                        }
                    }
                }
                Err(err) => {
                    failures += 1;
                    tracing::warn!(provider = provider.name(), error = %err, "cannot ask for the push's state");
                    if failures >= 5 {
                        return;
                    }
                }
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
}

/// Logs and audits a push's answer, from the phone or from the provider.
pub fn log_answer(audit: &Audit, now: u64, user: &str, provider: &str, answered: Answered) {
    let event = match answered {
        Answered::Approved => Some(("push_approved", None)),
        Answered::Refused { wrong_number } => Some((
            "push_denied",
            Some(if wrong_number {
                "wrong_number"
            } else {
                "denied"
            }),
        )),
        Answered::NotWaiting => None,
    };
    if let Some((event, reason)) = event {
        // The phone, not the browser, answered: no client address to give.
        audit.event(
            now,
            event,
            Record {
                user: Some(user),
                provider: Some(provider),
                reason,
                ..Default::default()
            },
        );
    }
    match answered {
        Answered::Approved => {
            tracing::info!(event = "push_approved", user, provider, "push approved")
        }
        Answered::Refused { wrong_number: true } => tracing::warn!(
            event = "push_refused",
            user,
            provider,
            reason = "wrong_number",
            "possible attack: a push was answered with the wrong number; the sign-in was stopped"
        ),
        Answered::Refused {
            wrong_number: false,
        } => tracing::warn!(
            event = "push_refused",
            user,
            provider,
            reason = "denied",
            "possible attack: a sign-in was denied on the phone; the sign-in was stopped"
        ),
        Answered::NotWaiting => {}
    }
}

impl Sent for crate::otp::providers::PushStarted {
    fn request_id(&self) -> &str {
        match self {
            crate::otp::providers::PushStarted::Remote { txid } => txid,
            crate::otp::providers::PushStarted::Callback => "",
        }
    }
}
