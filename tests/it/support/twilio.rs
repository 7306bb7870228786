//! An emulation of Twilio Verify v2 as PROVIDERS.md documents it: checks
//! method, path, Basic auth, form encoding and field names, and answers with
//! Twilio's success and error bodies.

use super::fake_api::{Emulation, Recorded, Reply};
use serde_json::json;
use std::collections::HashMap;
use std::sync::Mutex;

pub const ACCOUNT_SID: &str = "AC0123456789abcdef0123456789abcdef";
pub const AUTH_TOKEN: &str = "twilio-auth-token";
pub const SERVICE_SID: &str = "VA0123456789abcdef0123456789abcdef";

#[derive(Debug)]
pub struct Verification {
    pub to: String,
    pub channel: String,
    pub code: String,
    pub wrong: u32,
}

#[derive(Default)]
pub struct State {
    verifications: HashMap<String, Verification>,
    next: u32,
    /// When set, every start answers this instead.
    start_failure: Option<Reply>,
}

pub type TwilioVerify = Emulation<State>;

// Twilio's error body is the same for Verify as for Messages.
use super::sms::twilio_error as error;

impl TwilioVerify {
    pub async fn start() -> TwilioVerify {
        Emulation::serve(handle).await
    }

    /// The provider block for doorman's config.
    pub fn config(&self) -> String {
        format!(
            "twilio: {{ account_sid: \"{ACCOUNT_SID}\", auth_token: \"{AUTH_TOKEN}\", service_sid: \"{SERVICE_SID}\", base_url: \"{}\" }}",
            self.api.base_url()
        )
    }

    /// Makes every start answer `status` with Twilio error `code`.
    pub fn fail_starts(&self, status: u16, code: u32) {
        self.state().start_failure = Some(error(status, code, "scripted failure"));
    }

    /// The code the person received for the latest verification to `to`.
    pub fn code_for(&self, to: &str) -> Option<String> {
        let state = self.state();
        let mut found: Vec<(&String, &Verification)> = state
            .verifications
            .iter()
            .filter(|(_, v)| v.to == to)
            .collect();
        found.sort_by_key(|(sid, _)| (*sid).clone());
        found.last().map(|(_, v)| v.code.clone())
    }

    /// Forgets every verification, as Twilio does when they expire.
    pub fn clear_verifications(&self) {
        self.state().verifications.clear();
    }
}

fn handle(state: &Mutex<State>, request: &Recorded) -> Reply {
    if request.basic_auth().as_deref() != Some(&format!("{ACCOUNT_SID}:{AUTH_TOKEN}")) {
        return error(401, 20003, "Authenticate");
    }
    if request.method != "POST"
        || request.header("content-type") != Some("application/x-www-form-urlencoded")
    {
        return error(405, 20004, "Method not allowed");
    }
    let prefix = format!("/v2/Services/{SERVICE_SID}/");
    let Some(tail) = request.path.strip_prefix(&prefix) else {
        return error(404, 20404, "The requested resource was not found");
    };
    let form = request.form();
    let mut state = state.lock().unwrap();
    match tail {
        "Verifications" => {
            if let Some(failure) = state.start_failure.clone() {
                return failure;
            }
            let (Some(to), Some(channel)) = (form.get("To"), form.get("Channel")) else {
                return error(400, 60200, "Invalid parameter");
            };
            if !to.starts_with('+') || !matches!(channel.as_str(), "sms" | "call") {
                return error(400, 60200, "Invalid parameter");
            }
            state.next += 1;
            let sid = format!("VE{:032}", state.next);
            let code = format!("{:06}", 314159 + state.next);
            state.verifications.insert(
                sid.clone(),
                Verification {
                    to: to.clone(),
                    channel: channel.clone(),
                    code,
                    wrong: 0,
                },
            );
            Reply::json(
                201,
                json!({ "sid": sid, "service_sid": SERVICE_SID, "account_sid": ACCOUNT_SID, "to": to,
                        "channel": channel, "status": "pending", "valid": false,
                        "send_code_attempts": [{ "channel": channel }] }),
            )
        }
        "VerificationCheck" => {
            let Some(code) = form.get("Code") else {
                return error(400, 60200, "Invalid parameter");
            };
            let sid = form.get("VerificationSid").cloned().or_else(|| {
                let to = form.get("To")?;
                state
                    .verifications
                    .iter()
                    .find(|(_, v)| &v.to == to)
                    .map(|(sid, _)| sid.clone())
            });
            let Some(sid) = sid.filter(|sid| state.verifications.contains_key(sid)) else {
                return error(404, 20404, "The requested resource was not found");
            };
            let verification = state.verifications.get_mut(&sid).unwrap();
            let to = verification.to.clone();
            if &verification.code == code {
                state.verifications.remove(&sid);
                return Reply::json(
                    200,
                    json!({ "sid": sid, "to": to, "status": "approved", "valid": true }),
                );
            }
            verification.wrong += 1;
            if verification.wrong >= 5 {
                state.verifications.remove(&sid);
                return error(429, 60202, "Max check attempts reached");
            }
            Reply::json(
                200,
                json!({ "sid": sid, "to": to, "status": "pending", "valid": false }),
            )
        }
        other => match other.strip_prefix("Verifications/") {
            Some(sid) if form.get("Status").map(String::as_str) == Some("canceled") => {
                match state.verifications.remove(sid) {
                    Some(_) => Reply::json(200, json!({ "sid": sid, "status": "canceled" })),
                    None => error(404, 20404, "The requested resource was not found"),
                }
            }
            _ => error(404, 20404, "The requested resource was not found"),
        },
    }
}
