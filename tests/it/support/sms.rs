//! Emulations of the plain SMS APIs as PROVIDERS.md documents them — Twilio
//! Messages and Vonage SMS — checking method, path, credentials, form
//! encoding and exact field names, and keeping the texts they would send.

use super::fake_api::{FakeApi, Recorded, Reply};
use serde_json::json;
use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex};

/// The code in an SMS text, after checking that the first line says it
/// and that a WebOTP line, when there is one, names the same code. (The
/// tests run without `public_url`, so doorman writes no WebOTP line: it
/// never takes the host from the request.)
pub fn code_in(text: &str) -> String {
    let first = text.lines().next().unwrap_or_default();
    let code = first
        .rsplit(' ')
        .next()
        .unwrap_or_default()
        .trim_end_matches('.');
    assert!(
        !code.is_empty() && code.bytes().all(|b| b.is_ascii_digit()),
        "the first line does not end with the code: {text:?}"
    );
    let last = text.lines().last().unwrap_or_default();
    if last.starts_with('@') {
        assert!(last.ends_with(&format!(" #{code}")), "{text:?}");
    }
    assert!(
        !text.contains("127.0.0.1"),
        "the request's host in an SMS: {text:?}"
    );
    code.to_owned()
}

/// A text message as the API received it: who it goes to, from whom, what.
#[derive(Debug, Clone)]
pub struct Sms {
    pub to: String,
    pub from: String,
    pub text: String,
}

pub const TWILIO_ACCOUNT_SID: &str = "AC00112233445566778899aabbccddeeff";
pub const TWILIO_AUTH_TOKEN: &str = "twilio-messages-token";
pub const TWILIO_FROM: &str = "+15005550006";
pub const TWILIO_MESSAGING_SERVICE_SID: &str = "MG00112233445566778899aabbccddeeff";

#[derive(Default)]
struct Sent {
    messages: Vec<Sms>,
    /// When set, every request answers this instead.
    failure: Option<Reply>,
}

/// What both emulations are: an API that keeps the messages it carried,
/// and can be scripted to fail.
/// `K` says which API it is ([`Twilio`] or [`Vonage`]).
#[derive(Clone)]
pub struct SmsApi<K> {
    pub api: FakeApi,
    state: Arc<Mutex<Sent>>,
    kind: PhantomData<K>,
}

/// The kind of [`SmsApi`] that is Twilio Messages.
#[derive(Clone)]
pub struct Twilio;

/// The kind of [`SmsApi`] that is Vonage SMS.
#[derive(Clone)]
pub struct Vonage;

impl<K> SmsApi<K> {
    async fn serve(handler: fn(&Mutex<Sent>, &Recorded) -> Reply) -> SmsApi<K> {
        let (api, state) = FakeApi::with_state(handler).await;
        SmsApi {
            api,
            state,
            kind: PhantomData,
        }
    }

    /// Makes every request answer `reply` (for Vonage, see
    /// [`vonage_failure`]).
    pub fn fail(&self, reply: Reply) {
        self.state.lock().unwrap().failure = Some(reply);
    }

    pub fn messages(&self) -> Vec<Sms> {
        self.state.lock().unwrap().messages.clone()
    }
}

/// Twilio Messages: `POST /2010-04-01/Accounts/{AccountSid}/Messages.json`.
pub type TwilioMessages = SmsApi<Twilio>;

/// Twilio's error body.
pub fn twilio_error(status: u16, code: u32, message: &str) -> Reply {
    Reply::json(
        status,
        json!({ "code": code, "message": message, "more_info": format!("https://www.twilio.com/docs/errors/{code}"), "status": status }),
    )
}

impl TwilioMessages {
    pub async fn start() -> TwilioMessages {
        SmsApi::serve(twilio).await
    }

    /// The `twilio_sms` block, sending from [`TWILIO_FROM`].
    pub fn config(&self) -> String {
        format!(
            "twilio_sms: {{ account_sid: \"{TWILIO_ACCOUNT_SID}\", auth_token: \"{TWILIO_AUTH_TOKEN}\", from: \"{TWILIO_FROM}\", base_url: \"{}\" }}",
            self.api.base_url()
        )
    }

    /// The `twilio_sms` block, sending through a messaging service.
    pub fn config_with_service(&self) -> String {
        format!(
            "twilio_sms: {{ account_sid: \"{TWILIO_ACCOUNT_SID}\", auth_token: \"{TWILIO_AUTH_TOKEN}\", messaging_service_sid: \"{TWILIO_MESSAGING_SERVICE_SID}\", base_url: \"{}\" }}",
            self.api.base_url()
        )
    }
}

