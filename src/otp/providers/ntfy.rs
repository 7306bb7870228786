//! The `ntfy` provider: publishes a notification with three numbered
//! `http` actions to the user's topic on an ntfy server.

use super::http::{by_status, scrub, send, Endpoint};
use super::push::{PushMessage, PushSender, PushStarted, Pushing};
use super::registry::{one_role, raw_block, Block, Context, ProviderConfig};
use super::ProviderError;
use super::Providers;
use crate::secret::Secret;
use serde::Deserialize;
use serde_json::json;

/// `ntfy`: push notifications through an ntfy server.
#[derive(Debug, Clone)]
pub struct NtfySettings {
    pub endpoint: Endpoint,
    pub auth: NtfyAuth,
    /// 1–5; default 4 ("high"), so the phone shows it at once.
    pub priority: u8,
}

#[derive(Debug, Clone)]
pub enum NtfyAuth {
    None,
    Token(Secret),
    Basic { username: String, password: Secret },
}

pub struct Ntfy {
    settings: NtfySettings,
    client: reqwest::Client,
}

/// ntfy's error body: `{code, http, error, link}`.
#[derive(Deserialize)]
struct NtfyError {
    code: Option<u64>,
    error: Option<String>,
}

impl Ntfy {
    pub fn new(settings: NtfySettings) -> Ntfy {
        let client = settings.endpoint.client();
        Ntfy { settings, client }
    }

    /// The JSON ntfy publishes (its "publish as JSON" form).
    fn body(&self, push: &PushMessage, topic: &str) -> serde_json::Value {
        let actions: Vec<serde_json::Value> = push
            .actions
            .iter()
            .map(|action| {
                json!({
                    "action": "http",
                    "label": format!("{:02}", action.number),
                    "url": action.url,
                    "method": "POST",
                    "clear": true,
                })
            })
            .collect();
        json!({
            "topic": topic,
            "title": push.title,
            "message": format!("{}\nTap the number shown on the sign-in page. Not you? Tap none of them.", push.message),
            "priority": self.settings.priority,
            "tags": ["lock"],
            "actions": actions,
        })
    }
}

impl PushSender for Ntfy {
    fn name(&self) -> &'static str {
        "ntfy"
    }

    fn reaches(&self, user: &crate::users::User) -> bool {
        user.ntfy_topic.is_some()
    }

    fn send<'a>(&'a self, push: &'a PushMessage) -> Pushing<'a> {
        Box::pin(async move {
            let Some(topic) = push.topic.as_deref() else {
                return Err(ProviderError::Refused("the user has no ntfy_topic".into()));
            };
            // Publishing as JSON goes to the server's root, the topic in the body.
            let mut request = self
                .client
                .post(self.settings.endpoint.base_url.clone())
                .json(&self.body(push, topic));
            request = match &self.settings.auth {
                NtfyAuth::None => request,
                NtfyAuth::Token(token) => request.bearer_auth(token.expose()),
                NtfyAuth::Basic { username, password } => {
                    request.basic_auth(username, Some(password.expose()))
                }
            };
            let answer = send(request).await?;
            if answer.is_success() {
                return Ok(PushStarted::Callback);
            }
            let detail = answer
                .json::<NtfyError>()
                .map(|err| {
                    format!(
                        "{} {}",
                        err.code.unwrap_or_default(),
                        scrub(&err.error.unwrap_or_default())
                    )
                })
                .unwrap_or_default();
            Err(match answer.status {
                401 | 403 => ProviderError::Refused(format!(
                    "HTTP {}: {detail} (check providers.ntfy.token and the topic's access)",
                    answer.status
                )),
                _ => by_status(&answer, detail),
            })
        })
    }
}

raw_block!(
    /// `providers.ntfy` as written: `token` is an access token (`tk_...`),
    /// sent as a Bearer token; or Basic auth, `username` and `password`.
    RawNtfy: base_url, token, username, password, priority(u8), timeout,
);

impl ProviderConfig for NtfySettings {
    type Raw = RawNtfy;

    fn read(raw: Self::Raw, block: &mut Block<'_>, _context: &Context) -> Option<Self> {
        let auth = match (&raw.token, &raw.username, &raw.password) {
            (None, None, None) => NtfyAuth::None,
            (Some(token), None, None) => NtfyAuth::Token(Secret::new(token.trim().to_owned())),
            (None, Some(username), Some(password)) => NtfyAuth::Basic {
                username: username.clone(),
                password: Secret::new(password.clone()),
            },
            (Some(_), _, _) => {
                block.problem(
                    "token",
                    "set `token` or `username` and `password`, not both",
                );
                return None;
            }
            (None, _, _) => {
                block.problem("username", "`username` and `password` go together");
                return None;
            }
        };
        let priority = raw.priority.unwrap_or(4);
        if !(1..=5).contains(&priority) {
            block.problem("priority", "expected 1 (min) to 5 (max)");
        }
        Some(NtfySettings {
            endpoint: block.endpoint(&raw.base_url, &raw.timeout, Some("https://ntfy.sh"))?,
            auth,
            priority: priority.clamp(1, 5),
        })
    }

    one_role!(add_push, Ntfy);
}
