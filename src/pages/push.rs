//! Push approvals: starting one, the waiting page, its status for scripts,
//! and the answer links the phone calls.
//!
//! The answer links (`POST {prefix}/2fa/push/answer/<token>`) are called by
//! the phone, not the browser, so they carry no CSRF token: each is a
//! signed, one-time, expiring token that stands for one answer to one push.

use super::challenge::{choose_page, Pending};
use super::second_factor::signed_in_with_password;
use super::verify::signed_in;
use super::{json, Reply, Visit};
use crate::error::Error;
use crate::otp::providers::{ProviderError, PushAction, PushMessage, PushStarted};
use crate::otp::push::{self, Answer, Answered, PushProof, PushState, PushToken};
use crate::otp::send::{self, Recipient};
use crate::otp::ChannelSettings;
use crate::otp::{Challenge, ChallengeSpec, Channel, Verdict};
use crate::session::Session;
use crate::users::User;
use crate::App;
use http::StatusCode;
use minijinja::context;
use std::time::Duration;

/// The longest a status request waits for a change before answering.
const LONG_POLL: Duration = Duration::from_secs(20);

/// The key answer tokens are signed with.
fn token_key(app: &App) -> [u8; 32] {
    crate::crypto::derive(&app.code_key, b"doorman push answer tokens")
}

/// Sends a push on the channel's first provider that can reach `user`,
/// and stores the challenge; every provider's error when none could.
pub async fn start(
    visit: &Visit<'_>,
    session: &Session,
    user: &User,
    settings: &ChannelSettings,
) -> Result<Result<(), Vec<ProviderError>>, Error> {
    let app = visit.app;
    let (choices, number) = push::numbers();
    let mut proof = PushProof::new(choices, number);
    let expires_at = visit.now + app.codes.lifetime.as_secs();
    let key = token_key(app);
    let origin = app.public_origin.as_deref().unwrap_or("");
    let link = async |answer: Answer| -> Result<String, Error> {
        let (id, token) = push::new_token(&key);
        let entry = PushToken {
            session_id: session.id.clone(),
            push_id: proof.id.clone(),
            answer,
            expires_at,
        };
        app.store.put_push_token(&id, &entry).await?;
        Ok(format!("{origin}{}/2fa/push/answer/{token}", app.prefix))
    };
    let mut actions: Vec<PushAction> = Vec::with_capacity(choices.len());
    for &number in &choices {
        actions.push(PushAction {
            number,
            url: link(Answer::Number(number)).await?,
        });
    }
    let deny_url = link(Answer::Deny).await?;
    let client = visit.client.to_string();
    // The phone's language is the user's, not this browser's.
    let locale = user.locale.unwrap_or(app.default_locale);
    let title = locale.format(
        "push-notice-title",
        &[("app", app.app_name.as_str().into())],
    );
    let text = [
        ("app", app.app_name.as_str().into()),
        ("client", client.as_str().into()),
        ("browser", browser(visit.user_agent()).into()),
    ];
    let message = PushMessage {
        user: user.name.clone(),
        topic: user.ntfy_topic.clone(),
        message: locale.format("push-notice-text", &text),
        title,
        actions,
        deny_url,
        client_ip: client.clone(),
        expires_at,
    };
    let to = Recipient {
        user: &user.name,
        channel: Channel::Push,
        to: "",
        client: visit.client,
    };
    let candidates = settings
        .providers
        .iter()
        .filter_map(|name| app.providers.get_push(name))
        .filter(|provider| provider.reaches(user))
        .collect::<Vec<_>>();
    let sent = send::first_delivered(
        candidates,
        |provider| provider.name(),
        &to,
        |provider| provider.send(&message),
        |event, record| visit.audit(event, record),
    )
    .await;
    let (provider, started) = match sent {
        Ok(sent) => sent,
        Err(mut errors) => {
            if errors.is_empty() {
                errors.push(ProviderError::Refused(
                    "no push provider reaches this user".into(),
                ));
            }
            return Ok(Err(errors));
        }
    };
    crate::metrics::challenge("push", provider.name(), "started");
    if let PushStarted::Remote { txid } = &started {
        proof.txid = Some(txid.clone());
    }
    let spec = ChallengeSpec {
        user: &user.name,
        channel: Channel::Push,
        to: "",
        provider: provider.name(),
        now: visit.now,
        lifetime_secs: app.codes.lifetime.as_secs(),
        max_attempts: 1,
    };
    let remote = proof.txid.clone();
    let push_id = proof.id.clone();
    visit.audit(
        "push_sent",
        crate::audit::Record {
            user: Some(&user.name),
            channel: Some("push"),
            provider: Some(provider.name()),
            challenge: Some(&push_id),
            ..Default::default()
        },
    );
    super::second_factor::replace_challenge(visit, session, Challenge::push(spec, proof)).await?;
    if let Some(txid) = remote {
        let watched = send::Watched {
            txid,
            session_id: session.id.clone(),
            push_id,
        };
        let (store, clock, audit) = (app.store.clone(), app.clock.clone(), app.audit.clone());
        send::watch_remote(store, clock, audit, provider.clone(), watched);
    }
    Ok(Ok(()))
}

