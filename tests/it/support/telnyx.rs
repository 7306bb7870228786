//! An emulation of Telnyx Verify v2 and Telnyx Messages as PROVIDERS.md
//! documents them: checks method, path, Bearer key, JSON and its exact field
//! names, and answers with Telnyx's success and error bodies.

use super::fake_api::{Emulation, Recorded, Reply};
use serde_json::{json, Map, Value};
use std::sync::Mutex;

pub const API_KEY: &str = "KEY0123456789ABCDEF_telnyx";
pub const VERIFY_PROFILE_ID: &str = "12ade33a-21c0-473b-b055-b3c836e1c292";
pub const MESSAGING_PROFILE_ID: &str = "40017f8e-49bd-4f16-9e3d-ef103f916228";
pub const FROM: &str = "+13035550000";

#[derive(Debug, Clone)]
pub struct Verification {
    pub id: String,
    pub phone_number: String,
    /// `sms` or `call`.
    pub kind: String,
    pub timeout_secs: u64,
    pub code: String,
    pub wrong: u32,
}

/// A text message as Telnyx Messages received it.
#[derive(Debug, Clone)]
pub struct Message {
    pub to: String,
    pub from: Option<String>,
    pub messaging_profile_id: Option<String>,
    pub text: String,
}

#[derive(Default)]
pub struct State {
    /// Oldest first.
    verifications: Vec<Verification>,
    messages: Vec<Message>,
    next: u32,
    /// When set, the matching requests answer this instead.
    start_failure: Option<Reply>,
    check_failure: Option<Reply>,
    message_failure: Option<Reply>,
}

pub type Telnyx = Emulation<State>;

/// Telnyx's error body; `code` is a string in Telnyx's answers.
pub fn error(status: u16, code: Option<&str>, title: &str) -> Reply {
    let mut failure = json!({ "title": title, "detail": format!("{title} (emulated)") });
    if let Some(code) = code {
        failure["code"] = json!(code);
    }
    Reply::json(status, json!({ "errors": [failure] }))
}

impl Telnyx {
    pub async fn start() -> Telnyx {
        Emulation::serve(handle).await
    }

    /// The `telnyx` (Verify) block for doorman's config.
    pub fn verify_config(&self) -> String {
        format!(
            "telnyx: {{ api_key: \"{API_KEY}\", verify_profile_id: \"{VERIFY_PROFILE_ID}\", base_url: \"{}\" }}",
            self.api.base_url()
        )
    }

    /// The `telnyx_sms` block, sending from [`FROM`].
    pub fn sms_config(&self) -> String {
        format!(
            "telnyx_sms: {{ api_key: \"{API_KEY}\", from: \"{FROM}\", base_url: \"{}\" }}",
            self.api.base_url()
        )
    }

    /// The `telnyx_sms` block, sending through a messaging profile.
    pub fn sms_config_with_profile(&self) -> String {
        format!(
            "telnyx_sms: {{ api_key: \"{API_KEY}\", messaging_profile_id: \"{MESSAGING_PROFILE_ID}\", base_url: \"{}\" }}",
            self.api.base_url()
        )
    }

    /// Makes every verification start answer `reply`.
    pub fn fail_starts(&self, reply: Reply) {
        self.state().start_failure = Some(reply);
    }

    /// Makes every code check answer `reply`.
    pub fn fail_checks(&self, reply: Reply) {
        self.state().check_failure = Some(reply);
    }

    /// Makes every text message answer `reply`.
    pub fn fail_messages(&self, reply: Reply) {
        self.state().message_failure = Some(reply);
    }

    /// Drops every scripted failure.
    pub fn answer_normally(&self) {
        let mut state = self.state();
        state.start_failure = None;
        state.check_failure = None;
        state.message_failure = None;
    }

    /// The code of the latest verification to `to`.
    pub fn code_for(&self, to: &str) -> Option<String> {
        let state = self.state();
        latest(&state.verifications, to).map(|v| v.code.clone())
    }

    /// Forgets every verification, as Telnyx does when they time out.
    pub fn clear_verifications(&self) {
        self.state().verifications.clear();
    }

    pub fn verifications(&self) -> Vec<Verification> {
        self.state().verifications.clone()
    }

    pub fn messages(&self) -> Vec<Message> {
        self.state().messages.clone()
    }
}

fn latest<'a>(verifications: &'a [Verification], to: &str) -> Option<&'a Verification> {
    verifications.iter().rev().find(|v| v.phone_number == to)
}