fn is_e164(number: &str) -> bool {
    number.strip_prefix('+').is_some_and(|digits| {
        (8..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
    })
}

fn twilio(state: &Mutex<Sent>, request: &Recorded) -> Reply {
    if request.basic_auth().as_deref() != Some(&format!("{TWILIO_ACCOUNT_SID}:{TWILIO_AUTH_TOKEN}"))
    {
        return twilio_error(401, 20003, "Authenticate");
    }
    if request.method != "POST"
        || request.header("content-type") != Some("application/x-www-form-urlencoded")
    {
        return twilio_error(405, 20004, "Method not allowed");
    }
    if request.path != format!("/2010-04-01/Accounts/{TWILIO_ACCOUNT_SID}/Messages.json") {
        return twilio_error(404, 20404, "The requested resource was not found");
    }
    let mut state = state.lock().unwrap();
    if let Some(failure) = state.failure.clone() {
        return failure;
    }
    let form = request.form();
    if let Some(unknown) = form
        .keys()
        .find(|key| !["To", "From", "MessagingServiceSid", "Body"].contains(&key.as_str()))
    {
        return twilio_error(400, 0, &format!("emulator: unexpected parameter {unknown}"));
    }
    let Some(to) = form.get("To") else {
        return twilio_error(400, 21604, "A 'To' phone number is required.");
    };
    if !is_e164(to) {
        return twilio_error(
            400,
            21211,
            &format!("The 'To' number {to} is not a valid phone number."),
        );
    }
    let from = match (form.get("From"), form.get("MessagingServiceSid")) {
        (Some(from), None) if from == TWILIO_FROM => from.clone(),
        (None, Some(sid)) if sid == TWILIO_MESSAGING_SERVICE_SID => sid.clone(),
        (None, None) => return twilio_error(400, 21603, "A 'From' phone number is required."),
        _ => return twilio_error(400, 21212, "Invalid 'From' Phone Number"),
    };
    let Some(body) = form.get("Body").filter(|body| !body.is_empty()) else {
        return twilio_error(400, 21602, "Message body is required.");
    };
    state.messages.push(Sms {
        to: to.clone(),
        from: from.clone(),
        text: body.clone(),
    });
    let sid = format!("SM{:032x}", state.messages.len());
    let by_service = from.starts_with("MG");
    Reply::json(
        201,
        json!({ "sid": sid, "account_sid": TWILIO_ACCOUNT_SID, "to": to,
                "from": if by_service { json!(null) } else { json!(from) },
                "messaging_service_sid": if by_service { json!(from) } else { json!(null) },
                "body": body, "status": if by_service { "accepted" } else { "queued" },
                "num_segments": "1", "direction": "outbound-api", "error_code": null }),
    )
}

pub const VONAGE_API_KEY: &str = "abcd1234";
pub const VONAGE_API_SECRET: &str = "vonage-sms-secret";
pub const VONAGE_FROM: &str = "Example";

/// Vonage SMS: `POST /sms/json`, answered with HTTP 200 whatever happened.
pub type VonageSms = SmsApi<Vonage>;

/// Vonage SMS's answer for a message it did not send: HTTP 200.
pub fn vonage_failure(status: &str, error_text: &str) -> Reply {
    Reply::json(
        200,
        json!({ "message-count": "1", "messages": [{ "status": status, "error-text": error_text }] }),
    )
}

impl VonageSms {
    pub async fn start() -> VonageSms {
        SmsApi::serve(vonage).await
    }

    /// The `vonage_sms` block.
    pub fn config(&self) -> String {
        format!(
            "vonage_sms: {{ api_key: \"{VONAGE_API_KEY}\", api_secret: \"{VONAGE_API_SECRET}\", from: \"{VONAGE_FROM}\", base_url: \"{}\" }}",
            self.api.base_url()
        )
    }
}

fn vonage(state: &Mutex<Sent>, request: &Recorded) -> Reply {
    if request.path != "/sms/json" {
        return Reply::json(404, json!({ "error": "not found" }));
    }
    if request.method != "POST"
        || request.header("content-type") != Some("application/x-www-form-urlencoded")
    {
        return vonage_failure("2", "Missing api_key");
    }
    let mut state = state.lock().unwrap();
    if let Some(failure) = state.failure.clone() {
        return failure;
    }
    let form: HashMap<String, String> = request.form();
    let expected = ["api_key", "api_secret", "from", "to", "text"];
    if let Some(missing) = expected.iter().find(|key| !form.contains_key(**key)) {
        return vonage_failure("2", &format!("Missing {missing}"));
    }
    if let Some(unknown) = form.keys().find(|key| !expected.contains(&key.as_str())) {
        return vonage_failure("3", &format!("emulator: unexpected parameter {unknown}"));
    }
    if form["api_key"] != VONAGE_API_KEY || form["api_secret"] != VONAGE_API_SECRET {
        return vonage_failure("4", "Bad Credentials");
    }
    let to = &form["to"];
    // Vonage wants E.164 without the `+`.
    if to.len() < 8 || !to.bytes().all(|b| b.is_ascii_digit()) {
        return vonage_failure("3", "Invalid to param");
    }
    if form["from"] != VONAGE_FROM {
        return vonage_failure("15", "Illegal Sender Address - rejected");
    }
    if form["text"].is_empty() {
        return vonage_failure("2", "Missing text");
    }
    state.messages.push(Sms {
        to: to.clone(),
        from: form["from"].clone(),
        text: form["text"].clone(),
    });
    Reply::json(
        200,
        json!({ "message-count": "1", "messages": [{ "to": to, "message-id": format!("0A00000{:09X}", state.messages.len()),
                 "status": "0", "remaining-balance": "3.14159265", "message-price": "0.03330000", "network": "12345" }] }),
    )
}