/// `POST {prefix}/2fa/push/answer/<token>`: the phone's answer.
pub async fn answer(app: &App, token: &str, now: u64) -> Reply {
    let Some(id) = push::token_id(&token_key(app), token) else {
        tracing::warn!(
            event = "push_answer_refused",
            reason = "bad_token",
            "a push answer link with a bad signature"
        );
        return json(
            StatusCode::NOT_FOUND,
            r#"{"result":"invalid","message":"This link is not valid."}"#,
        );
    };
    let gone = || {
        json(
            StatusCode::GONE,
            r#"{"result":"gone","message":"This sign-in request was already answered or has expired."}"#,
        )
    };
    let taken = match app.store.take_push_token(&id).await {
        Ok(taken) => taken,
        Err(err) => {
            tracing::warn!(error = %err, "cannot take a push answer now");
            return json(
                StatusCode::SERVICE_UNAVAILABLE,
                r#"{"result":"unavailable","message":"Try again in a moment."}"#,
            );
        }
    };
    let Some(entry) = taken else {
        tracing::info!(
            event = "push_answer_refused",
            reason = "used_or_unknown",
            "a push answer link was used again"
        );
        return gone();
    };
    if entry.expires_at <= now {
        return gone();
    }
    let answered = app
        .store
        .update_challenge(&entry.session_id, |challenge| {
            if challenge.push_proof().map(|proof| proof.id.as_str()) != Some(entry.push_id.as_str())
            {
                return None;
            }
            let answered = challenge.answer_push(entry.answer, now);
            Some((answered, challenge.user.clone(), challenge.provider.clone()))
        })
        .await;
    let (answered, user, provider) = match answered {
        Ok(Some(Some(answered))) => answered,
        Ok(_) => return gone(),
        Err(err) => {
            tracing::warn!(error = %err, "cannot record a push answer now");
            return json(
                StatusCode::SERVICE_UNAVAILABLE,
                r#"{"result":"unavailable","message":"Try again in a moment."}"#,
            );
        }
    };
    send::log_answer(&app.audit, now, &user, &provider, answered);
    match answered {
        Answered::Approved => json(
            StatusCode::OK,
            r#"{"result":"approved","message":"Approved. You can go back to your browser."}"#,
        ),
        Answered::Refused { wrong_number: true } => json(
            StatusCode::FORBIDDEN,
            r#"{"result":"wrong_number","message":"That was not the number on the sign-in page. The sign-in was stopped."}"#,
        ),
        Answered::Refused {
            wrong_number: false,
        } => json(
            StatusCode::OK,
            r#"{"result":"denied","message":"Denied. The sign-in was stopped."}"#,
        ),
        Answered::NotWaiting => gone(),
    }
}

/// On `GET 2fa`: finishes an approved push, or ends a refused or expired
/// one with a word to the person. `None` when the session has no push to
/// settle (still waiting, or not a push).
pub async fn settle(
    visit: &mut Visit<'_>,
    session: &Session,
    user: &User,
) -> Result<Option<Result<Reply, Error>>, Error> {
    let now = visit.now;
    let settled = visit
        .app
        .store
        .update_challenge(&session.id, |challenge| {
            challenge
                .complete_push(now)
                .map(|verdict| (verdict, challenge.provider.clone()))
        })
        .await?;
    let Some(Some((verdict, provider))) = settled else {
        return Ok(None);
    };
    let outcome = match verdict {
        Verdict::Accepted => "ok",
        Verdict::Exhausted => "denied",
        _ => "expired",
    };
    crate::metrics::sign_in("push", &provider, outcome);
    Ok(Some(match verdict {
        Verdict::Accepted => Ok(signed_in(visit, session, user, Channel::Push).await),
        Verdict::Exhausted => {
            visit.app.store.remove_challenge(&session.id).await?;
            let text = visit.t("push-denied");
            choose_page(visit, user, StatusCode::UNAUTHORIZED, Some(text))
        }
        _ => {
            visit.app.store.remove_challenge(&session.id).await?;
            let text = visit.t("push-expired");
            choose_page(visit, user, StatusCode::UNAUTHORIZED, Some(text))
        }
    }))
}