/// `+` and 8 to 15 digits.
fn is_e164(number: &str) -> bool {
    number.strip_prefix('+').is_some_and(|digits| {
        (8..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
    })
}

/// Decodes a path segment the way an RFC 3986 server does: `%XX` is a byte,
/// and `+` is a plus (not a space: that is form encoding).
fn decode_segment(segment: &str) -> Option<String> {
    let bytes = segment.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            decoded.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            decoded.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(decoded).ok()
}

/// The JSON object body when it has exactly `required` plus any of
/// `optional`, or the error Telnyx answers.
fn fields(
    request: &Recorded,
    required: &[&str],
    optional: &[&str],
) -> Result<Map<String, Value>, Reply> {
    let Value::Object(body) = request.json() else {
        return Err(error(400, None, "Invalid JSON body"));
    };
    if let Some(missing) = required.iter().find(|key| !body.contains_key(**key)) {
        return Err(error(
            422,
            None,
            &format!("Missing required parameter {missing}"),
        ));
    }
    if let Some(unknown) = body
        .keys()
        .find(|key| !required.contains(&key.as_str()) && !optional.contains(&key.as_str()))
    {
        return Err(error(422, None, &format!("Unexpected parameter {unknown}")));
    }
    Ok(body)
}

fn handle(state: &Mutex<State>, request: &Recorded) -> Reply {
    if request.bearer() != Some(API_KEY) {
        return error(401, Some("10009"), "Authentication failed");
    }
    if request.method != "POST" {
        return error(405, None, "Method not allowed");
    }
    if request.header("content-type") != Some("application/json") {
        return error(415, None, "Unsupported media type");
    }
    let mut state = state.lock().unwrap();
    let path = request.path.as_str();
    match path {
        "/v2/verifications/sms" | "/v2/verifications/call" => start(&mut state, request),
        "/v2/messages" => message(&mut state, request),
        _ => {
            let number = path
                .strip_prefix("/v2/verifications/by_phone_number/")
                .and_then(|rest| rest.strip_suffix("/actions/verify"))
                .filter(|segment| !segment.contains('/'));
            match number {
                Some(segment) => check(&mut state, request, segment),
                None => error(404, Some("10005"), "Resource not found"),
            }
        }
    }
}

fn start(state: &mut State, request: &Recorded) -> Reply {
    if let Some(failure) = state.start_failure.clone() {
        return failure;
    }
    let body = match fields(
        request,
        &["phone_number", "verify_profile_id"],
        &["timeout_secs"],
    ) {
        Ok(body) => body,
        Err(reply) => return reply,
    };
    let phone_number = body["phone_number"].as_str().unwrap_or_default().to_owned();
    if !is_e164(&phone_number) {
        return error(422, Some("10016"), "Phone number must be in +E.164 format");
    }
    if body["verify_profile_id"] != VERIFY_PROFILE_ID {
        return error(404, Some("10005"), "Resource not found");
    }
    let timeout_secs = match body.get("timeout_secs") {
        None => 300,
        Some(value) => match value.as_u64() {
            Some(secs) => secs,
            None => return error(422, None, "timeout_secs must be an integer"),
        },
    };
    let kind = request
        .path
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_owned();
    state.next += 1;
    let id = format!("12ade33a-21c0-473b-b055-{:012}", state.next);
    let code = format!("{:06}", 271828 + state.next);
    state.verifications.push(Verification {
        id: id.clone(),
        phone_number: phone_number.clone(),
        kind: kind.clone(),
        timeout_secs,
        code,
        wrong: 0,
    });
    Reply::json(
        200,
        json!({ "data": { "id": id, "record_type": "verification", "type": kind, "status": "pending",
                          "phone_number": phone_number, "verify_profile_id": VERIFY_PROFILE_ID,
                          "timeout_secs": timeout_secs, "created_at": "2026-11-22T10:00:00Z" } }),
    )
}

fn check(state: &mut State, request: &Recorded, segment: &str) -> Reply {
    if let Some(failure) = state.check_failure.clone() {
        return failure;
    }
    let body = match fields(request, &["code", "verify_profile_id"], &[]) {
        Ok(body) => body,
        Err(reply) => return reply,
    };
    let Some(phone_number) = decode_segment(segment).filter(|number| is_e164(number)) else {
        return error(422, Some("10016"), "Phone number must be in +E.164 format");
    };
    if body["verify_profile_id"] != VERIFY_PROFILE_ID {
        return error(404, Some("10005"), "Resource not found");
    }
    let code = body["code"].as_str().unwrap_or_default();
    let Some(index) = state
        .verifications
        .iter()
        .rposition(|v| v.phone_number == phone_number)
    else {
        return error(404, Some("10005"), "Resource not found");
    };
    let verification = &mut state.verifications[index];
    let response_code = if verification.code == code {
        state.verifications.remove(index);
        "accepted"
    } else {
        verification.wrong += 1;
        "rejected"
    };
    Reply::json(
        200,
        json!({ "data": { "phone_number": phone_number, "response_code": response_code } }),
    )
}

fn message(state: &mut State, request: &Recorded) -> Reply {
    if let Some(failure) = state.message_failure.clone() {
        return failure;
    }
    let body = match fields(request, &["to", "text"], &["from", "messaging_profile_id"]) {
        Ok(body) => body,
        Err(reply) => return reply,
    };
    let to = body["to"].as_str().unwrap_or_default().to_owned();
    if !is_e164(&to) {
        return error(422, Some("10016"), "Phone number must be in +E.164 format");
    }
    let from = body.get("from").and_then(Value::as_str).map(str::to_owned);
    let profile = body
        .get("messaging_profile_id")
        .and_then(Value::as_str)
        .map(str::to_owned);
    match (&from, &profile) {
        (Some(from), None) if from == FROM => {}
        (None, Some(profile)) if profile == MESSAGING_PROFILE_ID => {}
        _ => return error(422, None, "Invalid source: from or messaging_profile_id"),
    }
    let text = body["text"].as_str().unwrap_or_default().to_owned();
    if text.is_empty() {
        return error(422, None, "text must not be empty");
    }
    state.next += 1;
    let id = format!("40317f8e-0000-4000-8000-{:012}", state.next);
    state.messages.push(Message {
        to: to.clone(),
        from: from.clone(),
        messaging_profile_id: profile.clone(),
        text: text.clone(),
    });
    Reply::json(
        200,
        json!({ "data": { "id": id, "record_type": "message", "direction": "outbound", "type": "SMS",
                          "from": { "phone_number": from.unwrap_or_else(|| FROM.to_owned()) },
                          "messaging_profile_id": profile.unwrap_or_else(|| MESSAGING_PROFILE_ID.to_owned()),
                          "to": [{ "phone_number": to, "status": "queued" }], "text": text, "parts": 1 } }),
    )
}
