//! Typing a code in: the attempt reserved, the code checked against the
//! challenge (doorman's own, an authenticator app's, or a Verify
//! provider's) in compare-and-set steps, and the session upgraded when it
//! is right.

use super::challenge::{choose_page, code_page, pending, snapshot};
use super::second_factor::signed_in_with_password;
use super::{redirect, Form, Reply, Visit};
use crate::audit::Record;
use crate::error::Error;
use crate::otp::providers::Provider;
use crate::otp::{Attempt, Challenge, Channel, Proof, Verdict};
use crate::session::{FactorLevel, Session};
use crate::users::User;
use http::StatusCode;
use std::time::Instant;

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
        let text = visit.t("code-none-waiting");
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
                Some(visit.t("code-missing")),
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
        let text = too_many_failed(visit, until);
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
            let text = visit.t("code-expired");
            return choose_page(visit, &user, StatusCode::UNAUTHORIZED, Some(text));
        }
        Checked::Unanswered => {
            app.limiter.refund(&app.store, &reservation).await?;
            let pending = pending(visit, &session).await?;
            let text = visit.t("code-unchecked");
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
    if !matches!(verdict, Verdict::Wrong | Verdict::Exhausted) || !checked {
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
        Verdict::Wrong => "wrong_code",
        Verdict::Exhausted => "too_many_attempts",
        Verdict::Expired => "expired",
    };
    crate::metrics::sign_in(channel, &snapshot.provider, outcome);
    match verdict {
        Verdict::Accepted => {
            if super::trusted_device::asked(form) {
                super::trusted_device::remember(visit, &user);
            }
            Ok(signed_in(visit, &session, &user, snapshot.channel).await)
        }
        Verdict::Wrong => {
            let attempts_left = after.attempts_left;
            visit.audit(
                "challenge_failed",
                Record {
                    reason: Some("wrong_code"),
                    ..record()
                },
            );
            tracing::warn!(event = "challenge_failed", user = %user.name, attempts_left, %client, "wrong code");
            // A right authenticator code judged wrong was used before.
            let replayed = snapshot.channel == Channel::Totp
                && app
                    .totp_secret(&user)
                    .is_some_and(|secret| secret.matching_step(&code, visit.now).is_some());
            let left = u64::from(attempts_left);
            let text = if replayed {
                visit.t("code-replayed")
            } else {
                visit.t_with("code-wrong", &[("left", left.into())])
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
            let text = visit.t("code-exhausted");
            choose_page(visit, &user, StatusCode::UNAUTHORIZED, Some(text))
        }
        Verdict::Expired => {
            app.store.remove_challenge(&session.id).await?;
            visit.audit("challenge_expired", record());
            tracing::info!(event = "challenge_expired", user = %user.name, %client, "code expired");
            let text = visit.t("code-expired");
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
    signed_in_as(visit, session, user, channel.name()).await
}

/// [`signed_in`] with what proved the second factor named as the audit
/// and the metrics name it (a channel, or `recovery_code`).
pub(super) async fn signed_in_as(
    visit: &mut Visit<'_>,
    session: &Session,
    user: &User,
    channel: &'static str,
) -> Reply {
    let app = visit.app;
    if let Err(err) = app.limiter.signed_in(&app.store, &user.name).await {
        tracing::warn!(error = %err, "could not reset the failure count");
    }
    let record = || Record {
        user: Some(&user.name),
        channel: Some(channel),
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
    tracing::info!(event = "challenge_verified", user = %user.name, channel = channel, %client, "signed in");
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
            failed: matches!(outcome, Verdict::Wrong | Verdict::Exhausted),
        },
    })
}

/// Checks an authenticator-app code: one of the accepted time steps, and
/// later than the last step this user signed in with (a code works once).
async fn totp_check(visit: &Visit<'_>, user: &User, code: &str) -> Result<Option<Verdict>, Error> {
    Ok(Some(match visit.app.totp_secret(user) {
        None => Verdict::Expired,
        Some(secret) => match secret.matching_step(code, visit.now) {
            Some(step) => {
                if visit.app.store.accept_totp_step(&user.name, step).await? {
                    Verdict::Accepted
                } else {
                    totp_replayed(visit, user);
                    Verdict::Wrong
                }
            }
            None => Verdict::Wrong,
        },
    }))
}

/// Logs and audits a right authenticator code that was used before.
pub(super) fn totp_replayed(visit: &Visit<'_>, user: &User) {
    tracing::warn!(event = "totp_replayed", user = %user.name, client = %visit.client, "an authenticator code was used again");
    let record = Record {
        user: Some(&user.name),
        channel: Some("totp"),
        ..Record::default()
    };
    visit.audit("totp_replayed", record);
}

/// Asks the Verify provider about `code`; `None` when it could not be
/// asked (the attempt does not count).
async fn remote_check(
    visit: &Visit<'_>,
    challenge: &Challenge,
    code: &str,
) -> Result<Option<Verdict>, Error> {
    let Some((provider, request_id)) = challenge.remote_request() else {
        return Ok(Some(Verdict::Expired));
    };
    let Some(Provider::Verify(verifier)) = visit.app.providers.get(provider) else {
        return Ok(Some(Verdict::Expired));
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

/// "Too many failed attempts. Try again in …", until `until`: what every
/// second-factor page says when the account's attempts are used up.
pub(super) fn too_many_failed(visit: &Visit<'_>, until: u64) -> String {
    let wait = visit.locale.wait(visit.now, until);
    visit.t_with("too-many-failed", &[("wait", wait.into())])
}