/// The waiting page's own fields: the number to pick and the time left.
pub fn waiting(visit: &Visit<'_>, pending: &Pending) -> minijinja::Value {
    let seconds_left = pending.expires_at.saturating_sub(visit.now);
    context! {
        // Duo matches on its own; its push carries no number of ours.
        number => pending
            .number
            .filter(|_| pending.provider != "duo")
            .map(|n| format!("{n:02}")),
        duo => pending.provider == "duo",
        seconds_left => seconds_left,
        time_left => format!("{}:{:02}", seconds_left / 60, seconds_left % 60),
        status_url => format!("{}/2fa/push/status", visit.app.prefix),
        next_url => visit.page_url("2fa"),
    }
}

/// `GET 2fa/push/status[?wait=1]`: where the push stands, as JSON. With
/// `wait`, answers when the state changes or after 20 seconds.
pub async fn status(visit: &Visit<'_>, wait: bool) -> Result<Reply, Error> {
    let session = match signed_in_with_password(visit) {
        Ok((session, _)) => session,
        Err(_) if visit.session.is_some() => return Ok(state_json(visit, "approved", 0)),
        Err(_) => return Ok(state_json(visit, "signed_out", 0)),
    };
    let store = &visit.app.store;
    let read = async || -> Result<(&'static str, u64), Error> {
        let now = visit.app.clock.now();
        let Some(challenge) = store.challenge(&session.id).await? else {
            return Ok(("none", 0));
        };
        let live = challenge.is_live(now);
        let left = challenge.expires_at.saturating_sub(now);
        let state = match challenge.push_proof().map(|proof| proof.state) {
            None => "none",
            Some(PushState::Approved) => "approved",
            Some(PushState::Denied) => "denied",
            Some(PushState::Waiting) if live => "waiting",
            Some(PushState::Waiting) => "expired",
        };
        Ok((state, left))
    };
    let (mut state, mut left) = read().await?;
    if wait && state == "waiting" {
        // An answer on this replica wakes the wait at once; one that
        // arrives at another replica is seen at the next look (each second).
        let waiter = store.push_waiter(&session.id);
        let deadline =
            tokio::time::Instant::now() + LONG_POLL.min(Duration::from_secs(left.max(1)));
        while state == "waiting" && tokio::time::Instant::now() < deadline {
            let notified = waiter.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            (state, left) = read().await?;
            if state != "waiting" {
                break;
            }
            let look_again = tokio::time::Instant::now() + Duration::from_secs(1);
            let _ = tokio::time::timeout_at(look_again.min(deadline), notified).await;
            (state, left) = read().await?;
        }
    }
    Ok(state_json(visit, state, left))
}

fn state_json(visit: &Visit<'_>, state: &str, seconds_left: u64) -> Reply {
    let body = serde_json::json!({
        "state": state,
        "seconds_left": seconds_left,
        "next": visit.page_url("2fa"),
    });
    super::respond(StatusCode::OK, super::JSON, body.to_string())
}

/// "Firefox on Linux" from a User-Agent, for the notification: enough for a
/// person to recognise their own sign-in.
pub fn browser(user_agent: &str) -> String {
    let name = [
        ("Edg/", "Edge"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("Chrome/", "Chrome"),
        ("Chromium/", "Chromium"),
        ("Safari/", "Safari"),
        ("curl/", "curl"),
    ]
    .iter()
    .find(|(marker, _)| user_agent.contains(marker))
    .map_or("an unknown browser", |(_, name)| name);
    let os = [
        ("Android", "Android"),
        ("iPhone", "iOS"),
        ("iPad", "iPadOS"),
        ("Windows", "Windows"),
        ("Mac OS X", "macOS"),
        ("CrOS", "ChromeOS"),
        ("Linux", "Linux"),
    ]
    .iter()
    .find(|(marker, _)| user_agent.contains(marker))
    .map(|(_, os)| *os);
    match os {
        Some(os) => format!("{name} on {os}"),
        None => name.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn browsers_are_named_for_people() {
        assert_eq!(
            browser("Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"),
            "Firefox on Linux"
        );
        assert_eq!(
            browser("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"),
            "Chrome on Windows"
        );
        assert_eq!(browser(""), "an unknown browser");
    }
}
